import { TriadError, type Clock } from '../shared/index.js';

interface Waiter<T> {
  resolve: (value: T) => void;
  reject: (err: Error) => void;
  cancel: () => void;
}

/** How much a mailbox holds: epochs at once, values per epoch, and how long an untouched epoch is kept. */
export interface MailboxLimits {
  maxEpochs: number;
  maxPerEpoch: number;
  ttlMs: number;
}

const unbounded: MailboxLimits = { maxEpochs: Infinity, maxPerEpoch: Infinity, ttlMs: 60_000 };

/**
 * Values that may arrive before or after someone waits for them (a neighbour's round value, a participant's
 * report), keyed by epoch. Waiting has a deadline from the injected clock. A value is handed over once and then
 * forgotten. Bounded: a put that would start an epoch beyond `maxEpochs`, or hold more than `maxPerEpoch` values of
 * one, is refused (put returns false); an epoch nobody touched for `ttlMs` is forgotten, checked on every put and get
 * on every node — not only where epochs are started.
 */
export class Mailbox<T> {
  private readonly values = new Map<string, Map<string, T>>();
  private readonly waiters = new Map<string, Map<string, Waiter<T>[]>>();
  private readonly touched = new Map<string, number>();
  private lastSweep: number;

  constructor(
    private readonly clock: Clock,
    private readonly limits: MailboxLimits = unbounded,
  ) {
    this.lastSweep = clock.now();
  }

  /** Epochs held (values or waiters): what the bounds apply to. */
  get size(): number {
    return this.touched.size;
  }

  /** Delivers `value` to whoever waits for it, or keeps it for a later get; false when a bound refuses it. */
  put(epoch: string, key: string, value: T): boolean {
    this.sweep();
    const waiting = this.waiters.get(epoch)?.get(key);
    if (waiting) {
      this.touch(epoch);
      this.waiters.get(epoch)?.delete(key);
      for (const w of waiting) {
        w.cancel();
        w.resolve(value);
      }
      return true;
    }
    let values = this.values.get(epoch);
    if (!this.touched.has(epoch) && this.touched.size >= this.limits.maxEpochs) return false;
    if (values && !values.has(key) && values.size >= this.limits.maxPerEpoch) return false;
    this.touch(epoch);
    if (!values) this.values.set(epoch, (values = new Map<string, T>()));
    values.set(key, value);
    return true;
  }

  /** The value for `key`, now or when it arrives; rejects with TIMEOUT after `timeoutMs`. Waiting is never refused. */
  get(epoch: string, key: string, timeoutMs: number, what: string): Promise<T> {
    this.sweep();
    this.touch(epoch);
    const held = this.values.get(epoch);
    const ready = held?.get(key);
    if (ready !== undefined) {
      held?.delete(key);
      return Promise.resolve(ready);
    }
    return new Promise<T>((resolve, reject) => {
      let byEpoch = this.waiters.get(epoch);
      if (!byEpoch) this.waiters.set(epoch, (byEpoch = new Map<string, Waiter<T>[]>()));
      const list = byEpoch.get(key) ?? [];
      byEpoch.set(key, list);
      const waiter: Waiter<T> = { resolve, reject, cancel: () => undefined };
      list.push(waiter);
      waiter.cancel = this.clock.timeout(timeoutMs, () => {
        const remaining = (this.waiters.get(epoch)?.get(key) ?? []).filter((w) => w !== waiter);
        if (remaining.length > 0) this.waiters.get(epoch)?.set(key, remaining);
        else this.waiters.get(epoch)?.delete(key);
        reject(new TriadError('TIMEOUT', `${what} did not arrive within ${timeoutMs} ms`));
      });
    });
  }

  /** Makes room for an epoch this node runs, whatever the bound (running epochs are bounded on their own). */
  open(epoch: string): void {
    this.touch(epoch);
    if (!this.values.has(epoch)) this.values.set(epoch, new Map<string, T>());
  }

  /** Forgets an epoch at once (it ended); its late messages may start it again, until the ttl. */
  forget(epoch: string): void {
    if ((this.waiters.get(epoch)?.size ?? 0) > 0) return;
    this.touched.delete(epoch);
    this.values.delete(epoch);
    this.waiters.delete(epoch);
  }

  /** Forgets epochs nobody touched for `maxAgeMs` (late messages of finished epochs end up here). */
  collect(maxAgeMs: number): void {
    const cutoff = this.clock.now() - maxAgeMs;
    for (const [epoch, at] of this.touched) {
      if (at >= cutoff || (this.waiters.get(epoch)?.size ?? 0) > 0) continue;
      this.touched.delete(epoch);
      this.values.delete(epoch);
      this.waiters.delete(epoch);
    }
  }

  /** A quarter of the ttl between sweeps: entries live at most 1.25 × ttl, and a put stays O(1) on average. */
  private sweep(): void {
    const now = this.clock.now();
    if (now - this.lastSweep < this.limits.ttlMs / 4) return;
    this.lastSweep = now;
    this.collect(this.limits.ttlMs);
  }

  private touch(epoch: string): void {
    this.touched.set(epoch, this.clock.now());
  }
}

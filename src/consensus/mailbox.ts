import { TriadError, type Clock } from '../shared/index.js';

interface Waiter<T> {
  resolve: (value: T) => void;
  reject: (err: Error) => void;
  cancel: () => void;
}

/**
 * Values that may arrive before or after someone waits for them (a neighbour's round value, a participant's
 * report), keyed by epoch. Waiting has a deadline from the injected clock; an epoch's entries are dropped together.
 */
export class Mailbox<T> {
  private readonly values = new Map<string, Map<string, T>>();
  private readonly waiters = new Map<string, Map<string, Waiter<T>[]>>();
  private readonly touched = new Map<string, number>();

  constructor(private readonly clock: Clock) {}

  put(epoch: string, key: string, value: T): void {
    this.touch(epoch);
    let values = this.values.get(epoch);
    if (!values) this.values.set(epoch, (values = new Map<string, T>()));
    values.set(key, value);
    const waiting = this.waiters.get(epoch)?.get(key);
    if (waiting) {
      this.waiters.get(epoch)?.delete(key);
      for (const w of waiting) {
        w.cancel();
        w.resolve(value);
      }
    }
  }

  get(epoch: string, key: string, timeoutMs: number, what: string): Promise<T> {
    this.touch(epoch);
    const ready = this.values.get(epoch)?.get(key);
    if (ready !== undefined) return Promise.resolve(ready);
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

  private touch(epoch: string): void {
    this.touched.set(epoch, this.clock.now());
  }
}

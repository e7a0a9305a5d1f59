import { layerIds, type LayerId } from '../config/index.js';

interface Bucket {
  second: number;
  ops: number;
  errors: number;
  burden: number;
  durationMs: number;
}

export interface WindowTotals {
  ops: number;
  errors: number;
  burdenHours: number;
  durationMs: number;
}

const empty = (): WindowTotals => ({ ops: 0, errors: 0, burdenHours: 0, durationMs: 0 });

/**
 * Per-framework operation totals over a sliding window, kept as one bucket per second: adding is O(1) however fast
 * operations arrive (ingest runs at tens of thousands a second), and a window sum touches at most window/1 s buckets.
 */
export class SlidingWindow {
  private readonly buckets = new Map<string, Bucket[]>();

  constructor(private readonly windowMs: number) {}

  get lengthMs(): number {
    return this.windowMs;
  }

  /**
   * The time totals(…, now) covers: from the start of the oldest whole second it sums until now, between the window
   * less a second and the window. A rate is what the buckets hold over this span: over the whole window it would read
   * up to a second's share low just after a second turns (12.5 % on the demo's 8 s window).
   */
  spanMs(now: number): number {
    return now - (Math.floor((now - this.windowMs) / 1000) + 1) * 1000;
  }

  add(framework: string, at: number, burdenHours: number, success: boolean, durationMs: number): void {
    const second = Math.floor(at / 1000);
    let list = this.buckets.get(framework);
    if (!list) this.buckets.set(framework, (list = []));
    let bucket = list.at(-1);
    if (!bucket || bucket.second !== second) {
      // Operations reported late (ingest) land in the newest bucket: the window is about when we learned of them.
      if (!bucket || bucket.second < second)
        list.push((bucket = { second, ops: 0, errors: 0, burden: 0, durationMs: 0 }));
    }
    bucket.ops += 1;
    if (!success) bucket.errors += 1;
    bucket.burden += burdenHours;
    bucket.durationMs += durationMs;
    this.trim(list, second);
  }

  totals(framework: string, now: number): WindowTotals {
    const list = this.buckets.get(framework);
    if (!list) return empty();
    const from = Math.floor((now - this.windowMs) / 1000);
    this.trim(list, Math.floor(now / 1000));
    const t = empty();
    for (const b of list) {
      if (b.second <= from) continue;
      t.ops += b.ops;
      t.errors += b.errors;
      t.burdenHours += b.burden;
      t.durationMs += b.durationMs;
    }
    return t;
  }

  private trim(list: Bucket[], nowSecond: number): void {
    const oldest = nowSecond - Math.ceil(this.windowMs / 1000) - 1;
    let drop = 0;
    while (drop < list.length && (list[drop]?.second ?? 0) < oldest) drop++;
    if (drop > 0) list.splice(0, drop);
  }
}

export interface LayerFigures {
  ops: number;
  errors: number;
  burdenHours: number;
  /** hours saved per hour over the window, divided by the layer's rollout share (see amplificationByLayer) */
  normalisedRate: number;
  /** raw hours saved per hour over the window */
  rate: number;
}

/**
 * DESIGN §4: amplification of Rn = burden rate of Rn ÷ burden rate of R(n−1) over the window; R1 is 1. Rates are
 * divided by each layer's rollout share first: a layer at 10 % sees a tenth of the operation keys, and comparing its
 * raw rate with a 100 % layer below it would read the rollout as a collapse. Undefined without data on either side —
 * never 0, never NaN (an absent figure is "unknown", which gates and alerts treat as such).
 */
export function amplificationByLayer(figures: Record<LayerId, LayerFigures>): Partial<Record<LayerId, number>> {
  const result: Partial<Record<LayerId, number>> = {};
  layerIds.forEach((layer, i) => {
    const own = figures[layer];
    if (own.ops === 0 || own.normalisedRate <= 0) return;
    if (i === 0) {
      result[layer] = 1;
      return;
    }
    const below = figures[layerIds[i - 1] as LayerId];
    if (below.ops === 0 || below.normalisedRate <= 0) return;
    result[layer] = own.normalisedRate / below.normalisedRate;
  });
  return result;
}

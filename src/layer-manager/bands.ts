import type { AmplificationBand, LayerId } from '../config/index.js';

/**
 * Hysteresis for range checks: a value that has left its acceptable band must come back past the band's edge by
 * `hysteresis` before it counts as inside again, so a layer hovering at 1.85 does not flip a gate every epoch.
 */
export class BandTracker {
  private readonly inside = new Map<LayerId, boolean>();

  /** Feeds one agreed value; returns whether the layer is now considered inside its band. */
  update(layer: LayerId, band: AmplificationBand, value: number): boolean {
    const next = classify(band, value, this.inside.get(layer));
    this.inside.set(layer, next);
    return next;
  }

  /** Current verdict for `value`, without remembering it (a gate reads, the consensus stream writes). */
  peek(layer: LayerId, band: AmplificationBand, value: number): boolean {
    return classify(band, value, this.inside.get(layer));
  }
}

function classify(band: AmplificationBand, value: number, wasInside: boolean | undefined): boolean {
  const [low, high] = band.acceptable;
  const within = value >= low && value <= high;
  const wellWithin = value >= low + band.hysteresis && value <= high - band.hysteresis;
  // With no history, demand the stricter entry band: the first verdict is an entry into the band.
  if (wasInside === true) return within;
  return wellWithin;
}

/**
 * Stateless, seeded randomness: a value depends only on its inputs, never on call order, so a synthetic run is the
 * same on every machine and a percentage rollout keeps every operation key in the same cohort across restarts.
 * FNV-1a over the text, then the murmur3 finaliser to spread the bits (both public-domain textbook mixes).
 */
export function hash32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    h = Math.imul(h, 0x01000193);
  }
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** Uniform in [0, 1) from the given parts. */
export function unit(...parts: (string | number)[]): number {
  return hash32(parts.join('\u001f')) / 2 ** 32;
}

/** Sticky percentage rollout (DESIGN §2): a layer at P % runs for the operation keys whose bucket is below P. */
export function inCohort(operationKey: string, layer: string, percentage: number): boolean {
  if (percentage >= 100) return true;
  if (percentage <= 0) return false;
  return hash32(`${layer}:${operationKey}`) % 100 < percentage;
}

/**
 * Stable buckets for percentage steps, version 1: Unleash's normalisation, so any Unleash SDK puts a key in the same
 * bucket — MurmurHash3 x86_32 of the UTF-8 bytes of `"<group>:<key>"`, seed 0, `% 100 + 1`. A key is in a rollout at
 * P % when its bucket is ≤ P, so a key in at 10 % is in at 25 %, 50 % and 100 % (the bucket never moves, only the
 * bar). Changing anything here moves keys between buckets: add a version 2 beside it instead.
 */
export const bucketingVersion = 1;

export function murmurHash3x86_32(text: string, seed = 0): number {
  const bytes = Buffer.from(text, 'utf8');
  const c1 = 0xcc9e2d51;
  const c2 = 0x1b873593;
  let h = seed >>> 0;
  const blocks = bytes.length >>> 2;
  for (let i = 0; i < blocks; i++) {
    let k = bytes.readUInt32LE(i * 4);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
    h = (h << 13) | (h >>> 19);
    h = (Math.imul(h, 5) + 0xe6546b64) | 0;
  }
  // The 1–3 bytes past the last block, little-endian (the reference's fall-through switch, written without one).
  const tail = blocks * 4;
  const rest = bytes.length & 3;
  if (rest > 0) {
    let k = 0;
    for (let i = rest - 1; i >= 0; i--) k = (k << 8) | (bytes[tail + i] as number);
    k = Math.imul(k, c1);
    k = (k << 15) | (k >>> 17);
    k = Math.imul(k, c2);
    h ^= k;
  }
  h ^= bytes.length;
  h ^= h >>> 16;
  h = Math.imul(h, 0x85ebca6b);
  h ^= h >>> 13;
  h = Math.imul(h, 0xc2b2ae35);
  h ^= h >>> 16;
  return h >>> 0;
}

/** 1…100: Unleash's normalizedValue(key, group). */
export function bucketOf(key: string, group: string): number {
  return (murmurHash3x86_32(`${group}:${key}`, 0) % 100) + 1;
}

/** Whether `key` is in a rollout of `group` at `percentage` (0 none, 100 all). */
export function inRollout(key: string, group: string, percentage: number): boolean {
  return percentage > 0 && bucketOf(key, group) <= percentage;
}

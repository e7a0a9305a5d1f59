// The ingest benchmark's verdict on a run (DESIGN §7: an operation is acknowledged only once it is durable, and nothing
// acknowledged is ever lost). Kept apart from bench/ingest.js so a unit test can show it can fail
// (test/unit/bench/durability.test.ts); run.js does not run it as a benchmark.

/**
 * Compares the operation ids a run had acknowledged with the rows stored for exactly those ids, one entry per stored
 * row (a row stored twice appears twice). Right only when every acknowledged id is stored exactly once: a missing row
 * is a lost acknowledgement, a doubled one a retry that was not idempotent. Ids in `storedIds` that were never
 * acknowledged are counted apart and do not make a run wrong: a call can commit and still fail on its way back.
 */
export function durabilityVerdict(acknowledgedIds, storedIds) {
  const acknowledged = new Set(acknowledgedIds);
  const rowsPerId = new Map();
  for (const id of storedIds) rowsPerId.set(id, (rowsPerId.get(id) ?? 0) + 1);
  const missing = [];
  const doubled = [];
  for (const id of acknowledged) {
    const rows = rowsPerId.get(id) ?? 0;
    if (rows === 0) missing.push(id);
    else if (rows > 1) doubled.push(id);
  }
  let unacknowledged = 0;
  for (const id of rowsPerId.keys()) if (!acknowledged.has(id)) unacknowledged++;
  // The same id acknowledged twice means the load generator itself is broken: the count below would be meaningless.
  const acknowledgedTwice = acknowledgedIds.length - acknowledged.size;
  return {
    right: missing.length === 0 && doubled.length === 0 && acknowledgedTwice === 0,
    acknowledged: acknowledgedIds.length,
    storedRows: storedIds.length,
    missing: missing.length,
    doubled: doubled.length,
    acknowledgedTwice,
    unacknowledged,
    // A few ids to look up by hand when it is wrong.
    examples: { missing: missing.slice(0, 3), doubled: doubled.slice(0, 3) },
  };
}

/** One line for the console: what the verdict says and the counts behind it. */
export function describeVerdict(verdict) {
  const counts =
    `${verdict.acknowledged} acknowledged, ${verdict.storedRows} rows stored for them, ` +
    `${verdict.missing} missing, ${verdict.doubled} doubled`;
  if (verdict.right) return `durable: every acknowledged operation stored exactly once (${counts})`;
  const why = [
    verdict.missing > 0 ? `missing e.g. ${verdict.examples.missing.join(', ')}` : '',
    verdict.doubled > 0 ? `doubled e.g. ${verdict.examples.doubled.join(', ')}` : '',
    verdict.acknowledgedTwice > 0 ? `${verdict.acknowledgedTwice} ids acknowledged twice` : '',
  ].filter(Boolean);
  return `NOT DURABLE (${counts}; ${why.join('; ')})`;
}

/**
 * `npm run bench -- ingest` fails (1) only when a run is wrong: rows lost or doubled, or calls that failed although
 * every limit was set out of the way (then the figure is not the load it claims). A missed speed or memory goal is
 * printed beside the figures, not turned into an exit code: the figure is still right, the machine is just slower.
 */
export function exitCodeOf(runs) {
  return runs.some((r) => !r.durability.right || r.failures > 0) ? 1 : 0;
}

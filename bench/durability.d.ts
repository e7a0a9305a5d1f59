// Types of bench/durability.js for the unit test that imports it (bench/ is plain JS).
export interface DurabilityVerdict {
  right: boolean;
  acknowledged: number;
  storedRows: number;
  missing: number;
  doubled: number;
  acknowledgedTwice: number;
  unacknowledged: number;
  examples: { missing: string[]; doubled: string[] };
}

export function durabilityVerdict(acknowledgedIds: readonly string[], storedIds: readonly string[]): DurabilityVerdict;
export function describeVerdict(verdict: DurabilityVerdict): string;
export function exitCodeOf(
  runs: readonly ({ durability: DurabilityVerdict; failures: number } & Record<string, unknown>)[],
): 0 | 1;

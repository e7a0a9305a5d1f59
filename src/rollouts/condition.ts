import { TriadError } from '../shared/index.js';

/**
 * A check's successCondition, parsed once. Argo writes these as expressions over `result`; triad keeps a small closed
 * grammar instead of an evaluator (no code from a file ever runs on the leader):
 *   result < 0.01 · result >= 1.85 and result <= 2.30 · result within 10% of 2.07
 * Clauses join with `and` (or `&&`); all must hold. A vector result (PromQL) passes when every element does.
 */
export interface Condition {
  text: string;
  test(value: number): boolean;
  /** The threshold as the operator reads it in a failure ("within 10% of 2.07 (1.863–2.277)"). */
  threshold: string;
}

const comparison = /^result\s*(<=|>=|==|!=|<|>)\s*(-?\d+(?:\.\d+)?(?:e-?\d+)?)$/i;
const within = /^result\s+within\s+(\d+(?:\.\d+)?)\s*%\s+of\s+(-?\d+(?:\.\d+)?)$/i;

export function parseCondition(text: string): Condition {
  const clauses = text
    .split(/\s+(?:and|&&)\s+/i)
    .map((c) => c.trim())
    .filter((c) => c !== '');
  if (clauses.length === 0) throw new TriadError('INPUT_INVALID', 'an empty condition');
  const tests = clauses.map((clause): { test: (v: number) => boolean; threshold: string } => {
    const c = comparison.exec(clause);
    if (c) {
      const op = c[1] as string;
      const bound = Number(c[2]);
      const ops: Record<string, (v: number) => boolean> = {
        '<': (v) => v < bound,
        '<=': (v) => v <= bound,
        '>': (v) => v > bound,
        '>=': (v) => v >= bound,
        '==': (v) => v === bound,
        '!=': (v) => v !== bound,
      };
      return { test: ops[op] as (v: number) => boolean, threshold: `${op} ${bound}` };
    }
    const w = within.exec(clause);
    if (w) {
      const percent = Number(w[1]);
      const centre = Number(w[2]);
      const low = centre - (Math.abs(centre) * percent) / 100;
      const high = centre + (Math.abs(centre) * percent) / 100;
      return {
        test: (v) => v >= low && v <= high,
        threshold: `within ${percent}% of ${centre} (${round(low)}–${round(high)})`,
      };
    }
    throw new TriadError(
      'INPUT_INVALID',
      `cannot read condition "${clause}": use "result < N" (<, <=, >, >=, ==, !=) or "result within P% of N", joined by "and"`,
    );
  });
  return {
    text,
    test: (value) => Number.isFinite(value) && tests.every((t) => t.test(value)),
    threshold: tests.map((t) => t.threshold).join(' and '),
  };
}

function round(n: number): number {
  return Math.round(n * 10_000) / 10_000;
}

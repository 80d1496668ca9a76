/** Per-profile statistics of a parameter's best values. */
import type { ParameterStats } from "./schema.ts";

/**
 * Count, min, max and mean of the values whose QC is 1 (good) or 2 (probably
 * good); NaN values are skipped. min/max/mean are null when none qualifies.
 */
export function goodValueStats(values: ArrayLike<number>, qc: ArrayLike<number>): ParameterStats {
  let count = 0;
  let min = Infinity;
  let max = -Infinity;
  let sum = 0;
  for (let i = 0; i < values.length; i++) {
    const flag = qc[i];
    if (flag !== 1 && flag !== 2) continue;
    const v = values[i]!;
    if (Number.isNaN(v)) continue;
    count++;
    sum += v;
    if (v < min) min = v;
    if (v > max) max = v;
  }
  return count === 0 ? { count, min: null, max: null, mean: null } : { count, min, max, mean: sum / count };
}

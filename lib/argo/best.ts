/**
 * The "best value" rule (argopy's datamode merge, Argovis, CrocoLake): a
 * parameter in data mode A or D is read from `<P>_ADJUSTED`, `<P>_ADJUSTED_QC`
 * and `<P>_ADJUSTED_ERROR`; in mode R from `<P>` and `<P>_QC`.
 */
import type { DataMode, ParameterColumns, QualityStatus, QcColumn, ValueColumn } from "./schema.ts";

/** True when the best value of a parameter in this mode is the adjusted one. */
export function usesAdjusted(mode: DataMode | null): boolean {
  return mode === "A" || mode === "D";
}

/** The original system's quality_status for a DATA_MODE. */
export function qualityStatusOf(mode: DataMode | null): QualityStatus | null {
  if (mode === "R") return "REAL_TIME";
  if (mode === "A") return "ADJUSTED";
  if (mode === "D") return "DELAYED";
  return null;
}

/** Raw and adjusted columns of one parameter; adjusted ones are null for intermediate parameters. */
export type ParameterVersions = Pick<ParameterColumns, "raw" | "rawQc" | "adjusted" | "adjustedQc" | "adjustedError">;

/**
 * The best value, QC and error columns for a data mode. Returns the chosen
 * arrays themselves (no copy). A parameter without adjusted columns has only
 * its raw values, whatever the mode says.
 */
export function selectBest(p: ParameterVersions, mode: DataMode | null): { value: ValueColumn; qc: QcColumn; error: ValueColumn | null } {
  if (usesAdjusted(mode) && p.adjusted !== null && p.adjustedQc !== null) {
    return { value: p.adjusted, qc: p.adjustedQc, error: p.adjustedError };
  }
  return { value: p.raw, qc: p.rawQc, error: null };
}

/**
 * Index plausibility: an index file is judged whole before its rows are
 * trusted. One bad file on the GDAC (cut short, header only, a different
 * index under this name) must not make the sync withdraw every float it no
 * longer lists, so a fresh copy is compared with what it claims to be and
 * with the cached copy of the same index; a copy that fails is refused and
 * the cached copy stays the plan's source.
 */
import { INDEX_NAMES, type IndexKind, type IndexReadResult } from "./index-file.ts";

/** Words the `# Title :` line of each index holds (when it has one). */
const TITLES: Record<IndexKind, RegExp> = {
  core: /^Profile directory file/i,
  bio: /^Bio-Profile directory file/i,
  synthetic: /^Synthetic-Profile directory file/i,
  meta: /^Metadata directory file/i,
};

/** Data rows an index holds: kept, skipped (not selected) and refused alike. */
export const dataRows = (r: IndexReadResult): number => r.rows + r.skipped + r.refused;

/**
 * Why a fresh copy of an index cannot be trusted, or null. `maxShrink` is
 * INDEX_MAX_SHRINK: the largest share of rows a copy may lose against the
 * cached one (previousRows), and the largest share of its rows that may be
 * refused.
 */
export function indexProblem(kind: IndexKind, name: string, r: IndexReadResult, previousRows: number | null, maxShrink: number): string | null {
  const rows = dataRows(r);
  if (r.unterminated) {
    return `index ${name}: expected a complete file (its last line ending with a newline), found the last of ${r.lines} lines cut: refused as cut short`;
  }
  if (r.title !== null && !TITLES[kind].test(r.title)) {
    return `index ${name}: expected the title of ${INDEX_NAMES[kind]}, found ${JSON.stringify(r.title.slice(0, 100))}: refused`;
  }
  if (rows > 0 && r.refused > maxShrink * rows) {
    return `index ${name}: expected at most ${fmtShare(maxShrink)} of its rows refused (INDEX_MAX_SHRINK), found ${r.refused} of ${rows}: refused`;
  }
  if (previousRows !== null && rows < previousRows * (1 - maxShrink)) {
    return `index ${name}: expected at least ${Math.ceil(previousRows * (1 - maxShrink))} rows (the cached copy has ${previousRows}; INDEX_MAX_SHRINK=${maxShrink}), found ${rows}: refused`;
  }
  return null;
}

/**
 * Why a fresh profile index cannot be trusted given what the other indexes
 * list, or null: it must have rows for all but `maxShrink` of the floats the
 * bio, synthetic and meta indexes list (a float with metadata but no profile
 * yet is normal; a profile index missing many is a damaged one).
 */
export function coverageProblem(name: string, core: ReadonlySet<string>, others: ReadonlySet<string>[], maxShrink: number): string | null {
  const all = new Set<string>();
  for (const o of others) for (const w of o) all.add(w);
  const missing = [...all].filter((w) => !core.has(w));
  if (missing.length === 0 || missing.length <= maxShrink * all.size) return null;
  const sample = missing.slice(0, 5).join(", ") + (missing.length > 5 ? ", ..." : "");
  return `index ${name}: expected rows for the floats the other indexes list, found none for ${missing.length} of ${all.size} (${sample}; INDEX_MAX_SHRINK=${maxShrink}): refused`;
}

const fmtShare = (v: number): string => `${Math.round(v * 1000) / 10}%`;

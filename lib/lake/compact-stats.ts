/**
 * What a compaction did: the stats schema, apart from the compaction itself
 * so the stage registry (lib/stages.ts) can read it without loading DuckDB.
 */
import { z } from "zod";

/** What a compaction run did. */
export const CompactStatsSchema = z.object({
  /** The live list's commit number after the run (unchanged when nothing was compacted). */
  commit: z.number().int().nonnegative(),
  /** True when this run committed a new live list with new segments. */
  committed: z.boolean(),
  /** Partitions (table, dac, year) rewritten into new segments. */
  partitions: z.number().int().nonnegative(),
  /** Partitions with staging files or hidden rows that the policy left for a later run. */
  partitions_pending: z.number().int().nonnegative(),
  segments_written: z.number().int().nonnegative(),
  /** Live segments replaced by the new ones (deleted after COMPACT_GRACE). */
  segments_retired: z.number().int().nonnegative(),
  /** Rows in the segments written. */
  rows: z.number().int().nonnegative(),
  /** Bytes of the segments written. */
  bytes_written: z.number().int().nonnegative(),
  /** Floats whose staging files or tombstones were folded into segments. */
  floats_folded: z.number().int().nonnegative(),
  /** Staging files and tombstones folded (deleted after COMPACT_GRACE, when unchanged). */
  files_folded: z.number().int().nonnegative(),
  /** Objects the garbage collection deleted: folded files, retired segments, orphan segments of a crashed run. */
  files_deleted: z.number().int().nonnegative(),
  bytes_deleted: z.number().int().nonnegative(),
  /** Another compaction held the lock: nothing was done. */
  locked: z.boolean(),
  aborted: z.boolean(),
  start_time: z.string(),
  end_time: z.string(),
  duration_s: z.number().nonnegative(),
});
export type CompactStats = z.infer<typeof CompactStatsSchema>;

/** The stats of a compaction that did nothing (yet). */
export function emptyCompactStats(now: Date = new Date()): CompactStats {
  return {
    commit: 0,
    committed: false,
    partitions: 0,
    partitions_pending: 0,
    segments_written: 0,
    segments_retired: 0,
    rows: 0,
    bytes_written: 0,
    floats_folded: 0,
    files_folded: 0,
    files_deleted: 0,
    bytes_deleted: 0,
    locked: false,
    aborted: false,
    start_time: now.toISOString(),
    end_time: now.toISOString(),
    duration_s: 0,
  };
}

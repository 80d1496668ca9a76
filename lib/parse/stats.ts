/**
 * What a parse run did: the stats schema, apart from the parse itself so the
 * stage registry (lib/stages.ts) can read it without loading DuckDB.
 */
import { z } from "zod";

/** One float that failed as a whole (lake I/O, a crashed worker, a float refused by its checks). */
export const ParseErrorDetailSchema = z.object({
  float_id: z.string(),
  dac: z.string(),
  stage: z.string(),
  message: z.string(),
});

/** What a parse run did. */
export const ParseStatsSchema = z.object({
  floats_parsed: z.number().int().nonnegative(),
  floats_skipped: z.number().int().nonnegative(),
  /** Floats whose raw files are all gone: their lake files and state were removed. */
  floats_removed: z.number().int().nonnegative(),
  /** Raw files parsed without error. */
  files_parsed: z.number().int().nonnegative(),
  profiles: z.number().int().nonnegative(),
  measurement_rows: z.number().int().nonnegative(),
  parquet_files_written: z.number().int().nonnegative(),
  parquet_files_deleted: z.number().int().nonnegative(),
  /** Bytes of raw files read for the floats parsed. */
  bytes_in: z.number().int().nonnegative(),
  /** Bytes of Parquet written. */
  bytes_out: z.number().int().nonnegative(),
  /** Raw files quarantined by this run. */
  quarantined: z.number().int().nonnegative(),
  /** Floats that failed as a whole. */
  errors: z.number().int().nonnegative(),
  error_details: z.array(ParseErrorDetailSchema),
  /**
   * How the floats were found (lib/parse/discover.ts): the whole raw zone
   * listed, the named floats' folders, or the floats the raw change journal
   * named since the last parse (none: nothing changed).
   */
  discovery: z.enum(["full", "named", "journal"]).default("full"),
  workers: z.number().int().positive(),
  runtime: z.enum(["deno", "node"]),
  aborted: z.boolean(),
  start_time: z.string(),
  end_time: z.string(),
  duration_s: z.number().nonnegative(),
});
export type ParseStats = z.infer<typeof ParseStatsSchema>;

/**
 * What a load did: the stats schema, apart from the load itself so the stage
 * registry (lib/stages.ts) can read it without loading DuckDB, pg or ioredis.
 */
import { z } from "zod";

/** What a load did. */
export const LoadStatsSchema = z.object({
  postgres: z.enum(["loaded", "skipped"]),
  redis: z.enum(["loaded", "skipped"]),
  /** Floats asked for (explicit ids) or found in the lake (full load), after DAC and shard filters. */
  floats_selected: z.number().int(),
  floats_loaded: z.number().int(),
  /** Floats removed from the targets because the lake no longer has them. */
  floats_removed: z.number().int(),
  floats_failed: z.number().int(),
  profiles_read: z.number().int(),
  profiles_inserted: z.number().int(),
  profiles_updated: z.number().int(),
  profiles_unchanged: z.number().int(),
  profiles_deleted: z.number().int(),
  climatology_contributions_changed: z.number().int(),
  climatology_cells_changed: z.number().int(),
  /** Schema migrations applied by this run. */
  migrations_applied: z.array(z.number().int()),
  redis_floats_written: z.number().int(),
  redis_latest_profiles: z.number().int(),
  redis_levels_written: z.number().int(),
  /** Floats left out of the GEO set: no position, or beyond GEO's +-85.05 degrees latitude. */
  redis_geo_skipped: z.number().int(),
  insert_method: z.enum(["batch", "row"]),
  /** "incremental": the floats the change journal named since the targets' cursors; "full": every selected float. */
  mode: z.enum(["full", "incremental"]).default("full"),
  /** Why a load was full (no cursor, --full, float ids named...); null for an incremental one. */
  full_reason: z.string().nullable().default(null),
  /** Parquet change journal entries read (incremental loads). */
  journal_entries_read: z.number().int().default(0),
  /** "advanced": the targets' cursors now cover this load; "none": the load keeps no cursor (float ids named, aborted). */
  cursor: z.enum(["advanced", "none"]).default("none"),
  aborted: z.boolean(),
  errors: z.array(z.object({ float_id: z.string(), error: z.string() })),
  start_time: z.string(),
  end_time: z.string(),
  duration_ms: z.number(),
  timings_ms: z.object({ lake: z.number(), postgres: z.number(), redis: z.number() }),
});
export type LoadStats = z.infer<typeof LoadStatsSchema>;

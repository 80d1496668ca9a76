/**
 * The rows the load job moves from the lake (DuckDB) into Postgres and
 * Redis: one schema per kind of row, checked as rows leave DuckDB so a
 * change in the lake's schema fails loudly at the boundary, not deep inside
 * a COPY or a MULTI.
 *
 * Times travel as ISO-8601 UTC strings with microseconds (DuckDB and
 * Postgres both keep microseconds; a JS Date would cut them to milliseconds).
 */
import { z } from "zod";
import type { ProfileData } from "../argo/schema.ts";

const int = z.number().int();
const str = z.string().nullable();
const num = z.number().nullable();
/** "2021-03-04T05:06:07.123456Z" */
const isoTime = z.string().regex(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/).nullable();

/** One profile, the columns of the Postgres `profiles` table. */
export const ProfileRowSchema = z.object({
  float_id: z.string(),
  cycle_number: int,
  direction: z.string(),
  profile_index: int,
  dac: z.string(),
  data_mode: str,
  quality_status: str,
  time: isoTime,
  juld_qc: int.nullable(),
  latitude: num,
  longitude: num,
  position_qc: int.nullable(),
  positioning_system: str,
  vertical_sampling_scheme: str,
  data_centre: str,
  platform_type: str,
  n_levels: int.nullable(),
  max_pres: num,
  parameters: z.array(z.string()),
  parameter_data_mode: str,
  /** JSON text of the per-parameter statistics list. */
  parameter_stats: z.string(),
  source_file: str,
  bgc_source_file: str,
  date_update: isoTime,
});
export type ProfileRow = z.infer<typeof ProfileRowSchema>;

/** The profile table's columns in load order. */
export const profileColumns = Object.keys(ProfileRowSchema.shape) as (keyof ProfileRow)[];

/** One float: its meta fields (JSON text, as the lake has them) and a summary of its profiles. */
export const FloatRowSchema = z.object({
  float_id: z.string(),
  dac: z.string(),
  /** JSON text of the lake's floats row (meta file fields). */
  meta: z.string(),
  n_profiles: int,
  n_cycles: int,
  first_profile_time: isoTime,
  last_profile_time: isoTime,
  last_cycle_number: int.nullable(),
  last_latitude: num,
  last_longitude: num,
  last_position_time: isoTime,
  n_profiles_r: int,
  n_profiles_a: int,
  n_profiles_d: int,
  parameters: z.array(z.string()),
});
export type FloatRow = z.infer<typeof FloatRowSchema>;

/** A float's contribution to one climatology cell. */
export const ContribRowSchema = z.object({
  parameter: z.string(),
  lat_bin: int,
  lon_bin: int,
  month: int,
  band: int,
  n: int,
  sum: z.number(),
  sum_sq: z.number(),
  /** Sum of squared deviations from this float's mean in the cell. */
  m2: z.number(),
});
export type ContribRow = z.infer<typeof ContribRowSchema>;

/** Everything the load writes for one float. */
export interface FloatLoad {
  float: FloatRow;
  profiles: ProfileRow[];
  contributions: ContribRow[];
  /** Its latest profile with measurements, for the hot layer; null when the float has no profile in the lake. */
  latest: ProfileData | null;
}

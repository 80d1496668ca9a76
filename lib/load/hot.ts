/**
 * The hot layer's latest-profile JSON, built from lake rows: the original
 * system's ProfileData shape (lib/argo/schema.ts) with depth_m on each level.
 * Pure functions; lib/db/redis.ts writes the result.
 */
import { float32ToShortest } from "../argo/decode.ts";
import { type ProfileData, ProfileDataSchema, QualityStatusSchema } from "../argo/schema.ts";
import type { ProfileRow } from "../db/rows.ts";

/** One level of the latest profile as latest_profile.sql returns it (best values, FLOAT columns). */
export interface LatestLevel {
  pres: number | null;
  pres_qc: number | null;
  depth_m: number | null;
  temp: number | null;
  temp_qc: number | null;
  psal: number | null;
  psal_qc: number | null;
  doxy: number | null;
  doxy_qc: number | null;
  chla: number | null;
  chla_qc: number | null;
}

/** Lake values are float32: print them as the file holds them (12.345, not 12.345000267028809). */
const f32 = (v: number | null): number | null => (v === null || Number.isNaN(v) ? null : float32ToShortest(v));
const isoMs = (t: string | null): string | null => (t === null ? null : new Date(Date.parse(t)).toISOString());

/**
 * A ProfileData for a profile and its levels (in level order). `max_depth`
 * is the profile's max_pres (the original's "depth" is pressure in dbar).
 */
export function profileData(p: ProfileRow, levels: LatestLevel[]): ProfileData {
  const qs = QualityStatusSchema.safeParse(p.quality_status);
  return ProfileDataSchema.parse({
    float_id: p.float_id,
    cycle_number: p.cycle_number,
    profile_time: isoMs(p.time),
    latitude: p.latitude,
    longitude: p.longitude,
    measurements: levels.map((l) => ({
      depth: f32(l.pres),
      depth_m: l.depth_m === null || Number.isNaN(l.depth_m) ? null : l.depth_m,
      temperature: f32(l.temp),
      salinity: f32(l.psal),
      oxygen: f32(l.doxy),
      chlorophyll: f32(l.chla),
      qc_flags: {
        depth: l.pres_qc,
        temperature: l.temp_qc,
        salinity: l.psal_qc,
        oxygen: l.doxy_qc,
        chlorophyll: l.chla_qc,
      },
    })),
    max_depth: p.max_pres === null ? null : f32(p.max_pres),
    quality_status: qs.success ? qs.data : null,
    metadata: {
      direction: p.direction,
      profile_index: p.profile_index,
      data_mode: p.data_mode,
      platform_type: p.platform_type,
      data_centre: p.data_centre,
      positioning_system: p.positioning_system,
      vertical_sampling_scheme: p.vertical_sampling_scheme,
      position_qc: p.position_qc,
      juld_qc: p.juld_qc,
      // The lake names parameters in lower case; ProfileData uses the Argo names.
      parameters: p.parameters.map((x) => x.toUpperCase()),
      source_files: [p.source_file, p.bgc_source_file].filter((f): f is string => f !== null),
      date_update: isoMs(p.date_update),
    },
  });
}

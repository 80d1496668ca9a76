/** The original system's `ProfileData` JSON, built from a parsed profile. */
import { float32ToShortest, qcAt } from "./decode.ts";
import type { ParameterColumns, Profile, ProfileData } from "./schema.ts";

/** Best value at a level as a plain number: float32 values as their shortest decimal, fill as null. */
function bestAt(p: ParameterColumns | undefined, j: number): number | null {
  if (p === undefined) return null;
  const v = p.value[j]!;
  if (Number.isNaN(v)) return null;
  return p.value instanceof Float32Array ? float32ToShortest(v) : v;
}

function iso(ms: number | null): string | null {
  return ms === null ? null : new Date(ms).toISOString();
}

/**
 * A profile as the original system's JSON: one measurement per kept level with
 * best values (`depth` is pressure in dbar, as the original had it; `depth_m`
 * is added), temperature/salinity/oxygen/chlorophyll from TEMP/PSAL/DOXY/CHLA
 * (null when the profile lacks them) and their best QC flags.
 */
export function toProfileData(profile: Profile): ProfileData {
  const { PRES: pres, TEMP: temp, PSAL: psal, DOXY: doxy, CHLA: chla } = profile.parameters;
  const qc = (p: ParameterColumns | undefined, j: number) => (p === undefined ? null : qcAt(p.qc, j));
  const measurements: ProfileData["measurements"] = [];
  for (let j = 0; j < profile.nLevels; j++) {
    const depthM = profile.depthM[j]!;
    measurements.push({
      depth: bestAt(pres, j),
      depth_m: Number.isNaN(depthM) ? null : depthM,
      temperature: bestAt(temp, j),
      salinity: bestAt(psal, j),
      oxygen: bestAt(doxy, j),
      chlorophyll: bestAt(chla, j),
      qc_flags: { depth: qc(pres, j), temperature: qc(temp, j), salinity: qc(psal, j), oxygen: qc(doxy, j), chlorophyll: qc(chla, j) },
    });
  }
  const dateUpdates = profile.sources.map((s) => s.dateUpdate).filter((d): d is number => d !== null);
  return {
    float_id: profile.floatId,
    cycle_number: profile.cycleNumber,
    profile_time: iso(profile.time),
    latitude: profile.latitude,
    longitude: profile.longitude,
    measurements,
    max_depth: profile.maxPres === null ? null : float32ToShortest(profile.maxPres),
    quality_status: profile.qualityStatus,
    metadata: {
      direction: profile.direction,
      profile_index: profile.profileIndex,
      data_mode: profile.dataMode,
      platform_type: profile.platformType,
      data_centre: profile.dataCentre,
      positioning_system: profile.positioningSystem,
      vertical_sampling_scheme: profile.verticalSamplingScheme,
      position_qc: profile.positionQc,
      juld_qc: profile.timeQc,
      parameters: Object.keys(profile.parameters),
      source_files: profile.sources.map((s) => s.path),
      // The latest of the source files' DATE_UPDATE: the record changed when any of them did.
      date_update: dateUpdates.length === 0 ? null : iso(Math.max(...dateUpdates)),
    },
  };
}

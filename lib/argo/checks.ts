/**
 * Identity and range checks on a parsed file, before any of it reaches a
 * table: the file must be what its name (and so its index row) says it is,
 * and every time and position that lands in a typed column must be
 * physically possible. A file that fails is quarantined with the reason these
 * functions give (lib/parse/float.ts); it never reaches an aggregate.
 */
import type { FloatMeta, ParsedProfileFile } from "./schema.ts";

/** Earliest plausible Argo time: the first profiling floats of the GDAC date from 1997; a margin before that. */
export const ARGO_ERA_START_MS = Date.UTC(1995, 0, 1);

/** One day in milliseconds: times up to a day ahead are accepted (clocks and time zones of the DACs). */
const DAY_MS = 86_400_000;

/** Why a file was refused, and the variable concerned. */
export interface CheckFailure {
  reason: string;
  where: string;
}

/** What a profile file's name says: its float, cycle and direction. */
export interface ProfileIdentity {
  wmo: string;
  cycle: number;
  direction: "A" | "D";
}

const iso = (ms: number): string => (Number.isFinite(ms) && Math.abs(ms) < 8.64e15 ? new Date(ms).toISOString() : String(ms));

/** Null when `ms` is a plausible observation time, else why not. */
export function timeProblem(ms: number | null, now: number): string | null {
  if (ms === null) return null;
  if (ms < ARGO_ERA_START_MS) return `${iso(ms)} is before the Argo era (${iso(ARGO_ERA_START_MS)})`;
  if (ms > now + DAY_MS) return `${iso(ms)} is after tomorrow`;
  return null;
}

/** Null when a position is in range (or absent), else why not. */
export function positionProblem(lat: number | null, lon: number | null): CheckFailure | null {
  if (lat !== null && !(lat >= -90 && lat <= 90)) return { reason: `LATITUDE ${lat} is outside -90..90`, where: "LATITUDE" };
  if (lon !== null && !(lon >= -180 && lon <= 180)) return { reason: `LONGITUDE ${lon} is outside -180..180`, where: "LONGITUDE" };
  return null;
}

/**
 * Checks every profile of a single-cycle file against the identity its name
 * gives and the physical ranges; returns the first failure, or null.
 */
export function checkProfileFile(file: ParsedProfileFile, expected: ProfileIdentity, now: number = Date.now()): CheckFailure | null {
  for (const p of file.profiles) {
    const which = `profile ${p.indexInFile}`;
    if (p.floatId !== expected.wmo) return { reason: `PLATFORM_NUMBER ${p.floatId} (${which}), but the file name says float ${expected.wmo}`, where: "PLATFORM_NUMBER" };
    if (p.cycleNumber !== expected.cycle) return { reason: `CYCLE_NUMBER ${p.cycleNumber} (${which}), but the file name says cycle ${expected.cycle}`, where: "CYCLE_NUMBER" };
    if (p.direction !== expected.direction) return { reason: `DIRECTION ${p.direction} (${which}), but the file name says ${expected.direction === "D" ? "descending (D)" : "ascending (A)"}`, where: "DIRECTION" };
    const t = timeProblem(p.time, now);
    if (t) return { reason: `JULD ${t} (${which})`, where: "JULD" };
    const tl = timeProblem(p.timeLocation, now);
    if (tl) return { reason: `JULD_LOCATION ${tl} (${which})`, where: "JULD_LOCATION" };
    const pos = positionProblem(p.latitude, p.longitude);
    if (pos) return { reason: `${pos.reason} (${which})`, where: pos.where };
  }
  return null;
}

/** Checks a meta file's times that land in typed columns (not beyond tomorrow) and its launch position. */
export function checkMetaFile(meta: FloatMeta, now: number = Date.now()): CheckFailure | null {
  for (const [name, ms] of [["LAUNCH_DATE", meta.launchDate], ["START_DATE", meta.startDate]] as const) {
    if (ms !== null && ms > now + DAY_MS) return { reason: `${name} ${iso(ms)} is after tomorrow`, where: name };
  }
  const pos = positionProblem(meta.launchLatitude, meta.launchLongitude);
  return pos ? { reason: `LAUNCH_${pos.reason}`, where: `LAUNCH_${pos.where}` } : null;
}

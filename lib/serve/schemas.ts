/**
 * The API's request and response shapes, as zod schemas: the same schemas
 * validate each request and make the OpenAPI document (lib/serve/openapi.ts).
 * Query and path values arrive as strings; each schema says in its error
 * message what it expected, and the request's 400 names the parameter.
 */
import { z } from "zod";
import { FloatIdSchema, ProfileDataSchema } from "../argo/schema.ts";
import { FloatRowSchema, ProfileRowSchema } from "../db/rows.ts";

/** Kilometres of the Earth's mean radius, as Redis GEO measures. */
export const EARTH_RADIUS_KM = 6372.797560856;
/** Half the Earth's circumference: no two points are farther apart. */
export const MAX_RADIUS_KM = Math.PI * EARTH_RADIUS_KM;

const finite = (s: string) => s.trim() !== "" && Number.isFinite(Number(s));

/** A WMO float id in a path. */
export const WmoParam = z.string().regex(/^[0-9]{5}([0-9]{2})?$/, { error: "expected a WMO float id of 5 or 7 digits" })
  .meta({ description: "WMO float id (5 or 7 digits)", example: "2902269" });

/** A cycle number in a path. */
export const CycleParam = z.string().regex(/^\d{1,6}$/, { error: "expected a cycle number (a whole number >= 0)" })
  .transform(Number).meta({ description: "cycle number", example: "1" });

/** "LON,LAT" in degrees. */
const lonLat = z.string().refine((v) => {
  const p = v.split(",");
  return p.length === 2 && p.every(finite) && Math.abs(Number(p[0])) <= 180 && Math.abs(Number(p[1])) <= 90;
}, { error: "expected LON,LAT in degrees (longitude -180..180, latitude -90..90)" })
  .transform((v) => {
    const [lon, lat] = v.split(",").map(Number);
    return { lon, lat };
  });

/** "LON0,LAT0,LON1,LAT1": west, south, east, north; west > east crosses the antimeridian. */
const bbox = z.string().refine((v) => {
  const p = v.split(",");
  if (p.length !== 4 || !p.every(finite)) return false;
  const [w, s, e, n] = p.map(Number);
  return Math.abs(w) <= 180 && Math.abs(e) <= 180 && Math.abs(s) <= 90 && Math.abs(n) <= 90 && s <= n;
}, {
  error: "expected four numbers LON0,LAT0,LON1,LAT1 (west, south, east, north in degrees, south <= north; west > east crosses the antimeridian)",
}).transform((v) => {
  const [west, south, east, north] = v.split(",").map(Number);
  return { west, south, east, north };
});

const isoInstant = z.string().refine((v) => /^\d{4}-\d\d-\d\d([T ]\d\d:\d\d(:\d\d(\.\d+)?)?(Z|[+-]\d\d:?\d\d)?)?$/.test(v) && !Number.isNaN(Date.parse(v)), {
  error: "expected an ISO 8601 date or time, e.g. 2024-01-01 or 2024-01-01T00:00:00Z",
}).transform((v) => Date.parse(/T| \d/.test(v) && !/(Z|[+-]\d\d:?\d\d)$/.test(v) ? v + "Z" : v));

const wholeNumber = (what: string, min: number, max: number) =>
  z.string().regex(/^\d+$/, { error: `expected ${what}` }).transform(Number)
    .refine((n) => n >= min && n <= max, { error: `expected ${what}` });

/** Maximum floats in one page. */
export const MAX_LIMIT = 1000;

/** GET /api/floats query. */
export const FloatsQuery = z.object({
  near: lonLat.optional().meta({ description: "search around LON,LAT (degrees)", example: "62.5,15.9" }),
  radius_km: z.string().refine((v) => finite(v) && Number(v) > 0 && Number(v) <= MAX_RADIUS_KM, {
    error: `expected a radius in km > 0 and <= ${Math.floor(MAX_RADIUS_KM)}`,
  }).transform(Number).optional().meta({ description: "radius around `near` in km (default 100)", example: "500" }),
  bbox: bbox.optional().meta({
    description: "box LON0,LAT0,LON1,LAT1 (west, south, east, north); west > east crosses the antimeridian",
    example: "170,-30,-170,-10",
  }),
  updated_since: isoInstant.optional().meta({ description: "only floats whose latest profile is at or after this time", example: "2020-01-01" }),
  limit: wholeNumber(`a whole number of floats from 1 to ${MAX_LIMIT}`, 1, MAX_LIMIT).optional()
    .meta({ description: `floats per page (default 100, at most ${MAX_LIMIT})`, example: "100" }),
  cursor: z.string().regex(/^\d{1,9}$/, { error: "expected a cursor returned as next_cursor by a previous page" }).transform(Number).optional()
    .meta({ description: "next_cursor of the previous page" }),
}).refine((q) => !(q.near && q.bbox), { error: "give near or bbox, not both", path: ["bbox"] })
  .refine((q) => q.radius_km === undefined || q.near !== undefined, { error: "radius_km needs near=LON,LAT", path: ["radius_km"] });
export type FloatsQuery = z.infer<typeof FloatsQuery>;

/** The lake views a cycle's levels can be read through. */
export const MODES = ["standard", "research", "expert"] as const;

/** GET /api/floats/{wmo}/profiles/{cycle} query. */
export const LevelsQuery = z.object({
  mode: z.enum(MODES, { error: "expected standard, research or expert" }).optional()
    .meta({ description: "argopy's user mode: standard (best values, good QC), research (delayed mode, QC 1) or expert (every column, the default)" }),
  direction: z.enum(["A", "D"], { error: "expected A (ascending) or D (descending)" }).optional()
    .meta({ description: "only the ascending (A) or descending (D) profile of the cycle" }),
});

/** GET /api/climatology query. */
export const ClimatologyQuery = z.object({
  lon: z.string().refine((v) => finite(v) && Math.abs(Number(v)) <= 180, { error: "expected a longitude in degrees, -180..180" })
    .transform(Number).meta({ description: "longitude (degrees east)", example: "62.5" }),
  lat: z.string().refine((v) => finite(v) && Math.abs(Number(v)) <= 90, { error: "expected a latitude in degrees, -90..90" })
    .transform(Number).meta({ description: "latitude (degrees north)", example: "15.9" }),
  month: wholeNumber("a month from 1 to 12", 1, 12).meta({ description: "calendar month (UTC)", example: "8" }),
  pressure_band: wholeNumber("a pressure band from 0 to 7 (0-10, 10-50, 50-100, 100-200, 200-500, 500-1000, 1000-2000, 2000+ dbar)", 0, 7)
    .meta({ description: "pressure band: 0 (0-10 dbar), 1 (10-50), 2 (50-100), 3 (100-200), 4 (200-500), 5 (500-1000), 6 (1000-2000), 7 (2000+)", example: "0" }),
  parameter: z.enum(["temp", "psal", "doxy"], { error: "expected temp, psal or doxy" }).optional()
    .meta({ description: "only this parameter (default: all)" }),
});

/** GET /plots/floats/{wmo}/profiles.svg query. */
export const ProfilesPlotQuery = z.object({
  n: wholeNumber("a number of profiles from 1 to 50", 1, 50).optional().meta({ description: "the latest N profiles (default 10)", example: "10" }),
});

/** A float's summary: the floats row, its meta fields as an object. */
export const FloatSummary = FloatRowSchema.extend({
  meta: z.record(z.string(), z.unknown()),
}).meta({ id: "FloatSummary" });
export type FloatSummary = z.infer<typeof FloatSummary>;

/** One float of a search. */
export const FloatHit = FloatSummary.extend({
  distance_km: z.number().optional().meta({ description: "distance from `near` (near searches only)" }),
}).meta({ id: "FloatHit" });

export const FloatsPage = z.object({
  floats: z.array(FloatHit),
  count: z.number().int(),
  next_cursor: z.string().nullable(),
}).meta({ id: "FloatsPage" });
export type FloatsPage = z.infer<typeof FloatsPage>;

export const ProfileDataResponse = ProfileDataSchema.meta({ id: "ProfileData" });

/** A profile as Postgres holds it, its statistics as JSON. */
export const ProfileSummary = ProfileRowSchema.extend({
  parameter_stats: z.array(z.record(z.string(), z.unknown())),
}).meta({ id: "ProfileSummary" });

export const ProfilesList = z.object({ float_id: FloatIdSchema, count: z.number().int(), profiles: z.array(ProfileSummary) })
  .meta({ id: "ProfilesList" });

export const LevelsResponse = z.object({
  float_id: FloatIdSchema,
  cycle_number: z.number().int(),
  mode: z.enum(MODES),
  count: z.number().int(),
  columns: z.array(z.string()),
  levels: z.array(z.record(z.string(), z.unknown())),
}).meta({ id: "Levels" });

export const ClimatologyCell = z.object({
  parameter: z.string(),
  lat_bin: z.number().int(),
  lon_bin: z.number().int(),
  month: z.number().int(),
  band: z.number().int(),
  band_label: z.string(),
  pres_min: z.number().nullable(),
  pres_max: z.number().nullable(),
  n: z.number().int(),
  n_floats: z.number().int(),
  sum: z.number(),
  sum_sq: z.number(),
  mean: z.number(),
  stddev: z.number().nullable(),
}).meta({ id: "ClimatologyCell" });

export const ClimatologyResponse = z.object({ cells: z.array(ClimatologyCell) }).meta({ id: "Climatology" });

const Check = z.object({
  ok: z.boolean().nullable().meta({ description: "null: not configured" }),
  latency_ms: z.number().optional(),
  error: z.string().optional(),
});
export const Health = z.object({
  status: z.enum(["ok", "degraded"]),
  redis: Check,
  postgres: Check,
  lake: Check,
}).meta({ id: "Health" });
export type Health = z.infer<typeof Health>;

export const ErrorBody = z.object({
  error: z.string().meta({ description: "what went wrong, in a few words" }),
  detail: z.unknown().meta({ description: "the parameter and what was expected, or the service that is down" }),
}).meta({ id: "Error" });
export type ErrorBody = z.infer<typeof ErrorBody>;

/**
 * Reads of the Redis hot layer (key layout: lib/db/redis.ts, hotKeys): float
 * searches by position (GEO set) and time (sorted set), summaries (hashes)
 * and latest profiles (ProfileData JSON strings). Read only.
 */
import type { Redis } from "ioredis";
import { z } from "zod";
import { GEO_MAX_LATITUDE, hotKeys } from "../db/redis.ts";
import { FloatRowSchema } from "../db/rows.ts";
import { EARTH_RADIUS_KM, type FloatsPage, type FloatsQuery, type FloatSummary } from "./schemas.ts";

/** Floats per page when the query gives no limit. */
export const DEFAULT_LIMIT = 100;
/** Radius of a near search without radius_km. */
export const DEFAULT_RADIUS_KM = 100;

type Kind = "number" | "array" | "string";
/** How each summary field is spelled in the hash (lib/db/redis.ts floatHash writes them all as strings). */
const fieldKinds: Record<string, Kind> = Object.fromEntries(
  Object.entries(FloatRowSchema.shape).map(([k, s]) => {
    const inner = s instanceof z.ZodNullable ? s.unwrap() : s;
    return [k, inner instanceof z.ZodNumber ? "number" : inner instanceof z.ZodArray ? "array" : "string"];
  }),
);

/**
 * The summary a float hash holds, typed (the inverse of floatHash); null for
 * an empty hash. The hash was written from a FloatRow checked by zod at the
 * load, so fields are converted by their kind here without checking them
 * again on every read (this is the API's hottest path).
 */
export function summaryFromHash(h: Record<string, string>): FloatSummary | null {
  if (!h.float_id) return null;
  const out: Record<string, unknown> = {};
  for (const [k, kind] of Object.entries(fieldKinds)) {
    const v = h[k];
    out[k] = v === undefined ? null : kind === "number" ? Number(v) : kind === "array" ? (v === "" ? [] : v.split(",")) : v;
  }
  out.meta = JSON.parse(h.meta ?? "{}");
  return out as FloatSummary;
}

/** One float's summary, or null when the hot layer does not hold it. */
export async function floatSummary(redis: Redis, prefix: string, wmo: string): Promise<FloatSummary | null> {
  return summaryFromHash(await redis.hgetall(hotKeys(prefix).float(wmo)));
}

/** The latest profile's ProfileData JSON text, as loaded, or null. */
export function latestProfileJson(redis: Redis, prefix: string, wmo: string): Promise<string | null> {
  return redis.get(hotKeys(prefix).latest(wmo));
}

/** Degrees to radians. */
const rad = (d: number) => (d * Math.PI) / 180;

/**
 * The GEOSEARCH BYBOX that covers a longitude/latitude box: Redis measures a
 * box in km around its centre (latitude distance along the meridian,
 * longitude distance along the point's parallel), so the width is taken at
 * the box's parallel nearest the equator, where a degree is widest. Hits are
 * then filtered exactly to the box.
 */
export function coveringBox(b: { west: number; south: number; east: number; north: number }) {
  const span = b.east >= b.west ? b.east - b.west : b.east + 360 - b.west;
  let lon = b.west + span / 2;
  if (lon >= 180) lon -= 360;
  const south = Math.max(b.south, -GEO_MAX_LATITUDE), north = Math.min(b.north, GEO_MAX_LATITUDE);
  const lat = (south + north) / 2;
  const widest = south <= 0 && north >= 0 ? 0 : Math.min(Math.abs(south), Math.abs(north));
  // Distance along a parallel at latitude phi for a longitude difference d: 2R asin(cos(phi) sin(d/2)).
  const widthKm = 2 * 2 * EARTH_RADIUS_KM * Math.asin(Math.min(1, Math.cos(rad(widest)) * Math.sin(rad(span / 2) / 2)));
  const heightKm = EARTH_RADIUS_KM * rad(Math.max(north - lat, lat - south)) * 2;
  // A little slack for Redis's 52-bit geohash positions; the exact filter follows.
  return { lon, lat, widthKm: widthKm * 1.001 + 1, heightKm: heightKm * 1.001 + 1 };
}

/** Whether a position is inside a box (west > east: across the antimeridian). */
export function inBox(b: { west: number; south: number; east: number; north: number }, lon: number, lat: number): boolean {
  if (lat < b.south || lat > b.north) return false;
  return b.west <= b.east ? lon >= b.west && lon <= b.east : lon >= b.west || lon <= b.east;
}

interface Hit {
  id: string;
  distance_km?: number;
}

/** GEOSEARCH reply rows [member, dist?, [lon, lat]] as hits. */
function geoHits(reply: unknown[], withDist: boolean): { id: string; dist?: number; lon: number; lat: number }[] {
  return (reply as unknown[][]).map((r) => {
    const coord = r[withDist ? 2 : 1] as [string, string];
    return { id: String(r[0]), dist: withDist ? Number(r[1]) : undefined, lon: Number(coord[0]), lat: Number(coord[1]) };
  });
}

/**
 * Floats matching a search, one page: near (by distance), bbox (by distance
 * from the box's centre) or neither (newest latest profile first); with
 * updated_since, only floats whose latest profile is at or after it.
 */
export async function searchFloats(redis: Redis, prefix: string, q: FloatsQuery): Promise<FloatsPage> {
  const k = hotKeys(prefix);
  const limit = q.limit ?? DEFAULT_LIMIT;
  const offset = q.cursor ?? 0;
  const since = q.updated_since;
  let hits: Hit[];
  let more = false;
  if (q.near || q.bbox) {
    // With a time filter every geo hit must be seen before paging; otherwise Redis stops at the page.
    const count = since === undefined && !q.bbox ? ["COUNT", String(offset + limit + 1)] : [];
    let rows;
    if (q.near) {
      const reply = await redis.call("GEOSEARCH", k.geo, "FROMLONLAT", String(q.near.lon), String(q.near.lat), "BYRADIUS",
        String(q.radius_km ?? DEFAULT_RADIUS_KM), "km", "ASC", "WITHDIST", "WITHCOORD", ...count) as unknown[];
      rows = geoHits(reply, true);
    } else {
      const box = coveringBox(q.bbox!);
      const reply = await redis.call("GEOSEARCH", k.geo, "FROMLONLAT", String(box.lon), String(box.lat), "BYBOX",
        String(box.widthKm), String(box.heightKm), "km", "ASC", "WITHCOORD") as unknown[];
      rows = geoHits(reply, false).filter((h) => inBox(q.bbox!, h.lon, h.lat));
    }
    if (since !== undefined && rows.length) {
      const scores = await redis.zmscore(k.byTime, ...rows.map((r) => r.id));
      rows = rows.filter((_, i) => scores[i] !== null && Number(scores[i]) >= since);
    }
    more = rows.length > offset + limit;
    hits = rows.slice(offset, offset + limit).map((r) => ({ id: r.id, ...(r.dist === undefined ? {} : { distance_km: r.dist }) }));
  } else {
    const ids = since === undefined
      ? await redis.zrevrange(k.byTime, offset, offset + limit)
      : await redis.zrevrangebyscore(k.byTime, "+inf", String(since), "LIMIT", offset, limit + 1);
    more = ids.length > limit;
    hits = ids.slice(0, limit).map((id) => ({ id }));
  }
  const p = redis.pipeline();
  for (const h of hits) p.hgetall(k.float(h.id));
  const res = hits.length ? (await p.exec()) ?? [] : [];
  const floats = [];
  for (let i = 0; i < hits.length; i++) {
    const [err, hash] = res[i] ?? [null, {}];
    if (err) throw err;
    const s = summaryFromHash(hash as Record<string, string>);
    // A float removed between the search and the read is left out rather than shown empty.
    if (s) floats.push(hits[i]!.distance_km === undefined ? s : { ...s, distance_km: hits[i]!.distance_km });
  }
  return { floats, count: floats.length, next_cursor: more ? String(offset + limit) : null };
}

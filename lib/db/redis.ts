/**
 * The Redis hot layer a dashboard reads. Key layout, every key under
 * REDIS_PREFIX (default "argo:"):
 *
 *   <prefix>float:<wmo>          HASH    the float's summary (floats table columns; meta as JSON)
 *   <prefix>float:<wmo>:latest   STRING  its latest profile with measurements: ProfileData JSON (with depth_m)
 *   <prefix>floats               SET     every float loaded
 *   <prefix>floats:geo           GEO     latest position of each float that has one (GEOSEARCH works on it)
 *   <prefix>floats:by_time       ZSET    floats by latest profile time (score: Unix milliseconds)
 *   <prefix>ratelimit:<client>   HASH    the API's token bucket of one client (lib/serve/ratelimit.ts)
 *
 * One float's keys and set members change in one MULTI/EXEC, so a reader
 * never sees half of an update. With REDIS_TTL > 0 every key written gets
 * that TTL (the shared sets are refreshed on each write); 0 keeps keys until
 * the next load replaces them.
 */
import { Redis } from "ioredis";
import { LoadError } from "../errors.ts";
import type { ProfileData } from "../argo/schema.ts";
import type { FloatRow } from "./rows.ts";

/** Redis GEO cannot index latitudes beyond the Web-Mercator limit. */
export const GEO_MAX_LATITUDE = 85.05112878;

/** The hot layer's key names under a prefix. */
export function hotKeys(prefix: string) {
  return {
    float: (wmo: string) => `${prefix}float:${wmo}`,
    latest: (wmo: string) => `${prefix}float:${wmo}:latest`,
    floats: `${prefix}floats`,
    geo: `${prefix}floats:geo`,
    byTime: `${prefix}floats:by_time`,
    rateLimit: (client: string) => `${prefix}ratelimit:${client}`,
  };
}

/** Where a Redis URL points, without credentials, for messages. */
export function describeRedis(url: string): string {
  try {
    const u = new URL(url);
    return `${u.hostname}:${u.port || "6379"}${u.pathname && u.pathname !== "/" ? u.pathname : ""}`;
  } catch {
    return "(unparsable REDIS_URL)";
  }
}

/**
 * Connects to Redis, failing fast: a bounded connect time, a few
 * reconnection attempts, and a bound on each command, so a server that
 * stops answering (connection open, nothing back) fails the load instead of
 * holding it for ever. One float's MULTI is small: seconds are plenty.
 */
export async function connectRedis(url: string, opts: { connectTimeoutMs?: number; commandTimeoutMs?: number } = {}): Promise<Redis> {
  const redis = new Redis(url, {
    lazyConnect: true,
    connectTimeout: opts.connectTimeoutMs ?? 10_000,
    commandTimeout: opts.commandTimeoutMs ?? 10_000,
    maxRetriesPerRequest: 2,
    retryStrategy: (times) => (times > 3 ? null : 200 * times),
  });
  // Errors surface through the failing command; without a listener ioredis prints them.
  redis.on("error", () => {});
  try {
    await redis.connect();
  } catch (err) {
    redis.disconnect();
    throw new LoadError(`cannot connect to Redis at ${describeRedis(url)}: ${(err as Error).message}`, { target: "redis", unreachable: true }, { cause: err });
  }
  return redis;
}

/** Whether a position can go into the GEO set. */
export function geoIndexable(lat: number | null, lon: number | null): boolean {
  return lat !== null && lon !== null && Math.abs(lat) <= GEO_MAX_LATITUDE && lon >= -180 && lon <= 180;
}

/** The summary hash fields of a float (all strings; absent values are left out). */
export function floatHash(f: FloatRow): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of Object.entries(f)) {
    if (v === null) continue;
    out[k] = Array.isArray(v) ? v.join(",") : String(v);
  }
  return out;
}

/** What one float write did to the GEO set. */
export type GeoOutcome = "indexed" | "no_position" | "not_indexable";

/**
 * Writes one float's summary and latest profile in one MULTI/EXEC. Commands
 * are checked before queueing (positions outside GEO's range are left out of
 * the GEO set) because Redis does not roll back a transaction whose command
 * fails at EXEC time.
 */
export async function writeHotFloat(
  redis: Redis,
  prefix: string,
  ttlSeconds: number,
  float: FloatRow,
  latest: ProfileData | null,
): Promise<GeoOutcome> {
  const k = hotKeys(prefix);
  const wmo = float.float_id;
  const m = redis.multi();
  m.del(k.float(wmo));
  m.hset(k.float(wmo), floatHash(float));
  if (latest) m.set(k.latest(wmo), JSON.stringify(latest));
  else m.del(k.latest(wmo));
  let geo: GeoOutcome;
  const lat = float.last_latitude, lon = float.last_longitude;
  if (geoIndexable(lat, lon)) {
    m.geoadd(k.geo, lon!, lat!, wmo);
    geo = "indexed";
  } else {
    m.zrem(k.geo, wmo);
    geo = lat === null || lon === null ? "no_position" : "not_indexable";
  }
  if (float.last_profile_time) m.zadd(k.byTime, Date.parse(float.last_profile_time), wmo);
  else m.zrem(k.byTime, wmo);
  m.sadd(k.floats, wmo);
  if (ttlSeconds > 0) {
    m.expire(k.float(wmo), ttlSeconds);
    if (latest) m.expire(k.latest(wmo), ttlSeconds);
    for (const shared of [k.geo, k.byTime, k.floats]) m.expire(shared, ttlSeconds);
  }
  await execChecked(m, `float ${wmo}`);
  return geo;
}

/** Removes a float from the hot layer (it is no longer in the lake), in one MULTI/EXEC. */
export async function removeHotFloat(redis: Redis, prefix: string, wmo: string): Promise<void> {
  const k = hotKeys(prefix);
  const m = redis.multi().del(k.float(wmo), k.latest(wmo)).zrem(k.geo, wmo).zrem(k.byTime, wmo).srem(k.floats, wmo);
  await execChecked(m, `float ${wmo}`);
}

/** The floats the hot layer holds, of the given DACs (all when null; a float whose hash is gone counts as any DAC). */
export async function hotFloatIds(redis: Redis, prefix: string, dacs: string[] | null = null): Promise<string[]> {
  const k = hotKeys(prefix);
  const ids = (await redis.smembers(k.floats)).sort();
  if (!dacs) return ids;
  const p = redis.pipeline();
  for (const id of ids) p.hget(k.float(id), "dac");
  const res = (await p.exec()) ?? [];
  return ids.filter((_, i) => {
    const dac = res[i]?.[1];
    return typeof dac !== "string" || dacs.includes(dac);
  });
}

async function execChecked(m: ReturnType<Redis["multi"]>, what: string): Promise<void> {
  const res = await m.exec();
  if (res === null) throw new LoadError(`Redis transaction for ${what} was aborted`, { target: "redis" });
  const failed = res.find(([err]) => err);
  if (failed) throw new LoadError(`Redis command for ${what} failed: ${failed[0]!.message}`, { target: "redis" });
}

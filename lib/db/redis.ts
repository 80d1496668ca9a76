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
 *   <prefix>load:cursor:<scope>  STRING  where the load has read the lake's change journal to (lib/load/cursor.ts)
 *
 * One float's keys and set members change in one server-side script that
 * first checks every key's type and every argument and only then writes, so an
 * update is applied whole or not at all: a reader never sees half of one, and
 * a key holding an unexpected type (or a server out of memory, which refuses
 * the script before it runs) leaves the float's previous state in place.
 * MULTI/EXEC would not do: Redis does not roll back a transaction whose
 * command fails at EXEC time. With REDIS_TTL > 0 every key written gets that
 * TTL (the shared sets are refreshed on each write), and an incremental load
 * refreshes the TTL of every float it leaves alone (and its cursor's): keys
 * expire when loads stop, not because a float did not change; 0 keeps keys
 * until the next load replaces them.
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
    loadCursor: (scope: string) => `${prefix}load:cursor:${scope}`,
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
 * holding it for ever. One float's update is small: seconds are plenty.
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
 * Checks, in order, that KEYS[1..5] are absent or of the types the hot layer
 * gives them (hash, string, zset for GEO, zset, set), with an error reply
 * naming the first that is not. Shared by both scripts; nothing is written
 * before it passes.
 */
const CHECK_TYPES = `
local want = {'hash', 'string', 'zset', 'zset', 'set'}
for i = 1, 5 do
  local t = redis.call('TYPE', KEYS[i])['ok']
  if t ~= 'none' and t ~= want[i] then
    return redis.error_reply('WRONGTYPE key ' .. KEYS[i] .. ' holds a ' .. t .. ', expected a ' .. want[i] .. ': nothing was written')
  end
end
`;

/**
 * One float's update. ARGV: wmo, ttl, has_latest (1/0), latest JSON, lon,
 * lat (both empty: not in GEO), score (empty: not in by_time), then the
 * summary hash's field/value pairs. Arguments are checked before any write.
 */
const WRITE_FLOAT = `#!lua
${CHECK_TYPES}
local wmo, ttl, hasLatest = ARGV[1], tonumber(ARGV[2]), ARGV[3] == '1'
local lon, lat, score = tonumber(ARGV[5]), tonumber(ARGV[6]), tonumber(ARGV[7])
if ttl == nil then return redis.error_reply('ERR bad TTL ' .. ARGV[2] .. ': nothing was written') end
if ARGV[5] ~= '' and (lon == nil or lat == nil or lon < -180 or lon > 180 or math.abs(lat) > ${GEO_MAX_LATITUDE}) then
  return redis.error_reply('ERR position ' .. ARGV[5] .. ',' .. ARGV[6] .. ' cannot be indexed: nothing was written')
end
if ARGV[7] ~= '' and score == nil then return redis.error_reply('ERR bad score ' .. ARGV[7] .. ': nothing was written') end
if #ARGV < 9 or (#ARGV - 7) % 2 ~= 0 then return redis.error_reply('ERR summary fields do not pair up: nothing was written') end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 8))
if hasLatest then redis.call('SET', KEYS[2], ARGV[4]) else redis.call('DEL', KEYS[2]) end
if ARGV[5] ~= '' then redis.call('GEOADD', KEYS[3], ARGV[5], ARGV[6], wmo) else redis.call('ZREM', KEYS[3], wmo) end
if ARGV[7] ~= '' then redis.call('ZADD', KEYS[4], ARGV[7], wmo) else redis.call('ZREM', KEYS[4], wmo) end
redis.call('SADD', KEYS[5], wmo)
if ttl > 0 then
  redis.call('EXPIRE', KEYS[1], ttl)
  if hasLatest then redis.call('EXPIRE', KEYS[2], ttl) end
  for i = 3, 5 do redis.call('EXPIRE', KEYS[i], ttl) end
end
return 1
`;

/** Removes one float (ARGV[1]) from the hot layer, after the same type checks. */
const REMOVE_FLOAT = `#!lua
${CHECK_TYPES}
redis.call('DEL', KEYS[1], KEYS[2])
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('SREM', KEYS[5], ARGV[1])
return 1
`;

/** A float's five keys, in the order the scripts check them. */
function floatKeys(prefix: string, wmo: string): string[] {
  const k = hotKeys(prefix);
  return [k.float(wmo), k.latest(wmo), k.geo, k.byTime, k.floats];
}

/**
 * Writes one float's summary and latest profile, whole or not at all (see
 * the module comment). Positions outside GEO's range are left out of the GEO
 * set, as a float without a position.
 */
export async function writeHotFloat(
  redis: Redis,
  prefix: string,
  ttlSeconds: number,
  float: FloatRow,
  latest: ProfileData | null,
): Promise<GeoOutcome> {
  const wmo = float.float_id;
  const lat = float.last_latitude, lon = float.last_longitude;
  let geo: GeoOutcome = "indexed";
  if (!geoIndexable(lat, lon)) geo = lat === null || lon === null ? "no_position" : "not_indexable";
  const score = float.last_profile_time ? Date.parse(float.last_profile_time) : null;
  const args = [
    wmo,
    String(ttlSeconds),
    latest ? "1" : "0",
    latest ? JSON.stringify(latest) : "",
    geo === "indexed" ? String(lon) : "",
    geo === "indexed" ? String(lat) : "",
    score === null ? "" : String(score),
    ...Object.entries(floatHash(float)).flat(),
  ];
  await runScript(redis, WRITE_FLOAT, floatKeys(prefix, wmo), args, `float ${wmo}`);
  return geo;
}

/** Removes a float from the hot layer (it is no longer in the lake), whole or not at all. */
export async function removeHotFloat(redis: Redis, prefix: string, wmo: string): Promise<void> {
  await runScript(redis, REMOVE_FLOAT, floatKeys(prefix, wmo), [wmo], `float ${wmo}`);
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

/** Runs one of the scripts; a refusal becomes a LoadError naming what was refused. */
async function runScript(redis: Redis, script: string, keys: string[], args: string[], what: string): Promise<void> {
  try {
    await redis.eval(script, keys.length, ...keys, ...args);
  } catch (err) {
    throw new LoadError(`Redis refused the update of ${what}: ${(err as Error).message}`, { target: "redis" }, { cause: err });
  }
}

/** The load cursor the hot layer keeps for a scope (lib/load/cursor.ts), as stored; null when there is none. */
export async function readHotCursor(redis: Redis, prefix: string, scope: string): Promise<string | null> {
  return await redis.get(hotKeys(prefix).loadCursor(scope));
}

/** Stores the load cursor of a scope, with the hot layer's TTL (it must not outlive the floats it vouches for). */
export async function writeHotCursor(redis: Redis, prefix: string, ttlSeconds: number, scope: string, cursor: unknown): Promise<void> {
  const key = hotKeys(prefix).loadCursor(scope);
  if (ttlSeconds > 0) await redis.set(key, JSON.stringify(cursor), "EX", ttlSeconds);
  else await redis.set(key, JSON.stringify(cursor));
}

/**
 * Gives every float the hot layer holds (and the shared sets) a fresh TTL,
 * for a load that leaves them alone; returns the floats whose summary hash
 * has already expired, for the load to write again. Nothing to do with a TTL of 0.
 */
export async function refreshHotTtl(redis: Redis, prefix: string, ttlSeconds: number): Promise<string[]> {
  if (ttlSeconds <= 0) return [];
  const k = hotKeys(prefix);
  const ids = (await redis.smembers(k.floats)).sort();
  const gone: string[] = [];
  const CHUNK = 2000;
  for (let i = 0; i < ids.length; i += CHUNK) {
    const chunk = ids.slice(i, i + CHUNK);
    const p = redis.pipeline();
    for (const id of chunk) p.expire(k.float(id), ttlSeconds).expire(k.latest(id), ttlSeconds);
    const res = (await p.exec()) ?? [];
    chunk.forEach((id, j) => {
      if (res[2 * j]?.[1] === 0) gone.push(id);
    });
  }
  await redis.pipeline().expire(k.floats, ttlSeconds).expire(k.geo, ttlSeconds).expire(k.byTime, ttlSeconds).exec();
  return gone;
}

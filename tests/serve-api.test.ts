/**
 * The HTTP API against real Redis, Postgres and a fixture lake filled by
 * run-float: every endpoint's answer compared with what the stores hold,
 * validation errors, ETag/304, Cache-Control, CORS, the rate limit's 429,
 * 503 while Redis or Postgres is cut (a TCP proxy, as the outage tests do)
 * with the other endpoints still answering, slow clients, and that serving
 * writes nothing but its rate-limit keys.
 */
import { connect } from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { ProfileDataSchema } from "../lib/argo/schema.ts";
import { hotKeys, writeHotFloat } from "../lib/db/redis.ts";
import type { FloatRow } from "../lib/db/rows.ts";
import { LocalLakeStore } from "../lib/lake/local.ts";
import type { RunningServer } from "../lib/serve/server.ts";
import { ROUTES } from "../lib/serve/routes.ts";
import { diffSnapshots, snapshot } from "./support/compare.ts";
import { duckRows, lakeSession } from "./load-dump.ts";
import { startTcpProxy } from "./support/postgres.ts";
import { redisUrl } from "./support/redis.ts";
import { SERVE_FLOATS, type ServeBed, serveBed } from "./serve-support.ts";

let bed: ServeBed;
let api: RunningServer;

beforeAll(async () => {
  bed = await serveBed("serveapi");
  api = await bed.start({ RATE_LIMIT_RATE: "0" });
}, 180_000);

afterAll(async () => {
  await bed?.cleanup();
});

const get = (path: string, init: RequestInit = {}, server: RunningServer = api) => fetch(server.url + path, init);
async function json(path: string, status = 200, server: RunningServer = api): Promise<Record<string, unknown>> {
  const r = await get(path, {}, server);
  const body = await r.json() as Record<string, unknown>;
  expect(r.status, `${path}: ${JSON.stringify(body).slice(0, 300)}`).toBe(status);
  return body;
}
type Float = { float_id: string; last_profile_time: string | null; last_latitude: number; last_longitude: number; distance_km?: number };

describe("floats from the hot layer", () => {
  test("/api/floats without a filter lists every loaded float, newest latest profile first, each with its summary", async () => {
    const body = await json("/api/floats");
    const floats = body.floats as Float[];
    expect(floats.map((f) => f.float_id).sort()).toEqual([...SERVE_FLOATS].sort());
    const times = floats.map((f) => Date.parse(f.last_profile_time!));
    expect([...times].sort((a, b) => b - a)).toEqual(times);
    const { rows } = await bed.db.pool.query("SELECT float_id, n_profiles, last_cycle_number, last_latitude FROM floats");
    for (const row of rows) {
      expect(floats.find((f) => f.float_id === row.float_id)).toMatchObject({ n_profiles: row.n_profiles, last_cycle_number: row.last_cycle_number, last_latitude: row.last_latitude });
    }
    expect(body).toMatchObject({ count: SERVE_FLOATS.length, next_cursor: null });
  });

  test("near=LON,LAT&radius_km=R: the floats within R km, nearest first, with their distance", async () => {
    const s = await json("/api/floats/2902269") as unknown as Float;
    const near = `${s.last_longitude + 0.2},${s.last_latitude}`;
    const body = await json(`/api/floats?near=${near}&radius_km=100`);
    const floats = body.floats as Float[];
    expect(floats.map((f) => f.float_id)).toEqual(["2902269"]);
    expect(floats[0]!.distance_km).toBeGreaterThan(15);
    expect(floats[0]!.distance_km).toBeLessThan(30);
    const all = (await json(`/api/floats?near=${near}&radius_km=20000`)).floats as Float[];
    expect(all.length).toBe(SERVE_FLOATS.length);
    const d = all.map((f) => f.distance_km!);
    expect([...d].sort((a, b) => a - b)).toEqual(d);
  });

  test("bbox, including a box across the antimeridian; updated_since; limit and cursor page through without repeats", async () => {
    // Three extra floats around the antimeridian, written the way the load writes them.
    const extra = (id: string, lon: number, time: string): FloatRow => ({
      float_id: id, dac: "csiro", meta: "{}", n_profiles: 1, n_cycles: 1, first_profile_time: time, last_profile_time: time,
      last_cycle_number: 1, last_latitude: -20, last_longitude: lon, last_position_time: time, n_profiles_r: 1, n_profiles_a: 0,
      n_profiles_d: 0, parameters: ["pres", "temp"],
    });
    const p = `${bed.redis.prefix}am:`;
    await writeHotFloat(bed.redis.client, p, 600, extra("1999991", 179.5, "2024-01-01T00:00:00.000000Z"), null);
    await writeHotFloat(bed.redis.client, p, 600, extra("1999992", -179.5, "2024-02-01T00:00:00.000000Z"), null);
    await writeHotFloat(bed.redis.client, p, 600, extra("1999993", 160, "2024-03-01T00:00:00.000000Z"), null);
    const am = await bed.start({ REDIS_PREFIX: p, RATE_LIMIT_RATE: "0" });
    const ids = async (q: string) => ((await json(`/api/floats?${q}`, 200, am)).floats as Float[]).map((f) => f.float_id).sort();
    expect(await ids("bbox=170,-30,-170,-10")).toEqual(["1999991", "1999992"]);
    expect(await ids("bbox=-170,-30,170,-10")).toEqual(["1999993"]);
    expect(await ids("bbox=150,-30,179,-10")).toEqual(["1999993"]);
    expect(await ids("bbox=150,-30,180,-10")).toEqual(["1999991", "1999993"]);
    expect(await ids("bbox=150,-10,179,0")).toEqual([]);
    expect(await ids("bbox=170,-30,-170,-10&updated_since=2024-01-15")).toEqual(["1999992"]);
    expect(await ids("updated_since=2024-02-01T00:00:00Z")).toEqual(["1999992", "1999993"]);
    const seen: string[] = [];
    let cursor: string | null = null;
    let pages = 0;
    do {
      const page: Record<string, unknown> = await json(`/api/floats?limit=1${cursor ? `&cursor=${cursor}` : ""}`, 200, am);
      seen.push(...(page.floats as Float[]).map((f) => f.float_id));
      cursor = page.next_cursor as string | null;
      pages++;
    } while (cursor && pages < 10);
    expect(seen).toEqual(["1999993", "1999992", "1999991"]);
  });

  test("/api/floats/{wmo} is the float's summary; /latest its latest profile as ProfileData JSON, as Redis holds it", async () => {
    const k = hotKeys(bed.redis.prefix);
    for (const wmo of SERVE_FLOATS) {
      const s = await json(`/api/floats/${wmo}`);
      const hash = await bed.redis.client.hgetall(k.float(wmo));
      expect(s.float_id).toBe(wmo);
      expect(s.meta).toEqual(JSON.parse(hash.meta!));
      expect(String(s.n_profiles)).toBe(hash.n_profiles);
      expect((s.parameters as string[]).join(",")).toBe(hash.parameters);
      const latest = await json(`/api/floats/${wmo}/latest`);
      expect(latest).toEqual(JSON.parse((await bed.redis.client.get(k.latest(wmo)))!));
      expect(ProfileDataSchema.safeParse(latest).success).toBe(true);
      expect((latest.measurements as unknown[]).length).toBeGreaterThan(0);
    }
    expect(await json("/api/floats/1234567", 404)).toMatchObject({ error: "float not found", detail: { wmo: "1234567" } });
    expect(await json("/api/floats/1234567/latest", 404)).toMatchObject({ error: "float not found" });
  });
});

describe("profiles from Postgres and levels from the lake", () => {
  test("/api/floats/{wmo}/profiles lists every profile Postgres holds, in cycle order", async () => {
    for (const wmo of SERVE_FLOATS) {
      const body = await json(`/api/floats/${wmo}/profiles`);
      const { rows } = await bed.db.pool.query("SELECT cycle_number, direction FROM profiles WHERE float_id = $1 ORDER BY 1, 2, profile_index", [wmo]);
      expect(body.count).toBe(rows.length);
      expect((body.profiles as { cycle_number: number; direction: string }[]).map((p) => [p.cycle_number, p.direction])).toEqual(rows.map((r) => [r.cycle_number, r.direction]));
      const first = (body.profiles as Record<string, unknown>[])[0]!;
      expect(first.time).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{6}Z$/);
      expect(Array.isArray(first.parameter_stats)).toBe(true);
    }
    expect(await json("/api/floats/1234567/profiles", 404)).toMatchObject({ error: "float not found" });
  });

  test("/api/floats/{wmo}/profiles/{cycle}: expert, standard and research levels are the lake views' rows", async () => {
    const duck = await lakeSession(bed.lake.path);
    try {
      for (const [wmo, cycle] of [["2902269", 1], ["5900865", 40], ["6903247", 1]] as const) {
        for (const [mode, view] of [["expert", "measurements"], ["standard", "measurements_standard"], ["research", "measurements_research"]] as const) {
          const expected = await duckRows(duck, `SELECT level, pres FROM ${view} WHERE float_id = '${wmo}' AND cycle_number = ${cycle} ORDER BY direction, profile_index, level`);
          const body = await json(`/api/floats/${wmo}/profiles/${cycle}${mode === "expert" ? "" : `?mode=${mode}`}`);
          expect(body, `${wmo} ${cycle} ${mode}`).toMatchObject({ float_id: wmo, cycle_number: cycle, mode, count: expected.length });
          const levels = body.levels as { level: number; pres: number }[];
          expect(levels.map((l) => l.level)).toEqual(expected.map((r) => r.level));
          // Values as the file holds them (float32 printed shortest), not widened to double.
          for (let i = 0; i < levels.length; i++) if (expected[i]!.pres !== null) expect(Math.fround(levels[i]!.pres)).toBe(Math.fround(expected[i]!.pres as number));
          if (mode === "expert") expect(body.columns).toEqual(expect.arrayContaining(["pres_raw", "pres_adjusted", "temp_qc", "psal_mode"]));
        }
      }
      // 5900865 is delayed mode: research keeps levels; 2902269's standard view is a subset of its expert rows.
      expect((await json("/api/floats/5900865/profiles/40?mode=research")).count).toBeGreaterThan(0);
      const desc = await json("/api/floats/2902269/profiles/1?direction=A");
      expect((desc.levels as { direction: string }[]).every((l) => l.direction === "A")).toBe(true);
    } finally {
      duck.close();
    }
    expect(await json("/api/floats/2902269/profiles/999", 404)).toMatchObject({ error: "cycle not found", detail: { wmo: "2902269", cycle: 999 } });
    expect(await json("/api/floats/2902269/profiles/1?mode=fancy", 400)).toMatchObject({ detail: { parameter: "mode", expected: "expected standard, research or expert" } });
  });

  test("/api/climatology is the Postgres cell of the position's 1x1 degree box, month and pressure band", async () => {
    const { rows } = await bed.db.pool.query("SELECT parameter, lat_bin, lon_bin, month, band, n, mean FROM climatology WHERE parameter = 'temp' ORDER BY n DESC LIMIT 1");
    const c = rows[0]!;
    const body = await json(`/api/climatology?lon=${c.lon_bin + 0.5}&lat=${c.lat_bin + 0.5}&month=${c.month}&pressure_band=${c.band}`);
    const cell = (body.cells as Record<string, unknown>[]).find((x) => x.parameter === "temp")!;
    expect(cell).toMatchObject({ lat_bin: c.lat_bin, lon_bin: c.lon_bin, month: c.month, band: c.band, n: Number(c.n), mean: c.mean });
    expect(cell.band_label).toBeTypeOf("string");
    const only = await json(`/api/climatology?lon=${c.lon_bin + 0.5}&lat=${c.lat_bin + 0.5}&month=${c.month}&pressure_band=${c.band}&parameter=temp`);
    expect((only.cells as unknown[]).length).toBe(1);
    expect(await json("/api/climatology?lon=0.5&lat=-89.5&month=1&pressure_band=0", 404)).toMatchObject({ error: "climatology cell not found" });
    expect(await json("/api/climatology?lon=0&lat=0&month=13&pressure_band=0", 400)).toMatchObject({ detail: { parameter: "month" } });
    expect(await json("/api/climatology?lat=0&month=1&pressure_band=0", 400)).toMatchObject({ detail: { parameter: "lon" } });
  });

  test("/healthz says every backend answers", async () => {
    expect(await json("/healthz")).toMatchObject({ status: "ok", redis: { ok: true }, postgres: { ok: true }, lake: { ok: true } });
  });
});

describe("bad input", () => {
  test.each([
    ["/api/floats/12345678", "wmo", "12345678", "5 or 7 digits"],
    ["/api/floats/12345678/latest", "wmo", "12345678", "5 or 7 digits"],
    ["/api/floats?near=10,100", "near", "10,100", "latitude -90..90"],
    ["/api/floats?near=10,20&radius_km=-1", "radius_km", "-1", "radius in km > 0"],
    ["/api/floats?bbox=1,2,3", "bbox", "1,2,3", "four numbers"],
    ["/api/floats?bbox=0,10,5,-10", "bbox", "0,10,5,-10", "south <= north"],
    ["/api/floats?limit=0", "limit", "0", "from 1 to 1000"],
    ["/api/floats?updated_since=yesterday", "updated_since", "yesterday", "ISO 8601"],
    ["/api/floats?radius_km=10", "radius_km", "10", "needs near"],
    ["/api/floats/2902269/profiles/x1", "cycle", "x1", "cycle number"],
    ["/plots/floats/123/trajectory.svg", "wmo", "123", "5 or 7 digits"],
  ])("%s is a 400 naming %s", async (path, parameter, given, expected) => {
    const r = await get(path);
    expect(r.status).toBe(400);
    expect(r.headers.get("content-type")).toMatch(/^application\/json/);
    const body = await r.json() as { error: string; detail: { parameter: string; given: string; expected: string } };
    expect(body.error).toBe(`invalid ${parameter}`);
    expect(body.detail).toMatchObject({ parameter, given });
    expect(body.detail.expected).toContain(expected);
  });

  test("unknown paths are a JSON 404; hostile paths and queries never crash the server", async () => {
    expect(await json("/api/nothing", 404)).toMatchObject({ error: "no such endpoint" });
    for (const p of ["/api/floats/%00", "/api/floats/..%2F..%2Fetc", `/api/floats?near=${"9".repeat(5000)}`, "/api/floats?bbox=NaN,NaN,NaN,NaN", "/api/floats?near=1e400,0", "/api/floats/2902269/profiles/99999999999"]) {
      const r = await get(p);
      expect(r.status, p).toBeGreaterThanOrEqual(400);
      expect(r.status, p).toBeLessThan(500);
    }
    expect((await get("/healthz")).status).toBe(200);
  });
});

describe("HTTP caching and CORS", () => {
  test("every GET endpoint sends an ETag and Cache-Control; If-None-Match gives 304 without a body", async () => {
    for (const route of ROUTES) {
      const path = route.path.replace("{wmo}", "2902269").replace("{cycle}", "1") + (route.path === "/api/climatology" ? "?lon=62.5&lat=15.9&month=8&pressure_band=0" : "");
      const r = await get(path);
      expect(r.status, path).toBe(200);
      const etag = r.headers.get("etag");
      expect(etag, path).toMatch(/^"[0-9a-f]{40}"$/);
      expect(r.headers.get("cache-control"), path).toBeTruthy();
      await r.arrayBuffer();
      // /healthz carries each check's latency, so its ETag changes from one answer to the next.
      if (route.path === "/healthz") continue;
      const again = await get(path, { headers: { "If-None-Match": etag! } });
      expect(again.status, path).toBe(304);
      expect(again.headers.get("etag")).toBe(etag);
      expect((await again.arrayBuffer()).byteLength).toBe(0);
      const other = await get(path, { headers: { "If-None-Match": '"something-else"' } });
      expect(other.status, path).toBe(200);
      await other.arrayBuffer();
    }
    expect((await get("/openapi.json")).headers.get("cache-control")).toBe("public, max-age=3600");
  });

  test("CORS: any origin may GET; a preflight is answered", async () => {
    const r = await get("/api/floats/2902269", { headers: { Origin: "https://dashboard.example" } });
    expect(r.headers.get("access-control-allow-origin")).toBe("*");
    expect(r.headers.get("access-control-expose-headers")).toContain("ETag");
    const pre = await get("/api/floats", { method: "OPTIONS", headers: { Origin: "https://x.example", "Access-Control-Request-Method": "GET" } });
    expect(pre.status).toBe(204);
    expect(pre.headers.get("access-control-allow-methods")).toContain("GET");
  });
});

describe("fairness and outages", () => {
  test("the token bucket: after RATE_LIMIT_BURST requests a client gets 429 with Retry-After; the bucket lives in Redis", async () => {
    const limited = await bed.start({ RATE_LIMIT_BURST: "5", RATE_LIMIT_RATE: "0.5" });
    const statuses: number[] = [];
    for (let i = 0; i < 7; i++) {
      const r = await get("/api/floats/2902269", {}, limited);
      statuses.push(r.status);
      if (r.status === 429) {
        expect(Number(r.headers.get("retry-after"))).toBeGreaterThanOrEqual(1);
        expect(await r.json()).toMatchObject({ error: "too many requests" });
      } else await r.arrayBuffer();
    }
    expect(statuses.slice(0, 5)).toEqual([200, 200, 200, 200, 200]);
    expect(statuses.slice(5)).toEqual([429, 429]);
    // Health checks are not limited; the bucket is one hash under the prefix, with an expiry.
    expect((await get("/healthz", {}, limited)).status).toBe(200);
    const key = hotKeys(bed.redis.prefix).rateLimit("127.0.0.1");
    expect(await bed.redis.client.hget(key, "tokens")).not.toBeNull();
    expect(await bed.redis.client.pttl(key)).toBeGreaterThan(0);
    // Refilled at 0.5 per second: a token is back after about 2 s.
    await new Promise((r) => setTimeout(r, 2_100));
    expect((await get("/api/floats/2902269", {}, limited)).status).toBe(200);
    // The servers of the other tests share this prefix and client address.
    await bed.redis.client.del(key);
  });

  test("Redis cut: its endpoints answer 503 with Retry-After, the others keep answering; back when Redis is", async () => {
    const proxy = await startTcpProxy(6379);
    try {
      const s = await bed.start({ REDIS_URL: redisUrl(proxy.port), RATE_LIMIT_BURST: "1000" });
      expect((await get("/api/floats/2902269", {}, s)).status).toBe(200);
      await proxy.cut();
      for (const path of ["/api/floats/2902269", "/api/floats/2902269/latest", "/api/floats?near=62,15"]) {
        const r = await get(path, {}, s);
        expect(r.status, path).toBe(503);
        expect(r.headers.get("retry-after")).toBe("5");
        expect(await r.json()).toMatchObject({ error: "redis unavailable", detail: { service: "redis" } });
      }
      for (const path of ["/api/floats/2902269/profiles", "/api/floats/2902269/profiles/1", "/plots/floats/2902269/trajectory.svg", "/openapi.json", "/"]) {
        const r = await get(path, {}, s);
        expect(r.status, path).toBe(200);
        await r.arrayBuffer();
      }
      const health = await get("/healthz", {}, s);
      expect(health.status).toBe(503);
      expect(await health.json()).toMatchObject({ status: "degraded", redis: { ok: false }, postgres: { ok: true } });
      await proxy.restore();
      let status = 0;
      for (let i = 0; i < 50 && status !== 200; i++) {
        await new Promise((r) => setTimeout(r, 200));
        status = (await get("/api/floats/2902269", {}, s)).status;
      }
      expect(status).toBe(200);
    } finally {
      await proxy.close();
    }
  });

  test("Postgres cut: its endpoints answer 503, the hot layer and the lake keep answering", async () => {
    const proxy = await startTcpProxy(5432);
    try {
      const s = await bed.start({ DATABASE_URL: bed.db.urlVia(proxy.port), RATE_LIMIT_BURST: "1000" });
      expect((await get("/api/floats/2902269/profiles", {}, s)).status).toBe(200);
      await proxy.cut();
      for (const path of ["/api/floats/2902269/profiles", "/api/climatology?lon=62.5&lat=15.9&month=8&pressure_band=0"]) {
        const r = await get(path, {}, s);
        expect(r.status, path).toBe(503);
        expect(r.headers.get("retry-after")).toBe("5");
        expect(await r.json()).toMatchObject({ error: "postgres unavailable", detail: { service: "postgres" } });
      }
      for (const path of ["/api/floats/2902269", "/api/floats/2902269/latest", "/api/floats/2902269/profiles/1"]) {
        expect((await get(path, {}, s)).status, path).toBe(200);
      }
    } finally {
      await proxy.close();
    }
  });

  test("a slow client cannot hold the server: a half-sent request is closed after SERVE_REQUEST_TIMEOUT while others are served", async () => {
    const s = await bed.start({ SERVE_REQUEST_TIMEOUT: "1", RATE_LIMIT_RATE: "0" });
    const sockets = Array.from({ length: 20 }, () => connect(s.port, "127.0.0.1"));
    const closed = sockets.map((sock) => new Promise<number>((resolve) => {
      const t = Date.now();
      sock.on("error", () => {});
      sock.on("close", () => resolve(Date.now() - t));
      sock.on("connect", () => sock.write("GET /api/floats HTTP/1.1\r\nHost: x\r\nX-Slow: "));
    }));
    await new Promise((r) => setTimeout(r, 200));
    const t = Date.now();
    expect((await get("/api/floats/2902269", {}, s)).status).toBe(200);
    expect(Date.now() - t).toBeLessThan(1_000);
    const times = await Promise.all(closed);
    for (const ms of times) expect(ms).toBeLessThan(5_000);
  });

  test("serving writes nothing: the lake, Postgres and Redis are as they were, but for the rate-limit buckets", async () => {
    const store = new LocalLakeStore(bed.lake.path);
    const withoutBuckets = async () => {
      const snap = await snapshot(store, bed.db.pool, bed.redis.client, bed.redis.prefix);
      snap.redis = Object.fromEntries(Object.entries(snap.redis).filter(([k]) => !k.startsWith("ratelimit:") && !k.startsWith("am:")));
      return snap;
    };
    const before = await withoutBuckets();
    const limited = await bed.start({ RATE_LIMIT_BURST: "1000" });
    for (const route of ROUTES) {
      const path = route.path.replace("{wmo}", "5900865").replace("{cycle}", "2") + (route.path === "/api/climatology" ? "?lon=110&lat=-11&month=1&pressure_band=0" : "");
      await (await get(path, {}, limited)).arrayBuffer();
    }
    expect(diffSnapshots(await withoutBuckets(), before)).toEqual([]);
    await store.close();
  });
});

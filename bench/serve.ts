/**
 * The API's speed on loopback, against a bare server in the same run.
 *
 *   npx tsx bench/serve.ts [--seconds 10] [--connections 100] [--floats 20000]
 *
 * The Redis hot layer holds the fixture floats (loaded by run-float) plus
 * 20,000 synthetic floats at random ocean-ish positions. Each server runs in
 * its own process, one at a time, and autocannon (in this process) drives 100
 * concurrent connections at it:
 *   - bare: node:http with the same Redis client settings, running only the
 *     same Redis commands (GEOSEARCH + HGETALL pipeline; GET) and writing
 *     their replies, with no validation, routing, ETag, CORS or rate limit;
 *   - api: `deno task serve`'s server (lib/serve/server.ts), rate limit on.
 * Targets: p99 < 25 ms and >= 50% of the bare server's requests/s, for
 * /api/floats?near=... and /api/floats/{wmo}/latest.
 * Then the three plots of a synthetic float of 300 profiles (110 levels
 * each) are rendered (data to SVG; PNG for reference): target < 200 ms each.
 */
import { spawn } from "node:child_process";
import { createServer } from "node:http";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import process from "node:process";
import { fileURLToPath, pathToFileURL } from "node:url";
import autocannon from "autocannon";
import { Redis } from "ioredis";
import { loadConfig } from "../lib/config.ts";
import { hotKeys, writeHotFloat } from "../lib/db/redis.ts";
import { LocalLakeStore } from "../lib/lake/local.ts";
import { createLogger } from "../lib/log.ts";
import { runFloat } from "../lib/runner.ts";
import { runtimeName } from "../lib/runtime.ts";
import { serveRedis } from "../lib/serve/backends.ts";
import { DEFAULT_LIMIT, DEFAULT_RADIUS_KM, summaryFromHash } from "../lib/serve/hot.ts";
import { startServer } from "../lib/serve/server.ts";
import type { Position, ProfileCurve, SectionColumn } from "../lib/plot/data.ts";
import { profilesSvg } from "../lib/plot/profiles.ts";
import { svgToPng } from "../lib/plot/render.ts";
import { sectionSvg } from "../lib/plot/section.ts";
import { trajectorySvg } from "../lib/plot/trajectory.ts";
import { seededRandom } from "../tests/support/random.ts";

const args = process.argv.slice(2);
const flag = (name: string, dflt: string) => {
  const i = args.indexOf(`--${name}`);
  return i >= 0 && args[i + 1] ? args[i + 1]! : dflt;
};
const redisUrl = process.env.BENCH_REDIS ?? "redis://127.0.0.1:6379";
const repo = fileURLToPath(new URL("..", import.meta.url));
const fixtures = resolve(repo, "..", "shared", "fixtures", "gdac");
const FIXTURE_FLOATS = ["2902269", "5900865", "6903247", "13857", "1900857", "4901079"];

// ---- child mode: one server process -------------------------------------------------------------
if (args[0] === "--server") {
  const kind = args[1];
  const prefix = flag("prefix", "");
  const lake = flag("lake", "");
  let port: number;
  if (kind === "api") {
    const config = loadConfig({
      env: { LAKE_URL: lake, REDIS_URL: redisUrl, REDIS_PREFIX: prefix, PORT: "0", HOST: "127.0.0.1", RATE_LIMIT_RATE: "1000000", RATE_LIMIT_BURST: "1000000000" },
      envFile: "/nonexistent/.env",
    });
    port = (await startServer(config)).port;
  } else {
    const redis = serveRedis(redisUrl);
    await new Promise((r) => redis.once("ready", r));
    const k = hotKeys(prefix);
    const server = createServer(async (req, res) => {
      try {
        const url = new URL(req.url!, "http://x");
        let body: string | null;
        if (url.pathname === "/api/floats") {
          const [lon, lat] = url.searchParams.get("near")!.split(",");
          const reply = await redis.call("GEOSEARCH", k.geo, "FROMLONLAT", lon!, lat!, "BYRADIUS", String(DEFAULT_RADIUS_KM * 5), "km", "ASC", "WITHDIST", "WITHCOORD", "COUNT", String(DEFAULT_LIMIT + 1)) as unknown[][];
          const p = redis.pipeline();
          for (const r of reply.slice(0, DEFAULT_LIMIT)) p.hgetall(k.float(String(r[0])));
          const hashes = reply.length ? ((await p.exec()) ?? []).map(([, h]) => h) : [];
          body = JSON.stringify({ floats: hashes });
        } else {
          body = await redis.get(k.latest(url.pathname.split("/")[3]!));
        }
        res.writeHead(body === null ? 404 : 200, { "content-type": "application/json" });
        res.end(body ?? "{}");
      } catch (err) {
        res.writeHead(503);
        res.end(String(err));
      }
    });
    await new Promise<void>((r) => server.listen(0, "127.0.0.1", () => r()));
    port = (server.address() as { port: number }).port;
  }
  process.stdout.write(`PORT ${port}\n`);
  await new Promise(() => {});
}

// ---- parent mode ---------------------------------------------------------------------------------
const seconds = Number(flag("seconds", "10"));
const connections = Number(flag("connections", "100"));
const synthetic = Number(flag("floats", "20000"));
const prefix = `bench:serve:${process.pid}:`;
const lake = await mkdtemp(join(tmpdir(), "argo-serve-bench-"));
const redis = new Redis(redisUrl);

async function clearRedis(): Promise<void> {
  let cursor = "0";
  do {
    const [next, keys] = await redis.scan(cursor, "MATCH", `${prefix}*`, "COUNT", 1000);
    if (keys.length) await redis.unlink(...keys);
    cursor = next;
  } while (cursor !== "0");
}

/** Starts a server process of a kind; resolves with its port and a stop function. */
function startChild(kind: "api" | "bare"): Promise<{ port: number; stop(): void }> {
  const script = fileURLToPath(import.meta.url);
  const argv = runtimeName === "deno"
    ? ["run", "-A", script]
    : ["--import", pathToFileURL(resolve(repo, "node_modules/tsx/dist/loader.mjs")).href, script];
  const child = spawn(runtimeName === "deno" ? "deno" : process.execPath, [...argv, "--server", kind, "--prefix", prefix, "--lake", lake], { stdio: ["ignore", "pipe", "inherit"] });
  return new Promise((resolvePort, reject) => {
    let out = "";
    child.stdout!.on("data", (d) => {
      out += d;
      const m = /PORT (\d+)/.exec(out);
      if (m) resolvePort({ port: Number(m[1]), stop: () => child.kill("SIGKILL") });
    });
    child.once("exit", (code) => reject(new Error(`${kind} server exited (${code})`)));
  });
}

interface Figures {
  rps: number;
  p50: number;
  p99: number;
  errors: number;
}

async function drive(port: number, paths: string[]): Promise<Figures> {
  const run = (duration: number) => autocannon({
    url: `http://127.0.0.1:${port}`,
    connections,
    duration,
    requests: paths.map((path) => ({ method: "GET" as const, path })),
  });
  await run(2); // warm-up: JIT, connections, DuckDB-free paths only
  const r = await run(seconds);
  return { rps: r.requests.average, p50: r.latency.p50, p99: r.latency.p99, errors: r.errors + r.non2xx + r.timeouts };
}

try {
  // The hot layer: fixture floats by run-float, then synthetic floats written the way the load writes them.
  const log = createLogger({ level: "error", write: () => {} });
  const config = loadConfig({ env: { GDAC_BASE_URL: fixtures, LAKE_URL: lake, REDIS_URL: redisUrl, REDIS_PREFIX: prefix, REDIS_TTL: "0", MAX_WORKERS: "1" }, envFile: "/nonexistent/.env" });
  const store = new LocalLakeStore(lake);
  for (const wmo of FIXTURE_FLOATS) {
    const s = await runFloat(config, store, log, wmo);
    if (s.verdict !== "succeeded") throw new Error(`run-float ${wmo}: ${s.error}`);
  }
  await store.close();
  const k = hotKeys(prefix);
  const template = summaryFromHash(await redis.hgetall(k.float("2902269")))!;
  const latest = JSON.parse((await redis.get(k.latest("2902269")))!);
  const rand = seededRandom(14);
  const ids: string[] = [];
  const t0 = Date.now();
  for (let i = 0; i < synthetic; i += 500) {
    const batch = [];
    for (let j = i; j < Math.min(synthetic, i + 500); j++) {
      const id = String(7000000 + j);
      ids.push(id);
      const lat = -60 + 120 * rand(), lon = -180 + 360 * rand();
      batch.push(writeHotFloat(redis, prefix, 0, { ...template, float_id: id, meta: JSON.stringify({ ...template.meta, float_id: id }), last_latitude: lat, last_longitude: lon },
        { ...latest, float_id: id, latitude: lat, longitude: lon }));
    }
    await Promise.all(batch);
  }
  console.log(`hot layer: ${FIXTURE_FLOATS.length} fixture floats + ${synthetic} synthetic floats in ${((Date.now() - t0) / 1000).toFixed(1)} s (${runtimeName}, ${connections} connections, ${seconds} s per run)`);

  const nearPaths = Array.from({ length: 64 }, () => `/api/floats?near=${(-180 + 360 * rand()).toFixed(3)},${(-60 + 120 * rand()).toFixed(3)}&radius_km=${DEFAULT_RADIUS_KM * 5}`);
  const latestPaths = Array.from({ length: 64 }, () => `/api/floats/${ids[Math.floor(rand() * ids.length)]}/latest`);
  const results: Record<string, Record<string, Figures>> = { near: {}, latest: {} };
  for (const kind of ["bare", "api"] as const) {
    const child = await startChild(kind);
    try {
      results.near![kind] = await drive(child.port, nearPaths);
      results.latest![kind] = await drive(child.port, latestPaths);
    } finally {
      child.stop();
    }
  }
  const hits = (await redis.call("GEOSEARCH", k.geo, "FROMLONLAT", "0", "0", "BYRADIUS", String(DEFAULT_RADIUS_KM * 5), "km", "COUNT", "1000") as unknown[]).length;
  console.log(`\nendpoint                     server  req/s     p50 ms  p99 ms  errors   (a 500 km search holds ~${hits} floats)`);
  for (const [name, r] of Object.entries(results)) {
    for (const kind of ["bare", "api"] as const) {
      const f = r[kind]!;
      console.log(`${(name === "near" ? "/api/floats?near=..." : "/api/floats/{wmo}/latest").padEnd(29)}${kind.padEnd(8)}${f.rps.toFixed(0).padStart(7)}  ${String(f.p50).padStart(6)}  ${String(f.p99).padStart(6)}  ${f.errors}`);
    }
    const ratio = r.api!.rps / r.bare!.rps;
    console.log(`  api/bare ${(100 * ratio).toFixed(0)}% of the bare server's req/s (target >= 50%): ${ratio >= 0.5 ? "met" : "NOT met"}; api p99 ${r.api!.p99} ms (target < 25 ms): ${r.api!.p99 < 25 ? "met" : "NOT met"}`);
  }

  // Plots of a synthetic float of 300 profiles.
  const N = 300, levels = 110;
  const day = 86_400_000, start = Date.UTC(2015, 0, 1);
  const positions: Position[] = [];
  const curves: ProfileCurve[] = [];
  const columns: SectionColumn[] = [];
  let lat = -20, lon = 100;
  for (let c = 1; c <= N; c++) {
    lat += (rand() - 0.5) * 0.6;
    lon += (rand() - 0.4) * 0.8;
    const t = start + c * 10 * day;
    positions.push({ cycle_number: c, direction: "A", time_ms: t, latitude: lat, longitude: lon, position_qc: 1 });
    const pres = Array.from({ length: levels }, (_, i) => 5 + i * 18 + rand());
    const temp = pres.map((p) => 2 + 26 * Math.exp(-p / 250) + Math.sin(t / (365 * day) * 2 * Math.PI) * Math.exp(-p / 80) + rand() * 0.1);
    const psal = pres.map((p) => 34.6 + 0.4 * Math.exp(-p / 300) + rand() * 0.02);
    curves.push({ cycle_number: c, direction: "A", time_ms: t, pres, temp, psal });
    columns.push({ cycle_number: c, direction: "A", time_ms: t, pres, temp });
  }
  const time = (fn: () => unknown) => {
    const xs: number[] = [];
    for (let i = 0; i < 7; i++) {
      const a = performance.now();
      fn();
      xs.push(performance.now() - a);
    }
    return xs.sort((a, b) => a - b)[3]!;
  };
  console.log(`\nplots of a float of ${N} profiles x ${levels} levels (median of 7; target < 200 ms each)`);
  for (const [name, fn] of [
    ["trajectory", () => trajectorySvg("7999999", positions)],
    ["profiles (latest 10)", () => profilesSvg("7999999", curves.slice(-10))],
    ["section", () => sectionSvg("7999999", columns)],
  ] as const) {
    const svg = fn();
    const ms = time(fn);
    const a = performance.now();
    await svgToPng(svg, 2);
    const png = performance.now() - a;
    console.log(`  ${name.padEnd(22)} SVG ${ms.toFixed(1).padStart(6)} ms (${(svg.length / 1024).toFixed(0)} KiB): ${ms < 200 ? "met" : "NOT met"};  PNG (resvg, 1800 px) ${png.toFixed(0)} ms`);
  }
} finally {
  await clearRedis();
  redis.disconnect();
  await rm(lake, { recursive: true, force: true });
}
process.exit(0);

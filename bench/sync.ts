/**
 * Sync throughput against the local HTTPS test server with injected latency,
 * beside the ideal for that latency. Target: files/s >= 70% of
 * HTTP_CONCURRENCY / latency.
 *
 *   npx tsx bench/sync.ts [rounds] [latency_ms] [concurrency]   (defaults 5, 20, 16)
 *   deno run -A bench/sync.ts
 *
 * The server (tests/support/https-server.ts, serving the fixture mirror: 219
 * files, 30 MB) runs in its own process so it does not share an event loop
 * with the sync. Each round is a full sync (ENABLE_INCREMENTAL_SYNC=false)
 * into a fresh local lake, with SYNC_FILES=prof,Sprof, after one warm-up
 * round. files/s counts data files landed during the files phase (after the
 * index files are fetched and read); the end-to-end figure, index phase
 * included, is printed too. As a reference, the same syncs are then run with
 * no latency: that rate is the CPU ceiling of the machine for client and
 * server together (TLS, SHA-256, lake writes), which the ideal ignores.
 *
 * At GDAC size (issue 15: no-op < 15 s and < 500 MB, the daily run with
 * 3,000 changed files < 30 s plus the downloads):
 *
 *   npx tsx bench/sync.ts --gdac [floats] [changed]      (defaults 19000, 3000)
 *
 * builds under /tmp (removed after) a synthetic GDAC of `floats` floats with
 * 174 profiles each (3.3 M profile rows plus one meta row per float, gzipped
 * index files as the GDAC serves them) and a lake that already holds all of
 * it: every raw file a hard link to one of a few copies of a fixture file,
 * every float's manifest generated, the index cached with the server's
 * validators. Then, each sync in its own process (its own peak RSS), against
 * the test server in another: the no-op by the old full listing (no
 * applied-index digest yet: every float's folder listed, every manifest
 * read), the no-op (the server answers 304), the no-op with a re-published
 * index (new header date: the index is read and diffed, no float changed),
 * the daily run (`changed` rows of as many floats with a newer date_update,
 * their files served), and the same daily run by the full listing
 * (FULL_CHECK=true, another `changed` rows) as its reference.
 *
 * The daily run's own cost is shown beside the downloads it cannot avoid: a
 * reference process, after the daily sync, GETs the same changed files from
 * the same server process over the same HTTPS, through an undici Agent with
 * the sync's pool settings and as many requests in flight (GDAC_CONCURRENCY),
 * and writes each to disk; nothing else (no index, no manifest, no hash).
 * The server keeps small bodies in memory once served, so the reference gets
 * them warm and the overhead printed (sync minus reference) errs high.
 */
import { execFileSync, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import { copyFileSync, linkSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { mkdir, mkdtemp, rm, writeFile } from "node:fs/promises";
import { createSecureContext } from "node:tls";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { Agent, request } from "undici";
import { loadConfig } from "../lib/config.ts";
import { runSync } from "../lib/gdac/sync.ts";
import { LocalLakeStore } from "../lib/lake/local.ts";
import { createLogger } from "../lib/log.ts";
import { runtimeName } from "../lib/runtime.ts";
import { DACS } from "../lib/argo/ids.ts";
import { floatFileName, profileFileName } from "../lib/argo/filename.ts";
import { gzipSync } from "node:zlib";
import { indexKey, indexMetaKey, manifestKey, rawFileKey } from "../lib/lake/layout.ts";
import { INDEX_NAMES } from "../lib/gdac/index-file.ts";
import type { FloatManifest } from "../lib/gdac/manifest.ts";

/**
 * Server mode: start the test server with `latency` ms, print its address,
 * then obey "latency <ms>" lines on stdin (answering "ok") until stdin closes.
 */
async function serve(latency: number, root?: string): Promise<void> {
  const { startHttpsServer } = await import("../tests/support/https-server.ts");
  const srv = await startHttpsServer({ latencyMs: latency, root });
  process.stdout.write(JSON.stringify({ url: srv.url, caFile: srv.caFile }) + "\n");
  for await (const line of createInterface({ input: process.stdin })) {
    const m = /^latency (\d+)$/.exec(line.trim());
    if (m) srv.setFaults({ latencyMs: Number(m[1]) });
    process.stdout.write("ok\n");
  }
  await srv.stop();
}

interface Totals {
  files: number;
  absent: number;
  retries: number;
  filesSeconds: number;
  totalSeconds: number;
}

/** Full syncs into fresh lakes; data files landed and the time of the files phase, added up. */
async function rounds(n: number, url: string, caFile: string, concurrency: number): Promise<Totals> {
  const log = createLogger({ level: "error" });
  const t: Totals = { files: 0, absent: 0, retries: 0, filesSeconds: 0, totalSeconds: 0 };
  for (let r = 0; r < n; r++) {
    const lake = await mkdtemp(join(tmpdir(), "argo-bench-sync-"));
    try {
      const config = loadConfig({
        env: {
          GDAC_BASE_URL: url,
          GDAC_CA_FILE: caFile,
          LAKE_URL: lake,
          HTTP_CONCURRENCY: String(concurrency),
          SYNC_FILES: "prof,Sprof",
          ENABLE_INCREMENTAL_SYNC: "false",
        },
        envFile: "/nonexistent/.env",
      });
      let filesStart = 0;
      const t0 = performance.now();
      const stats = await runSync(config, new LocalLakeStore(lake), log, {
        onProgress: (p) => {
          if (p.phase === "files" && filesStart === 0) filesStart = performance.now();
        },
      });
      const end = performance.now();
      if (stats.errors) throw new Error(`round ${r}: ${stats.errors} errors: ${JSON.stringify(stats.error_details)}`);
      t.files += stats.files_downloaded;
      t.absent += stats.files_absent;
      t.retries += stats.retries;
      t.filesSeconds += (end - filesStart) / 1000;
      t.totalSeconds += (end - t0) / 1000;
    } finally {
      await rm(lake, { recursive: true, force: true });
    }
  }
  return t;
}

async function main(): Promise<void> {
  const n = Number(process.argv[2] ?? 5);
  const latency = Number(process.argv[3] ?? 20);
  const concurrency = Number(process.argv[4] ?? 16);
  const self = fileURLToPath(import.meta.url);
  const child = runtimeName === "deno"
    ? spawn("deno", ["run", "-A", self, "--serve", String(latency)], { stdio: ["pipe", "pipe", "inherit"] })
    : spawn(process.execPath, [...process.execArgv, self, "--serve", String(latency)], { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const { url, caFile } = JSON.parse((await lines.next()).value as string) as { url: string; caFile: string };
  const setLatency = async (ms: number) => {
    child.stdin!.write(`latency ${ms}\n`);
    await lines.next();
  };
  let timed: Totals, ceiling: Totals;
  try {
    await rounds(1, url, caFile, concurrency); // warm-up: JIT, page cache, the server's file cache
    timed = await rounds(n, url, caFile, concurrency);
    await setLatency(0);
    ceiling = await rounds(Math.max(2, Math.ceil(n / 2)), url, caFile, concurrency);
  } finally {
    child.stdin!.end();
    await new Promise((r) => child.once("exit", r));
  }
  const ideal = concurrency / (latency / 1000);
  const rate = timed.files / timed.filesSeconds;
  const cpuRate = ceiling.files / ceiling.filesSeconds;
  console.log(`runtime ${runtimeName}, ${n} rounds of a full sync of the fixture mirror, latency ${latency} ms, HTTP_CONCURRENCY ${concurrency}`);
  console.log(`files landed: ${timed.files} (+ ${timed.absent} absent prof/Sprof answered 404), retries ${timed.retries}`);
  console.log(`files phase:  ${rate.toFixed(0)} files/s; ideal ${ideal.toFixed(0)} (concurrency / latency); ratio ${(rate / ideal * 100).toFixed(0)}% (target >= 70%): ${rate / ideal >= 0.7 ? "OK" : "BELOW TARGET"}`);
  console.log(`end to end:   ${(timed.files / timed.totalSeconds).toFixed(0)} files/s, index fetch and plan included (${(timed.totalSeconds / n).toFixed(2)} s per round)`);
  console.log(`reference, same run, latency 0: ${cpuRate.toFixed(0)} files/s = what this machine's CPU allows client + server (TLS, SHA-256, lake writes)`);
}


// ---- at GDAC size ----

const PROFILES_PER_FLOAT = 174;
/** HTTP_CONCURRENCY of the GDAC-size syncs and of their download reference. */
const GDAC_CONCURRENCY = 16;
/** Copies of each seed file: a file may have at most 65,000 hard links on ext4. */
const SEED_COPIES = 64;
const HEADER = (kind: "core" | "meta", date: string) =>
  [
    `# Title : ${kind === "core" ? "Profile directory file" : "Metadata directory file"} of the Argo Global Data Assembly Center (synthetic, bench/sync.ts)`,
    "# Format version : 2.0",
    `# Date of update : ${date}`,
    "# GDAC node : BENCH",
    kind === "core" ? "file,date,latitude,longitude,ocean,profiler_type,institution,date_update" : "file,profiler_type,institution,date_update",
  ].join("\n") + "\n";

interface Synthetic {
  dir: string;
  mirror: string;
  lake: string;
  floats: { dac: string; wmo: string }[];
  /** Profile rows as [float index, cycle] -> date_update, kept to rewrite the index. */
  updates: Float64Array;
  profileSeed: Buffer;
}

const wmoOf = (i: number) => String(1_900_000 + i * 7);
/** A profile file's path below its float folder ("profiles/R<wmo>_<ccc>.nc"). */
const cycleName = (wmo: string, c: number) => profileFileName("R", wmo, c, 3, false);

/** The profile index text (rows in float order, as the GDAC's). */
function coreIndex(s: Synthetic, date: string): Buffer {
  const parts: string[] = [HEADER("core", date)];
  let batch: string[] = [];
  s.floats.forEach((f, i) => {
    for (let c = 1; c <= PROFILES_PER_FLOAT; c++) {
      const lat = ((i * 13 + c) % 120) - 60, lon = ((i * 29 + c * 3) % 340) - 170;
      const date = 20000101000000 + (c % 12) * 100000000 + (i % 28) * 1000000;
      batch.push(`${f.dac}/${f.wmo}/${cycleName(f.wmo, c)},${date},${lat}.5,${lon}.25,A,845,AO,${s.updates[i * PROFILES_PER_FLOAT + c - 1]}`);
    }
    if (batch.length > 20_000) {
      parts.push(batch.join("\n") + "\n");
      batch = [];
    }
  });
  parts.push(batch.length ? batch.join("\n") + "\n" : "");
  return Buffer.from(parts.join(""), "latin1");
}

function metaIndex(s: Synthetic): Buffer {
  return Buffer.from(HEADER("meta", "20261201000000") + s.floats.map((f) => `${f.dac}/${f.wmo}/${floatFileName(f.wmo, "meta")},845,AO,20200101000000`).join("\n") + "\n", "latin1");
}

/** Writes an index file (gzipped) to the mirror; returns its bytes. */
function publish(s: Synthetic, name: string, text: Buffer): Buffer {
  const gz = gzipSync(text, { level: 6 });
  writeFileSync(join(s.mirror, `${name}.gz`), gz);
  return gz;
}

/** The synthetic GDAC and a lake that holds all of it already (hard links, generated manifests, cached index). */
function buildSynthetic(dir: string, nFloats: number, url: string): Synthetic {
  const mirror = join(dir, "mirror"), lake = join(dir, "lake"), seeds = join(dir, "seeds");
  for (const d of [mirror, lake, seeds]) mkdirSync(d, { recursive: true });
  const fixtures = fileURLToPath(new URL("../../shared/fixtures/gdac/dac/aoml/13857/", import.meta.url));
  const profileSeed = readFileSync(join(fixtures, cycleName("13857", 1)));
  const metaSeed = readFileSync(join(fixtures, floatFileName("13857", "meta")));
  for (let k = 0; k < SEED_COPIES; k++) {
    writeFileSync(join(seeds, `p${k}.nc`), profileSeed);
    writeFileSync(join(seeds, `m${k}.nc`), metaSeed);
  }
  const floats = Array.from({ length: nFloats }, (_, i) => ({ dac: DACS[i % DACS.length], wmo: wmoOf(i) }));
  const updates = new Float64Array(nFloats * PROFILES_PER_FLOAT).fill(20200101000000);
  const s: Synthetic = { dir, mirror, lake, floats, updates, profileSeed };
  const sha = (b: Buffer) => createHash("sha256").update(b).digest("hex");
  const pSha = sha(profileSeed), mSha = sha(metaSeed);
  const now = new Date().toISOString();
  let links = 0;
  floats.forEach((f, i) => {
    const files: FloatManifest["files"] = {};
    const add = (rest: string, seed: string, size: number, sha256: string, dateUpdate: string) => {
      const key = rawFileKey(f.dac, f.wmo, rest);
      const path = join(lake, ...key.split("/"));
      linkSync(join(seeds, `${seed}${links++ % SEED_COPIES}.nc`), path);
      const gdac = `${f.dac}/${f.wmo}/${rest}`;
      files[gdac] = { path: gdac, key, date_update: dateUpdate, size, sha256, etag: null, last_modified: null, fetched_at: now, status: "present", removed_at: null };
    };
    mkdirSync(join(lake, ...rawFileKey(f.dac, f.wmo, cycleName(f.wmo, 1)).split("/").slice(0, -1)), { recursive: true });
    add(floatFileName(f.wmo, "meta"), "m", metaSeed.byteLength, mSha, "20200101000000");
    for (let c = 1; c <= PROFILES_PER_FLOAT; c++) add(cycleName(f.wmo, c), "p", profileSeed.byteLength, pSha, "20200101000000");
    const m: FloatManifest = { dac: f.dac, wmo: f.wmo, updated_at: now, files };
    const mk = join(lake, ...manifestKey(f.dac, f.wmo).split("/"));
    if (i < DACS.length) mkdirSync(join(mk, ".."), { recursive: true });
    writeFileSync(mk, JSON.stringify(m, null, 1));
    if (i % 2000 === 0) process.stderr.write(`\r  lake: ${i} floats`);
  });
  process.stderr.write("\n");
  // The index files, published and cached in the lake with the validators the server will give them.
  mkdirSync(join(lake, ...indexKey("x").split("/").slice(0, -1)), { recursive: true });
  for (const [kind, text] of [["core", coreIndex(s, "20261201000000")], ["meta", metaIndex(s)]] as const) {
    const name = `${INDEX_NAMES[kind]}.gz`;
    const gz = publish(s, INDEX_NAMES[kind], text);
    const st = statSync(join(mirror, name));
    writeFileSync(join(lake, ...indexKey(name).split("/")), gz);
    writeFileSync(join(lake, ...indexMetaKey(name).split("/")), JSON.stringify({
      name,
      source: url,
      etag: `"${st.size.toString(16)}-${Math.floor(st.mtimeMs).toString(16)}"`,
      last_modified: new Date(Math.floor(st.mtimeMs / 1000) * 1000).toUTCString(),
      size: gz.byteLength,
      sha256: sha(gz),
      fetched_at: now,
      rows: kind === "core" ? nFloats * PROFILES_PER_FLOAT : nFloats,
      floats: nFloats,
    }));
  }
  return s;
}

/**
 * Marks `n` profile rows of `n` floats (spread over the whole index, from
 * `offset`) updated, serves their new files (a different fixture profile, so
 * the bytes change) and re-publishes the profile index. Returns the GDAC
 * paths (below `dac/`) of the files changed.
 */
function change(s: Synthetic, n: number, offset: number, stamp: number, date: string): string[] {
  const fixtures = fileURLToPath(new URL("../../shared/fixtures/gdac/dac/aoml/13857/", import.meta.url));
  const seed = join(s.dir, "served.nc");
  copyFileSync(join(fixtures, cycleName("13857", 2)), seed);
  const step = Math.max(1, Math.floor(s.floats.length / n));
  const paths: string[] = [];
  for (let k = 0; k < n; k++) {
    const i = (offset + k * step) % s.floats.length;
    const c = 1 + ((k * 31 + offset) % PROFILES_PER_FLOAT);
    s.updates[i * PROFILES_PER_FLOAT + c - 1] = stamp;
    const f = s.floats[i];
    paths.push(`${f.dac}/${f.wmo}/${cycleName(f.wmo, c)}`);
    const path = join(s.mirror, "dac", f.dac, f.wmo, ...cycleName(f.wmo, c).split("/"));
    mkdirSync(join(path, ".."), { recursive: true });
    try {
      linkSync(seed, path);
    } catch { /* served already */ }
  }
  publish(s, INDEX_NAMES.core, coreIndex(s, date));
  return paths;
}

interface GdacRun {
  ms: number;
  /** CPU seconds of the process (user + system): steadier than wall time on a shared machine. */
  cpu_s: number;
  rss_mb: number;
  files_ms: number;
  stats: { total_floats: number; files_downloaded: number; files_skipped: number; errors: number };
}

/**
 * This process's peak RSS in MB: VmHWM of /proc/self/status where there is
 * one. Linux carries getrusage's maxrss across exec, so a child's
 * resourceUsage().maxRSS is never below the RSS of the bench process that
 * spawned it (hundreds of MB here, with the synthetic GDAC's state); VmHWM
 * belongs to the child's own address space.
 */
function peakRssMb(): number {
  try {
    const kb = /^VmHWM:\s+(\d+) kB$/m.exec(readFileSync("/proc/self/status", "utf8"));
    if (kb) return Math.round(Number(kb[1]) / 1024);
  } catch { /* not Linux: maxRSS below */ }
  return Math.round(process.resourceUsage().maxRSS / 1024);
}

/** Child mode: one sync of the lake, printing its time, peak RSS and counts. */
async function gdacRun(arg: string): Promise<void> {
  const { lake, url, caFile, env } = JSON.parse(arg) as { lake: string; url: string; caFile: string; env: Record<string, string> };
  const config = loadConfig({
    env: { GDAC_BASE_URL: url, GDAC_CA_FILE: caFile, LAKE_URL: lake, HTTP_CONCURRENCY: String(GDAC_CONCURRENCY), MAX_DECOMPRESSED_BYTES: String(4 * 1024 ** 3), ...env },
    envFile: "/nonexistent/.env",
  });
  const t0 = performance.now();
  let filesStart = 0;
  const stats = await runSync(config, new LocalLakeStore(lake), createLogger({ level: "error" }), {
    onProgress: (p) => {
      if (p.phase === "files" && filesStart === 0) filesStart = performance.now();
    },
  });
  const end = performance.now();
  const cpu = process.cpuUsage();
  const out: GdacRun = {
    ms: end - t0,
    cpu_s: (cpu.user + cpu.system) / 1e6,
    files_ms: filesStart ? end - filesStart : 0,
    rss_mb: peakRssMb(),
    stats: { total_floats: stats.total_floats, files_downloaded: stats.files_downloaded, files_skipped: stats.files_skipped, errors: stats.errors },
  };
  process.stdout.write(JSON.stringify(out) + "\n");
}

interface FetchRun {
  ms: number;
  cpu_s: number;
  rss_mb: number;
  files: number;
  bytes: number;
}

/**
 * Child mode, the daily run's reference: GETs the files `list` names (a JSON
 * file of GDAC paths below `dac/`: too many for an argument) with
 * GDAC_CONCURRENCY in flight through an undici Agent set as the sync's
 * (lib/http.ts: one connection per request in flight, no pipelining, the
 * CA's TLS context built once) and writes each body to its file under `out`.
 */
async function gdacFetch(arg: string): Promise<void> {
  const { url, caFile, list, out } = JSON.parse(arg) as { url: string; caFile: string; list: string; out: string };
  const paths = JSON.parse(readFileSync(list, "utf8")) as string[];
  const base = url.replace(/\/+$/, "");
  const agent = new Agent({
    connections: GDAC_CONCURRENCY,
    pipelining: 1,
    keepAliveTimeout: 30_000,
    connect: { secureContext: createSecureContext({ ca: readFileSync(caFile, "utf8") }) },
  });
  const t0 = performance.now();
  let next = 0, bytes = 0;
  const worker = async () => {
    while (next < paths.length) {
      const path = paths[next++]!;
      const res = await request(`${base}/dac/${path}`, { dispatcher: agent, headers: { "user-agent": "argo-lake-bench" } });
      if (res.statusCode !== 200) throw new Error(`reference download: HTTP ${res.statusCode} for ${path}: expected 200`);
      const body = new Uint8Array(await res.body.arrayBuffer());
      const file = join(out, ...path.split("/"));
      await mkdir(join(file, ".."), { recursive: true });
      await writeFile(file, body);
      bytes += body.byteLength;
    }
  };
  await Promise.all(Array.from({ length: GDAC_CONCURRENCY }, worker));
  const ms = performance.now() - t0;
  await agent.close();
  const cpu = process.cpuUsage();
  const r: FetchRun = { ms, cpu_s: (cpu.user + cpu.system) / 1e6, rss_mb: peakRssMb(), files: paths.length, bytes };
  process.stdout.write(JSON.stringify(r) + "\n");
}

async function gdac(nFloats: number, nChanged: number): Promise<void> {
  const self = fileURLToPath(import.meta.url);
  const cmd = (args: string[]) => (runtimeName === "deno" ? ["deno", ["run", "-A", self, ...args]] : [process.execPath, [...process.execArgv, self, ...args]]) as [string, string[]];
  // The server first (its URL goes into the cached index's sidecar), serving the mirror folder built next.
  const dir = await mkdtemp(join(tmpdir(), "sync-bench-gdac-"));
  let s: Synthetic | null = null;
  const [scmd, sargs] = cmd(["--serve", "0", join(dir, "mirror")]);
  const child = spawn(scmd, sargs, { stdio: ["pipe", "pipe", "inherit"] });
  const lines = createInterface({ input: child.stdout! })[Symbol.asyncIterator]();
  const { url, caFile } = JSON.parse((await lines.next()).value as string) as { url: string; caFile: string };
  try {
    const t = performance.now();
    s = buildSynthetic(dir, nFloats, url);
    const du = execFileSync("du", ["-sh", s.dir], { encoding: "utf8" }).split("\t")[0];
    console.log(`runtime ${runtimeName}; synthetic GDAC: ${nFloats.toLocaleString("en")} floats, ${(nFloats * (PROFILES_PER_FLOAT + 1)).toLocaleString("en")} raw files ` +
      `(hard links), ${nFloats.toLocaleString("en")} manifests, built in ${((performance.now() - t) / 1000).toFixed(0)} s, ${du} on disk`);
    const run = (label: string, env: Record<string, string> = {}): GdacRun => {
      const [c, a] = cmd(["--gdac-run", JSON.stringify({ lake: s!.lake, url, caFile, env })]);
      const r = JSON.parse(execFileSync(c, a, { encoding: "utf8", maxBuffer: 1 << 20 }).trim().split("\n").pop()!) as GdacRun;
      if (r.stats.errors) throw new Error(`${label}: ${r.stats.errors} errors`);
      console.log(`${label.padEnd(52)} ${(r.ms / 1000).toFixed(1).padStart(6)} s  CPU ${r.cpu_s.toFixed(1).padStart(6)} s  peak RSS ${String(r.rss_mb).padStart(5)} MB  ` +
        `${r.stats.total_floats} floats, ${r.stats.files_downloaded} downloaded, ${r.stats.files_skipped} up to date` +
        (r.stats.files_downloaded ? `; files phase ${(r.files_ms / 1000).toFixed(1)} s` : ""));
      return r;
    };
    const oldNoop = run("no-op, old path (every folder listed, manifest read)");
    const noop = run("no-op (index 304)");
    publish(s, INDEX_NAMES.core, coreIndex(s, "20261202000000"));
    const reread = run("no-op, index re-published (read and diffed)");
    const changed = change(s, nChanged, 0, 20261202120000, "20261202120000");
    const daily = run(`daily: ${nChanged} changed files`);
    if (daily.stats.files_downloaded !== nChanged) throw new Error(`daily: expected ${nChanged} downloads, got ${daily.stats.files_downloaded}`);
    const out = join(s.dir, "reference"), list = join(s.dir, "changed.json");
    writeFileSync(list, JSON.stringify(changed));
    const [fc, fa] = cmd(["--gdac-fetch", JSON.stringify({ url, caFile, list, out })]);
    const ref = JSON.parse(execFileSync(fc, fa, { encoding: "utf8", maxBuffer: 1 << 20 }).trim().split("\n").pop()!) as FetchRun;
    await rm(out, { recursive: true, force: true });
    console.log(`${"reference: the same files downloaded and written".padEnd(52)} ${(ref.ms / 1000).toFixed(1).padStart(6)} s  CPU ${ref.cpu_s.toFixed(1).padStart(6)} s  peak RSS ${String(ref.rss_mb).padStart(5)} MB  ` +
      `${ref.files} files, ${(ref.bytes / 1e6).toFixed(0)} MB, undici, ${GDAC_CONCURRENCY} in flight`);
    const beyond = daily.ms - ref.ms;
    console.log(`daily:  ${(daily.ms / 1000).toFixed(1)} s, ${daily.rss_mb} MB, against ${(ref.ms / 1000).toFixed(1)} s for the downloads alone: ${(beyond / 1000).toFixed(1)} s beyond them ` +
      `(target < 30 s): ${beyond < 30_000 ? "OK" : "ABOVE TARGET"}; before the first download ${((daily.ms - daily.files_ms) / 1000).toFixed(1)} s`);
    change(s, nChanged, 1, 20261202180000, "20261202180000");
    const dailyOld = run(`daily: ${nChanged} changed files, old path (FULL_CHECK)`, { FULL_CHECK: "true" });
    if (dailyOld.stats.files_downloaded !== nChanged) throw new Error(`daily, old path: expected ${nChanged} downloads, got ${dailyOld.stats.files_downloaded}`);
    const x = (a: GdacRun, b: GdacRun) => `${(b.ms / a.ms).toFixed(1)}x faster than the old path`;
    console.log(`no-op:  ${(noop.ms / 1000).toFixed(1)} s, ${noop.rss_mb} MB (target < 15 s, < 500 MB): ${noop.ms < 15_000 && noop.rss_mb < 500 ? "OK" : "ABOVE TARGET"}; ${x(noop, oldNoop)}; ` +
      `re-published index ${(reread.ms / 1000).toFixed(1)} s, ${reread.rss_mb} MB`);
    console.log(`daily:  ${x(daily, dailyOld)}`);
  } finally {
    child.stdin!.end();
    await new Promise((r) => child.once("exit", r));
    await rm(dir, { recursive: true, force: true });
  }
}

if (process.argv[2] === "--serve") await serve(Number(process.argv[3]), process.argv[4]);
else if (process.argv[2] === "--gdac-run") await gdacRun(process.argv[3]);
else if (process.argv[2] === "--gdac-fetch") await gdacFetch(process.argv[3]);
else if (process.argv[2] === "--gdac") await gdac(Number(process.argv[3] ?? 19_000), Number(process.argv[4] ?? 3000));
else await main();

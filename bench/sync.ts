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
 */
import { spawn } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import process from "node:process";
import { createInterface } from "node:readline";
import { fileURLToPath } from "node:url";
import { loadConfig } from "../lib/config.ts";
import { runSync } from "../lib/gdac/sync.ts";
import { LocalLakeStore } from "../lib/lake/local.ts";
import { createLogger } from "../lib/log.ts";
import { runtimeName } from "../lib/runtime.ts";

/**
 * Server mode: start the test server with `latency` ms, print its address,
 * then obey "latency <ms>" lines on stdin (answering "ok") until stdin closes.
 */
async function serve(latency: number): Promise<void> {
  const { startHttpsServer } = await import("../tests/support/https-server.ts");
  const srv = await startHttpsServer({ latencyMs: latency });
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

if (process.argv[2] === "--serve") await serve(Number(process.argv[3]));
else await main();

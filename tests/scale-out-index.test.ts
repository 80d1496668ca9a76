/**
 * Index files are downloaded once per cycle, not once per shard: with
 * DATABASE_URL, the shard workers of one lake plan one at a time under a
 * Postgres advisory lock, so the first downloads a changed index and keeps
 * it, and the others get 304 Not Modified for the copy it kept. Four sharded
 * syncs start at the same instant (in one process, so no start-up delay
 * spreads them) against the HTTPS test server, which counts every request.
 * Without Postgres each shard downloads the index itself (the documented
 * lake-only behaviour), which shows the test sees the difference.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../lib/config.ts";
import { runSync } from "../lib/gdac/sync.ts";
import { LocalLakeStore } from "../lib/lake/local.ts";
import { createLogger } from "../lib/log.ts";
import { shardPredicate } from "../lib/schedule/shard.ts";
import { type TempDir, tempDir } from "./support/fixtures.ts";
import { INDEX_FILES, startHttpsServer, type TestHttpsServer } from "./support/https-server.ts";
import { createTestDatabase, type TestDatabase } from "./support/postgres.ts";

const WORKERS = 4;

let srv: TestHttpsServer;
let db: TestDatabase;
const dirs: TempDir[] = [];

beforeAll(async () => {
  // Latency makes every exchange last, so that shards not coordinated would overlap for sure.
  [srv, db] = await Promise.all([startHttpsServer({ latencyMs: 150 }), createTestDatabase("scale_index")]);
});

afterAll(async () => {
  await srv?.stop();
  await db?.drop();
  for (const d of dirs) await d.cleanup();
});

/** Four sharded syncs of one fresh lake at once; the index requests the server saw, by file and outcome. */
async function syncShardsAtOnce(databaseUrl: string | undefined): Promise<Record<string, { ok: number; not_modified: number }>> {
  const lake = await tempDir("scale-index");
  dirs.push(lake);
  const config = loadConfig({
    env: { GDAC_BASE_URL: srv.url, GDAC_CA_FILE: srv.caFile, LAKE_URL: lake.path, DATABASE_URL: databaseUrl, HTTP_CONCURRENCY: "16" },
    envFile: "/nonexistent/.env",
  });
  const log = createLogger({ level: "error", write: () => {} });
  srv.resetCounts();
  const stats = await Promise.all(Array.from({ length: WORKERS }, (_, i) =>
    runSync(config, new LocalLakeStore(lake.path), log, { shard: shardPredicate({ index: i, count: WORKERS }) })
  ));
  for (const s of stats) expect(s.errors, JSON.stringify(s.error_details)).toBe(0);
  expect(stats.reduce((n, s) => n + s.total_floats, 0)).toBe(15);
  return Object.fromEntries(INDEX_FILES.map((f) => [f, { ok: srv.countFor(`/${f}`, "ok"), not_modified: srv.countFor(`/${f}`, "not_modified") }]));
}

describe("index files with N shard workers starting together", () => {
  it("with Postgres: each index is downloaded once, the other shards get 304 for the copy kept", async () => {
    const seen = await syncShardsAtOnce(db.url);
    for (const f of INDEX_FILES) expect(seen[f], f).toEqual({ ok: 1, not_modified: WORKERS - 1 });
  }, 120_000);

  it("without Postgres (lake only): each shard downloads each index itself", async () => {
    const seen = await syncShardsAtOnce(undefined);
    for (const f of INDEX_FILES) expect(seen[f].ok, f).toBe(WORKERS);
  }, 120_000);
});

/**
 * Compaction beside parse (lib/lake/compact.ts, lib/lake/live.ts), on real
 * fixture lakes built by the real parse and read by the lake's own readers
 * (the views, the load's batches, the S3 cache). Float 5906072 has staging
 * files in two year partitions (aoml 2020 and 2023) of measurements and
 * profiles: after a commit folds both, one of them is rewritten (a re-parse
 * that stopped after its first file, or one that is still writing), so the
 * float is fresh by one file and read from all its staging files. After
 * every step every view equals a clean build of the same files, row for row:
 * - GC in a run whose policy rewrites none of the float's partitions keeps
 *   its folded, unchanged staging files (deleting them would leave the float
 *   with its segment rows hidden and only the rewritten file to read);
 * - the same when the file is rewritten after the compaction's snapshot (GC
 *   judges by a listing taken after the commit, not by the snapshot);
 * - a staging file folded again by a later commit stays COMPACT_GRACE after
 *   that commit, so views opened before it keep answering;
 * - on S3 (s3rver: LastModified to the second), a staging file rewritten
 *   within the second of its first write, at the same size, after the
 *   compaction read it, is told apart from the folded one by its ETag.
 */
import { createHash } from "node:crypto";
import { cp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Config, loadConfig } from "../lib/config.ts";
import { type DuckSession, openDuckDB } from "../lib/duckdb.ts";
import { syncParquetCache } from "../lib/lake/cache.ts";
import { runCompact } from "../lib/lake/compact.ts";
import { LIVE_KEY, parseTableFileKey, partitionFileKey, tablePrefix } from "../lib/lake/layout.ts";
import { readLiveList } from "../lib/lake/live.ts";
import { LocalLakeStore } from "../lib/lake/local.ts";
import { openLake } from "../lib/lake/open.ts";
import type { LakeObject, LakeStore } from "../lib/lake/store.ts";
import { floatIdsOf, focusOnFloats, listLakeFiles, readFloatLoads } from "../lib/load/lake.ts";
import { createLogger } from "../lib/log.ts";
import { runParse } from "../lib/parse/run.ts";
import { tableFileMetadata } from "../lake/schema.ts";
import { sqlString } from "../lake/views.ts";
import { landFixtures } from "./parse-job-support.ts";
import { diffDumps, dumpLake, type LakeEntry } from "./support/compare.ts";
import { type TempDir, tempDir } from "./support/fixtures.ts";
import { snapshotViews, viewRows } from "./support/lake-rows.ts";
import { startS3, type TestS3 } from "./support/s3.ts";

const log = createLogger({ level: "error", write: () => {} });

function configFor(lake: string, extra: Record<string, string> = {}): Config {
  return loadConfig({ env: { LAKE_URL: lake, MAX_WORKERS: "2", LOG_LEVEL: "error", ...extra }, envFile: "/nonexistent/.env" });
}

/** The float with staging files in two year partitions of one DAC, and those two files of measurements. */
const F = "5906072";
const A = partitionFileKey("measurements", "aoml", 2020, F);
const B = partitionFileKey("measurements", "aoml", 2023, F);

/** Grace long enough that nothing folded is due; and a share no partition reaches (the policy rewrites nothing). */
const KEEP = { COMPACT_GRACE: "3600" };
const NO_POLICY = { COMPACT_GRACE: "0", COMPACT_MIN_SHARE: "1000000" };

const compact = (store: LakeStore, root: string, extra: Record<string, string>, all = false) =>
  runCompact(configFor(root, extra), store, log, { lock: null, all });

/** The rows of every table view as a reader sees them (tests/support/compare.ts dumpLake's `rows:` entries). */
async function rowsOf(store: LakeStore): Promise<Record<string, LakeEntry>> {
  return Object.fromEntries(Object.entries(await dumpLake(store)).filter(([k]) => k.startsWith("rows:")));
}

/** What the load reads for every float of a local lake, one batch, as lib/load/run.ts reads it. */
async function loadsOf(store: LocalLakeStore): Promise<unknown> {
  const db = await openDuckDB({ threads: 1 });
  try {
    const files = await listLakeFiles(store, store.localRoot);
    await focusOnFloats(db.conn, files, floatIdsOf(files));
    const { loads, refused } = await readFloatLoads(db.conn);
    return { floats: floatIdsOf(files), loads: Object.fromEntries([...loads].sort(([a], [b]) => (a < b ? -1 : 1))), refused: [...refused] };
  } finally {
    db.close();
  }
}

/** Rewrites a staging file with its own bytes: a re-parse of an unchanged float writes the same bytes, at a new time. */
async function touch(store: LakeStore, key: string): Promise<void> {
  const bytes = await store.get(key);
  expect(bytes, key).not.toBeNull();
  await new Promise((r) => setTimeout(r, 5)); // a new modification time even on a coarse clock
  await store.put(key, bytes!);
}

const stagingKeys = async (store: LakeStore): Promise<string[]> =>
  (await store.list("parquet/")).map((o) => o.key).filter((k) => parseTableFileKey(k) !== null);

describe("a float re-staged by one file after its commit (local lake)", () => {
  let clean: { dir: TempDir; store: LocalLakeStore };
  let copiesDir: TempDir;
  let expected: Record<string, LakeEntry>;
  let expectedLoads: unknown;
  let copies = 0;

  /** A copy of the clean build to compact: the same staging files, parse states and raw files. */
  async function lakeCopy(): Promise<{ root: string; store: LocalLakeStore }> {
    const root = join(copiesDir.path, `lake-${copies++}`);
    await cp(clean.dir.path, root, { recursive: true });
    return { root, store: new LocalLakeStore(root) };
  }

  beforeAll(async () => {
    const dir = await tempDir("race-clean");
    copiesDir = await tempDir("race-copies");
    clean = { dir, store: new LocalLakeStore(dir.path) };
    await landFixtures(clean.store);
    const s = await runParse(configFor(dir.path), clean.store, log);
    expect(s.errors).toBe(0);
    expected = await rowsOf(clean.store);
    expectedLoads = await loadsOf(clean.store);
    expect(await clean.store.stat(A)).not.toBeNull();
    expect(await clean.store.stat(B)).not.toBeNull();
  }, 180_000);
  afterAll(async () => {
    await copiesDir?.cleanup();
    await clean?.dir.cleanup();
  });

  const check = async (store: LocalLakeStore, step: string) => {
    expect(diffDumps(await rowsOf(store), expected), step).toEqual([]);
  };

  it("GC in a run whose policy rewrites none of the float's partitions keeps its folded staging files; the next fold takes it whole", async () => {
    const { root, store } = await lakeCopy();
    const first = await compact(store, root, KEEP);
    expect(first).toMatchObject({ committed: true, commit: 1, files_deleted: 0 });
    await check(store, "after commit 1 (folded files kept by the grace)");

    // A re-parse of the float that wrote its 2020 file and stopped (or has not written the next one yet).
    await touch(store, A);
    await check(store, "the float fresh by one file: read from all its staging files");

    const gc = await compact(store, root, NO_POLICY);
    expect(gc).toMatchObject({ committed: false, partitions: 0 });
    // GC did run: commit 1's folded files of every other float are gone.
    expect(gc.files_deleted).toBeGreaterThan(0);
    expect(await store.stat(partitionFileKey("measurements", "aoml", 1997, "13857"))).toBeNull();
    // The float's other measurements file stays: the float is still superseded there, and read from it.
    expect(await store.stat(B)).not.toBeNull();
    expect((await readLiveList(store)).folded.map((f) => f.key)).toContain(B);
    await check(store, "after GC of commit 1 in a run that rewrote nothing");
    expect(await loadsOf(store)).toEqual(expectedLoads);

    // The float's partitions are due by the default policy: folded whole, both files, then collected.
    const fold = await compact(store, root, { COMPACT_GRACE: "0" });
    expect(fold).toMatchObject({ committed: true, commit: 2 });
    await check(store, "after commit 2 folded the float whole");
    expect(await stagingKeys(store)).toEqual([]);
    expect((await readLiveList(store)).folded).toEqual([]);
    expect(await loadsOf(store)).toEqual(expectedLoads);
  }, 180_000);

  it("a file rewritten after the compaction's snapshot (a parse beside it) keeps the float's other folded files too", async () => {
    const { root, store } = await lakeCopy();
    await compact(store, root, KEEP);
    // The parse writes the float's 2020 file right after the compaction read its snapshot (listing, then live list).
    let reads = 0;
    const racing = Object.assign(Object.create(store), {
      get: async (key: string) => {
        const bytes = await store.get(key);
        if (key === LIVE_KEY && reads++ === 0) await touch(store, A);
        return bytes;
      },
    }) as LakeStore;
    const gc = await compact(racing, root, NO_POLICY);
    expect(reads).toBeGreaterThan(0);
    expect(gc).toMatchObject({ committed: false, partitions: 0 });
    expect(gc.files_deleted).toBeGreaterThan(0);
    expect(await store.stat(B)).not.toBeNull();
    await check(store, "after GC beside the parse");
    expect(await loadsOf(store)).toEqual(expectedLoads);
    await compact(store, root, { COMPACT_GRACE: "0" });
    await check(store, "after the next compaction");
    expect(await stagingKeys(store)).toEqual([]);
  }, 180_000);

  it("the grace runs from the commit, not from the plan: a compaction slower than COMPACT_GRACE deletes nothing it folded", async () => {
    const { root, store } = await lakeCopy();
    const before = await stagingKeys(store);
    // Writing the segments takes longer than the grace (one upload held 1.5 s).
    let held = false;
    const slow = Object.assign(Object.create(store), {
      putFile: async (key: string, path: string) => {
        if (!held) {
          held = true;
          await new Promise((r) => setTimeout(r, 1_500));
        }
        return store.putFile(key, path);
      },
    }) as LakeStore;
    const s = await compact(slow, root, { COMPACT_GRACE: "1" });
    expect(held).toBe(true);
    expect(s).toMatchObject({ committed: true, files_deleted: 0 });
    expect(await stagingKeys(store)).toEqual(before);
    const live = await readLiveList(store);
    expect(live.folded.every((f) => f.folded_at === live.committed_at)).toBe(true);
    await check(store, "after the slow commit");
  }, 180_000);

  it("a staging file folded again stays COMPACT_GRACE after the later commit: views opened before it keep answering", async () => {
    const { root, store } = await lakeCopy();
    const grace = { COMPACT_GRACE: "2" };
    await compact(store, root, grace);
    await touch(store, A);
    // A reader opened now reads the float from both its staging files (its segment rows are hidden).
    const old = await openDuckDB({ threads: 1 });
    try {
      const snap = await snapshotViews(old, root);
      expect(snap.sources.measurements.filter((s) => s.kind === "staging").map((s) => s.key).sort()).toEqual([A, B]);
      const before = await viewRows(old, { tablesOnly: true });
      // Commit 1's grace has passed; commit 2 folds the float's files again, A rewritten and B unchanged.
      await new Promise((r) => setTimeout(r, 2_200));
      const refold = await compact(store, root, grace, true);
      expect(refold).toMatchObject({ committed: true, commit: 2 });
      expect(await store.stat(B), "B is folded by commit 2 now: its grace runs from commit 2").not.toBeNull();
      expect((await readLiveList(store)).folded.filter((f) => f.key === B)).toHaveLength(1);
      expect(await viewRows(old, { tablesOnly: true }), "views opened before commit 2").toEqual(before);
      await check(store, "after commit 2");
      await new Promise((r) => setTimeout(r, 2_200));
      const gc = await compact(store, root, grace);
      expect(gc.files_deleted).toBeGreaterThan(0);
      expect(await stagingKeys(store)).toEqual([]);
      await check(store, "after commit 2's grace");
    } finally {
      old.close();
    }
  }, 180_000);
});

describe("an S3 lake: a staging file rewritten within the same second at the same size", () => {
  let s3: TestS3;
  let dir: TempDir;
  /** The bytes the racing parse writes at A: the same rows (v1), then other rows of the same size (v2). */
  let v1: Uint8Array;
  let v2: Uint8Array;
  /** The rows a clean build of the staging files with v2 at A reads. */
  let expected: Record<string, LakeEntry>;

  beforeAll(async () => {
    s3 = await startS3();
    dir = await tempDir("race-s3");
    const local = new LocalLakeStore(join(dir.path, "clean"));
    await landFixtures(local, [F]);
    await runParse(configFor(local.localRoot), local, log);
    // Uncompressed, the same columns and metadata: v2 negates every temperature, so every page keeps its size.
    const db = await openDuckDB({ threads: 1 });
    try {
      const kv = Object.entries(tableFileMetadata("measurements")).map(([k, v]) => `${sqlString(k)}: ${sqlString(v)}`).join(", ");
      const src = sqlString(join(local.localRoot, A));
      const write = async (select: string, name: string) => {
        const path = join(dir.path, name);
        await db.run(`COPY (${select}) TO ${sqlString(path)} (FORMAT parquet, COMPRESSION uncompressed, KV_METADATA {${kv}})`);
        return new Uint8Array(await readFile(path));
      };
      v1 = await write(`SELECT * FROM read_parquet(${src}, hive_partitioning = false)`, "v1.parquet");
      v2 = await write(`SELECT * REPLACE (-temp AS temp) FROM read_parquet(${src}, hive_partitioning = false)`, "v2.parquet");
    } finally {
      db.close();
    }
    expect(v2.byteLength, "the two versions have the same size").toBe(v1.byteLength);
    expect(Buffer.from(v2).equals(Buffer.from(v1))).toBe(false);
    await writeFile(join(local.localRoot, A), v2);
    expected = await rowsOf(local);
  }, 180_000);
  afterAll(async () => {
    await s3?.stop();
    await dir?.cleanup();
  });

  /** Every table view as the query and load read an S3 lake: through the local cache, from the snapshot its sync copied. */
  async function cachedRows(store: LakeStore, cacheDir: string): Promise<Record<string, LakeEntry>> {
    const { snapshot } = await syncParquetCache(store, cacheDir);
    const db: DuckSession = await openDuckDB({ threads: 1 });
    try {
      await snapshotViews(db, cacheDir, snapshot);
      const rows = await viewRows(db, { tablesOnly: true });
      return Object.fromEntries(Object.entries(rows).map(([v, r]) => [`rows:${v}`, { sha256: createHash("sha256").update(r.join("\n")).digest("hex"), size: r.length }]));
    } finally {
      db.close();
    }
  }

  it("the compaction that read the first version folds it; the second, the same size and second, stays the float's staging file (ETag)", async () => {
    let attempt = 0;
    let raced: { listed: LakeObject; now: LakeObject } | null = null;
    let store: LakeStore | null = null;
    let config: Config | null = null;
    // The race needs both writes within one second of s3rver's clock: an attempt that straddles a second is made again.
    while (!raced && attempt < 6) {
      await store?.close();
      config = loadConfig({ env: { ...s3.env, LAKE_URL: s3.url(`race-${attempt++}`), LOG_LEVEL: "error", MAX_WORKERS: "1", COMPACT_GRACE: "0" }, envFile: "/nonexistent/.env" });
      const s = store = openLake(config);
      await landFixtures(s, [F]);
      expect((await runParse(config, s, log)).errors).toBe(0);
      let listed: LakeObject | null = null;
      let rewritten = false;
      const racing = Object.assign(Object.create(s), {
        // The parse writes v1 just before the compaction lists (at the start of a second)...
        list: async (prefix: string) => {
          if (prefix === tablePrefix("measurements") && !listed) {
            while (Date.now() % 1000 > 100) await new Promise((r) => setTimeout(r, 10));
            await s.put(A, v1);
          }
          const out = await s.list(prefix);
          listed ??= out.find((o) => o.key === A) ?? null;
          return out;
        },
        // ... and v2 just after the compaction read v1.
        get: async (key: string) => {
          const bytes = await s.get(key);
          if (key === A && !rewritten) {
            rewritten = true;
            await s.put(A, v2);
          }
          return bytes;
        },
      }) as LakeStore;
      const c = await runCompact(config, racing, log, { lock: null });
      expect(c).toMatchObject({ committed: true, commit: 1 });
      expect(rewritten).toBe(true);
      const now = await s.stat(A);
      expect(now, "A is still there").not.toBeNull();
      if (listed && now && now.modified.getTime() === (listed as LakeObject).modified.getTime()) raced = { listed, now };
    }
    expect(raced, "both writes within one second of s3rver's clock").not.toBeNull();
    console.info(`S3 race: both versions at ${raced!.now.modified.toISOString()}, ${raced!.now.size} bytes, after ${attempt} attempt(s)`);
    // Size and modification time cannot tell the two versions apart on S3; the ETag can.
    expect(raced!.now.size).toBe(raced!.listed.size);
    expect(raced!.now.modified.toISOString()).toBe(raced!.listed.modified.toISOString());
    expect(raced!.now.etag).toBeDefined();
    expect(raced!.now.etag).not.toBe(raced!.listed.etag);
    const cacheDir = join(dir.path, `cache-${attempt}`);
    expect(diffDumps(await cachedRows(store!, cacheDir), expected), "after the commit and its GC, through the cache").toEqual([]);
    expect(diffDumps(await rowsOf(store!), expected), "after the commit and its GC (dumpLake)").toEqual([]);
    // The next compaction folds the float whole from its staging files, v2 included.
    const again = await runCompact(config!, store!, log, { lock: null });
    expect(again).toMatchObject({ committed: true, commit: 2 });
    expect(await stagingKeys(store!)).toEqual([]);
    expect(diffDumps(await cachedRows(store!, cacheDir), expected), "after commit 2, through the cache").toEqual([]);
    await store!.close();
  }, 300_000);
});

/**
 * Compaction (lib/lake/compact.ts) on real fixture lakes built by the real
 * parse, read with real DuckDB:
 * - after compaction every view holds exactly the rows of the uncompacted
 *   lake; segments are sorted by float and time, split at float boundaries,
 *   carry the tables' metadata, and nothing else is left;
 * - a changed float, a float that lost a partition and a removed float
 *   (tombstones), re-parsed after a compaction and compacted again, give the
 *   rows of a clean build of the same raw files; parse then skips every float
 *   and reparses the floats of a damaged segment;
 * - the same input compacts to the same bytes;
 * - readers that took their listing before a commit, their live list after
 *   it, or both after, see the whole table; a compaction job committing
 *   beside a loop of readers never shows one half-compacted;
 * - a compaction job killed (SIGKILL) at random moments leaves the lake
 *   reading the old table, and the next one repairs it.
 */
import { createHash } from "node:crypto";
import { cp, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Config, loadConfig } from "../lib/config.ts";
import { openDuckDB } from "../lib/duckdb.ts";
import { runCompact, segmentOrder } from "../lib/lake/compact.ts";
import { lockKey, parseSegmentKey, parseTableFileKey, parseTombstoneKey, TOMBSTONE_PREFIX } from "../lib/lake/layout.ts";
import { type LakeSnapshot, readLiveList, readSnapshot, resolveSources } from "../lib/lake/live.ts";
import { LocalLakeStore } from "../lib/lake/local.ts";
import { createLogger } from "../lib/log.ts";
import { runParse } from "../lib/parse/run.ts";
import { TABLES } from "../lake/schema.ts";
import { fixtureFiles, landFixtures, openNc } from "./parse-job-support.ts";
import { visibleTempKeys } from "./support/compare.ts";
import { type TempDir, tempDir } from "./support/fixtures.ts";
import { spawnJobProcess } from "./support/jobs.ts";
import { countsPerFloat, diffRows, lakeRows, snapshotViews } from "./support/lake-rows.ts";
import { seededRandom } from "./support/random.ts";

const log = createLogger({ level: "error", write: () => {} });

function configFor(lake: string, extra: Record<string, string> = {}): Config {
  return loadConfig({ env: { LAKE_URL: lake, MAX_WORKERS: "2", LOG_LEVEL: "error", COMPACT_GRACE: "0", ...extra }, envFile: "/nonexistent/.env" });
}

/** A lake with the fixture floats landed and parsed (one staging file per float and partition). */
async function parsedLake(name: string, change?: (store: LocalLakeStore) => Promise<void>): Promise<{ dir: TempDir; store: LocalLakeStore }> {
  const dir = await tempDir(name);
  const store = new LocalLakeStore(dir.path);
  await landFixtures(store);
  await change?.(store);
  const s = await runParse(configFor(dir.path), store, log);
  expect(s.errors).toBe(0);
  return { dir, store };
}

const compact = (store: LocalLakeStore, extra: Record<string, string> = {}, all = false) =>
  runCompact(configFor(store.localRoot, extra), store, log, { lock: null, all });

const parquetKeys = async (store: LocalLakeStore) => (await store.list("parquet/")).map((o) => o.key).filter((k) => k.endsWith(".parquet"));

/** The raw changes the incremental tests apply: a changed file, a lost partition, a removed float. */
const CHANGED = "2902696";
const SHRUNK = "13857";
const REMOVED = "5900446";
async function changeRaw(store: LocalLakeStore): Promise<void> {
  const f = fixtureFiles([CHANGED]).find((x) => x.rest === "profiles/D2902696_001.nc")!;
  const bytes = new Uint8Array(await readFile(f.file));
  bytes.set(new TextEncoder().encode("20990102030405"), openNc(f.file).variables.find((v) => v.name === "DATE_UPDATE")!.offset);
  await store.put(f.key, bytes);
  // 13857 without its 2000 cycle loses that year's partition.
  await store.delete(fixtureFiles([SHRUNK]).find((x) => x.rest === "profiles/R13857_090.nc")!.key);
  for (const x of fixtureFiles([REMOVED])) await store.delete(x.key);
}

describe("a first compaction of the fixture lake", () => {
  let lake: { dir: TempDir; store: LocalLakeStore };
  let twin: TempDir;
  let before: Record<string, string[]>;
  let filesBefore: number;
  const settings = { COMPACT_TARGET_ROWS: "4000", COMPACT_ROW_GROUP_ROWS: "2048" };

  beforeAll(async () => {
    lake = await parsedLake("compact-first");
    twin = await tempDir("compact-twin");
    await cp(lake.dir.path, twin.path, { recursive: true });
    before = await lakeRows(lake.dir.path);
    filesBefore = (await parquetKeys(lake.store)).length;
  }, 120_000);
  afterAll(async () => {
    await lake?.dir.cleanup();
    await twin?.cleanup();
  });

  it("keeps every row of every view, and leaves only live segments", async () => {
    const t0 = Date.now();
    const s = await compact(lake.store, settings);
    const ms = Date.now() - t0;
    expect(s).toMatchObject({ committed: true, commit: 1, partitions_pending: 0, aborted: false });
    expect(s.files_folded).toBe(filesBefore);
    // Grace 0: the folded staging files are gone right after the commit.
    expect(s.files_deleted).toBe(filesBefore);
    expect(s.rows).toBe(Object.entries(before).filter(([v]) => TABLES.includes(v as never) || v === "dictionary_by_float").reduce((a, [, r]) => a + r.length, 0));
    expect(diffRows(await lakeRows(lake.dir.path), before)).toEqual([]);
    const live = await readLiveList(lake.store);
    const liveKeys = new Set(TABLES.flatMap((t) => live.tables[t].map((seg) => seg.key)));
    const files = await parquetKeys(lake.store);
    expect(files.filter((k) => !liveKeys.has(k))).toEqual([]);
    expect([...liveKeys].filter((k) => !files.includes(k))).toEqual([]);
    expect(await visibleTempKeys(lake.store)).toEqual([]);
    expect(live.folded).toEqual([]);
    // The target splits partitions: more segments than partitions.
    expect(s.segments_written).toBeGreaterThan(s.partitions);
    console.info(`compaction of the fixture lake: ${filesBefore} staging files -> ${files.length} segments (target 4,000 rows) in ${ms} ms`);
  }, 120_000);

  it("writes segments sorted by float and time, split at float boundaries, with the live list's rows and floats and the tables' metadata", async () => {
    const live = await readLiveList(lake.store);
    const db = await openDuckDB({ threads: 1 });
    try {
      await db.run("SET preserve_insertion_order = true");
      for (const table of TABLES) {
        const order = segmentOrder(table).map((c) => `"${c}"`).join(", ");
        const seen = new Map<string, string>();
        for (const seg of live.tables[table]) {
          const path = `'${join(lake.dir.path, seg.key)}'`;
          const asWritten = await db.all(`SELECT ${order} FROM read_parquet(${path})`);
          const sorted = await db.all(`SELECT ${order} FROM read_parquet(${path}) ORDER BY ${order}`);
          expect(JSON.stringify(asWritten), seg.key).toBe(JSON.stringify(sorted));
          expect(asWritten.length).toBe(seg.rows);
          const floats = [...new Set(asWritten.map((r) => String(r.float_id)))].sort();
          expect(floats, seg.key).toEqual(seg.floats);
          // A float lives in one segment of a partition.
          const partition = seg.key.slice(0, seg.key.lastIndexOf("/"));
          for (const f of floats) {
            expect(seen.get(`${partition}/${f}`), `${f} in two segments of ${partition}`).toBeUndefined();
            seen.set(`${partition}/${f}`, seg.key);
          }
          if (floats.length > 1) expect(seg.rows).toBeLessThanOrEqual(4000);
          const kv = await db.all(`SELECT decode(key) AS k, decode(value) AS v FROM parquet_kv_metadata(${path})`);
          expect(Object.fromEntries(kv.map((r) => [r.k, r.v]))).toMatchObject({ "argo_lake.table": table, "argo_lake.schema_version": "2" });
          const groups = await db.all(`SELECT DISTINCT row_group_id, row_group_num_rows AS n FROM parquet_metadata(${path})`);
          expect(groups.every((g) => Number(g.n) <= 2048), seg.key).toBe(true);
          expect(groups.length).toBe(Math.max(1, Math.ceil(seg.rows / 2048)));
        }
      }
    } finally {
      db.close();
    }
  }, 120_000);

  it("compacts the same input to the same bytes", async () => {
    const twinStore = new LocalLakeStore(twin.path);
    await compact(twinStore, settings);
    const [a, b] = [await readLiveList(lake.store), await readLiveList(twinStore)];
    expect(b.tables).toEqual(a.tables);
    const hash = async (root: string, key: string) => createHash("sha256").update(await readFile(join(root, key))).digest("hex");
    for (const t of TABLES) {
      for (const seg of a.tables[t]) expect(await hash(twin.path, seg.key), seg.key).toBe(await hash(lake.dir.path, seg.key));
    }
  }, 120_000);

  it("then has nothing to do, and parse skips every float although its staging files were folded away", async () => {
    const again = await compact(lake.store, settings);
    expect(again).toMatchObject({ committed: false, partitions: 0, files_deleted: 0, commit: 1 });
    const p = await runParse(configFor(lake.dir.path), lake.store, log);
    expect(p).toMatchObject({ floats_parsed: 0, floats_skipped: 15, errors: 0 });
  }, 120_000);
});

describe("re-parse after a compaction", () => {
  let lake: { dir: TempDir; store: LocalLakeStore };
  let clean: Record<string, string[]>;

  beforeAll(async () => {
    // The reference: a clean build of the changed raw files, compacted.
    const ref = await parsedLake("compact-clean", changeRaw);
    await compact(ref.store);
    clean = await lakeRows(ref.dir.path);
    await ref.dir.cleanup();
    lake = await parsedLake("compact-inc");
    const s = await compact(lake.store);
    expect(s.committed).toBe(true);
  }, 180_000);
  afterAll(async () => {
    await lake?.dir.cleanup();
  });

  it("a changed float, a lost partition and a removed float (tombstones) read as a clean build, before and after the next compaction", async () => {
    await changeRaw(lake.store);
    const p = await runParse(configFor(lake.dir.path), lake.store, log);
    expect(p).toMatchObject({ floats_parsed: 2, floats_removed: 1, errors: 0 });
    // The removed float has rows in segments of every table and no staging file: one tombstone per table.
    const tombs = (await lake.store.list(TOMBSTONE_PREFIX)).map((o) => parseTombstoneKey(o.key));
    const snap = await readSnapshot(lake.store);
    const hadRows = TABLES.filter((t) => snap.live.tables[t].some((seg) => seg.floats.includes(REMOVED)));
    expect(hadRows.length).toBeGreaterThanOrEqual(4);
    expect(tombs.filter((t) => t?.wmo === REMOVED).map((t) => t!.table).sort()).toEqual([...hadRows].sort());
    // Changed floats have staging files again: no tombstone.
    expect(tombs.filter((t) => t?.wmo !== REMOVED)).toEqual([]);
    expect(diffRows(await lakeRows(lake.dir.path), clean), "staging files hide the old segment rows").toEqual([]);

    const s = await compact(lake.store);
    expect(s).toMatchObject({ committed: true, commit: 2 });
    expect(diffRows(await lakeRows(lake.dir.path), clean), "after the second compaction").toEqual([]);
    const live = await readLiveList(lake.store);
    expect(TABLES.filter((t) => live.tables[t].some((seg) => seg.floats.includes(REMOVED)))).toEqual([]);
    expect(await lake.store.list(TOMBSTONE_PREFIX)).toEqual([]);
    expect((await parquetKeys(lake.store)).filter((k) => parseTableFileKey(k))).toEqual([]);
    // Only the partitions of the changed and removed floats were rewritten (dac aoml, csio).
    const rewritten = TABLES.flatMap((t) => live.tables[t]).filter((seg) => parseSegmentKey(seg.key)!.commit === 2);
    expect([...new Set(rewritten.map((seg) => parseSegmentKey(seg.key)!.dac))].sort()).toEqual(["aoml", "csio"]);
    const again = await runParse(configFor(lake.dir.path), lake.store, log);
    expect(again).toMatchObject({ floats_parsed: 0, floats_skipped: 14 });
  }, 180_000);

  it("reparses the floats of a damaged segment, and the next compaction repairs it", async () => {
    const live = await readLiveList(lake.store);
    const seg = live.tables.profiles.find((x) => x.floats.length > 1)!;
    await writeFile(join(lake.dir.path, seg.key), "not parquet");
    const p = await runParse(configFor(lake.dir.path), lake.store, log);
    expect(p.floats_parsed).toBe(seg.floats.length);
    expect(diffRows(await lakeRows(lake.dir.path), clean)).toEqual([]);
    const s = await compact(lake.store);
    expect(s.committed).toBe(true);
    expect(await lake.store.stat(seg.key)).toBeNull();
    expect(diffRows(await lakeRows(lake.dir.path), clean)).toEqual([]);
  }, 180_000);
});

describe("readers while a compaction commits", () => {
  let lake: { dir: TempDir; store: LocalLakeStore };
  let expected: Record<string, number>;

  beforeAll(async () => {
    lake = await parsedLake("compact-readers");
    await compact(lake.store);
    // Staging files beside segments: the changed floats.
    await changeRaw(lake.store);
    await runParse(configFor(lake.dir.path), lake.store, log);
  }, 180_000);
  afterAll(async () => {
    await lake?.dir.cleanup();
  });

  const counts = async (snap?: LakeSnapshot) => {
    const db = await openDuckDB({ threads: 1 });
    try {
      await snapshotViews(db, lake.dir.path, snap);
      return await countsPerFloat(db);
    } finally {
      db.close();
    }
  };

  it("a listing taken before the commit, with the live list before or after it, and a fresh snapshot all see the whole table; GC after the grace", async () => {
    expected = await counts();
    expect(Object.keys(expected).some((k) => k.startsWith(`${REMOVED}:`))).toBe(false);
    const old = await readSnapshot(lake.store);
    const oldSession = await openDuckDB({ threads: 1 });
    await snapshotViews(oldSession, lake.dir.path, old);
    try {
      const s = await compact(lake.store, { COMPACT_GRACE: "600" });
      expect(s).toMatchObject({ committed: true, files_deleted: 0 });
      expect(await countsPerFloat(oldSession), "views opened before the commit").toEqual(expected);
      const live = await readLiveList(lake.store);
      const mixed: LakeSnapshot = { live, listed: old.listed, sources: resolveSources(live, old.listed.values()) };
      expect(await counts(mixed), "listing before the commit, live list after").toEqual(expected);
      expect(await counts(), "a snapshot after the commit").toEqual(expected);
      // Within the grace, nothing folded is deleted and nothing is compacted again.
      expect(await compact(lake.store, { COMPACT_GRACE: "600" })).toMatchObject({ committed: false, files_deleted: 0 });
      // Past it (grace 0), GC deletes the folded staging files, tombstones and retired segments.
      const gc = await compact(lake.store);
      expect(gc.committed).toBe(false);
      expect(gc.files_deleted).toBe(s.files_folded + s.segments_retired);
      expect(await counts(), "a snapshot after GC").toEqual(expected);
      expect((await readLiveList(lake.store))).toMatchObject({ folded: [], retired: [] });
      // The old views named files GC has deleted: only the grace kept them readable.
      await expect(countsPerFloat(oldSession)).rejects.toThrow();
    } finally {
      oldSession.close();
    }
  }, 180_000);

  it("a loop of readers beside a compaction job (grace 0) only ever sees whole tables", async () => {
    // Stage every float again (a forced parse) so the job has the whole lake to rewrite.
    await runParse(configFor(lake.dir.path), lake.store, log, { force: true });
    const job = spawnJobProcess("compact", ["--all", "--json"], {
      env: { LAKE_URL: lake.dir.path, COMPACT_GRACE: "0", COMPACT_TARGET_ROWS: "2000", LOG_FORMAT: "json" },
      timeoutMs: 120_000,
    });
    let exited = false;
    const done = job.done.finally(() => (exited = true));
    let reads = 0;
    let gone = 0;
    const commits = new Set<number>();
    const wrong: string[] = [];
    while (!exited || reads === 0) {
      let snap: LakeSnapshot;
      try {
        snap = await readSnapshot(lake.store);
        const got = await counts(snap);
        reads++;
        commits.add(snap.live.commit);
        if (JSON.stringify(got) !== JSON.stringify(expected)) wrong.push(`commit ${snap.live.commit}: ${JSON.stringify(got)}`);
      } catch (err) {
        // With grace 0 a file the reader listed may be deleted before it is opened: an error, never half a table.
        if (!/No files found|Cannot open|No such file|does not exist|IO Error/i.test((err as Error).message)) throw err;
        gone++;
      }
    }
    const r = await done;
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ committed: true });
    expect(wrong).toEqual([]);
    expect(await counts()).toEqual(expected);
    expect(reads).toBeGreaterThanOrEqual(3);
    console.info(`readers beside a compaction: ${reads} whole reads over commits ${[...commits].join(", ")}, ${gone} read(s) found a file deleted by GC (grace 0)`);
  }, 180_000);
});

describe("a compaction job killed with SIGKILL", () => {
  let lake: { dir: TempDir; store: LocalLakeStore };
  let expected: Record<string, string[]>;

  let expectedCounts: Record<string, number>;
  const counts = async () => {
    const db = await openDuckDB({ threads: 1 });
    try {
      await snapshotViews(db, lake.dir.path);
      return await countsPerFloat(db);
    } finally {
      db.close();
    }
  };

  beforeAll(async () => {
    lake = await parsedLake("compact-crash");
    expected = await lakeRows(lake.dir.path);
    expectedCounts = await counts();
  }, 120_000);
  afterAll(async () => {
    await lake?.dir.cleanup();
  });

  it("leaves the lake reading the whole old table, and the next compaction repairs it", async () => {
    const random = seededRandom(Number(process.env.RELIABILITY_SEED ?? 15));
    const env = { LAKE_URL: lake.dir.path, COMPACT_GRACE: "0", COMPACT_TARGET_ROWS: "1500", LOG_FORMAT: "json", LOG_LEVEL: "info" };
    let kills = 0;
    let windowMs = 2500;
    for (let i = 0; kills < 6 && i < 20; i++) {
      // A kill that landed after the commit left nothing to do: stage every float again.
      if ((await parquetKeys(lake.store)).every((k) => !parseTableFileKey(k))) await runParse(configFor(lake.dir.path), lake.store, log, { force: true });
      const job = spawnJobProcess("compact", ["--all"], { env, timeoutMs: 120_000 });
      const delay = Math.floor(random() * windowMs);
      const killed = job.waitFor(/"msg":"compact: planned"/, "stderr", 60_000).then(
        () => new Promise<boolean>((resolve) => setTimeout(() => {
          const running = job.child.exitCode === null && job.child.signalCode === null;
          if (running) job.kill("SIGKILL");
          resolve(running);
        }, delay)),
        () => false,
      );
      const [result, didKill] = await Promise.all([job.done, killed]);
      if (didKill && result.signal === "SIGKILL") {
        kills++;
        expect(await visibleTempKeys(lake.store)).toEqual([]);
        expect(await counts(), `after kill ${kills} (+${delay} ms)`).toEqual(expectedCounts);
      } else {
        expect(result.code, result.stderr.slice(-2000)).toBe(0);
        windowMs = Math.max(50, Math.floor(windowMs / 2));
      }
    }
    expect(kills).toBeGreaterThanOrEqual(6);
    const r = await spawnJobProcess("compact", ["--all", "--json"], { env, timeoutMs: 120_000 }).done;
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    expect(diffRows(await lakeRows(lake.dir.path), expected)).toEqual([]);
    // Nothing left of the killed runs: every Parquet file is a live segment (orphans collected, grace 0).
    const live = await readLiveList(lake.store);
    const liveKeys = new Set(TABLES.flatMap((t) => live.tables[t].map((s) => s.key)));
    expect((await parquetKeys(lake.store)).filter((k) => !liveKeys.has(k))).toEqual([]);
    expect(await visibleTempKeys(lake.store)).toEqual([]);
    expect(await lake.store.stat(lockKey("compact"))).toBeNull();
  }, 600_000);
});

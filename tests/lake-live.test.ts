/**
 * The readers of the compacted layout (lib/lake/live.ts): views, the load's
 * batches and the S3 cache read a table as its committed segments plus its
 * staging files, a float's segment rows hidden when it has a staging file or
 * a tombstone. A real fixture lake is parsed, then compacted by hand (DuckDB
 * COPY of the staging files, sorted by float, into segments named by a live
 * list), and every reader must answer exactly as from the staging files.
 */
import { cp, rm, stat } from "node:fs/promises";
import { join } from "node:path";
import { createHash } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../lib/config.ts";
import { createLakeViews, type DuckSession, listLocalTableFiles, openDuckDB } from "../lib/duckdb.ts";
import { syncParquetCache } from "../lib/lake/cache.ts";
import { runCompact } from "../lib/lake/compact.ts";
import { LIVE_KEY, parseTableFileKey, partitionPrefix, segmentKey, tablePrefix, tombstoneKey } from "../lib/lake/layout.ts";
import { emptyLiveList, type LiveList, readSnapshot, writeLiveList } from "../lib/lake/live.ts";
import { LocalLakeStore } from "../lib/lake/local.ts";
import { openLake } from "../lib/lake/open.ts";
import { openLakeSession } from "../lib/lake/query.ts";
import type { LakeStore } from "../lib/lake/store.ts";
import { floatIdsOf, focusOnFloats, listLakeFiles, readFloatLoads } from "../lib/load/lake.ts";
import { localLakeFor } from "../lib/load/root.ts";
import { runLoad } from "../lib/load/run.ts";
import type { LoadStats } from "../lib/load/stats.ts";
import { LoadError } from "../lib/errors.ts";
import { createLogger } from "../lib/log.ts";
import { TABLE_COLUMNS, TABLES, type TableName } from "../lake/schema.ts";
import { sqlString, tableViewName } from "../lake/views.ts";
import { BGC_SOURCES, parsedLake } from "./open-lake-support.ts";
import { type TempDir, tempDir } from "./support/fixtures.ts";
import { startS3, type TestS3 } from "./support/s3.ts";
import { testRedis } from "./support/redis.ts";

const quiet = createLogger({ level: "error", write: () => {} });
/** The order compaction sorts a segment's rows in (the columns a table has). */
const SORT = ["float_id", "time", "cycle_number", "direction", "profile_index", "level", "parameter", "table_name", "column_name"];

/**
 * Compacts a parsed lake by hand: each partition's staging files, two floats
 * per segment, COPY'd sorted by float and time into `part-<commit>-<n>`
 * segments; the live list is committed and the staging files removed (or,
 * with `keepStaging`, left for a later clean-up, as compaction's grace period does).
 */
async function compactByHand(root: string, opts: { commit?: number; keepStaging?: boolean } = {}): Promise<LiveList> {
  const commit = opts.commit ?? 1;
  const store = new LocalLakeStore(root);
  const db = await openDuckDB({ threads: 1 });
  const live = { ...emptyLiveList(), commit, committed_at: new Date().toISOString(), run_id: "by-hand" };
  try {
    for (const table of TABLES) {
      const parts = new Map<string, { dac: string; year: string | null; files: { key: string; wmo: string }[] }>();
      for (const o of await store.list(tablePrefix(table))) {
        const f = parseTableFileKey(o.key);
        if (!f) continue;
        const at = partitionPrefix(table, f.dac, f.year);
        if (!parts.has(at)) parts.set(at, { dac: f.dac, year: f.year, files: [] });
        parts.get(at)!.files.push({ key: o.key, wmo: f.wmo });
        live.folded.push({ key: o.key, size: o.size, modified: o.modified.toISOString(), folded_at: live.committed_at });
      }
      const order = SORT.filter((c) => TABLE_COLUMNS[table].some((d) => d.name === c)).join(", ");
      for (const p of parts.values()) {
        p.files.sort((a, b) => (a.wmo < b.wmo ? -1 : 1));
        for (let n = 0; n * 2 < p.files.length; n++) {
          const group = p.files.slice(n * 2, n * 2 + 2);
          const key = segmentKey(table, p.dac, p.year, commit, n);
          const path = join(root, key);
          const files = group.map((g) => sqlString(join(root, g.key))).join(", ");
          const [{ Count }] = await db.all(
            `COPY (SELECT * FROM read_parquet([${files}], hive_partitioning = false) ORDER BY ${order}) TO ${sqlString(path)} (FORMAT parquet, COMPRESSION zstd)`,
          ) as [{ Count: string }];
          live.tables[table].push({ key, size: (await stat(path)).size, rows: Number(Count), floats: group.map((g) => g.wmo) });
        }
      }
      live.tables[table].sort((a, b) => (a.key < b.key ? -1 : 1));
    }
  } finally {
    db.close();
  }
  await writeLiveList(store, live);
  if (!opts.keepStaging) for (const f of live.folded) await store.delete(f.key);
  return live;
}

/** Every table's rows, sorted, as one digest and a count per table (the full row set decides the digest). */
async function tableDigests(db: DuckSession, where = "true"): Promise<Record<TableName, { rows: number; sha256: string }>> {
  const out = {} as Record<TableName, { rows: number; sha256: string }>;
  for (const table of TABLES) {
    const rows = (await db.conn.runAndReadAll(`SELECT * FROM ${tableViewName(table)} WHERE ${where} ORDER BY ALL`)).getRowsJson();
    out[table] = { rows: rows.length, sha256: createHash("sha256").update(JSON.stringify(rows)).digest("hex") };
  }
  return out;
}

/** The digests of a local lake's views. */
async function viewsOf(root: string, where?: string): Promise<Record<TableName, { rows: number; sha256: string }>> {
  const db = await openDuckDB({ threads: 2 });
  try {
    await createLakeViews(db, root);
    return await tableDigests(db, where);
  } finally {
    db.close();
  }
}

/** A query's rows against a local lake's views. */
async function rowsOf(root: string, sql: string): Promise<Record<string, unknown>[]> {
  const db = await openDuckDB({ threads: 2 });
  try {
    await createLakeViews(db, root);
    return await db.all(sql);
  } finally {
    db.close();
  }
}

/** What the load reads for `ids` (one batch) from a lake, as lib/load/run.ts reads it. */
async function loadsOf(store: LakeStore, root: string, ids: string[], snapshot?: Awaited<ReturnType<typeof readSnapshot>>) {
  const db = await openDuckDB({ threads: 2 });
  try {
    const files = await listLakeFiles(store, root, snapshot);
    await focusOnFloats(db.conn, files, ids);
    return { files, ...(await readFloatLoads(db.conn)) };
  } finally {
    db.close();
  }
}

describe("readers of the compacted layout", () => {
  let dir: TempDir;
  /** The parsed lake, staging files only. */
  let staging: string;
  /** The same lake, compacted by hand. */
  let compacted: string;
  let live: LiveList;
  let before: Record<TableName, { rows: number; sha256: string }>;
  let floats: string[];
  let copies = 0;

  /** A fresh copy of the compacted lake to change. */
  async function copyOf(src = compacted): Promise<string> {
    const to = join(dir.path, `copy-${copies++}`);
    await cp(src, to, { recursive: true });
    return to;
  }

  beforeAll(async () => {
    dir = await tempDir("lake-live");
    staging = join(dir.path, "staging");
    compacted = join(dir.path, "compacted");
    await parsedLake(staging, [{ floats: ["13857", "5900446", "3902131", "6903247", "1900857", "2902269"] }, BGC_SOURCES[1]!]);
    before = await viewsOf(staging);
    floats = floatIdsOf(await listLakeFiles(new LocalLakeStore(staging), staging));
    await cp(staging, compacted, { recursive: true });
    live = await compactByHand(compacted);
  }, 300_000);
  afterAll(async () => {
    await dir?.cleanup();
  });

  it("the hand-made lake has segments of several floats in every table and no staging file left", async () => {
    for (const t of TABLES) {
      expect(before[t].rows, t).toBeGreaterThan(0);
      expect(live.tables[t].length, t).toBeGreaterThan(0);
      expect(live.tables[t].some((s) => s.floats.length > 1), t).toBe(true);
      const files = await listLocalTableFiles(compacted, t);
      expect(files.length, t).toBe(live.tables[t].length);
      expect(files.every((f) => /\/part-000001-\d{4}\.parquet$/.test(f)), t).toBe(true);
    }
    expect(floats.length).toBeGreaterThanOrEqual(8);
  });

  it("(a) the views of the compacted lake return exactly the rows of the staging files, table by table", async () => {
    expect(await viewsOf(compacted)).toEqual(before);
  });

  it("(b) a float's staging file hides all its segment rows of that table: no duplicates, the staging rows win", async () => {
    const lake = await copyOf();
    const wmo = "6903247";
    // The float's new staging files keep only cycles up to 3 (as a reparse that lost cycles would write).
    const db = await openDuckDB({ threads: 1 });
    let expected: Record<string, unknown>[];
    try {
      for (const key of (await new LocalLakeStore(staging).list(tablePrefix("profiles"))).map((o) => o.key)) {
        if (parseTableFileKey(key)?.wmo !== wmo) continue;
        await db.run(
          `COPY (SELECT * FROM read_parquet(${sqlString(join(staging, key))}, hive_partitioning = false) WHERE cycle_number <= 3) TO ${sqlString(join(lake, key))} (FORMAT parquet)`,
        );
      }
      await createLakeViews(db, staging);
      expected = await db.all(`SELECT * FROM profiles WHERE float_id = '${wmo}' AND cycle_number <= 3 ORDER BY ALL`);
    } finally {
      db.close();
    }
    expect(expected.length).toBeGreaterThan(0);
    expect(await rowsOf(lake, `SELECT * FROM profiles WHERE float_id = '${wmo}' ORDER BY ALL`)).toEqual(expected);
    const [dup] = await rowsOf(lake, "SELECT count(*) AS n FROM (SELECT float_id, cycle_number, direction, profile_index FROM profiles GROUP BY ALL HAVING count(*) > 1)");
    expect(Number(dup!.n)).toBe(0);
    // Every other float, and this float's other tables, are as before.
    const others = await viewsOf(lake, `float_id <> '${wmo}'`);
    expect(others).toEqual(await viewsOf(staging, `float_id <> '${wmo}'`));
    const mine = await viewsOf(lake, `float_id = '${wmo}'`);
    const mineBefore = await viewsOf(staging, `float_id = '${wmo}'`);
    for (const t of TABLES) if (t !== "profiles") expect(mine[t], t).toEqual(mineBefore[t]);
  });

  it("(c) a tombstone hides a float's segment rows of its table, and only of that table", async () => {
    const lake = await copyOf();
    const wmo = "13857";
    await new LocalLakeStore(lake).put(tombstoneKey("measurements", "aoml", wmo), new Uint8Array());
    const [n] = await rowsOf(lake, `SELECT count(*) AS n FROM measurements WHERE float_id = '${wmo}'`);
    expect(Number(n!.n)).toBe(0);
    const [p] = await rowsOf(lake, `SELECT count(*) AS n FROM profiles WHERE float_id = '${wmo}'`);
    expect(Number(p!.n)).toBeGreaterThan(0);
    expect(await viewsOf(lake, `float_id <> '${wmo}'`)).toEqual(await viewsOf(staging, `float_id <> '${wmo}'`));
    // The load sees the float without its measurements.
    const { loads } = await loadsOf(new LocalLakeStore(lake), lake, [wmo]);
    expect(loads.get(wmo)?.contributions).toEqual([]);
    expect(loads.get(wmo)?.profiles.length).toBeGreaterThan(0);
  });

  it("(c) many superseded floats (a long list, hashed rather than compared one by one) hide exactly their rows", async () => {
    const lake = await copyOf();
    const store = new LocalLakeStore(lake);
    // 40 floats listed in every aoml measurements segment but without rows there, each tombstoned, and one real float.
    const ghosts = Array.from({ length: 40 }, (_, i) => String(7900000 + i));
    const wide = { ...live, tables: { ...live.tables, measurements: live.tables.measurements.map((s) => (s.key.includes("/dac=aoml/") ? { ...s, floats: [...s.floats, ...ghosts].sort() } : s)) } };
    await writeLiveList(store, wide);
    for (const g of [...ghosts, "13857"]) await store.put(tombstoneKey("measurements", "aoml", g), new Uint8Array());
    const snap = await readSnapshot(store);
    expect(Math.max(...snap.sources.measurements.map((s) => s.hide.length))).toBeGreaterThan(32);
    const [n] = await rowsOf(lake, "SELECT count(*) AS n FROM measurements WHERE float_id = '13857'");
    expect(Number(n!.n)).toBe(0);
    expect((await viewsOf(lake, "float_id <> '13857'")).measurements).toEqual((await viewsOf(staging, "float_id <> '13857'")).measurements);
  });

  it("(d) a segment the live list does not name is invisible (an uncommitted or retired compaction)", async () => {
    const lake = await copyOf();
    const seg = live.tables.measurements.find((s) => s.floats.length > 1)!;
    const uncommitted = seg.key.replace("part-000001-", "part-000002-");
    await cp(join(lake, seg.key), join(lake, uncommitted));
    expect(await viewsOf(lake)).toEqual(before);
    expect(await listLocalTableFiles(lake, "measurements")).not.toContain(join(lake, uncommitted));
  });

  it("a snapshot listed before a commit and reading the live list after sees every float once, whole", async () => {
    const lake = join(dir.path, "racing");
    await cp(staging, lake, { recursive: true });
    const inner = new LocalLakeStore(lake);
    let committed: LiveList | null = null;
    // The commit lands between the snapshot's listing and its read of the live list.
    const racing = Object.assign(Object.create(inner), {
      get: async (key: string) => {
        if (key === LIVE_KEY && !committed) committed = await compactByHand(lake, { keepStaging: true });
        return inner.get(key);
      },
    }) as LakeStore;
    const snap = await readSnapshot(racing);
    expect(snap.live.commit).toBe(1);
    for (const t of TABLES) {
      expect(snap.live.tables[t].length, t).toBeGreaterThan(0);
      // The folded staging files are still listed, as the commit folded them: known for folded, they are
      // not read (GC may be deleting them one by one) and hide nothing; the new segments are read whole.
      expect(snap.sources[t].filter((s) => s.kind === "staging" || s.hide.length > 0), t).toEqual([]);
    }
    const db = await openDuckDB({ threads: 2 });
    try {
      await createLakeViews(db, lake, snap.sources);
      expect(await tableDigests(db)).toEqual(before);
    } finally {
      db.close();
    }
    // Once the folded staging files are gone, the next snapshot reads the segments: the same rows.
    for (const f of committed!.folded) await inner.delete(f.key);
    expect(await viewsOf(lake)).toEqual(before);
  });

  it("(e) the load reads the same FloatLoad for every float from segments as from staging files", async () => {
    const a = await loadsOf(new LocalLakeStore(staging), staging, floats);
    const b = await loadsOf(new LocalLakeStore(compacted), compacted, floats);
    expect(floatIdsOf(b.files)).toEqual(floats);
    expect(b.files.dac).toEqual(a.files.dac);
    expect(b.refused).toEqual(new Map());
    // Floats with profiles load (the extra fixtures' S-file-only floats have rows only in `synthetic`).
    expect(a.loads.size).toBeGreaterThanOrEqual(8);
    expect(b.loads).toEqual(a.loads);
    // One float at a time (a batch of one reads only that float's rows of the segments it shares).
    for (const id of ["3902131", "13857"]) {
      const one = await loadsOf(new LocalLakeStore(compacted), compacted, [id]);
      expect([...one.loads.keys()]).toEqual([id]);
      expect(one.loads.get(id)).toEqual(a.loads.get(id));
    }
  });

  it("(e) a float with rows under two DACs, one in a segment, is refused by the load", async () => {
    const lake = await copyOf();
    const wmo = "13857"; // in aoml's segments
    const key = (await new LocalLakeStore(staging).list(tablePrefix("floats"))).find((o) => parseTableFileKey(o.key)?.wmo === wmo)!.key;
    await cp(join(staging, key), join(lake, key.replace("/dac=aoml/", "/dac=meds/")));
    const files = await listLakeFiles(new LocalLakeStore(lake), lake);
    expect(files.conflicts.get(wmo)).toEqual(["aoml", "meds"]);
    const db = await openDuckDB({ threads: 1 });
    try {
      await focusOnFloats(db.conn, files, [wmo, "5900446"]);
      const { loads } = await readFloatLoads(db.conn);
      expect([...loads.keys()]).toEqual(["5900446"]);
    } finally {
      db.close();
    }
  });

  it("(e) a damaged segment fails its batch with the segment named", async () => {
    const lake = await copyOf();
    const seg = live.tables.profiles.find((s) => s.floats.includes("3902131"))!;
    await new LocalLakeStore(lake).put(seg.key, new TextEncoder().encode("not a parquet file"));
    const db = await openDuckDB({ threads: 1 });
    try {
      const files = await listLakeFiles(new LocalLakeStore(lake), lake);
      await expect((async () => {
        await focusOnFloats(db.conn, files, ["3902131"]);
        await readFloatLoads(db.conn);
      })()).rejects.toThrow(seg.key.split("/").pop()!);
      // Floats whose segments are sound still load.
      await focusOnFloats(db.conn, files, ["13857"]);
      expect([...(await readFloatLoads(db.conn)).loads.keys()]).toEqual(["13857"]);
    } finally {
      db.close();
    }
  });

  it("(e) runLoad over a damaged segment refuses the floats it holds, and loads every other float", async () => {
    const lake = await copyOf();
    const seg = live.tables.profiles.find((s) => s.floats.includes("3902131"))!;
    await new LocalLakeStore(lake).put(seg.key, new TextEncoder().encode("not a parquet file"));
    const redis = await testRedis("lakelive");
    try {
      const config = loadConfig({ env: { LAKE_URL: lake, REDIS_URL: redis.url, REDIS_PREFIX: redis.prefix, LOG_LEVEL: "error" }, envFile: "/nonexistent/.env" });
      const err = await runLoad(config, new LocalLakeStore(lake), quiet).then(() => null, (e: unknown) => e);
      expect(err).toBeInstanceOf(LoadError);
      const stats = (err as LoadError).context.stats as LoadStats;
      expect(stats.errors.map((e) => e.float_id).sort()).toEqual([...seg.floats].sort());
      expect(stats.errors.every((e) => e.error.includes(seg.key.split("/").pop()!))).toBe(true);
      const loadable = [...(await loadsOf(new LocalLakeStore(staging), staging, floats)).loads.keys()];
      expect(stats.floats_loaded).toBe(loadable.filter((f) => !seg.floats.includes(f)).length);
    } finally {
      await redis.cleanup();
    }
  });

  it("(g) a damaged live list fails every reader with an error naming parquet/_live.json", async () => {
    const lake = await copyOf();
    const store = new LocalLakeStore(lake);
    await store.put(LIVE_KEY, new TextEncoder().encode("{ half a live list"));
    await expect(viewsOf(lake)).rejects.toThrow(/parquet\/_live\.json is not JSON/);
    await expect(listLakeFiles(store, lake)).rejects.toThrow(/parquet\/_live\.json/);
    await store.put(LIVE_KEY, new TextEncoder().encode(JSON.stringify({ ...live, tables: { ...live.tables, floats: "none" } })));
    await expect(viewsOf(lake)).rejects.toThrow(/the live list parquet\/_live\.json is damaged: tables\.floats/);
  });

  it("(a, e) a lake compacted by runCompact (lib/lake/compact.ts) reads the same rows and FloatLoads", async () => {
    const lake = join(dir.path, "run-compact");
    await cp(staging, lake, { recursive: true });
    const store = new LocalLakeStore(lake);
    const env = { LAKE_URL: lake, LOG_LEVEL: "error", COMPACT_GRACE: "0", COMPACT_TARGET_ROWS: "30000", COMPACT_ROW_GROUP_ROWS: "2048" };
    const config = loadConfig({ env, envFile: "/nonexistent/.env" });
    await runCompact(config, store, quiet, { lock: null, all: true });
    // A second run collects what the first folded (no grace): only segments are left to read.
    await runCompact(config, store, quiet, { lock: null });
    const snap = await readSnapshot(store);
    for (const t of TABLES) {
      expect(snap.sources[t].filter((s) => s.kind === "staging"), t).toEqual([]);
      expect(snap.sources[t].length, t).toBeGreaterThan(0);
    }
    expect(snap.sources.measurements.some((s) => s.floats.length > 1)).toBe(true);
    expect(await viewsOf(lake)).toEqual(before);
    const a = await loadsOf(new LocalLakeStore(staging), staging, floats);
    expect((await loadsOf(store, lake, floats)).loads).toEqual(a.loads);
    for (const id of ["6903247", "5900446"]) expect((await loadsOf(store, lake, [id])).loads.get(id)).toEqual(a.loads.get(id));
  });

  describe("(f) an S3 lake, through the local cache", () => {
    let s3: TestS3;
    let store: LakeStore;
    let config: ReturnType<typeof loadConfig>;
    let cacheDir: string;

    beforeAll(async () => {
      s3 = await startS3();
      config = loadConfig({ env: { ...s3.env, LAKE_URL: s3.url("live"), LOG_LEVEL: "error" }, envFile: "/nonexistent/.env" });
      store = openLake(config);
      const local = new LocalLakeStore(compacted);
      for (const o of await local.list("parquet/")) await store.putFile(o.key, join(compacted, o.key));
      cacheDir = join(dir.path, "cache");
    }, 120_000);
    afterAll(async () => {
      await store?.close();
      await s3?.stop();
    });

    it("the query session answers as the staging files do, and the cache holds the live list and the segments", async () => {
      const lake = await openLakeSession(config, store, { cacheDir });
      try {
        expect(await tableDigests(lake.session)).toEqual(before);
        const segments = TABLES.reduce((n, t) => n + live.tables[t].length, 0);
        expect(lake.cache?.downloaded).toBe(segments);
        expect(lake.views.files.measurements).toBe(live.tables.measurements.length);
      } finally {
        lake.close();
      }
      expect((await readSnapshot(new LocalLakeStore(cacheDir))).live).toEqual(live);
    });

    it("a staging file and a tombstone on S3 hide segment rows through the cache, as on a local lake", async () => {
      const lake = await copyOf();
      const local = new LocalLakeStore(lake);
      await local.put(tombstoneKey("measurements", "aoml", "13857"), new Uint8Array());
      await store.put(tombstoneKey("measurements", "aoml", "13857"), new Uint8Array());
      const key = (await new LocalLakeStore(staging).list(tablePrefix("profiles"))).find((o) => parseTableFileKey(o.key)?.wmo === "6903247")!.key;
      await cp(join(staging, key), join(lake, key));
      await store.putFile(key, join(staging, key));
      const s = await openLakeSession(config, store, { cacheDir });
      try {
        expect(s.cache?.downloaded).toBe(2);
        expect(await tableDigests(s.session)).toEqual(await viewsOf(lake));
      } finally {
        s.close();
      }
      await store.delete(tombstoneKey("measurements", "aoml", "13857"));
      await store.delete(key);
    });

    it("a load limited to one float copies only the segments holding it and reads the same FloatLoad", async () => {
      const shared = join(dir.path, "cache-shard");
      const id = "3902131";
      const { stats, snapshot } = await syncParquetCache(store, shared, { floats: (f) => f === id });
      const holding = TABLES.reduce((n, t) => n + live.tables[t].filter((s) => s.floats.includes(id)).length, 0);
      expect(stats.downloaded).toBe(holding);
      const local = await localLakeFor(store, quiet, (f) => f === id);
      expect(local.snapshot).toBeDefined();
      const fromS3 = await loadsOf(local.store, local.root, [id], local.snapshot);
      // The snapshot of a limited copy shows that float alone, whole.
      expect(floatIdsOf(fromS3.files)).toEqual([id]);
      const fromStaging = await loadsOf(new LocalLakeStore(staging), staging, [id]);
      expect(fromS3.loads).toEqual(fromStaging.loads);
      expect(snapshot.sources.profiles.every((s) => s.floats.includes(id))).toBe(true);
      await rm(local.root, { recursive: true, force: true });
    });

    it("a damaged live list on S3 fails the query session naming parquet/_live.json", async () => {
      const good = await store.get(LIVE_KEY);
      await store.put(LIVE_KEY, new TextEncoder().encode("[]"));
      try {
        await expect(openLakeSession(config, store, { cacheDir })).rejects.toThrow(/the live list parquet\/_live\.json is damaged/);
      } finally {
        await store.put(LIVE_KEY, good!);
      }
    });
  });
});

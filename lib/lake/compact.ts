/**
 * Compaction: folds the staging files parse writes (one per float and
 * partition) into segments, large files of many floats sorted by float and
 * time, and commits them by one atomic put of the live list
 * (lib/lake/live.ts). Then garbage-collects what earlier commits made
 * redundant, once no reader can still be reading it.
 *
 * Per partition (table, dac, year) it rewrites, the new segments hold the
 * rows of its live segments minus the floats that are superseded (a staging
 * file in any partition of the table, or a tombstone, that no commit folded
 * as it is now: lib/lake/live.ts stagingByTable), plus the rows of its
 * staging files, ordered by float_id, time, cycle_number, direction,
 * profile_index, level (the table's columns among these), split at float
 * boundaries under COMPACT_TARGET_ROWS. A float is folded whole or not at
 * all: when one of its partitions is rewritten, every partition where it has
 * staging files or segment rows is rewritten too, so no staging file of it is
 * left behind to hide its new segment rows.
 *
 * Readers take a listing and then the live list (readSnapshot): the staging
 * files a commit folds stay listed until GC deletes them, COMPACT_GRACE after
 * the commit, so a float is read whole from before or after any commit.
 * Output is deterministic: one DuckDB thread, sorted rows, segment keys from
 * the commit number, so the same lake compacts to the same bytes.
 */
import { mkdir, mkdtemp, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Config } from "../config.ts";
import { type DuckSession, openDuckDB } from "../duckdb.ts";
import { LakeError } from "../errors.ts";
import type { Logger } from "../log.ts";
import { assertLakeExists } from "../removal-guard.ts";
import { openLock, type RunLock } from "../schedule/lock.ts";
import { LEVEL_KEY, TABLE_COLUMNS, TABLES, tableFileMetadata, type TableName } from "../../lake/schema.ts";
import { literalPath, sqlString } from "../../lake/views.ts";
import { type CompactStats, CompactStatsSchema, emptyCompactStats } from "./compact-stats.ts";
import { parseSegmentKey, parseTableFileKey, parseTombstoneKey, segmentKey, TOMBSTONE_PREFIX, tablePrefix } from "./layout.ts";
import { type Folded, isAsFolded, type LakeSnapshot, type LiveList, readSnapshot, type Segment, stagingByTable, writeLiveList } from "./live.ts";
import type { LakeObject, LakeStore } from "./store.ts";

export { type CompactStats, CompactStatsSchema } from "./compact-stats.ts";

/** Options of {@link runCompact}. */
export interface RunCompactOptions {
  /** Rewrite every partition that has staging files or hidden rows, whatever the policy says (compact --all). */
  all?: boolean;
  /** Stops before the commit: segments written so far stay invisible and are collected later. */
  signal?: AbortSignal;
  /** The lock that makes compactions exclusive; default: the "compact" lock of the config (null: none, the caller holds one). */
  lock?: RunLock | null;
}

/** The order rows take in a segment: these columns, those the table has. */
const SORT_ORDER = ["float_id", "time", ...LEVEL_KEY.slice(1), "parameter", "table_name", "column_name"];

/** The ORDER BY columns of a table's segments. */
export function segmentOrder(table: TableName): string[] {
  const names = new Set(TABLE_COLUMNS[table].map((c) => c.name));
  return SORT_ORDER.filter((c) => names.has(c));
}

/** One partition of one table, as the snapshot shows it. */
interface Partition {
  id: string;
  table: TableName;
  dac: string;
  year: string | null;
  segments: Segment[];
  staging: { obj: LakeObject; wmo: string }[];
  /** Floats of its segments whose rows are superseded. */
  hidden: Set<string>;
  selected: boolean;
}

/** What one table of the snapshot needs. */
interface TablePlan {
  table: TableName;
  partitions: Map<string, Partition>;
  /** Floats with a staging file or a tombstone. */
  superseded: Set<string>;
  tombstones: Map<string, LakeObject>;
  /** Per superseded float, the partitions holding its staging files or segment rows. */
  partsOf: Map<string, Set<string>>;
}

const partitionId = (dac: string, year: string | null) => `${dac}/${year ?? ""}`;

/**
 * Groups a snapshot's staging files, tombstones and live segments by table
 * and partition, by the hiding rule (lib/lake/live.ts stagingByTable): the
 * staging files and tombstones an earlier commit folded, still there until
 * GC, hold rows the segments have already; they count again only for a float
 * that is superseded, whose rows are then rebuilt from every staging file it has.
 */
function planTables(snap: LakeSnapshot): TablePlan[] {
  const staged = stagingByTable(snap.live, snap.listed.values());
  return TABLES.map((table) => {
    const { superseded, staging, tombstones } = staged[table];
    const plan: TablePlan = { table, partitions: new Map(), superseded, tombstones, partsOf: new Map() };
    const part = (dac: string, year: string | null): Partition => {
      const id = partitionId(dac, year);
      let p = plan.partitions.get(id);
      if (!p) plan.partitions.set(id, p = { id, table, dac, year, segments: [], staging: [], hidden: new Set(), selected: false });
      return p;
    };
    for (const s of staging) part(s.dac, s.year).staging.push({ obj: s.obj, wmo: s.wmo });
    for (const seg of snap.live.tables[table]) {
      const s = parseSegmentKey(seg.key);
      if (!s || s.table !== table) throw new LakeError(`the live list names ${seg.key} under ${table}: expected a segment key of that table`, { file: seg.key });
      const p = part(s.dac, s.year);
      p.segments.push(seg);
      for (const f of seg.floats) if (superseded.has(f)) p.hidden.add(f);
    }
    for (const p of plan.partitions.values()) {
      for (const f of [...p.staging.map((s) => s.wmo), ...p.hidden]) {
        let s = plan.partsOf.get(f);
        if (!s) plan.partsOf.set(f, s = new Set());
        s.add(p.id);
      }
    }
    return plan;
  });
}

/**
 * The policy: which partitions to rewrite. A partition with staging files or
 * hidden rows is rewritten on a first build, with `all`, when it has no
 * segments yet, or once its staged bytes plus its hidden rows' estimated
 * bytes reach COMPACT_MIN_SHARE of its segment bytes. Then every partition of
 * a float that is folded is rewritten too (a float is folded whole).
 */
function selectPartitions(plan: TablePlan, share: number, everything: boolean): void {
  const queue: Partition[] = [];
  for (const p of plan.partitions.values()) {
    if (p.staging.length === 0 && p.hidden.size === 0) continue;
    const segBytes = p.segments.reduce((a, s) => a + s.size, 0);
    const staged = p.staging.reduce((a, s) => a + s.obj.size, 0);
    const hidden = p.segments.reduce((a, s) => a + (s.floats.length ? s.size * s.floats.filter((f) => p.hidden.has(f)).length / s.floats.length : 0), 0);
    if (everything || segBytes === 0 || staged + hidden >= share * segBytes) {
      p.selected = true;
      queue.push(p);
    }
  }
  while (queue.length) {
    const p = queue.pop()!;
    for (const f of [...p.staging.map((s) => s.wmo), ...p.hidden]) {
      for (const id of plan.partsOf.get(f) ?? []) {
        const q = plan.partitions.get(id)!;
        if (!q.selected) {
          q.selected = true;
          queue.push(q);
        }
      }
    }
  }
}

/** Objects a commit folds: every staging file of a rewritten partition, and the tombstones of floats folded whole (or of none). */
function foldedOf(plan: TablePlan): { folded: LakeObject[]; floats: Set<string> } {
  const folded: LakeObject[] = [];
  const floats = new Set<string>();
  for (const p of plan.partitions.values()) {
    if (!p.selected) continue;
    for (const s of p.staging) {
      folded.push(s.obj);
      floats.add(s.wmo);
    }
    for (const f of p.hidden) floats.add(f);
  }
  for (const [wmo, obj] of plan.tombstones) {
    const parts = plan.partsOf.get(wmo);
    if (!parts || [...parts].every((id) => plan.partitions.get(id)!.selected)) {
      folded.push(obj);
      floats.add(wmo);
    }
  }
  return { folded, floats };
}

/** A live-list entry of an object as the snapshot listed it (with its ETag where the store gives one), folded by a commit made at `at`. */
const asFolded = (o: LakeObject, at: string): Folded => ({
  key: o.key,
  size: o.size,
  modified: o.modified.toISOString(),
  ...(o.etag === undefined ? {} : { etag: o.etag }),
  folded_at: at,
});

/** Runs a compaction of the lake. Throws on lake or DuckDB errors, before the commit (nothing becomes visible). */
export async function runCompact(config: Config, store: LakeStore, log: Logger, opts: RunCompactOptions = {}): Promise<CompactStats> {
  const started = new Date();
  const stats = emptyCompactStats(started);

  assertLakeExists(store, "compact");
  const lock = opts.lock === undefined ? openLock(config, store, "compact", { log }) : opts.lock;
  if (lock && !(await lock.tryAcquire())) {
    log.info("compact: another compaction holds the lock; nothing done", { lock: lock.description });
    stats.locked = true;
    return finish(stats, started);
  }
  try {
    const signal = AbortSignal.any([opts.signal, lock?.lost].filter((s): s is AbortSignal => s !== undefined));
    await compact(config, store, log, opts, signal, stats);
  } finally {
    await lock?.release().catch((err) => log.error("compact: cannot release the lock", { lock: lock.description, error: (err as Error).message }));
  }
  return finish(stats, started);
}

function finish(stats: CompactStats, started: Date): CompactStats {
  const ended = new Date();
  stats.end_time = ended.toISOString();
  stats.duration_s = (ended.getTime() - started.getTime()) / 1000;
  return CompactStatsSchema.parse(stats);
}

async function compact(config: Config, store: LakeStore, log: Logger, opts: RunCompactOptions, signal: AbortSignal, stats: CompactStats): Promise<void> {
  const snap = await readSnapshot(store);
  const live = snap.live;
  const commit = live.commit + 1;
  const everything = !!opts.all || live.commit === 0;
  const plans = planTables(snap);
  const folded: LakeObject[] = [];
  const selected: Partition[] = [];
  const floats = new Set<string>();
  for (const plan of plans) {
    selectPartitions(plan, config.COMPACT_MIN_SHARE, everything);
    const f = foldedOf(plan);
    folded.push(...f.folded);
    for (const wmo of f.floats) floats.add(wmo);
    for (const p of plan.partitions.values()) {
      if (p.selected) selected.push(p);
      else if (p.staging.length || p.hidden.size) stats.partitions_pending++;
    }
  }
  stats.commit = live.commit;
  log.info("compact: planned", { commit, partitions: selected.length, pending: stats.partitions_pending, files_folded: folded.length, first_build: live.commit === 0 });

  let next: LiveList = live;
  if (folded.length > 0 || selected.length > 0) {
    const work = await mkdtemp(join(tmpdir(), "argo-lake-compact-"));
    const db = await openDuckDB({ threads: 1 });
    try {
      await db.run(`SET memory_limit = '${COMPACT_MEMORY_LIMIT}'`);
      await db.run(`SET temp_directory = ${sqlString(join(work, "spill"))}`);
      await db.run("SET preserve_insertion_order = true");
      // Each input is read once: a cache of file bytes would only hold the buffer pool at its limit between partitions.
      await db.run("SET enable_external_file_cache = false");
      // Each segment is sorted into a table of this database first; its row groups are the segments' own, so
      // the COPY writes them as they are.
      const rowGroup = Math.ceil(config.COMPACT_ROW_GROUP_ROWS / 2048) * 2048;
      await db.run(`ATTACH ${sqlString(join(work, "sort.duckdb"))} AS compact_work (STORAGE_VERSION 'v1.2.0', ROW_GROUP_SIZE ${rowGroup})`);
      const written = new Map<string, Segment[]>();
      for (const p of selected) {
        if (signal.aborted) break;
        const superseded = plans.find((x) => x.table === p.table)!.superseded;
        written.set(`${p.table}/${p.id}`, await rewritePartition(config, store, db, work, p, superseded, commit, stats));
      }
      if (signal.aborted) {
        stats.aborted = true;
        log.warn("compact: stopped before the commit; the segments written stay invisible and are collected later", { commit });
        return;
      }
      // The commit's time: the grace of what it makes redundant runs from it, not from the plan (rewriting takes long).
      const at = new Date().toISOString();
      const retired: LiveList["retired"] = [...live.retired];
      const tables = { ...live.tables };
      for (const table of TABLES) {
        const keep: Segment[] = [];
        const rewritten = new Set(selected.filter((p) => p.table === table).map((p) => p.id));
        for (const seg of live.tables[table]) {
          const s = parseSegmentKey(seg.key)!;
          if (rewritten.has(partitionId(s.dac, s.year))) retired.push({ key: seg.key, retired_at: at });
          else keep.push(seg);
        }
        for (const p of selected) if (p.table === table) keep.push(...written.get(`${table}/${p.id}`)!);
        tables[table] = keep.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
      }
      stats.segments_retired = retired.length - live.retired.length;
      // A key folded again replaces its earlier entry: its grace runs from this commit (readers of the last
      // live list may be reading it as a superseded float's staging file).
      const refolded = new Set(folded.map((o) => o.key));
      const entries = [...live.folded.filter((f) => !refolded.has(f.key)), ...folded.map((o) => asFolded(o, at))];
      next = { ...live, commit, committed_at: at, run_id: log.runId ?? null, tables, folded: entries, retired };
      await writeLiveList(store, next);
      stats.committed = true;
      stats.commit = commit;
      stats.partitions = selected.length;
      stats.files_folded = folded.length;
      stats.floats_folded = floats.size;
      log.info("compact: committed", { commit, partitions: selected.length, segments: stats.segments_written, rows: stats.rows, bytes: stats.bytes_written, folded: folded.length });
    } finally {
      db.close();
      await rm(work, { recursive: true, force: true });
    }
  }
  await collectGarbage(config, store, log, next, snap, stats);
}

/**
 * DuckDB's buffer pool in a compaction. Sorting a partition spills past it to
 * the work folder, so the job's peak RSS is about this plus the Parquet
 * writer's row group and Node's own, whatever the lake's size (bench/compact-memory.ts).
 */
const COMPACT_MEMORY_LIMIT = "256MB";

/** Quoted identifier. */
const ident = (name: string): string => `"${name.replace(/"/g, '""')}"`;

/**
 * Writes the new segments of one partition: its live segments' rows without
 * the superseded floats, and its staging files' rows, sorted, split at float
 * boundaries. Returns them as live-list entries (none when no row is left).
 */
async function rewritePartition(
  config: Config,
  store: LakeStore,
  db: DuckSession,
  work: string,
  p: Partition,
  superseded: ReadonlySet<string>,
  commit: number,
  stats: CompactStats,
): Promise<Segment[]> {
  const inputs = join(work, "in");
  await mkdir(inputs, { recursive: true });
  let downloaded = 0;
  // DuckDB reads local lakes in place; an S3 lake's inputs are fetched to the work folder first.
  const pathOf = async (key: string): Promise<string> => {
    if (store.localRoot) return join(store.localRoot, ...key.split("/"));
    const bytes = await store.get(key);
    if (!bytes) throw new LakeError(`compact: ${key} is listed but gone: is a parse running beside the compaction?`, { file: key });
    const path = join(inputs, `${downloaded++}.parquet`);
    await writeFile(path, bytes);
    return path;
  };
  const read = (paths: string[]) => `SELECT * FROM read_parquet([${paths.map((x) => sqlString(literalPath(x))).join(", ")}], hive_partitioning = false)`;
  const parts: string[] = [];
  const whole: string[] = [];
  for (const seg of p.segments) {
    const hide = seg.floats.filter((f) => superseded.has(f));
    if (hide.length === seg.floats.length) continue;
    const path = await pathOf(seg.key);
    if (hide.length === 0) whole.push(path);
    else parts.push(`${read([path])} WHERE float_id NOT IN (${hide.map(sqlString).join(", ")})`);
  }
  for (const s of p.staging) whole.push(await pathOf(s.obj.key));
  if (whole.length) parts.unshift(read(whole));
  if (parts.length === 0) return [];
  await db.run(`CREATE OR REPLACE TEMP VIEW compact_source AS ${parts.join("\nUNION ALL\n")}`);
  const counts = (await db.all("SELECT float_id, count(*)::BIGINT AS n FROM compact_source GROUP BY float_id ORDER BY float_id"))
    .map((r) => ({ wmo: String(r.float_id), n: Number(r.n) }));
  const groups = floatRuns(counts, config.COMPACT_TARGET_ROWS);
  const kv = Object.entries(tableFileMetadata(p.table)).sort(([a], [b]) => (a < b ? -1 : a > b ? 1 : 0));
  const options = [
    "FORMAT parquet",
    `COMPRESSION ${config.ARROW_COMPRESSION}`,
    `ROW_GROUP_SIZE ${config.COMPACT_ROW_GROUP_ROWS}`,
    `KV_METADATA {${kv.map(([k, v]) => `${sqlString(k)}: ${sqlString(v)}`).join(", ")}}`,
  ].join(", ");
  const order = segmentOrder(p.table).map(ident).join(", ");
  const out: Segment[] = [];
  for (const [n, group] of groups.entries()) {
    const key = segmentKey(p.table, p.dac, p.year, commit, n);
    const path = join(work, `segment-${n}.parquet`);
    // Sorted into a table on disk first, then copied in its insertion order: a sort inside the COPY holds
    // the sort and the writer's row groups in memory at once. The rows are ordered by float first, so the
    // table is filled a run of floats at a time, each run sorted on its own and appended in float order:
    // one sort of a whole segment (millions of rows read from a segment and staging files) did not stay
    // within the memory limit, a run of about a row group's rows does, whatever the segment's size.
    await db.run(`CREATE TABLE compact_work.segment AS SELECT * FROM compact_source LIMIT 0`);
    await db.run("BEGIN TRANSACTION");
    for (const run of floatRuns(group, config.COMPACT_ROW_GROUP_ROWS)) {
      const a = sqlString(run[0]!.wmo), b = sqlString(run.at(-1)!.wmo);
      await db.run(`INSERT INTO compact_work.segment SELECT * FROM compact_source WHERE float_id BETWEEN ${a} AND ${b} ORDER BY ${order}`);
    }
    await db.run("COMMIT");
    await db.run(`COPY (SELECT * FROM compact_work.segment) TO ${sqlString(path)} (${options})`);
    await db.run("DROP TABLE compact_work.segment");
    const size = (await stat(path)).size;
    await store.putFile(key, path);
    await rm(path, { force: true });
    const segRows = group.reduce((a, g) => a + g.n, 0);
    out.push({ key, size, rows: segRows, floats: group.map((g) => g.wmo).sort() });
    stats.segments_written++;
    stats.rows += segRows;
    stats.bytes_written += size;
  }
  await rm(inputs, { recursive: true, force: true });
  return out;
}

/** Floats in order, cut before the float that would take a run past `limit` rows (a float alone may exceed it). */
function floatRuns<T extends { n: number }>(floats: readonly T[], limit: number): T[][] {
  const runs: T[][] = [];
  let rows = Infinity;
  for (const f of floats) {
    if (rows + f.n > limit) {
      runs.push([]);
      rows = 0;
    }
    runs.at(-1)!.push(f);
    rows += f.n;
  }
  return runs;
}

/**
 * Deletes what no reader needs any more, COMPACT_GRACE after the commit that
 * made it redundant: folded staging files and tombstones still as they were
 * folded, retired segments, and orphan segments (a crashed compaction's:
 * segment keys neither live nor retired). A folded object of a float that is
 * superseded in its table now (a staging file rewritten since, e.g. by a
 * parse that stopped after one file or is writing beside this run) stays,
 * with its entry: readers read that float whole from its staging files until
 * a commit folds it again. "Now" is a listing taken after the commit, not the
 * snapshot, which a parse may have changed meanwhile. Puts the live list
 * again with what is left to collect.
 */
async function collectGarbage(config: Config, store: LakeStore, log: Logger, live: LiveList, snap: LakeSnapshot, stats: CompactStats): Promise<void> {
  const cutoff = Date.now() - config.COMPACT_GRACE * 1000;
  const due = (iso: string) => Date.parse(iso) <= cutoff;
  const del = async (key: string, size: number) => {
    await store.delete(key);
    stats.files_deleted++;
    stats.bytes_deleted += size;
  };
  const folded = live.folded.filter((f) => !due(f.folded_at));
  const dueFolded = live.folded.filter((f) => due(f.folded_at));
  const refOf = (key: string) => parseTableFileKey(key) ?? parseTombstoneKey(key);
  const tables = [...new Set(dueFolded.flatMap((f) => refOf(f.key)?.table ?? []))];
  const listing: LakeObject[] = [];
  if (tables.length) for (const prefix of [...tables.map(tablePrefix), TOMBSTONE_PREFIX]) listing.push(...await store.list(prefix));
  const current = stagingByTable(live, listing);
  let kept = 0;
  for (const f of dueFolded) {
    const ref = refOf(f.key);
    if (ref && current[ref.table].superseded.has(ref.wmo)) {
      folded.push(f);
      kept++;
      continue;
    }
    const obj = await store.stat(f.key);
    if (obj && isAsFolded(f, obj)) await del(f.key, obj.size);
  }
  if (kept) log.info("compact: folded files of re-staged floats kept until they are folded again", { files: kept });
  const retired: LiveList["retired"] = [];
  for (const r of live.retired) {
    if (!due(r.retired_at)) {
      retired.push(r);
      continue;
    }
    const now = await store.stat(r.key);
    if (now) await del(r.key, now.size);
  }
  const named = new Set([...TABLES.flatMap((t) => live.tables[t].map((s) => s.key)), ...live.retired.map((r) => r.key)]);
  for (const o of snap.listed.values()) {
    if (parseSegmentKey(o.key) && !named.has(o.key) && o.modified.getTime() <= cutoff) await del(o.key, o.size);
  }
  if (folded.length !== live.folded.length || retired.length !== live.retired.length) {
    await writeLiveList(store, { ...live, folded, retired });
  }
  if (stats.files_deleted) log.info("compact: garbage collected", { files: stats.files_deleted, bytes: stats.bytes_deleted, grace_s: config.COMPACT_GRACE });
}

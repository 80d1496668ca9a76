/**
 * A local copy of an S3 lake's Parquet files, so DuckDB can query an S3 lake
 * without its httpfs extension (which cannot be installed without network).
 * Each sync downloads only objects whose content changed (by ETag where it is
 * an MD5, else by size and modification time) and removes local files whose
 * object is gone; writes are atomic.
 *
 * Several processes may share one cache directory (shard workers on one
 * machine, a query beside a load): copies are written under hidden temporary
 * names and renamed into place, a sync never removes another's temporary
 * files, and it removes a copy only when the copy is older than its own
 * listing of the lake (a copy made after that listing came from a newer
 * listing that had the object). A sync may be limited to some floats
 * (`floats`, e.g. a shard's) and then neither fetches nor removes others'.
 *
 * A sync copies one snapshot of the lake (lib/lake/live.ts): the table
 * folders and tombstones as listed, then the live list and the committed
 * segments it names. Readers of the copy take the snapshot the sync returns
 * rather than listing the copy, which another process's sync may be
 * changing meanwhile.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative, sep } from "node:path";
import { LakeError } from "../errors.ts";
import { TABLES } from "../../lake/schema.ts";
import { LIVE_KEY, PARQUET_PREFIX, parseSegmentKey, parseTableFileKey, parseTombstoneKey } from "./layout.ts";
import { type LakeSnapshot, snapshotAfter, type TableSource, type TableSources, writeLiveList } from "./live.ts";
import { LocalLakeStore } from "./local.ts";
import type { LakeObject, LakeStore } from "./store.ts";

/** What a cache sync did. */
export interface CacheSyncStats {
  root: string;
  downloaded: number;
  removed: number;
  kept: number;
  bytes_downloaded: number;
}

/** The default cache directory of a lake: one folder per lake under the OS temp dir. */
export function defaultCacheDir(store: LakeStore): string {
  const id = createHash("sha256").update(store.description).digest("hex").slice(0, 16);
  return join(tmpdir(), "argo-lake-cache", id);
}

/** Every file below `dir`, as "/"-separated paths relative to `root`. */
async function localFiles(root: string, dir: string): Promise<string[]> {
  try {
    const entries = await readdir(dir, { recursive: true, withFileTypes: true });
    return entries.filter((e) => e.isFile()).map((e) => relative(root, join(e.parentPath, e.name)).split(sep).join("/"));
  } catch {
    return [];
  }
}

/**
 * Whether the cached copy at `path` holds the object's bytes. S3 gives times
 * to the second only, so a file rewritten within a second at the same size
 * is told apart by its ETag, which is the MD5 of a single-part put.
 */
async function isCurrent(path: string, o: LakeObject): Promise<boolean> {
  const local = await stat(path).catch(() => null);
  if (!local || local.size !== o.size) return false;
  const md5 = /^"?([0-9a-f]{32})"?$/.exec(o.etag ?? "")?.[1];
  if (md5) return createHash("md5").update(await readFile(path)).digest("hex") === md5;
  // A copy carries its object's modification time, so equal size and time mean equal content.
  return Math.floor(local.mtimeMs / 1000) === Math.floor(o.modified.getTime() / 1000);
}

/** What a cache sync covers. */
export interface CacheSyncOptions {
  /**
   * Only the files of the floats this accepts are copied (their staging files
   * and tombstones, and the committed segments holding any of them), and only
   * those copies removed; every float by default.
   */
  floats?: (wmo: string) => boolean;
}

/** What a cache sync did, and what DuckDB should read from the copy. */
export interface CacheSync {
  stats: CacheSyncStats;
  /**
   * The lake's snapshot the sync copied (one listing, then the live list),
   * its sources keys of the copy below `stats.root`: the floats `floats`
   * accepts, whole, and no other rows.
   */
  snapshot: LakeSnapshot;
}

/**
 * The float of a staging file or tombstone key, the segment's key for a
 * segment, null for another key (parse state, the live list, temporary files).
 */
function managed(key: string): { wmo: string } | { segment: string } | null {
  const f = parseTableFileKey(key) ?? parseTombstoneKey(key);
  if (f) return { wmo: f.wmo };
  return parseSegmentKey(key) ? { segment: key } : null;
}

/** Copies one object into the cache (hidden temporary name, then rename); false when it is gone. */
async function copyIn(store: LakeStore, cacheDir: string, o: LakeObject, stats: CacheSyncStats): Promise<boolean> {
  const path = join(cacheDir, ...o.key.split("/"));
  if (await isCurrent(path, o)) {
    stats.kept++;
    return true;
  }
  const bytes = await store.get(o.key);
  if (!bytes) return false; // removed since the listing
  const tmp = join(dirname(path), `.${randomBytes(6).toString("hex")}.tmp`);
  try {
    await mkdir(dirname(path), { recursive: true });
    await writeFile(tmp, bytes);
    await utimes(tmp, o.modified, o.modified);
    await rename(tmp, path);
  } catch (err) {
    await rm(tmp, { force: true });
    throw new LakeError(`cannot cache ${o.key} in ${cacheDir}: ${(err as Error).message}`, { file: o.key, stage: "query" }, { cause: err });
  }
  stats.downloaded++;
  stats.bytes_downloaded += bytes.byteLength;
  return true;
}

/**
 * Brings `<cacheDir>/parquet/` up to date with one snapshot of the lake's
 * tables: its staging files, tombstones, committed segments and live list
 * (parse state objects, uncommitted segments and segments every float of
 * which is superseded excluded), or with the part of them `floats` accepts.
 * The live list is written last, after the segments a reader of the copy
 * scans. Returns the local root and snapshot to give DuckDB.
 */
export async function syncParquetCache(store: LakeStore, cacheDir: string, opts: CacheSyncOptions = {}): Promise<CacheSync> {
  const stats: CacheSyncStats = { root: cacheDir, downloaded: 0, removed: 0, kept: 0, bytes_downloaded: 0 };
  const wantFloat = opts.floats ?? (() => true);
  const listedAt = Date.now();
  const listing = await store.list(PARQUET_PREFIX);
  const remote = new Set(listing.map((o) => o.key));
  const snap = await snapshotAfter(store, listing);
  const live = new Map(TABLES.flatMap((t) => snap.live.tables[t].map((seg) => [seg.key, seg] as const)));
  // Segments a reader scans: live, and not superseded whole (lib/lake/live.ts resolveSources leaves those out).
  const read = new Set(TABLES.flatMap((t) => snap.sources[t].filter((s) => s.kind === "segment").map((s) => s.key)));
  const wanted = (key: string): boolean => {
    const m = managed(key);
    if (!m) return false;
    if ("wmo" in m) return wantFloat(m.wmo);
    return read.has(m.segment) && live.get(m.segment)!.floats.some(wantFloat);
  };

  const gone = new Set<string>();
  for (const o of snap.listed.values()) {
    if (parseSegmentKey(o.key) || !wanted(o.key)) continue;
    if (!(await copyIn(store, cacheDir, o, stats))) gone.add(o.key);
  }
  for (const seg of live.values()) {
    if (!wanted(seg.key)) continue;
    // A segment committed after the listing is not in it: its object is asked for.
    const o = snap.listed.get(seg.key) ?? (await store.stat(seg.key));
    if (!o || !(await copyIn(store, cacheDir, o, stats))) {
      throw new LakeError(`the live list ${LIVE_KEY} names ${seg.key}, which is not in the lake: expected every committed segment to be there`, { file: seg.key, stage: "query" });
    }
  }
  const local = new LocalLakeStore(cacheDir);
  if (snap.live.commit > 0) await writeLiveList(local, snap.live);
  else await local.delete(LIVE_KEY);

  for (const key of await localFiles(cacheDir, join(cacheDir, "parquet"))) {
    const m = managed(key);
    if (!m || remote.has(key) || live.has(key)) continue;
    // Another float's copy is another sync's to remove; a segment the live list no longer names is every sync's.
    if ("wmo" in m && !wantFloat(m.wmo)) continue;
    const path = join(cacheDir, ...key.split("/"));
    // Copied (renamed into place) after our listing: by a sync that listed the object, so it stays.
    const copy = await stat(path).catch(() => null);
    if (!copy || copy.ctimeMs >= listedAt) continue;
    await rm(path, { force: true });
    stats.removed++;
  }
  return { stats, snapshot: { ...snap, sources: copiedSources(snap.sources, wantFloat, gone) } };
}

/**
 * A snapshot's sources restricted to what a sync copied: the accepted
 * floats' staging files still there, and the segments holding any accepted
 * float, with the other floats' rows hidden (their staging files are not in
 * the copy, so their segment rows alone would not be them, whole).
 */
function copiedSources(sources: TableSources, wantFloat: (wmo: string) => boolean, gone: ReadonlySet<string>): TableSources {
  const out = {} as TableSources;
  for (const table of TABLES) {
    out[table] = sources[table].flatMap((s): TableSource[] => {
      if (s.kind === "staging") return wantFloat(s.floats[0]!) && !gone.has(s.key) ? [s] : [];
      if (!s.floats.some(wantFloat)) return [];
      const others = s.floats.filter((f) => !wantFloat(f));
      return [others.length ? { ...s, hide: [...new Set([...s.hide, ...others])].sort() } : s];
    });
  }
  return out;
}

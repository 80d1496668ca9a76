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
 * listing that had the object). A sync may be limited to some objects
 * (`keep`, e.g. a shard's floats) and then neither fetches nor removes others.
 */
import { createHash, randomBytes } from "node:crypto";
import { mkdir, readdir, readFile, rename, rm, stat, utimes, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { dirname, join, relative, sep } from "node:path";
import { LakeError } from "../errors.ts";
import { PARQUET_PREFIX, parseTableFileKey } from "./layout.ts";
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
  /** Only objects whose key this accepts are copied, and only their copies removed; every Parquet object by default. */
  keep?: (key: string) => boolean;
}

/** Whether a cached path is a table file a sync manages (not a temporary file, not parse state). */
const isTableKey = (key: string): boolean => parseTableFileKey(key) !== null;

/**
 * Brings `<cacheDir>/parquet/` up to date with the lake's `parquet/` tables
 * (parse state objects excluded), or with the objects `keep` accepts.
 * Returns the local root to give DuckDB.
 */
export async function syncParquetCache(store: LakeStore, cacheDir: string, opts: CacheSyncOptions = {}): Promise<CacheSyncStats> {
  const stats: CacheSyncStats = { root: cacheDir, downloaded: 0, removed: 0, kept: 0, bytes_downloaded: 0 };
  const keep = (key: string) => isTableKey(key) && (!opts.keep || opts.keep(key));
  const listedAt = Date.now();
  const remote = (await store.list(PARQUET_PREFIX)).filter((o) => keep(o.key));
  const wanted = new Set(remote.map((o) => o.key));
  for (const o of remote) {
    const path = join(cacheDir, ...o.key.split("/"));
    if (await isCurrent(path, o)) {
      stats.kept++;
      continue;
    }
    const bytes = await store.get(o.key);
    if (!bytes) continue; // removed since the listing
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
  }
  for (const key of await localFiles(cacheDir, join(cacheDir, "parquet"))) {
    if (wanted.has(key) || !keep(key)) continue;
    const path = join(cacheDir, ...key.split("/"));
    // Copied (renamed into place) after our listing: by a sync that listed the object, so it stays.
    const local = await stat(path).catch(() => null);
    if (!local || local.ctimeMs >= listedAt) continue;
    await rm(path, { force: true });
    stats.removed++;
  }
  return stats;
}

/**
 * Where DuckDB reads the lake from for the load: the lake's own directory
 * when it is local; for an S3 lake, the local copy of its Parquet files that
 * lib/lake/cache.ts keeps up to date (only changed objects are downloaded),
 * with the snapshot that copy was made from.
 */
import { defaultCacheDir, syncParquetCache } from "../lake/cache.ts";
import type { LakeSnapshot } from "../lake/live.ts";
import { LocalLakeStore } from "../lake/local.ts";
import type { LakeStore } from "../lake/store.ts";
import type { Logger } from "../log.ts";

/** A local directory with the lake's `parquet/` tree, and a store over it to list files. */
export interface LocalLake {
  root: string;
  store: LakeStore;
  /**
   * For a copy of an S3 lake, the snapshot it was made from (read it rather
   * than listing the copy, which other processes' syncs may be changing).
   */
  snapshot?: LakeSnapshot;
}

/**
 * The local lake the load's DuckDB reads. For an S3 lake only the files of
 * the floats `keep` accepts are copied (a shard's, or the floats named: their
 * staging files, tombstones and the segments holding them), so N shard
 * workers each download their own share of the lake, not all of it.
 */
export async function localLakeFor(store: LakeStore, log: Logger, keep?: (wmo: string) => boolean): Promise<LocalLake> {
  if (store.localRoot) return { root: store.localRoot, store };
  const { stats, snapshot } = await syncParquetCache(store, defaultCacheDir(store), { floats: keep });
  log.info("lake Parquet files cached locally for DuckDB", { ...stats });
  return { root: stats.root, store: new LocalLakeStore(stats.root), snapshot };
}

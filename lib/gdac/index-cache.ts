/**
 * The GDAC index files, fetched conditionally and cached in the lake at
 * `raw/_index/<name>` with their validators in `raw/_index/<name>.json`.
 * The `.gz` form is asked for first; a 404 falls back to the plain `.txt`.
 */
import { createHash } from "node:crypto";
import { Readable } from "node:stream";
import { createGunzip } from "node:zlib";
import { z } from "zod";
import { SyncError } from "../errors.ts";
import { indexKey, indexMetaKey } from "../lake/layout.ts";
import type { LakeStore } from "../lake/store.ts";
import type { Logger } from "../log.ts";
import { INDEX_NAMES, type IndexKind } from "./index-file.ts";
import type { GdacSource } from "./source.ts";

/** Sidecar of a cached index file: what the server said about it, and what we stored. */
export const IndexCacheMetaSchema = z.object({
  name: z.string(),
  /** Where it came from, without credentials (GdacSource.description). */
  source: z.string(),
  etag: z.string().nullable(),
  last_modified: z.string().nullable(),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  fetched_at: z.string(),
  /** Data rows it holds (refused ones included): the next copy's row count is judged against it. */
  rows: z.number().int().nonnegative().optional(),
  /** Floats it lists. */
  floats: z.number().int().nonnegative().optional(),
});
export type IndexCacheMeta = z.infer<typeof IndexCacheMetaSchema>;

/** One index file's bytes, as fetched or from the cache. */
export interface IndexCopy {
  kind: IndexKind;
  /** The file name served, e.g. ar_index_global_prof.txt.gz. */
  name: string;
  bytes: Uint8Array;
  gz: boolean;
  /** True when this is the lake's cached copy (the server said not modified, or a fresh copy was refused). */
  cached: boolean;
  /** The server's validators (fresh copies). */
  etag: string | null;
  lastModified: string | null;
  /** The sidecar of the cached copy of this index, if there is one: what a fresh copy is judged against. */
  previous: IndexCacheMeta | null;
}

export interface IndexFetchOptions {
  /** Send conditional requests (ENABLE_INCREMENTAL_SYNC). */
  incremental: boolean;
  signal?: AbortSignal;
}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/**
 * Fetches one index file (gz first); null when the source has neither form.
 * A fresh copy is not stored yet: the caller judges it whole first, then
 * keeps it (keepIndex) or falls back to the cached copy (cachedIndex).
 */
export async function fetchIndex(
  source: GdacSource,
  store: LakeStore,
  kind: IndexKind,
  log: Logger,
  opts: IndexFetchOptions,
): Promise<IndexCopy | null> {
  const cached = await cachedIndex(store, kind, log);
  for (const name of [`${INDEX_NAMES[kind]}.gz`, INDEX_NAMES[kind]]) {
    const gz = name.endsWith(".gz");
    const usable = opts.incremental && cached?.name === name && cached.previous?.source === source.description ? cached : null;
    let res = await source.fetchIndex(name, {
      conditional: usable ? { etag: usable.previous!.etag, lastModified: usable.previous!.last_modified } : undefined,
      signal: opts.signal,
    });
    if (res.status === "not_found") continue;
    if (res.status === "not_modified") {
      if (usable) {
        log.info("index not modified: using the cached copy", { index: name });
        return usable;
      }
      log.warn("cached index copy missing or damaged: fetching it whole", { index: name });
      res = await source.fetchIndex(name, { signal: opts.signal });
      if (res.status !== "ok") throw new SyncError(`index ${name}: the server answered ${res.status} to a plain GET`, { file: name });
    }
    log.info("index fetched", { index: name, bytes: res.body.byteLength });
    return { kind, name, bytes: res.body, gz, cached: false, etag: res.etag, lastModified: res.lastModified, previous: cached?.previous ?? null };
  }
  return null;
}

/** Stores a fresh copy that passed its checks, with a sidecar recording its validators and counts. */
export async function keepIndex(store: LakeStore, source: GdacSource, copy: IndexCopy, counts: { rows: number; floats: number }): Promise<void> {
  const other = copy.gz ? copy.name.slice(0, -3) : `${copy.name}.gz`;
  await store.put(indexKey(copy.name), copy.bytes);
  const sidecar: IndexCacheMeta = {
    name: copy.name,
    source: source.description,
    etag: copy.etag,
    last_modified: copy.lastModified,
    size: copy.bytes.byteLength,
    sha256: sha256(copy.bytes),
    fetched_at: new Date().toISOString(),
    rows: counts.rows,
    floats: counts.floats,
  };
  await store.put(indexMetaKey(copy.name), new TextEncoder().encode(JSON.stringify(sidecar, null, 1)));
  // One cached copy per index: the other form, if the server switched, would be judged against stale counts.
  if (await store.get(indexMetaKey(other))) await store.delete(indexMetaKey(other));
}

/** The lake's cached copy of an index (either form), checked against its sidecar; null when there is none that checks. */
export async function cachedIndex(store: LakeStore, kind: IndexKind, log: Logger): Promise<IndexCopy | null> {
  for (const name of [`${INDEX_NAMES[kind]}.gz`, INDEX_NAMES[kind]]) {
    const meta = await readMeta(store, name, log);
    if (!meta) continue;
    const bytes = await store.get(indexKey(name));
    if (!bytes || bytes.byteLength !== meta.size || sha256(bytes) !== meta.sha256) {
      log.warn("cached index copy missing or damaged: not used", { index: name });
      continue;
    }
    return { kind, name, bytes, gz: name.endsWith(".gz"), cached: true, etag: meta.etag, lastModified: meta.last_modified, previous: meta };
  }
  return null;
}

async function readMeta(store: LakeStore, name: string, log: Logger): Promise<IndexCacheMeta | null> {
  const bytes = await store.get(indexMetaKey(name));
  if (!bytes) return null;
  const parsed = IndexCacheMetaSchema.safeParse(safeJson(bytes));
  if (!parsed.success) log.warn("index cache sidecar unreadable: ignoring it", { index: name });
  return parsed.success ? parsed.data : null;
}

function safeJson(bytes: Uint8Array): unknown {
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

/**
 * The text of an index copy as a stream of chunks, decompressed on the fly
 * when gzipped. Decompression stops with a SyncError past `maxBytes` of
 * output (MAX_DECOMPRESSED_BYTES): a small body that inflates without end is a
 * decompression bomb, refused by name before it costs more than that.
 */
export async function* indexChunks(copy: IndexCopy, maxBytes = Infinity): AsyncGenerator<Uint8Array> {
  if (!copy.gz) {
    const step = 4 * 1024 * 1024;
    for (let at = 0; at < copy.bytes.byteLength; at += step) yield copy.bytes.subarray(at, at + step);
    return;
  }
  const gunzip = Readable.from([copy.bytes]).pipe(createGunzip({ chunkSize: 1024 * 1024 }));
  let total = 0;
  try {
    for await (const chunk of gunzip) {
      total += (chunk as Uint8Array).byteLength;
      if (total > maxBytes) {
        throw new SyncError(
          `index ${copy.name}: expected at most MAX_DECOMPRESSED_BYTES=${maxBytes} bytes once decompressed, found more than that from ${copy.bytes.byteLength} compressed bytes: refused as a decompression bomb`,
          { file: copy.name },
        );
      }
      yield chunk as Uint8Array;
    }
  } catch (err) {
    if (err instanceof SyncError) throw err;
    throw new SyncError(`index ${copy.name} could not be decompressed: ${(err as Error).message}`, { file: copy.name }, { cause: err });
  } finally {
    gunzip.destroy();
  }
}

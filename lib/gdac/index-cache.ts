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
import type { LakeStore } from "../lake/store.ts";
import type { Logger } from "../log.ts";
import { INDEX_NAMES, type IndexKind } from "./index-file.ts";
import type { GdacSource } from "./source.ts";

/** Sidecar of a cached index file: what the server said about it, and what we stored. */
export const IndexCacheMetaSchema = z.object({
  name: z.string(),
  source: z.string(),
  etag: z.string().nullable(),
  last_modified: z.string().nullable(),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  fetched_at: z.string(),
});
export type IndexCacheMeta = z.infer<typeof IndexCacheMetaSchema>;

/** Lake key of a cached index file. */
export const indexKey = (name: string): string => `raw/_index/${name}`;

/** One index file's bytes, as fetched or from the cache. */
export interface IndexCopy {
  kind: IndexKind;
  /** The file name served, e.g. ar_index_global_prof.txt.gz. */
  name: string;
  bytes: Uint8Array;
  gz: boolean;
  /** True when the server said not modified and the cached copy was used. */
  cached: boolean;
}

export interface IndexFetchOptions {
  /** Send conditional requests (ENABLE_INCREMENTAL_SYNC). */
  incremental: boolean;
  signal?: AbortSignal;
}

const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

/** Fetches one index file (gz first), caching it in the lake; null when the source has neither form. */
export async function fetchIndex(
  source: GdacSource,
  store: LakeStore,
  kind: IndexKind,
  log: Logger,
  opts: IndexFetchOptions,
): Promise<IndexCopy | null> {
  for (const name of [`${INDEX_NAMES[kind]}.gz`, INDEX_NAMES[kind]]) {
    const gz = name.endsWith(".gz");
    const meta = opts.incremental ? await readMeta(store, name, log) : null;
    const usable = meta && meta.source === source.description ? meta : null;
    let res = await source.fetchIndex(name, {
      conditional: usable ? { etag: usable.etag, lastModified: usable.last_modified } : undefined,
      signal: opts.signal,
    });
    if (res.status === "not_found") continue;
    if (res.status === "not_modified") {
      const bytes = await store.get(indexKey(name));
      if (bytes && usable && bytes.byteLength === usable.size && sha256(bytes) === usable.sha256) {
        log.info("index not modified: using the cached copy", { index: name });
        return { kind, name, bytes, gz, cached: true };
      }
      log.warn("cached index copy missing or damaged: fetching it whole", { index: name });
      res = await source.fetchIndex(name, { signal: opts.signal });
      if (res.status !== "ok") throw new SyncError(`index ${name}: the server answered ${res.status} to a plain GET`, { file: name });
    }
    const body = res.body;
    await store.put(indexKey(name), body);
    const sidecar: IndexCacheMeta = {
      name,
      source: source.description,
      etag: res.etag,
      last_modified: res.lastModified,
      size: body.byteLength,
      sha256: sha256(body),
      fetched_at: new Date().toISOString(),
    };
    await store.put(indexKey(name) + ".json", new TextEncoder().encode(JSON.stringify(sidecar, null, 1)));
    log.info("index fetched", { index: name, bytes: body.byteLength });
    return { kind, name, bytes: body, gz, cached: false };
  }
  return null;
}

async function readMeta(store: LakeStore, name: string, log: Logger): Promise<IndexCacheMeta | null> {
  const bytes = await store.get(indexKey(name) + ".json");
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

/** The text of an index copy as a stream of chunks, decompressed on the fly when gzipped. */
export async function* indexChunks(copy: IndexCopy): AsyncGenerator<Uint8Array> {
  if (!copy.gz) {
    const step = 4 * 1024 * 1024;
    for (let at = 0; at < copy.bytes.byteLength; at += step) yield copy.bytes.subarray(at, at + step);
    return;
  }
  const gunzip = Readable.from([copy.bytes]).pipe(createGunzip({ chunkSize: 1024 * 1024 }));
  try {
    for await (const chunk of gunzip) yield chunk as Uint8Array;
  } catch (err) {
    throw new SyncError(`index ${copy.name} could not be decompressed: ${(err as Error).message}`, { file: copy.name }, { cause: err });
  }
}

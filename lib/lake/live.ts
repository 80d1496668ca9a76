/**
 * The live list: which files make up each lake table now.
 *
 * A table is its committed segments (large files of many floats, written by
 * compaction, named in `parquet/_live.json`) plus its staging files (one per
 * float and partition, written by parse). The staging files of a float
 * supersede its rows in the segments: a float with a staging file or a
 * tombstone in a table that a commit has not folded (as it is now) has its
 * segment rows of that table hidden (stagingByTable: the one rule). So parse
 * never rewrites a segment, compaction folds staging files into segments and
 * commits by replacing one object, and a reader that takes one listing and
 * one live list sees every float whole, from before or after any commit.
 *
 * Segments not named by the live list (written by a compaction that did not
 * commit, or retired by a later one) are invisible to readers.
 */
import { z } from "zod";
import { LakeError } from "../errors.ts";
import { SCHEMA_VERSION, TABLES, type TableName } from "../../lake/schema.ts";
import { LIVE_KEY, parseSegmentKey, parseTableFileKey, parseTombstoneKey, TOMBSTONE_PREFIX, tablePrefix } from "./layout.ts";
import type { LakeObject, LakeStore } from "./store.ts";

/** One committed segment. */
export const SegmentSchema = z.object({
  key: z.string(),
  size: z.number().int().nonnegative(),
  rows: z.number().int().nonnegative(),
  /** The floats with rows in the segment, sorted. */
  floats: z.array(z.string()),
});
export type Segment = z.infer<typeof SegmentSchema>;

/** An object a commit made redundant, as it was when the commit read it. */
export const FoldedSchema = z.object({
  key: z.string(),
  size: z.number().int().nonnegative(),
  /** Modification time (ISO) when folded: a later rewrite of the key is not deleted. */
  modified: z.string(),
  /**
   * The store's ETag when folded (S3): S3 gives times to the second, so a
   * rewrite within that second at the same size is told apart by it.
   */
  etag: z.string().optional(),
  /** When the commit that folded it was made (ISO): GC deletes it COMPACT_GRACE after. */
  folded_at: z.string(),
});
export type Folded = z.infer<typeof FoldedSchema>;

/** The live list object (`parquet/_live.json`). */
export const LiveListSchema = z.object({
  format: z.literal(1),
  /** lake/schema.ts SCHEMA_VERSION of the segments. */
  schema_version: z.number().int(),
  /** Commit number: 0 before the first compaction; segment keys carry it. */
  commit: z.number().int().nonnegative(),
  committed_at: z.string().nullable(),
  run_id: z.string().nullable(),
  /** The committed segments of each table, sorted by key. */
  tables: z.object(Object.fromEntries(TABLES.map((t) => [t, z.array(SegmentSchema)])) as Record<TableName, z.ZodArray<typeof SegmentSchema>>),
  /** Staging files and tombstones this commit folded into segments: deleted later, when unchanged. */
  folded: z.array(FoldedSchema),
  /** Segments this or an earlier commit replaced, with when: deleted once no reader can still be reading them. */
  retired: z.array(z.object({ key: z.string(), retired_at: z.string() })),
});
export type LiveList = z.infer<typeof LiveListSchema>;

/** The live list of a lake that was never compacted. */
export function emptyLiveList(): LiveList {
  return {
    format: 1,
    schema_version: SCHEMA_VERSION,
    commit: 0,
    committed_at: null,
    run_id: null,
    tables: Object.fromEntries(TABLES.map((t) => [t, []])) as unknown as LiveList["tables"],
    folded: [],
    retired: [],
  };
}

/**
 * The lake's live list; the empty one when the lake was never compacted. An
 * object that is there but unreadable is an error, never "no segments": that
 * would silently drop every compacted row.
 */
export async function readLiveList(store: LakeStore): Promise<LiveList> {
  const bytes = await store.get(LIVE_KEY);
  if (!bytes) return emptyLiveList();
  let json: unknown;
  try {
    json = JSON.parse(new TextDecoder().decode(bytes));
  } catch (err) {
    throw new LakeError(`the live list ${LIVE_KEY} is not JSON (${(err as Error).message}): expected the object compaction commits`, { file: LIVE_KEY });
  }
  const parsed = LiveListSchema.safeParse(json);
  if (!parsed.success) {
    const issue = parsed.error.issues[0]!;
    throw new LakeError(
      `the live list ${LIVE_KEY} is damaged: ${issue.path.map(String).join(".") || "(root)"}: ${issue.message}`,
      { file: LIVE_KEY },
    );
  }
  return parsed.data;
}

/** Commits a live list: one whole, atomic put (LakeStore.put). */
export async function writeLiveList(store: LakeStore, live: LiveList): Promise<void> {
  await store.put(LIVE_KEY, new TextEncoder().encode(JSON.stringify(LiveListSchema.parse(live))));
}

/** One file a reader scans for a table, and the floats whose rows in it must be left out. */
export interface TableSource {
  /** Lake key of the file. */
  key: string;
  /** "staging" (one float's file, from parse) or "segment" (compacted, from the live list). */
  kind: "staging" | "segment";
  /** Floats with rows in the file. */
  floats: readonly string[];
  /** Floats whose rows here are superseded (by staging files or a tombstone): empty for staging files. */
  hide: readonly string[];
}

/** What a reader scans: per table, its sources, sorted by key. */
export type TableSources = Record<TableName, TableSource[]>;

/** True when a listed object is the one a folded entry recorded: same key, size and time, and ETag when both have one. */
export function isAsFolded(f: Folded, o: LakeObject): boolean {
  return f.key === o.key && f.size === o.size && f.modified === o.modified.toISOString() &&
    (f.etag === undefined || o.etag === undefined || f.etag === o.etag);
}

/** Whether a listed object is as one of the live list's folded entries recorded it ({@link isAsFolded}): its rows are in the segments. */
export function foldedBy(live: LiveList): (o: LakeObject) => boolean {
  const byKey = new Map<string, Folded[]>();
  for (const f of live.folded) byKey.set(f.key, [...(byKey.get(f.key) ?? []), f]);
  return (o) => (byKey.get(o.key) ?? []).some((f) => isAsFolded(f, o));
}

/** One table of a listing under the hiding rule ({@link stagingByTable}). */
export interface TableStaging {
  /** Floats whose segment rows of the table are hidden. */
  superseded: Set<string>;
  /** The staging files of the superseded floats, folded ones included, in listing order. */
  staging: { obj: LakeObject; dac: string; year: string | null; wmo: string }[];
  /** The tombstones of the superseded floats, by float. */
  tombstones: Map<string, LakeObject>;
}

/**
 * The hiding rule, for every reader, the compaction and its GC: in a table,
 * a float is superseded when it has a staging file or a tombstone that is not
 * as a commit folded it (the live list's `folded`). A superseded float has
 * all its segment rows of the table hidden and is read whole from every
 * staging file it has there, folded ones included (a float re-staged by one
 * file is still made of the others). Staging files and tombstones of a float
 * that is not superseded were all folded: their rows are in the segments,
 * and they are not read (GC may be deleting them one by one).
 */
export function stagingByTable(live: LiveList, listed: Iterable<LakeObject>): Record<TableName, TableStaging> {
  const isFolded = foldedBy(live);
  const out = Object.fromEntries(TABLES.map((t) => [t, { superseded: new Set(), staging: [], tombstones: new Map() }])) as unknown as Record<TableName, TableStaging>;
  const files: { obj: LakeObject; table: TableName; dac: string; year: string | null; wmo: string }[] = [];
  const tombs: { obj: LakeObject; table: TableName; wmo: string }[] = [];
  for (const obj of listed) {
    const f = parseTableFileKey(obj.key);
    const t = f ? null : parseTombstoneKey(obj.key);
    if (!f && !t) continue;
    if (f) files.push({ obj, ...f });
    else tombs.push({ obj, table: t!.table, wmo: t!.wmo });
    if (!isFolded(obj)) out[(f ?? t)!.table].superseded.add((f ?? t)!.wmo);
  }
  for (const { obj, table, dac, year, wmo } of files) if (out[table].superseded.has(wmo)) out[table].staging.push({ obj, dac, year, wmo });
  for (const { obj, table, wmo } of tombs) if (out[table].superseded.has(wmo)) out[table].tombstones.set(wmo, obj);
  return out;
}

/**
 * Resolves every table's sources from the live list and the objects listed
 * under the table folders and the tombstone zone, by the hiding rule
 * ({@link stagingByTable}). Pure. Listed segments the live list does not
 * name are left out, and so are live segments whose floats are all
 * superseded, and keys that are neither.
 */
export function resolveSources(live: LiveList, listed: Iterable<LakeObject>): TableSources {
  const tables = stagingByTable(live, listed);
  const out = {} as TableSources;
  for (const table of TABLES) {
    const { superseded, staging } = tables[table];
    const sources: TableSource[] = staging.map((s) => ({ key: s.obj.key, kind: "staging", floats: [s.wmo], hide: [] }));
    for (const s of live.tables[table]) {
      const hide = s.floats.filter((f) => superseded.has(f));
      // A segment every float of which is superseded is not read at all (it may be damaged: parse restaged its floats).
      if (hide.length < s.floats.length) sources.push({ key: s.key, kind: "segment", floats: s.floats, hide });
    }
    out[table] = sources.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }
  return out;
}

/** A table's sources with rows of any of `floats` (a load batch), hidden floats left to each source's `hide`. */
export function sourcesOfFloats(sources: readonly TableSource[], floats: ReadonlySet<string>): TableSource[] {
  return sources.filter((s) => s.floats.some((f) => floats.has(f) && !s.hide.includes(f)));
}

/** A table's sources by the floats they show (rows not hidden), for many batches. */
export type SourcesByFloat = ReadonlyMap<string, readonly TableSource[]>;

/** Indexes a table's sources by float, so each batch costs its own size, not the table's file count. */
export function sourcesByFloat(sources: readonly TableSource[]): SourcesByFloat {
  const out = new Map<string, TableSource[]>();
  for (const s of sources) {
    const hidden = new Set(s.hide);
    for (const f of s.floats) {
      if (hidden.has(f)) continue;
      const list = out.get(f);
      if (list) list.push(s);
      else out.set(f, [s]);
    }
  }
  return out;
}

/** sourcesOfFloats through an index: the sources showing any of `floats`, once each, sorted by key. */
export function indexedSourcesOfFloats(index: SourcesByFloat, floats: Iterable<string>): TableSource[] {
  const out = new Map<string, TableSource>();
  for (const f of floats) for (const s of index.get(f) ?? []) out.set(s.key, s);
  return [...out.values()].sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
}

/** A lake's live list and its listing, read once: a consistent view of every table. */
export interface LakeSnapshot {
  live: LiveList;
  /** Objects under the table folders and the tombstone zone, by key. */
  listed: Map<string, LakeObject>;
  sources: TableSources;
}

/** Whether a listed key is one a snapshot resolves: a table file (staging or segment) or a tombstone. */
export const isSnapshotKey = (key: string): boolean =>
  parseTableFileKey(key) !== null || parseSegmentKey(key) !== null || parseTombstoneKey(key) !== null;

/**
 * Reads a snapshot: the table folders and tombstones are listed first and the
 * live list read after, so a compaction committing in between is seen as
 * committed while the staging files it folded are still listed (compaction
 * deletes them only later): listed as the commit folded them, they are known
 * for folded and the float is read from the new segments; a file rewritten
 * since supersedes them, and the float is read whole from its staging files.
 */
export async function readSnapshot(store: LakeStore): Promise<LakeSnapshot> {
  const listed: LakeObject[] = [];
  for (const prefix of [...TABLES.map(tablePrefix), TOMBSTONE_PREFIX]) listed.push(...await store.list(prefix));
  return snapshotAfter(store, listed);
}

/**
 * A snapshot from a listing the caller took (e.g. one listing of the whole
 * Parquet zone): reads the live list now, after it, as readSnapshot does.
 * Listed objects that are neither table files nor tombstones are left out.
 */
export async function snapshotAfter(store: LakeStore, listing: Iterable<LakeObject>): Promise<LakeSnapshot> {
  const listed = new Map<string, LakeObject>();
  for (const o of listing) if (isSnapshotKey(o.key)) listed.set(o.key, o);
  const live = await readLiveList(store);
  if (live.schema_version !== SCHEMA_VERSION) {
    throw new LakeError(
      `the live list ${LIVE_KEY} names segments of lake schema ${live.schema_version}, expected ${SCHEMA_VERSION}: run compact --all to rebuild them`,
      { file: LIVE_KEY },
    );
  }
  return { live, listed, sources: resolveSources(live, listed.values()) };
}

/**
 * The floats a table's sources show (rows not hidden), each with the DACs
 * whose folders hold those rows, in key order.
 */
export function visibleFloats(sources: readonly TableSource[]): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const s of sources) {
    const dac = (parseTableFileKey(s.key) ?? parseSegmentKey(s.key))?.dac;
    if (dac === undefined) continue;
    const hidden = new Set(s.hide);
    for (const f of s.floats) {
      if (hidden.has(f)) continue;
      const dacs = out.get(f);
      if (!dacs) out.set(f, [dac]);
      else if (!dacs.includes(dac)) dacs.push(dac);
    }
  }
  return out;
}

/** True when `key` is a committed segment of the live list. */
export function isLiveSegment(live: LiveList, key: string): boolean {
  const s = parseSegmentKey(key);
  return s !== null && live.tables[s.table].some((seg) => seg.key === key);
}

/** A live segment that holds a float, with its table and partition. */
export interface HeldSegment {
  table: TableName;
  dac: string;
  /** The year partition as written; null for tables without one. */
  year: string | null;
  segment: Segment;
}

/** Every float's live segments (all tables), by WMO: what parse checks a compacted float's outputs against. */
export function segmentsByFloat(live: LiveList): Map<string, HeldSegment[]> {
  const out = new Map<string, HeldSegment[]>();
  for (const table of TABLES) {
    for (const segment of live.tables[table]) {
      const s = parseSegmentKey(segment.key);
      if (!s) continue;
      for (const f of segment.floats) {
        let list = out.get(f);
        if (!list) out.set(f, list = []);
        list.push({ table, dac: s.dac, year: s.year, segment });
      }
    }
  }
  return out;
}

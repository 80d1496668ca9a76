/**
 * The lake layout: every key the project writes or reads, in one module.
 * LAKE_LAYOUT below is the README's "Lake layout" block (tests/structure.test.ts
 * compares them). Nothing else spells a lake key or parses one with its own
 * pattern (the same test fails when a key is spelled elsewhere); a new kind of
 * object gets its key here first. Keys are relative to the lake root and use
 * "/" on every store. Names below a float folder follow lib/argo/filename.ts.
 */
import { HIVE_NULL_PARTITION, PARTITION_KEYS, TABLES, type TableName } from "../../lake/schema.ts";

/** The layout as the README shows it. */
export const LAKE_LAYOUT = `<lake>/
  raw/
    _index/<index file>[.json]             cached GDAC index files (+ etag, last-modified, sha256)
    _manifest/dac=<dac>/wmo=<wmo>.json     per-float sync manifest
    dac=<dac>/wmo=<wmo>/<wmo>_meta.nc      raw NetCDF, byte for byte as the GDAC serves it
    dac=<dac>/wmo=<wmo>/profiles/{R,D,BR,BD,SR,SD}<wmo>_<ccc>[D].nc
    dac=<dac>/wmo=<wmo>/<wmo>_prof.nc, <wmo>_Sprof.nc     (with SYNC_FILES)
    _previous/dac=<dac>/wmo=<wmo>/...      the last good copy of a raw file while its new version is quarantined
    _changes/<stamp>-<run_id>.json         change journal: the floats a sync changed (what a scheduled parse reads)
    _applied/<scope>.json                  what the last completed sync applied: a digest of each float's index rows
  removed/<run start>/raw/...              files the index no longer lists
  parquet/
    measurements/dac=<dac>/year=<yyyy>/<wmo>.parquet       PRES, TEMP, PSAL per level (fixed columns)
    bgc_measurements/dac=<dac>/year=<yyyy>/<wmo>.parquet   other parameters, one row per level and parameter
    synthetic/dac=<dac>/year=<yyyy>/<wmo>.parquet          S-file parameters, one row per level and parameter
    profiles/dac=<dac>/year=<yyyy>/<wmo>.parquet
    floats/dac=<dac>/<wmo>.parquet
    dictionary/dac=<dac>/<wmo>.parquet     every column and parameter: type, units, long name
    <table>/dac=<dac>/[year=<yyyy>/]part-<commit>-<n>.parquet   compacted segments: many floats, sorted by float and time
    _live.json                             the live list: the committed segments of every table (one atomic object)
    _tombstones/<table>/dac=<dac>/wmo=<wmo>   a float whose rows in that table's segments are gone
    _state/dac=<dac>/wmo=<wmo>.json        what each float's Parquet files were made from
    _changes/<stamp>-<run_id>.json         change journal: the floats a parse changed (what an incremental load reads)
    _cursors/raw-<scope>[-<dacs>].json     how far a scheduled parse has read the raw change journal
  quarantine/dac=<dac>/wmo=<wmo>/<file>.json   files that failed to parse, with the reason
  runs/<date>/<run_id>.json, runs/latest.json  every run's record
  locks/scheduler.json                     the scheduler's lock when there is no Postgres
  locks/compact.json                       the compaction's lock when there is no Postgres
`;

const WMO = "(\\d{5}|\\d{7})";
const DAC = "([a-z]+)";

// ---- raw zone ----

/** Prefix of the raw zone (raw files, manifests, index cache). */
export const RAW_PREFIX = "raw/";
/** Prefix of every raw data file (not the manifests or the index cache). */
export const RAW_DATA_PREFIX = `${RAW_PREFIX}dac=`;
/** Prefix of one DAC's raw files. */
export const rawDacPrefix = (dac: string): string => `${RAW_DATA_PREFIX}${dac}/`;
/** Prefix of a float's raw files. */
export const rawFloatPrefix = (dac: string, wmo: string): string => `${rawDacPrefix(dac)}wmo=${wmo}/`;
/** Key of a raw file: `raw/dac=<dac>/wmo=<wmo>/<path below the float folder>`. */
export const rawFileKey = (dac: string, wmo: string, rest: string): string => rawFloatPrefix(dac, wmo) + rest;

const rawKeyRe = new RegExp(`^raw/dac=${DAC}/wmo=${WMO}/(.+)$`);
/** (dac, wmo, path below the float folder) of a raw file key; null for another key. */
export function parseRawKey(key: string): { dac: string; wmo: string; rest: string } | null {
  const m = rawKeyRe.exec(key);
  return m ? { dac: m[1]!, wmo: m[2]!, rest: m[3]! } : null;
}

/**
 * Prefix of the previous-version zone: `raw/_previous/dac=<dac>/wmo=<wmo>/<path>`
 * holds the last good copy of a raw file while a newer copy of it is not yet
 * known to parse (lib/lake/previous.ts). Outside `raw/dac=`, so raw-zone
 * listings never see it.
 */
export const PREVIOUS_PREFIX = `${RAW_PREFIX}_previous/`;
/** Prefix of a float's previous versions. */
export const previousFloatPrefix = (dac: string, wmo: string): string => `${PREVIOUS_PREFIX}dac=${dac}/wmo=${wmo}/`;
/** Key of the previous version of a raw file. */
export const previousKey = (dac: string, wmo: string, rest: string): string => previousFloatPrefix(dac, wmo) + rest;

/** Prefix of the cached GDAC index files. */
export const INDEX_PREFIX = `${RAW_PREFIX}_index/`;
/** Key of a cached index file (e.g. ar_index_global_prof.txt.gz). */
export const indexKey = (name: string): string => `${INDEX_PREFIX}${name}`;
/** Key of a cached index file's sidecar (validators, size, sha256). */
export const indexMetaKey = (name: string): string => `${indexKey(name)}.json`;

/** Prefix of the sync manifests. */
export const MANIFEST_PREFIX = `${RAW_PREFIX}_manifest/`;
/** Key of a float's sync manifest. */
export const manifestKey = (dac: string, wmo: string): string => `${MANIFEST_PREFIX}dac=${dac}/wmo=${wmo}.json`;

/**
 * Key of what the last completed sync of a scope ("all" or "shard-i-of-n")
 * applied: per float, a digest of the index rows it synced (lib/gdac/applied.ts).
 */
export const appliedKey = (scope: string): string => `${APPLIED_PREFIX}${scope}.json`;
/** Prefix of the applied digests of every scope. */
export const APPLIED_PREFIX = `${RAW_PREFIX}_applied/`;

const manifestKeyRe = new RegExp(`^raw/_manifest/dac=([^/]+)/wmo=[^/]+\\.json$`);
/** The DAC of a manifest key; null for another key. */
export function parseManifestKey(key: string): { dac: string } | null {
  const m = manifestKeyRe.exec(key);
  return m ? { dac: m[1]! } : null;
}

/**
 * Where sync moves a raw file that left the GDAC index: `removed/<stamp>/<its raw key>`,
 * outside `raw/` so globs over the raw zone never see it. `stamp` is the run's
 * start, e.g. 20250107T101500Z.
 */
export const removedKey = (stamp: string, key: string): string => `${REMOVED_PREFIX}${stamp}/${key}`;
/** Prefix of the removed zone. */
export const REMOVED_PREFIX = "removed/";

// ---- Parquet tables and parse state ----

/** Prefix of the Parquet zone (tables and parse state). */
export const PARQUET_PREFIX = "parquet/";
/** Key prefix of a table's Parquet files. */
export const tablePrefix = (table: TableName): string => `${PARQUET_PREFIX}${table}/`;
/** Key prefix of one DAC's files of a table. */
export const tableDacPrefix = (table: TableName, dac: string): string => `${tablePrefix(table)}dac=${dac}/`;

/** Key of one float's file in one partition (floats and dictionary: no year). */
export function partitionFileKey(table: TableName, dac: string, year: number | string | null, wmo: string): string {
  if (!PARTITION_KEYS[table].includes("year")) return `${tableDacPrefix(table, dac)}${wmo}.parquet`;
  return `${tableDacPrefix(table, dac)}year=${year ?? HIVE_NULL_PARTITION}/${wmo}.parquet`;
}

const tableFileRe = new RegExp(`^parquet/(${TABLES.join("|")})/dac=${DAC}/(?:year=([^/]+)/)?${WMO}\\.parquet$`);
/** (table, dac, year partition as written, wmo) of a table file key; null for another key. */
export function parseTableFileKey(key: string): { table: TableName; dac: string; year: string | null; wmo: string } | null {
  const m = tableFileRe.exec(key);
  return m ? { table: m[1] as TableName, dac: m[2]!, year: m[3] ?? null, wmo: m[4]! } : null;
}

/** Key prefix of one partition of a table (floats and dictionary: the DAC folder). */
export function partitionPrefix(table: TableName, dac: string, year: number | string | null): string {
  if (!PARTITION_KEYS[table].includes("year")) return tableDacPrefix(table, dac);
  return `${tableDacPrefix(table, dac)}year=${year ?? HIVE_NULL_PARTITION}/`;
}

// ---- compacted segments, tombstones and the live list ----
//
// A float's per-float files above are its *staging* files: parse writes them.
// Compaction (lib/lake/compact.ts) folds staging files into *segments*, large
// files of many floats sorted by float and time, and names the committed ones
// in the live list. Readers (lib/lake/live.ts) take a table as its live
// segments plus its staging files; a float that has a staging file or a
// tombstone in a table has its rows in that table's segments hidden.

/** Key of the live list: the one object naming every table's committed segments. */
export const LIVE_KEY = `${PARQUET_PREFIX}_live.json`;

/** Key of segment `n` written by compaction commit `commit`, in one partition. */
export function segmentKey(table: TableName, dac: string, year: number | string | null, commit: number, n: number): string {
  return `${partitionPrefix(table, dac, year)}part-${String(commit).padStart(6, "0")}-${String(n).padStart(4, "0")}.parquet`;
}

const segmentKeyRe = new RegExp(`^parquet/(${TABLES.join("|")})/dac=${DAC}/(?:year=([^/]+)/)?part-(\\d{6,})-(\\d{4,})\\.parquet$`);
/** (table, dac, year partition as written, commit, n) of a segment key; null for another key. */
export function parseSegmentKey(key: string): { table: TableName; dac: string; year: string | null; commit: number; n: number } | null {
  const m = segmentKeyRe.exec(key);
  return m ? { table: m[1] as TableName, dac: m[2]!, year: m[3] ?? null, commit: Number(m[4]), n: Number(m[5]) } : null;
}

/** Prefix of every tombstone. */
export const TOMBSTONE_PREFIX = `${PARQUET_PREFIX}_tombstones/`;
/** Prefix of one table's tombstones. */
export const tableTombstonePrefix = (table: TableName): string => `${TOMBSTONE_PREFIX}${table}/`;
/** Key of the tombstone saying float `wmo` has no rows left in `table` (its segment rows are hidden). */
export const tombstoneKey = (table: TableName, dac: string, wmo: string): string => `${tableTombstonePrefix(table)}dac=${dac}/wmo=${wmo}`;

const tombstoneKeyRe = new RegExp(`^parquet/_tombstones/(${TABLES.join("|")})/dac=${DAC}/wmo=${WMO}$`);
/** (table, dac, wmo) of a tombstone key; null for another key. */
export function parseTombstoneKey(key: string): { table: TableName; dac: string; wmo: string } | null {
  const m = tombstoneKeyRe.exec(key);
  return m ? { table: m[1] as TableName, dac: m[2]!, wmo: m[3]! } : null;
}

/** Glob of a table's Parquet files under a lake root (a local directory or an s3:// URL), for DuckDB. */
export const tableGlob = (root: string, table: TableName): string => `${root.replace(/\/+$/, "")}/${tablePrefix(table)}**/*.parquet`;

/** Prefix of every parse state object. */
export const STATE_PREFIX = `${PARQUET_PREFIX}_state/`;
/** Prefix of one DAC's parse states. */
export const stateDacPrefix = (dac: string): string => `${STATE_PREFIX}dac=${dac}/`;
/** Key of a float's parse state. */
export const stateKey = (dac: string, wmo: string): string => `${stateDacPrefix(dac)}wmo=${wmo}.json`;

const stateKeyRe = new RegExp(`^parquet/_state/dac=${DAC}/wmo=${WMO}\\.json$`);
/** (dac, wmo) of a state key, or null for another key. */
export function parseStateKey(key: string): { dac: string; wmo: string } | null {
  const m = stateKeyRe.exec(key);
  return m ? { dac: m[1]!, wmo: m[2]! } : null;
}

// ---- change journals ----

/** The zones with a change journal: raw (written by sync, read by parse) and parquet (written by parse, read by load). */
export type JournalZone = "raw" | "parquet";
/** Prefix of a zone's change journal. */
export const journalPrefix = (zone: JournalZone): string => `${zone === "raw" ? RAW_PREFIX : PARQUET_PREFIX}_changes/`;
/** Key of one journal entry: `<zone>/_changes/<stamp>-<run_id>.json`, stamp like 20261202T010203.456Z so keys sort by time. */
export const journalKey = (zone: JournalZone, stamp: string, runId: string): string => `${journalPrefix(zone)}${stamp}-${runId}.json`;

const journalKeyRe = /^(raw|parquet)\/_changes\/(\d{8}T\d{6}\.\d{3}Z)-([^/]+)\.json$/;
/** (zone, stamp, run id) of a journal key; null for another key. */
export function parseJournalKey(key: string): { zone: JournalZone; stamp: string; runId: string } | null {
  const m = journalKeyRe.exec(key);
  return m ? { zone: m[1] as JournalZone, stamp: m[2]!, runId: m[3]! } : null;
}

/**
 * Key of the parse's cursor in the raw change journal, per scope ("all" or
 * "shard-i-of-n") and DAC filter (none: every DAC), so a parse of a few DACs
 * never moves the cursor of one of all: written after a parse that read the
 * journal (or listed the whole raw zone) finished (lib/parse/discover.ts).
 */
export const rawCursorKey = (scope: string, dacs: readonly string[] = []): string =>
  `${CURSOR_PREFIX}raw-${scope}${dacs.length ? `-${[...dacs].sort().join("+")}` : ""}.json`;
/** Prefix of every journal consumer's cursor kept in the lake. */
export const CURSOR_PREFIX = `${PARQUET_PREFIX}_cursors/`;

// ---- quarantine ----

/** Prefix of every quarantine record. */
export const QUARANTINE_PREFIX = "quarantine/";
/** Prefix of one DAC's records. */
export const quarantineDacPrefix = (dac: string): string => `${QUARANTINE_PREFIX}dac=${dac}/`;
/** Prefix of one float's records. */
export const quarantineFloatPrefix = (dac: string, wmo: string): string => `${quarantineDacPrefix(dac)}wmo=${wmo}/`;
/** Key of the record of one raw file (named by its file name). */
export const quarantineKey = (dac: string, wmo: string, fileName: string): string => `${quarantineFloatPrefix(dac, wmo)}${fileName}.json`;
/** The raw file name a quarantine record key is named after; null when the key is not a record. */
export function quarantineFileName(key: string): string | null {
  if (!key.startsWith(QUARANTINE_PREFIX) || !key.endsWith(".json")) return null;
  return key.slice(key.lastIndexOf("/") + 1, -".json".length);
}

// ---- runs and locks ----

/** Prefix of the run records. */
export const RUNS_PREFIX = "runs/";
/** Key of a run's record: `runs/<start date>/<run_id>.json`. */
export const runKey = (startedAt: string, runId: string): string => `${RUNS_PREFIX}${startedAt.slice(0, 10)}/${runId}.json`;
/** Key of the latest run of a scope ("all", or a shard's "shard-i-of-n"). */
export const latestRunKey = (scope: string): string => (scope === "all" ? `${RUNS_PREFIX}latest.json` : `${RUNS_PREFIX}latest-${scope}.json`);

const runKeyRe = /^runs\/\d{4}-\d{2}-\d{2}\/([^/]+)\.json$/;
/** The run id of a run record key (not a latest pointer); null for another key. */
export function parseRunKey(key: string): { runId: string } | null {
  const m = runKeyRe.exec(key);
  return m ? { runId: m[1]! } : null;
}

/** Key of a lock object. */
export const lockKey = (name: string): string => `locks/${name}.json`;

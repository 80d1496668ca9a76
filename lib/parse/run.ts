/**
 * The parse stage: raw NetCDF files in the lake's raw zone to Parquet tables
 * under `parquet/`, incrementally.
 *
 * For each float (found by lib/parse/discover.ts: the whole raw zone, the
 * named floats' folders, or those the raw change journal names; filtered by
 * DAC, float ids and shard):
 * its inputs (meta, core and B files) are fingerprinted by sha256, from the
 * sync manifest when there is one, else from the bytes (reused from the parse
 * state while size and modification time are unchanged). A float whose
 * inputs, schema version and PROFILE_BATCH_LIMIT match its parse state is
 * skipped, unless `force`. Otherwise it is parsed (in a worker thread when
 * MAX_WORKERS > 1), its Parquet files replace the old ones whole and
 * atomically, files in partitions it no longer has are removed, quarantine
 * records are written or cleared, and its parse state is saved last, so an
 * interrupted run parses the float again next time. A skip also requires every
 * output the state names to be listed with its size (or folded by compaction
 * into a live segment of its partition, listed with its size). A float with
 * rows in compacted segments gets a tombstone in each table where it has no
 * staging file any more (lib/lake/live.ts: its segment rows are hidden). A file that fails is
 * replaced by its previous good version (raw/_previous/) when there is one;
 * a float refused as a whole (two files for one cycle, two DACs) keeps its
 * last good tables; removals pass the removal guard first. Floats go in batches of
 * BATCH_SIZE, the floats of a batch in parallel; after each batch the floats
 * whose tables landed are named in the parquet change journal (lib/lake/changes.ts).
 */
import { createHash } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import type { Config } from "../config.ts";
import { readManifest } from "../gdac/manifest.ts";
import { ParseError } from "../errors.ts";
import { type Change, writeJournal } from "../lake/changes.ts";
import type { LakeStore } from "../lake/store.ts";
import type { Logger } from "../log.ts";
import { checkRemoval, assertLakeExists } from "../removal-guard.ts";
import { runtimeName } from "../runtime.ts";
import { SCHEMA_VERSION, TABLES } from "../../lake/schema.ts";
import {
  parseRawKey,
  parseTableFileKey,
  PARQUET_PREFIX,
  previousFloatPrefix,
  previousKey,
  rawFileKey,
  stateKey,
  tombstoneKey,
} from "../lake/layout.ts";
import { type HeldSegment, readLiveList, segmentsByFloat } from "../lake/live.ts";
import { baseName } from "../argo/filename.ts";
import { discover, type FloatRef, mapLimit } from "./discover.ts";
import { type FloatJob, type FloatOutcome, roleOf } from "./float.ts";
import { startRunner } from "./pool.ts";
import { type ParseStats, ParseStatsSchema } from "./stats.ts";
import { clearQuarantine, putQuarantine } from "./quarantine.ts";
import { damagedOutput, type ParsedInput, type ParseState, readState, sameInputs, writeState } from "./state.ts";

export { ParseStatsSchema, type ParseStats } from "./stats.ts";
export { discoverFloats, type FloatRef } from "./discover.ts";

/** Options of {@link runParse}. */
export interface RunParseOptions {
  /** Only these floats (WMO ids); default: config FLOAT_IDS, or all when empty. */
  floatIds?: readonly string[];
  /** Only floats for which this is true (e.g. a hash shard of the WMO id). */
  shard?: (wmo: string) => boolean;
  /** Reparse every selected float, whatever its state. */
  force?: boolean;
  /** Stops scheduling new floats; floats in flight finish. */
  signal?: AbortSignal;
  /** Told after each float parsed (or failed): how many of the floats to parse are done. */
  onProgress?: (p: { done: number; total: number; errors: number }) => void;
  /** Find the floats from the raw change journal (the cycle, run-batch, the scheduler's parse job) instead of listing the raw zone (lib/parse/discover.ts). */
  journal?: boolean;
  /** The run's scope ("all" or "shard-i-of-n"): whose journal cursor is read and kept. */
  scope?: string;
}

const sha256 = (bytes: Uint8Array): string => createHash("sha256").update(bytes).digest("hex");

/**
 * A modification time to the millisecond. Node rounds file times to the
 * millisecond and Deno truncates: a mismatch between runtimes only costs a
 * re-hash of the bytes, whereas whole seconds would miss a file replaced at
 * the same size within the second of the last parse.
 */
const modifiedStamp = (d: Date): string => d.toISOString();

/**
 * The sha256 of each input file without reading it where possible: from the
 * sync manifest (same size), else from the previous state (same size and
 * modification time). Null for files that must be read to be fingerprinted.
 */
async function knownFingerprints(store: LakeStore, f: FloatRef, inputs: string[], state: ParseState | null): Promise<Map<string, string | null>> {
  const manifest = await readManifest(store, f.dac, f.wmo).catch(() => null);
  const byRest = new Map<string, { sha256: string; size: number }>();
  for (const e of Object.values(manifest?.files ?? {})) {
    const r = parseRawKey(e.key);
    if (r && e.status === "present") byRest.set(r.rest, e);
  }
  const out = new Map<string, string | null>();
  for (const rest of inputs) {
    const obj = f.raw.get(rest)!;
    const fromManifest = byRest.get(rest);
    const prev = state?.inputs[rest];
    if (fromManifest && fromManifest.size === obj.size) out.set(rest, fromManifest.sha256);
    else if (prev && prev.size === obj.size && prev.modified === modifiedStamp(obj.modified)) out.set(rest, prev.sha256);
    else out.set(rest, null);
  }
  return out;
}

/** Runs the parse stage over the lake. Never throws for one float: its error is counted and the run goes on. */
export async function runParse(config: Config, store: LakeStore, log: Logger, opts: RunParseOptions = {}): Promise<ParseStats> {
  const started = new Date();
  const stats: ParseStats = {
    floats_parsed: 0,
    floats_skipped: 0,
    floats_removed: 0,
    files_parsed: 0,
    profiles: 0,
    measurement_rows: 0,
    parquet_files_written: 0,
    parquet_files_deleted: 0,
    bytes_in: 0,
    bytes_out: 0,
    quarantined: 0,
    errors: 0,
    error_details: [],
    discovery: "full",
    workers: 1,
    runtime: runtimeName,
    aborted: false,
    start_time: started.toISOString(),
    end_time: started.toISOString(),
    duration_s: 0,
  };
  const ids = opts.floatIds ?? config.FLOAT_IDS;
  assertLakeExists(store, "parse");
  const discovery = await discover(store, config, log, { floatIds: ids, shard: opts.shard, force: opts.force, journal: opts.journal, scope: opts.scope });
  const found = discovery.floats;
  stats.discovery = discovery.mode;
  log.info("parse: floats found", { floats: found.length, lake: store.description, force: !!opts.force, discovery: discovery.mode });
  const floats = refuseFloatsUnderTwoDacs(found, stats, log);
  // Everything the floats' states say was written, listed once: a skip must find its outputs intact.
  const outputs = discovery.outputs ?? new Map((await store.list(PARQUET_PREFIX)).map((o) => [o.key, o.size]));
  // Read after the listing (as readers do): the compacted segments that hold each float.
  const lake: LakeTables = { listed: outputs, held: segmentsByFloat(await readLiveList(store)) };
  // A float without a state replaces the staging files this listing found for it (one lookup, not a listing per float).
  const stagingFiles = stagingFilesByFloat(outputs.keys());

  // Decide which floats need parsing before starting any worker (state and manifest reads in parallel:
  // on S3 each is a request).
  const removals: { ref: FloatRef; state: ParseState }[] = [];
  let held = 0;
  const plans = await mapLimit(floats, config.HTTP_CONCURRENCY, async (ref) => {
    if (opts.signal?.aborted) return null;
    const state = await readState(store, ref.dac, ref.wmo);
    if (state) held++;
    const inputs = [...ref.raw.keys()].filter((r) => roleOf(r, ref.wmo) !== "other").sort();
    if (inputs.length === 0) {
      if (state) removals.push({ ref, state });
      return null;
    }
    const known = await knownFingerprints(store, ref, inputs, state);
    const unchanged = !opts.force && state !== null && state.schema_version === SCHEMA_VERSION && state.previous.length === 0 &&
      state.profile_batch_limit === config.PROFILE_BATCH_LIMIT && [...known.values()].every((v) => v !== null) &&
      sameInputs(Object.fromEntries([...known].map(([k, v]) => [k, { sha256: v! }])), state.inputs);
    if (unchanged) {
      const damaged = damagedOutput(state, outputs, lake.held.get(ref.wmo));
      if (damaged === null) {
        stats.floats_skipped++;
        return null;
      }
      log.warn("parse: an output of an unchanged float is missing or damaged: parsing it again", { float_id: ref.wmo, dac: ref.dac, file: damaged });
    }
    return { ref, state, inputs };
  });
  // Floats whose raw files are all gone lose their tables, but not implausibly many at once.
  checkRemoval(config, {
    stage: "parse",
    where: store.description,
    what: "parsed floats",
    removing: removals.length,
    held,
    because: "their raw files are gone",
  });
  // The parquet change journal names the floats whose tables landed (rewritten or removed), a batch at a
  // time, so an incremental load reads exactly those (lib/load/run.ts).
  const landed: Change[] = [];
  const journal = async () => {
    if (landed.length) await writeJournal(store, "parquet", { runId: log.runId, stage: "parse", changes: landed.splice(0) });
  };
  for (const r of removals) {
    await removeFloat(store, r.ref, r.state, lake, stats, log);
    landed.push({ dac: r.ref.dac, wmo: r.ref.wmo, change: "removed" });
  }
  const todo = plans.filter((p) => p !== null);

  const outDir = await mkdtemp(join(tmpdir(), "argo-lake-parse-"));
  const runner = todo.length ? await startRunner(Math.min(config.MAX_WORKERS, todo.length)) : null;
  stats.workers = runner?.concurrency ?? 1;
  let done = 0;
  opts.onProgress?.({ done, total: todo.length, errors: 0 });
  try {
    for (let b = 0; b < todo.length && !opts.signal?.aborted; b += config.BATCH_SIZE) {
      const batch = todo.slice(b, b + config.BATCH_SIZE);
      let next = 0;
      const lane = async () => {
        while (next < batch.length && !opts.signal?.aborted) {
          const item = batch[next++]!;
          try {
            await parseOne(config, store, log, runner!, outDir, item.ref, item.state, item.inputs, lake, stats, stagingFiles);
            landed.push({ dac: item.ref.dac, wmo: item.ref.wmo, change: "changed" });
          } catch (err) {
            const e = err as Error & { context?: { stage?: string } };
            stats.errors++;
            stats.error_details.push({ float_id: item.ref.wmo, dac: item.ref.dac, stage: e.context?.stage ?? "parse", message: e.message });
            log.error("parse: float failed", { float_id: item.ref.wmo, dac: item.ref.dac, error: e.message });
          }
          opts.onProgress?.({ done: ++done, total: todo.length, errors: stats.errors });
        }
      };
      await Promise.all(Array.from({ length: runner!.concurrency }, lane));
      await journal();
      log.info("parse: batch done", { batch: b / config.BATCH_SIZE + 1, floats: batch.length, parsed: stats.floats_parsed, errors: stats.errors });
    }
  } finally {
    await journal();
    await runner?.close();
    await rm(outDir, { recursive: true, force: true });
  }
  stats.aborted = !!opts.signal?.aborted;
  if (!stats.aborted) await discovery.commit(stats.error_details);
  const ended = new Date();
  stats.end_time = ended.toISOString();
  stats.duration_s = (ended.getTime() - started.getTime()) / 1000;
  return ParseStatsSchema.parse(stats);
}

/** Parses one float and replaces its lake files, quarantine records and state. */
async function parseOne(
  config: Config,
  store: LakeStore,
  log: Logger,
  runner: Awaited<ReturnType<typeof startRunner>>,
  outDir: string,
  ref: FloatRef,
  state: ParseState | null,
  inputs: string[],
  lake: LakeTables,
  stats: ParseStats,
  stagingFiles: ReadonlyMap<string, string[]>,
): Promise<void> {
  const files: FloatJob["files"] = [];
  const parsedInputs: Record<string, ParsedInput> = {};
  let bytesIn = 0;
  const read = await mapLimit(inputs, config.HTTP_CONCURRENCY, (rest) => store.get(rawFileKey(ref.dac, ref.wmo, rest)));
  inputs.forEach((rest, i) => {
    const bytes = read[i];
    if (!bytes) return; // removed since listing: it is simply not an input any more
    files.push({ rest, bytes });
    bytesIn += bytes.byteLength;
    parsedInputs[rest] = { sha256: sha256(bytes), size: bytes.byteLength, modified: modifiedStamp(ref.raw.get(rest)!.modified) };
  });
  const job = { dac: ref.dac, wmo: ref.wmo, files, profileBatchLimit: config.PROFILE_BATCH_LIMIT };
  const first: FloatOutcome = await runner.run(job, outDir, config.ARROW_COMPRESSION);
  // A file whose new version fails: its previous good version (raw/_previous/) is parsed in its place.
  const fallback = await previousVersions(store, ref, first.failures.map((f) => f.rest));
  const current = { ...parsedInputs };
  let outcome = first;
  const failures = first.failures;
  const keptPrevious = new Set<string>();
  if (fallback.size > 0) {
    await Promise.all(first.written.map((w) => rm(w.path, { force: true })));
    // The first run may have taken the buffers (a worker's transfer): read the inputs again.
    const again = await mapLimit(files, config.HTTP_CONCURRENCY, async (f) => ({
      rest: f.rest,
      bytes: fallback.get(f.rest) ?? (await store.get(rawFileKey(ref.dac, ref.wmo, f.rest))) ?? new Uint8Array(),
    }));
    // Fingerprinted before the run hands the buffers to a worker.
    const prints = new Map([...fallback].map(([rest, bytes]) => [rest, { sha256: sha256(bytes), size: bytes.byteLength, modified: null }]));
    outcome = await runner.run({ ...job, files: again }, outDir, config.ARROW_COMPRESSION);
    const stillFailing = new Set(outcome.failures.map((f) => f.rest));
    for (const [rest, print] of prints) {
      if (stillFailing.has(rest)) continue;
      keptPrevious.add(rest);
      parsedInputs[rest] = print;
    }
  }
  if (outcome.refused) {
    await Promise.all(outcome.written.map((w) => rm(w.path, { force: true })));
    throw new ParseError(`float ${ref.wmo} (${ref.dac}) refused: ${outcome.refused}; its last good tables stay`, { floatId: ref.wmo });
  }
  try {
    for (const w of outcome.written) await store.moveIn(w.key, w.path);
  } finally {
    await Promise.all(outcome.written.map((w) => rm(w.path, { force: true })));
  }
  const written = new Set(outcome.written.map((w) => w.key));
  await updateTombstones(store, ref, written, lake);
  const previous = state ? state.outputs : (stagingFiles.get(floatKey(ref.dac, ref.wmo)) ?? []);
  let deleted = 0;
  for (const key of previous) {
    if (written.has(key)) continue;
    await store.delete(key);
    deleted++;
  }
  const now = new Date().toISOString();
  for (const f of failures) {
    const input = current[f.rest]!;
    await putQuarantine(store, {
      file: rawFileKey(ref.dac, ref.wmo, f.rest),
      dac: ref.dac,
      float_id: ref.wmo,
      reason: f.reason,
      where: f.where,
      stage: "parse",
      time: now,
      sha256: input.sha256,
      size: input.size,
      run_id: log.runId,
      kept_previous: keptPrevious.has(f.rest),
    }, baseName(f.rest));
    log.warn("parse: file quarantined", { float_id: ref.wmo, file: f.rest, reason: f.reason, where: f.where, kept_previous: keptPrevious.has(f.rest) });
  }
  await clearQuarantine(store, ref.dac, ref.wmo, new Set(failures.map((f) => baseName(f.rest))));
  // Previous versions are kept only while they stand in for a failing file.
  for (const o of await store.list(previousFloatPrefix(ref.dac, ref.wmo))) {
    if (!keptPrevious.has(o.key.slice(previousFloatPrefix(ref.dac, ref.wmo).length))) await store.delete(o.key);
  }
  await writeState(store, {
    dac: ref.dac,
    wmo: ref.wmo,
    schema_version: SCHEMA_VERSION,
    profile_batch_limit: config.PROFILE_BATCH_LIMIT,
    inputs: parsedInputs,
    outputs: [...written].sort(),
    output_sizes: Object.fromEntries(outcome.written.map((w) => [w.key, w.size])),
    quarantined: failures.map((f) => f.rest).sort(),
    previous: [...keptPrevious].sort(),
    profiles: outcome.profiles,
    measurement_rows: outcome.measurementRows,
    parsed_at: now,
    run_id: log.runId,
  });
  stats.floats_parsed++;
  stats.files_parsed += outcome.parsed.length;
  stats.profiles += outcome.profiles;
  stats.measurement_rows += outcome.measurementRows;
  stats.parquet_files_written += outcome.written.length;
  stats.parquet_files_deleted += deleted;
  stats.bytes_in += bytesIn;
  stats.bytes_out += outcome.written.reduce((a, w) => a + w.size, 0);
  stats.quarantined += failures.length;
  log.debug("parse: float done", { float_id: ref.wmo, profiles: outcome.profiles, rows: outcome.measurementRows, files: outcome.written.length });
}

/** The Parquet zone as the run found it: objects listed (key to size) and the live segments holding each float. */
interface LakeTables {
  listed: ReadonlyMap<string, number>;
  held: ReadonlyMap<string, HeldSegment[]>;
}

/**
 * Keeps a float's tombstones true to its new staging files, once they are
 * written and before its old ones go (a reader in between sees the old rows
 * whole): a table where a live segment holds the float but where it has no
 * staging file any more gets a tombstone (its segment rows are gone); a table
 * where it has a staging file again loses its tombstone.
 */
async function updateTombstones(store: LakeStore, ref: FloatRef, written: ReadonlySet<string>, lake: LakeTables): Promise<void> {
  const staged = new Set([...written].map((k) => parseTableFileKey(k)?.table));
  const compacted = new Set((lake.held.get(ref.wmo) ?? []).map((h) => h.table));
  for (const table of TABLES) {
    const key = tombstoneKey(table, ref.dac, ref.wmo);
    if (staged.has(table)) {
      if (lake.listed.has(key)) await store.delete(key);
    } else if (compacted.has(table) && !lake.listed.has(key)) await store.put(key, new Uint8Array());
  }
}

const floatKey = (dac: string, wmo: string): string => `${dac}/${wmo}`;

/** The staging files among lake keys, by float (`dac/wmo`): what a float without a state has in the lake. */
function stagingFilesByFloat(keys: Iterable<string>): Map<string, string[]> {
  const out = new Map<string, string[]>();
  for (const key of keys) {
    const t = parseTableFileKey(key);
    if (!t) continue;
    const k = floatKey(t.dac, t.wmo);
    const list = out.get(k);
    if (list) list.push(key);
    else out.set(k, [key]);
  }
  return out;
}

/**
 * The previous good versions (raw/_previous/) of the failing files that have
 * one, by path below the float folder.
 */
async function previousVersions(store: LakeStore, ref: FloatRef, failing: readonly string[]): Promise<Map<string, Uint8Array>> {
  const out = new Map<string, Uint8Array>();
  for (const rest of failing) {
    const bytes = await store.get(previousKey(ref.dac, ref.wmo, rest));
    if (bytes) out.set(rest, bytes);
  }
  return out;
}

/**
 * A float must live under exactly one DAC. One whose raw files sit under two
 * is an error for that float (named in error_details, exit 1): neither copy
 * is parsed, its last good tables stay. A float that moved DAC has no raw
 * files left under the old one and is not concerned.
 */
function refuseFloatsUnderTwoDacs(floats: FloatRef[], stats: ParseStats, log: Logger): FloatRef[] {
  const dacs = new Map<string, string[]>();
  for (const f of floats) if (f.raw.size > 0) dacs.set(f.wmo, [...(dacs.get(f.wmo) ?? []), f.dac]);
  return floats.filter((f) => {
    const under = dacs.get(f.wmo) ?? [];
    if (under.length < 2) return true;
    if (f.dac === under[0]) {
      const message = `float ${f.wmo} has raw files under ${under.length} DACs (${under.join(", ")}): expected one; its last good tables stay`;
      stats.errors++;
      stats.error_details.push({ float_id: f.wmo, dac: under.join(","), stage: "parse", message });
      log.error("parse: float refused", { float_id: f.wmo, error: message });
    }
    return false;
  });
}

/** A float whose raw files are all gone: its lake files (tombstones for its segment rows), quarantine records, previous versions and state go too. */
async function removeFloat(store: LakeStore, ref: FloatRef, state: ParseState, lake: LakeTables, stats: ParseStats, log: Logger): Promise<void> {
  await updateTombstones(store, ref, new Set(), lake);
  for (const key of state.outputs) await store.delete(key);
  for (const o of await store.list(previousFloatPrefix(ref.dac, ref.wmo))) await store.delete(o.key);
  await clearQuarantine(store, ref.dac, ref.wmo, new Set());
  await store.delete(stateKey(ref.dac, ref.wmo));
  stats.floats_removed++;
  stats.parquet_files_deleted += state.outputs.length;
  log.info("parse: float removed (no raw files left)", { float_id: ref.wmo, dac: ref.dac, files: state.outputs.length });
}

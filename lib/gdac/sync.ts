/**
 * The sync: brings Argo NetCDF files from a GDAC into the lake's raw zone,
 * driven by the GDAC index files, incrementally.
 *
 * - The plan comes from the four index files (cached in the lake and fetched
 *   conditionally). A listed file is fetched again only when its index
 *   date_update is newer than the manifest's, or its raw copy is missing.
 *   `<wmo>_prof.nc` / `<wmo>_Sprof.nc` (SYNC_FILES) have no index row: they are
 *   fetched with If-None-Match / If-Modified-Since from the manifest.
 * - Files land byte for byte at raw/dac=<dac>/wmo=<wmo>/<path below the float
 *   folder> through the LakeStore (atomic). The float's manifest moves only
 *   after a file has landed, in small groups and at the end of each float, so
 *   a crash leaves old or new state and a re-run completes the work.
 * - A listed file gone from the index (for a float still selected and listed)
 *   is marked removed in the manifest and its raw copy moved to
 *   removed/<run start>/raw/dac=.../...; nothing is deleted. Removals wait
 *   until every fetch is done and pass the removal guard first (too many:
 *   none is moved, and the run fails).
 * - A failed fetch is an error in the stats and the others go on; a failed
 *   write to the lake stops the run (LakeError) with the manifest not advanced
 *   past what landed.
 * - Only what the index says changed is looked at: the plan is diffed, float
 *   by float, against what the last completed sync of the scope applied
 *   (applied.ts); floats whose rows are the same keep their manifest and raw
 *   folder unread, and the changed ones have their manifest read but not their
 *   folder listed (the manifest says what they hold). Same index copies (304
 *   or same sha256) as last time: the index is not even read. A full check
 *   (FULL_CHECK, every FULL_CHECK_EVERY hours, no digest yet, named floats,
 *   SYNC_FILES) lists every float's folder, so a raw copy missing is fetched.
 * - After its changes landed (also when it stops part-way), the run writes
 *   the raw change journal (lib/lake/changes.ts): every float whose raw files
 *   it added, replaced or removed, and every float it looked at whose
 *   manifest a later sync than the last completed one wrote (a killed run's
 *   changes are named by the next one).
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { type Change, pruneJournal, writeJournal } from "../lake/changes.ts";
import { isWmo } from "../argo/ids.ts";
import type { Config } from "../config.ts";
import { withAdvisoryLock } from "../db/postgres.ts";
import { ConfigError, LakeError, SyncError } from "../errors.ts";
import { AbortedError, type Conditional } from "../http.ts";
import { keepPrevious } from "../lake/previous.ts";
import { REMOVAL_SHARE_FLOOR } from "../removal-guard.ts";
import type { LakeStore } from "../lake/store.ts";
import type { Logger } from "../log.ts";
import { cachedIndex, fetchIndex, type IndexCopy, indexChunks, keepIndex } from "./index-cache.ts";
import { coverageProblem, dataRows, indexProblem } from "./index-check.ts";
import { type IndexKind, type IndexReadResult, readIndex } from "./index-file.ts";
import { rawFileKey, rawFloatPrefix, REMOVED_PREFIX, removedKey } from "../lake/layout.ts";
import { type Applied, appliedFloatKey, RAW_JOURNAL_KEEP_MS, readApplied, rowsDigest, writeApplied } from "./applied.ts";
import { type FloatManifest, type ManifestEntry, readManifest, writeManifest } from "./manifest.ts";
import { checkGdacPath, fileKindOf } from "./paths.ts";
import { type FloatPlan, type Plan, plannedFiles, Planner, selectionFromConfig } from "./plan.ts";
import type { GdacSource } from "./source.ts";
import { openGdacSource } from "./sources.ts";

/** One failure, as reported in the stats. */
export const SyncErrorDetailSchema = z.object({
  float_id: z.string().nullable(),
  file: z.string().nullable(),
  stage: z.enum(["index", "plan", "fetch", "land", "remove"]),
  message: z.string(),
});
export type SyncErrorDetail = z.infer<typeof SyncErrorDetailSchema>;

/**
 * What a sync did. The first seven fields are the original FTP Sync worker's
 * stats object; the rest were added.
 */
export const SyncStatsSchema = z.object({
  total_floats: z.number().int().nonnegative(),
  files_downloaded: z.number().int().nonnegative(),
  /** Up to date already (index date_update not newer, or 304 for prof/Sprof). */
  files_skipped: z.number().int().nonnegative(),
  bytes_downloaded: z.number().int().nonnegative(),
  errors: z.number().int().nonnegative(),
  start_time: z.string(),
  end_time: z.string(),
  /** Files gone from the index, moved to removed/. */
  files_removed: z.number().int().nonnegative(),
  /** Retried requests (all causes). */
  retries: z.number().int().nonnegative(),
  duration_s: z.number().nonnegative(),
  /** prof/Sprof files asked for (SYNC_FILES) that the GDAC does not have: not an error. */
  files_absent: z.number().int().nonnegative(),
  /** Index rows refused as malformed or hostile (logged with their reason). */
  index_rows_refused: z.number().int().nonnegative(),
  /** Index rows kept with an out-of-range profile date or position set to empty (logged with their reason). */
  index_values_nulled: z.number().int().nonnegative(),
  /** The run was interrupted (abort signal): no new file was started after it. */
  aborted: z.boolean(),
  /** The first MAX_ERROR_DETAILS failures; `errors` counts them all. */
  error_details: z.array(SyncErrorDetailSchema),
});
export type SyncStats = z.infer<typeof SyncStatsSchema>;

/** Where a run is, for a progress bar or log lines. */
export interface SyncProgress {
  phase: "index" | "plan" | "files";
  floats_total: number;
  floats_done: number;
  /** Files planned (listed plus prof/Sprof asked for), and how many are dealt with. */
  files_total: number;
  files_done: number;
  files_downloaded: number;
  bytes_downloaded: number;
  errors: number;
}

export interface SyncOptions {
  /** Float ids to sync instead of FLOAT_IDS (run-float, run-batch). */
  floatIds?: readonly string[];
  /** Keeps only floats this returns true for (the scheduler's shards). */
  shard?: (wmo: string) => boolean;
  /** Stops the run gracefully: no new file is started, in-flight fetches are dropped, manifests are flushed. */
  signal?: AbortSignal;
  onProgress?: (p: SyncProgress) => void;
  /** A source to use instead of the one GDAC_BASE_URL names (it is not closed). */
  source?: GdacSource;
  /**
   * The run's scope ("all", or "shard-i-of-n" with `shard`): whose applied-index
   * digest the run diffs against and writes. Default "all" without a shard; a
   * shard without a scope checks every float whole.
   */
  scope?: string;
}

/** error_details keeps at most this many entries. */
export const MAX_ERROR_DETAILS = 1000;
/** A float's manifest is written after this many changes, and when the float is done. */
const MANIFEST_GROUP = 8;
/**
 * Floats whose manifest (and in a full check raw listing) are read ahead of
 * the one being fetched: a daily run's changed float has one file or two, so
 * the requests in flight wait on these reads unless enough are under way.
 */
const LOOKAHEAD = 16;
const INDEX_KINDS: IndexKind[] = ["core", "bio", "synthetic", "meta"];

interface FetchTask {
  type: "fetch";
  float: FloatState;
  path: string;
  key: string;
  /** Index date_update, or null for prof/Sprof (no index row). */
  dateUpdate: number | null;
  conditional?: Conditional;
}

type Task = FetchTask;

interface FloatState {
  plan: FloatPlan;
  manifest: FloatManifest;
  /**
   * Raw keys that exist for this float, from a listing of its folder (full
   * check); null when the folder was not listed: the manifest's word is taken.
   */
  present: Set<string> | null;
  /** The manifest was in the lake (not made up for a float never synced). */
  stored: boolean;
  outstanding: number;
  dirty: boolean;
  changesSinceWrite: number;
  writes: Promise<void>;
}

/** What the raw change journal says of a float, from its manifest. */
function changeOf(fs: FloatState): Change {
  const present = Object.values(fs.manifest.files).some((e) => e.status === "present");
  return { dac: fs.plan.dac, wmo: fs.plan.wmo, change: present ? "changed" : "removed" };
}

/**
 * Runs one sync. Throws ConfigError for a bad float id, SyncError when the
 * profile index cannot be had, LakeError when the lake cannot be written;
 * per-file failures are counted in the stats instead.
 */
export async function runSync(config: Config, store: LakeStore, log: Logger, opts: SyncOptions = {}): Promise<SyncStats> {
  const ids = opts.floatIds ?? config.FLOAT_IDS;
  for (const id of ids) {
    if (!isWmo(id)) throw new ConfigError(`invalid WMO float id ${JSON.stringify(id)}: expected 5 or 7 digits`, { floatId: id });
  }
  const source = opts.source ?? openGdacSource(config);
  const run = new SyncRun(config, store, log.child({ stage: "sync" }), source, opts);
  try {
    return await run.run(ids);
  } finally {
    if (!opts.source) await source.close();
  }
}

class SyncRun {
  private readonly started = new Date();
  private readonly t0 = performance.now();
  private readonly stamp = this.started.toISOString().replace(/[-:]/g, "").replace(/\.\d+Z$/, "Z");
  private readonly stats: SyncStats;
  private readonly incremental: boolean;
  private fatal: unknown = null;
  private readonly active = new Set<FloatState>();
  private floatsDone = 0;
  private filesTotal = 0;
  private filesDone = 0;
  private phase: SyncProgress["phase"] = "index";
  private availableKinds = new Set<IndexKind>();
  /** Files that left the index, per float, moved only after the removal guard (removeWithdrawn). */
  private readonly pendingRemovals = new Map<FloatPlan, string[]>();
  private removalCount = 0;
  /** Index-listed files the manifests of the planned floats hold as present. */
  private heldFiles = 0;
  /** The scope whose applied digest this run diffs against and writes; null: every float is checked whole, no digest written. */
  private scope: string | null = null;
  private applied: Applied | null = null;
  /** Every planned float is looked at (listed, manifest read), whatever the digest says. */
  private fullCheck = true;
  /** Planned floats whose index rows are as the last completed sync applied them: left alone. */
  private readonly unchanged = new Set<FloatPlan>();
  /** Rows digest of each planned float; distinct files listed of each float looked at. */
  private readonly digests = new Map<FloatPlan, string>();
  private readonly fileCounts = new Map<FloatPlan, number>();
  /** WMOs with a failed fetch or removal this run: not applied cleanly. */
  private readonly failedFloats = new Set<string>();
  /** Floats whose removals the removal guard held back. */
  private heldBack = false;
  /**
   * Floats the journal names (changed this run, or written by a sync after
   * the last completed one), by dac/wmo: the float's state while it is worked
   * on, then only its change (a daily run's thousands of manifests are not
   * kept to the end).
   */
  private readonly journal = new Map<string, FloatState | Change>();
  /** sha256 of each index copy the plan came from, by file name. */
  private readonly indexShas = new Map<string, string>();

  constructor(
    private readonly config: Config,
    private readonly store: LakeStore,
    private readonly log: Logger,
    private readonly source: GdacSource,
    private readonly opts: SyncOptions,
  ) {
    this.incremental = config.ENABLE_INCREMENTAL_SYNC;
    this.stats = {
      total_floats: 0,
      files_downloaded: 0,
      files_skipped: 0,
      bytes_downloaded: 0,
      errors: 0,
      start_time: this.started.toISOString(),
      end_time: this.started.toISOString(),
      files_removed: 0,
      retries: 0,
      duration_s: 0,
      files_absent: 0,
      index_rows_refused: 0,
      index_values_nulled: 0,
      aborted: false,
      error_details: [],
    };
  }

  private get signal(): AbortSignal | undefined {
    return this.opts.signal;
  }

  private get stopping(): boolean {
    return this.fatal !== null || this.signal?.aborted === true;
  }

  async run(ids: readonly string[]): Promise<SyncStats> {
    // A source passed in may have served earlier runs: count this run's retries only.
    const retriesBefore = this.source.retries();
    this.scope = ids.length > 0 ? null : this.opts.scope ?? (this.opts.shard ? null : "all");
    if (this.scope !== null) this.applied = await readApplied(this.store, this.scope, this.log);
    const fullCheck = this.fullCheckReason();
    this.fullCheck = fullCheck !== null;
    this.log.info("sync started", { source: this.source.description, lake: this.store.description, incremental: this.incremental, full_check: fullCheck });
    this.progress();
    // With Postgres, the workers of one lake plan one at a time: the first fetches a changed index and
    // keeps it, the others then get 304 for the copy it kept (one download per cycle, not one per shard).
    const plan = this.config.DATABASE_URL
      ? await withAdvisoryLock(this.config.DATABASE_URL, `index:${this.store.description}`, () => this.plan(ids), {
        signal: this.signal,
        onUnlocked: (reason) => this.log.warn("planning without the index lock", { reason }),
      })
      : await this.plan(ids);
    this.phase = "files";
    if (plan === null) this.sameAsApplied();
    else {
      this.stats.total_floats = plan.floats.length;
      const extras = this.config.SYNC_FILES;
      this.filesTotal = plan.floats.reduce(
        (n, f) => n + f.listed + extras.filter((x) => x === "prof" || f.synthetic).length,
        0,
      );
      const todo = this.diff(plan);
      this.progress();
      try {
        await this.execute(todo);
      } catch (err) {
        // What landed before the failure is named all the same (the error stays the run's).
        await this.writeRawJournal().catch((e) => this.log.error("cannot write the raw change journal", { error: (e as Error).message }));
        throw err;
      }
      await this.writeRawJournal();
    }
    this.stats.aborted = this.signal?.aborted === true;
    if (!this.stats.aborted && this.scope !== null) {
      await this.recordApplied(plan);
      await pruneJournal(this.store, "raw", RAW_JOURNAL_KEEP_MS);
    }
    this.stats.retries = this.source.retries() - retriesBefore;
    const end = new Date();
    this.stats.end_time = end.toISOString();
    this.stats.duration_s = Math.round((performance.now() - this.t0)) / 1000;
    this.log.info("sync finished", {
      floats: this.stats.total_floats,
      downloaded: this.stats.files_downloaded,
      skipped: this.stats.files_skipped,
      removed: this.stats.files_removed,
      errors: this.stats.errors,
      aborted: this.stats.aborted,
    });
    return SyncStatsSchema.parse(this.stats);
  }

  private addError(d: SyncErrorDetail): void {
    this.stats.errors++;
    if (d.float_id !== null) this.failedFloats.add(d.float_id);
    if (this.stats.error_details.length < MAX_ERROR_DETAILS) this.stats.error_details.push(d);
    this.log.error(d.message, { float_id: d.float_id, file: d.file, error_stage: d.stage });
  }

  private progress(): void {
    this.opts.onProgress?.({
      phase: this.phase,
      floats_total: this.stats.total_floats,
      floats_done: this.floatsDone,
      files_total: this.filesTotal,
      files_done: this.filesDone,
      files_downloaded: this.stats.files_downloaded,
      bytes_downloaded: this.stats.bytes_downloaded,
      errors: this.stats.errors,
    });
  }

  /** Why this run looks at every planned float; null when it looks only at what the index says changed. */
  private fullCheckReason(): string | null {
    if (this.scope === null) return this.opts.shard ? "a shard without a scope" : "named floats";
    if (this.applied === null) return "no completed sync of this scope yet";
    if (this.config.FULL_CHECK) return "FULL_CHECK";
    if (!this.incremental) return "ENABLE_INCREMENTAL_SYNC=false";
    if (this.config.SYNC_FILES.length > 0) return "SYNC_FILES (prof/Sprof are asked for every float)";
    const every = this.config.FULL_CHECK_EVERY;
    if (every > 0 && this.started.getTime() - Date.parse(this.applied.full_check_at) >= every * 3600_000) return `FULL_CHECK_EVERY=${every} hours`;
    return null;
  }

  /** What was selected besides the floats and the scope: a plan from the same indexes and selection is the same plan. */
  private selectionPrint(): string {
    const c = this.config;
    return JSON.stringify({ dacs: c.ARGO_DAC, from: c.SYNC_DATE_FROM ?? null, to: c.SYNC_DATE_TO ?? null, bbox: c.SYNC_BBOX ?? null });
  }

  /** sha256 of an index copy: its sidecar's for the cached copy (checked when read), computed for a fresh one. */
  private shaOf(copy: IndexCopy): string {
    return copy.cached ? copy.previous!.sha256 : createHash("sha256").update(copy.bytes).digest("hex");
  }

  /**
   * True when every index copy is the one the last completed sync planned
   * from, with the same selection and nothing left pending: no float can have
   * changed, so the index is not read. A fresh copy with the same bytes is
   * kept (its new validators) with the counts of the copy it equals.
   */
  private async sameIndexes(byKind: Map<IndexKind, IndexCopy>): Promise<boolean> {
    const a = this.applied;
    if (this.fullCheck || a === null || a.pending.length > 0 || a.selection !== this.selectionPrint()) return false;
    if (Object.keys(a.indexes).length !== byKind.size) return false;
    for (const copy of byKind.values()) {
      const sha = this.shaOf(copy);
      if (a.indexes[copy.name] !== sha) return false;
      if (!copy.cached && (copy.previous?.sha256 !== sha || copy.previous.rows === undefined || copy.previous.floats === undefined)) return false;
    }
    for (const copy of byKind.values()) {
      if (!copy.cached) await keepIndex(this.store, this.source, copy, { rows: copy.previous!.rows!, floats: copy.previous!.floats! });
      this.indexShas.set(copy.name, a.indexes[copy.name]!);
    }
    return true;
  }

  /** The stats of a run that found the indexes as the last completed sync applied them. */
  private sameAsApplied(): void {
    const a = this.applied!;
    const files = a.planned_files;
    this.stats.total_floats = a.planned_floats;
    this.stats.files_skipped = files;
    this.stats.index_rows_refused = a.rows_refused;
    this.stats.index_values_nulled = a.values_nulled;
    this.filesTotal = this.filesDone = files;
    this.floatsDone = a.planned_floats;
    this.log.info("index files as the last completed sync applied them: no float to look at", { floats: a.planned_floats, files });
    this.progress();
  }

  /**
   * The planned floats to look at: all in a full check, else those whose
   * index rows differ from what the last completed sync applied (or were not
   * applied cleanly). The others count as up to date.
   */
  private diff(plan: Plan): FloatPlan[] {
    const prev = this.fullCheck ? null : this.applied!.floats;
    const todo: FloatPlan[] = [];
    for (const fp of plan.floats) {
      const digest = rowsDigest(fp);
      this.digests.set(fp, digest);
      const a = prev?.[appliedFloatKey(fp.dac, fp.wmo)];
      if (a && a[0] === digest && fp.refusedRows === 0) {
        this.unchanged.add(fp);
        this.fileCounts.set(fp, a[1]);
        this.stats.files_skipped += a[1];
        this.filesDone += a[1];
        this.heldFiles += a[1];
        this.floatsDone++;
      } else todo.push(fp);
    }
    if (prev) this.log.info("plan diffed against the last completed sync", { floats: plan.floats.length, unchanged: this.unchanged.size, to_check: todo.length });
    return todo;
  }

  /**
   * Writes what this run applied, for the next run of the scope to diff
   * against: the floats it left up to date keep their digest, the ones it
   * looked at and brought in line get their new one, the others are pending.
   */
  private async recordApplied(plan: Plan | null): Promise<void> {
    const started = this.started.toISOString();
    const base = {
      format: 1 as const,
      scope: this.scope!,
      run_id: this.log.runId,
      started_at: started,
      written_at: new Date().toISOString(),
      selection: this.selectionPrint(),
      indexes: Object.fromEntries(this.indexShas),
    };
    if (plan === null) {
      await writeApplied(this.store, { ...this.applied!, ...base });
      return;
    }
    // Floats this run did not plan keep their entry: their files were not touched.
    const floats: Applied["floats"] = { ...this.applied?.floats };
    const pending: string[] = [];
    let files = 0;
    for (const fp of plan.floats) {
      const key = appliedFloatKey(fp.dac, fp.wmo);
      const n = this.fileCounts.get(fp);
      files += n ?? fp.listed;
      const clean = n !== undefined && fp.refusedRows === 0 && !this.failedFloats.has(fp.wmo) && !(this.heldBack && this.pendingRemovals.has(fp));
      if (this.unchanged.has(fp)) continue;
      if (clean) floats[key] = [this.digests.get(fp)!, n];
      else {
        delete floats[key];
        pending.push(key);
      }
    }
    for (const f of plan.refusedFloats) pending.push(appliedFloatKey(f.dacs.join("+"), f.wmo));
    await writeApplied(this.store, {
      ...base,
      full_check_at: this.fullCheck ? started : this.applied!.full_check_at,
      floats,
      planned_floats: plan.floats.length,
      planned_files: files,
      pending,
      rows_refused: this.stats.index_rows_refused,
      values_nulled: this.stats.index_values_nulled,
    });
  }

  /** Names in the raw change journal every float whose raw files changed, once the changes have landed. */
  private async writeRawJournal(): Promise<void> {
    if (this.journal.size === 0) return;
    const changes: Change[] = [...this.journal.values()].map((v) => ("plan" in v ? changeOf(v) : v));
    const key = await writeJournal(this.store, "raw", { runId: this.log.runId, stage: "sync", changes });
    this.log.info("raw change journal written", { key, floats: changes.length });
  }

  /**
   * Fetches the index files (in parallel) and reads them into a plan. A fresh
   * copy is judged whole first (index-check.ts): one that fails is refused
   * with its reason (an error of the run: exit 1) and the cached copy stays
   * the plan's source; only copies that pass are kept in the cache. Null
   * when the copies are the ones the last completed sync planned from.
   */
  private async plan(ids: readonly string[]): Promise<Plan | null> {
    const copies = await Promise.all(INDEX_KINDS.map((kind) =>
      fetchIndex(this.source, this.store, kind, this.log, { incremental: this.incremental, signal: this.signal })
    ));
    const byKind = new Map<IndexKind, IndexCopy>();
    for (const c of copies) if (c) byKind.set(c.kind, c);
    if (!byKind.has("core")) {
      throw new SyncError(`no profile index (ar_index_global_prof.txt or .txt.gz) at ${this.source.description}`);
    }
    for (const kind of INDEX_KINDS) {
      if (!byKind.has(kind)) this.log.warn("index file not on the source: its files are not synced and none is marked removed", { kind });
    }
    if (await this.sameIndexes(byKind)) return null;
    this.phase = "plan";
    this.progress();
    let read = await this.readIndexes(ids, byKind);
    const refusals = this.judge(byKind, read);
    if (refusals.size > 0) {
      for (const [kind, reason] of refusals) {
        const fresh = byKind.get(kind)!;
        const cached = await cachedIndex(this.store, kind, this.log);
        if (!cached && kind === "core") throw new SyncError(`${reason}; there is no cached copy to plan from`, { file: fresh.name });
        this.addError({
          float_id: null,
          file: fresh.name,
          stage: "index",
          message: cached
            ? `${reason}; the cached copy ${cached.name} (${cached.previous?.rows ?? "?"} rows) stays the plan's source`
            : `${reason}; there is no cached copy: its files are not synced and none is marked removed`,
        });
        if (cached) byKind.set(kind, cached);
        else byKind.delete(kind);
      }
      read = await this.readIndexes(ids, byKind);
    }
    this.availableKinds = new Set(byKind.keys());
    for (const copy of byKind.values()) this.indexShas.set(copy.name, this.shaOf(copy));
    for (const [kind, copy] of byKind) {
      const r = read.results.get(kind);
      if (!copy.cached && r && !(r instanceof Error)) {
        await keepIndex(this.store, this.source, copy, { rows: dataRows(r), floats: read.planner.listedIn(kind).size });
      }
    }
    const plan = read.planner.finish();
    this.stats.index_rows_refused = plan.refused;
    this.stats.index_values_nulled = plan.nulled;
    for (const f of plan.refusedFloats) this.addError({ float_id: f.wmo, file: null, stage: "plan", message: f.reason });
    for (const id of plan.unknownIds) {
      this.addError({ float_id: id, file: null, stage: "plan", message: `float ${id} is not in the GDAC index files` });
    }
    for (const [id, dac] of plan.otherDacIds) {
      this.addError({
        float_id: id,
        file: null,
        stage: "plan",
        message: `float ${id} is listed under DAC ${dac}, which ARGO_DAC (${this.config.ARGO_DAC.join(",")}) does not select`,
      });
    }
    this.log.info("plan ready", { floats: plan.floats.length, rows: plan.rows, refused: plan.refused });
    return plan;
  }

  /**
   * Reads every index copy into a new planner. A fresh copy that cannot be
   * read (no header, bad gzip, a decompression bomb) gives its error as its
   * result, to be judged; a cached copy that cannot be read stops the run.
   */
  private async readIndexes(
    ids: readonly string[],
    byKind: Map<IndexKind, IndexCopy>,
  ): Promise<{ planner: Planner; results: Map<IndexKind, IndexReadResult | SyncError> }> {
    const planner = new Planner(selectionFromConfig(this.config, ids, this.opts.shard), this.log);
    const results = new Map<IndexKind, IndexReadResult | SyncError>();
    for (const kind of INDEX_KINDS) {
      const copy = byKind.get(kind);
      if (!copy) continue;
      try {
        results.set(kind, await readIndex(indexChunks(copy, this.config.MAX_DECOMPRESSED_BYTES), kind, planner.visitor(kind), planner.readOptions));
      } catch (err) {
        if (copy.cached || !(err instanceof SyncError)) throw err;
        results.set(kind, err);
      }
    }
    return { planner, results };
  }

  /** The fresh index copies that must not be trusted, with why. */
  private judge(
    byKind: Map<IndexKind, IndexCopy>,
    read: { planner: Planner; results: Map<IndexKind, IndexReadResult | SyncError> },
  ): Map<IndexKind, string> {
    const maxShrink = this.config.INDEX_MAX_SHRINK;
    const out = new Map<IndexKind, string>();
    for (const [kind, copy] of byKind) {
      if (copy.cached) continue;
      const r = read.results.get(kind)!;
      const reason = r instanceof Error ? r.message : indexProblem(kind, copy.name, r, copy.previous?.rows ?? null, maxShrink);
      if (reason) out.set(kind, reason);
    }
    const core = byKind.get("core")!;
    if (!core.cached && !out.has("core")) {
      const others = (["bio", "synthetic", "meta"] as const).filter((k) => byKind.has(k) && !out.has(k)).map((k) => read.planner.listedIn(k));
      const reason = coverageProblem(core.name, read.planner.listedIn("core"), others, maxShrink);
      if (reason) out.set("core", reason);
    }
    return out;
  }

  /** Runs every float's tasks through a pool of workers; HTTP_CONCURRENCY bounds the requests in flight. */
  private async execute(floats: FloatPlan[]): Promise<void> {
    const tasks = this.tasks(floats);
    const worker = async () => {
      while (!this.stopping) {
        let next: IteratorResult<Task>;
        try {
          next = await tasks.next();
        } catch (err) {
          this.setFatal(err);
          return;
        }
        if (next.done) return;
        await this.runTask(next.value);
      }
    };
    const poolSize = Math.max(4, this.config.HTTP_CONCURRENCY * 2);
    await Promise.all(Array.from({ length: poolSize }, worker));
    await tasks.return(undefined).catch(() => {});
    // Interrupted or failed: whatever landed is recorded before we leave.
    for (const fs of this.active) await this.persist(fs, true).catch(() => {});
    if (this.fatal) throw this.fatal;
    await this.removeWithdrawn();
  }

  private setFatal(err: unknown): void {
    if (this.fatal === null) this.fatal = err;
  }

  /** Yields the tasks of each float in turn, reading the next floats' manifests ahead. */
  private async *tasks(floats: FloatPlan[]): AsyncGenerator<Task> {
    const ahead: Promise<FloatState>[] = [];
    let next = 0;
    const fill = () => {
      while (ahead.length < LOOKAHEAD && next < floats.length && !this.stopping) {
        const p = this.prepare(floats[next++]);
        p.catch(() => {}); // awaited below; this only keeps an early rejection from being "unhandled"
        ahead.push(p);
      }
    };
    fill();
    while (ahead.length > 0 && !this.stopping) {
      const fs = await ahead.shift()!;
      fill();
      const list = this.tasksOf(fs);
      fs.outstanding = list.length;
      if (list.length === 0) {
        this.floatDone(fs);
        continue;
      }
      this.active.add(fs);
      for (const t of list) {
        if (this.stopping) return;
        yield t;
      }
    }
  }

  /**
   * Reads a float's manifest, and in a full check lists its raw files. A
   * float looked at because its index rows changed takes its manifest's word
   * for the files it holds: listing the folder (an object per file) was most
   * of a daily run's cost per float, and a raw file deleted behind the sync's
   * back is the full check's to find (FULL_CHECK_EVERY).
   */
  private async prepare(plan: FloatPlan): Promise<FloatState> {
    let manifest: FloatManifest | null = null;
    try {
      manifest = await readManifest(this.store, plan.dac, plan.wmo);
    } catch (err) {
      if (err instanceof LakeError) throw err;
      this.log.warn("float manifest unreadable: its files are fetched again", { wmo: plan.wmo, error: (err as Error).message });
    }
    const present = this.fullCheck ? new Set((await this.store.list(rawFloatPrefix(plan.dac, plan.wmo))).map((o) => o.key)) : null;
    return {
      plan,
      manifest: manifest ?? { dac: plan.dac, wmo: plan.wmo, updated_at: this.started.toISOString(), files: {} },
      present,
      stored: manifest !== null,
      outstanding: 0,
      dirty: false,
      changesSinceWrite: 0,
      writes: Promise.resolve(),
    };
  }

  /** What to do for one float: fetch what is new or missing, remove what left the index. */
  private tasksOf(fs: FloatState): Task[] {
    const { plan, manifest, present } = fs;
    const wanted = plannedFiles(plan);
    this.fileCounts.set(plan, wanted.size);
    // Written by a sync after the last completed one (a killed run, most likely): named in the journal whatever this run does.
    const since = this.applied?.started_at;
    if (fs.stored && (since === undefined || manifest.updated_at >= since)) this.journal.set(appliedFloatKey(plan.dac, plan.wmo), fs);
    const tasks: Task[] = [];
    for (const [path, { rest, dateUpdate }] of wanted) {
      const key = rawFileKey(plan.dac, plan.wmo, rest);
      const e = manifest.files[path];
      const upToDate = e?.status === "present" && e.date_update !== null && Number(e.date_update) >= dateUpdate &&
        e.key === key && (present?.has(key) ?? true);
      if (this.incremental && upToDate) {
        this.stats.files_skipped++;
        this.filesDone++;
        continue;
      }
      tasks.push({ type: "fetch", float: fs, path, key, dateUpdate });
    }
    for (const extra of this.config.SYNC_FILES) {
      if (extra === "Sprof" && !plan.synthetic) continue;
      const path = `${plan.dac}/${plan.wmo}/${plan.wmo}_${extra}.nc`;
      const key = rawFileKey(plan.dac, plan.wmo, checkGdacPath(path).rest);
      const e = manifest.files[path];
      const held = this.incremental && e?.status === "present" && e.key === key && (present?.has(key) ?? true);
      tasks.push({
        type: "fetch",
        float: fs,
        path,
        key,
        dateUpdate: null,
        conditional: held ? { etag: e.etag, lastModified: e.last_modified } : undefined,
      });
    }
    // Removals only when this float's listing is complete: every index read, no row of it refused.
    // They wait until every fetch is done, so the removal guard can judge them all before any moves.
    const gone: string[] = [];
    for (const e of Object.values(manifest.files)) {
      if (e.status !== "present" || e.date_update === null) continue;
      this.heldFiles++;
      if (wanted.has(e.path) || plan.refusedRows > 0) continue;
      const p = checkGdacPath(e.path);
      const kind = fileKindOf(p.rest);
      if (kind !== "prof" && kind !== "Sprof" && this.availableKinds.has(kind)) gone.push(e.path);
    }
    if (plan.refusedRows > 0) {
      this.log.warn("rows of this float were refused: no file of it is marked removed this run", { wmo: plan.wmo, refused: plan.refusedRows });
    } else if (gone.length > 0) {
      this.pendingRemovals.set(plan, gone);
      this.removalCount += gone.length;
    }
    return tasks;
  }

  private async runTask(t: Task): Promise<void> {
    try {
      await this.fetchOne(t);
    } catch (err) {
      this.failed(t, err);
    } finally {
      this.filesDone++;
      this.progress();
      t.float.outstanding--;
      if (t.float.outstanding === 0) {
        this.active.delete(t.float);
        await this.persist(t.float, true).catch((err) => this.setFatal(err));
        this.floatDone(t.float);
      }
    }
  }

  private failed(t: Task, err: unknown): void {
    if (err instanceof AbortedError && this.signal?.aborted) return; // dropped: fetched again next run
    if (err instanceof LakeError) {
      this.setFatal(err);
      return;
    }
    const e = err as Error;
    this.addError({ float_id: t.float.plan.wmo, file: t.path, stage: "fetch", message: `${t.path}: ${e?.message ?? String(err)}` });
  }

  /**
   * Moves the files that left the index to removed/, after every fetch, and
   * only when the removal guard allows: more than REMOVAL_MAX_FILES files, or
   * more than REMOVAL_MAX_SHARE of the files held for the planned floats
   * (from REMOVAL_SHARE_FLOOR files up), stop the run before any is moved,
   * unless ALLOW_REMOVALS (--allow-removals) says the withdrawal was checked.
   */
  private async removeWithdrawn(): Promise<void> {
    const n = this.removalCount;
    if (n === 0 || this.stopping) return;
    const { REMOVAL_MAX_FILES: maxFiles, REMOVAL_MAX_SHARE: maxShare, ALLOW_REMOVALS: allowed } = this.config;
    const tooMany = n > maxFiles || (n >= REMOVAL_SHARE_FLOOR && n > maxShare * this.heldFiles);
    if (tooMany && !allowed) {
      this.heldBack = true;
      const floats = [...this.pendingRemovals.keys()].map((f) => f.wmo);
      this.addError({
        float_id: null,
        file: null,
        stage: "remove",
        message: `removal guard: expected at most REMOVAL_MAX_FILES=${maxFiles} files or REMOVAL_MAX_SHARE=${maxShare} of the ${this.heldFiles} held to leave the index, ` +
          `found ${n} (${floats.length} floats: ${floats.slice(0, 10).join(", ")}${floats.length > 10 ? ", ..." : ""}): none moved to ${REMOVED_PREFIX}; ` +
          `check the GDAC index, then run again with --allow-removals (ALLOW_REMOVALS=true)`,
      });
      return;
    }
    if (tooMany) this.log.warn("removal guard passed by ALLOW_REMOVALS", { files: n, held: this.heldFiles });
    for (const [plan, paths] of this.pendingRemovals) {
      if (this.stopping) return;
      const fs = await this.prepare(plan);
      for (const path of paths) {
        const e = fs.manifest.files[path];
        if (e?.status !== "present") continue;
        try {
          await this.remove(fs, e);
        } catch (err) {
          if (err instanceof LakeError) throw err;
          this.addError({ float_id: plan.wmo, file: path, stage: "remove", message: `${path}: ${(err as Error)?.message ?? String(err)}` });
        }
      }
      await this.persist(fs, true);
    }
  }

  private floatDone(fs: FloatState): void {
    const key = appliedFloatKey(fs.plan.dac, fs.plan.wmo);
    if (this.journal.get(key) === fs) this.journal.set(key, changeOf(fs));
    this.floatsDone++;
    this.log.debug("float done", { dac: fs.plan.dac, wmo: fs.plan.wmo });
    this.progress();
  }

  private async fetchOne(t: FetchTask): Promise<void> {
    const fs = t.float;
    const res = await this.source.fetchFile(t.path, { conditional: t.conditional, signal: this.signal });
    if (res.status === "not_modified") {
      this.stats.files_skipped++;
      return;
    }
    if (res.status === "not_found") {
      if (t.dateUpdate !== null) {
        this.addError({
          float_id: fs.plan.wmo,
          file: t.path,
          stage: "fetch",
          message: `${t.path}: HTTP ${res.httpStatus}: listed in the index but not on the GDAC`,
        });
        return;
      }
      this.stats.files_absent++;
      this.log.info("file not on the GDAC (no index row lists it)", { file: t.path });
      const e = fs.manifest.files[t.path];
      if (e?.status === "present") await this.remove(fs, e);
      return;
    }
    const body = res.body;
    const sha256 = createHash("sha256").update(body).digest("hex");
    // A new version of a file we hold: the current copy stays aside until the new one is known to parse.
    const prior = fs.manifest.files[t.path];
    // (keepPrevious copies nothing when the raw copy is not there, so an unlisted folder can take the manifest's word.)
    if (prior?.status === "present" && prior.sha256 !== sha256 && (fs.present?.has(t.key) ?? true)) await keepPrevious(this.store, t.key, prior.sha256);
    await this.store.put(t.key, body);
    fs.present?.add(t.key);
    fs.manifest.files[t.path] = {
      path: t.path,
      key: t.key,
      date_update: t.dateUpdate === null ? null : String(t.dateUpdate),
      size: body.byteLength,
      sha256,
      etag: res.etag,
      last_modified: res.lastModified,
      fetched_at: new Date().toISOString(),
      status: "present",
      removed_at: null,
    };
    this.stats.files_downloaded++;
    this.stats.bytes_downloaded += body.byteLength;
    await this.changed(fs);
  }

  /** Moves a file's raw copy under removed/ and marks it removed. */
  private async remove(fs: FloatState, e: ManifestEntry): Promise<void> {
    const to = removedKey(this.stamp, e.key);
    let key = e.key;
    // Not listed: asked of the store, for a run killed between the move and the manifest left the entry "present".
    if (fs.present ? fs.present.has(e.key) : (await this.store.stat(e.key)) !== null) {
      await this.store.move(e.key, to);
      fs.present?.delete(e.key);
      key = to;
    } else {
      this.log.warn("file left the index and its raw copy is already gone", { file: e.path, key: e.key });
    }
    fs.manifest.files[e.path] = { ...e, key, status: "removed", removed_at: new Date().toISOString() };
    this.stats.files_removed++;
    this.log.info("file removed from the GDAC index: raw copy moved", { file: e.path, to: key });
    await this.changed(fs);
  }

  private async changed(fs: FloatState): Promise<void> {
    this.journal.set(appliedFloatKey(fs.plan.dac, fs.plan.wmo), fs);
    fs.dirty = true;
    fs.changesSinceWrite++;
    if (fs.changesSinceWrite >= MANIFEST_GROUP) await this.persist(fs, false);
  }

  /** Writes a float's manifest if it changed; writes of one float never overlap. */
  private persist(fs: FloatState, force: boolean): Promise<void> {
    const write = async () => {
      if (!fs.dirty || (!force && fs.changesSinceWrite < MANIFEST_GROUP)) return;
      fs.dirty = false;
      fs.changesSinceWrite = 0;
      fs.manifest.updated_at = new Date().toISOString();
      try {
        await writeManifest(this.store, fs.manifest);
      } catch (err) {
        fs.dirty = true;
        throw err instanceof LakeError ? err : new LakeError(`cannot write the manifest of float ${fs.plan.wmo}: ${(err as Error).message}`, {
          floatId: fs.plan.wmo,
        }, { cause: err });
      }
    };
    fs.writes = fs.writes.then(write, write);
    return fs.writes;
  }
}

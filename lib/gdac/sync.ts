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
 *   removed/<run start>/raw/dac=.../...; nothing is deleted.
 * - A failed fetch is an error in the stats and the others go on; a failed
 *   write to the lake stops the run (LakeError) with the manifest not advanced
 *   past what landed.
 */
import { createHash } from "node:crypto";
import { z } from "zod";
import { isWmo } from "../argo/ids.ts";
import type { Config } from "../config.ts";
import { ConfigError, LakeError, SyncError } from "../errors.ts";
import { AbortedError, type Conditional } from "../http.ts";
import type { LakeStore } from "../lake/store.ts";
import type { Logger } from "../log.ts";
import { fetchIndex, type IndexCopy, indexChunks } from "./index-cache.ts";
import { type IndexKind, readIndex } from "./index-file.ts";
import {
  type FloatManifest,
  type ManifestEntry,
  rawFileKey,
  rawFloatPrefix,
  readManifest,
  removedKey,
  writeManifest,
} from "./manifest.ts";
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
}

/** error_details keeps at most this many entries. */
export const MAX_ERROR_DETAILS = 1000;
/** A float's manifest is written after this many changes, and when the float is done. */
const MANIFEST_GROUP = 8;
/** Floats whose manifest and raw listing are read ahead of the one being fetched. */
const LOOKAHEAD = 4;
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

interface RemoveTask {
  type: "remove";
  float: FloatState;
  entry: ManifestEntry;
}

type Task = FetchTask | RemoveTask;

interface FloatState {
  plan: FloatPlan;
  manifest: FloatManifest;
  /** Raw keys that exist for this float. */
  present: Set<string>;
  outstanding: number;
  dirty: boolean;
  changesSinceWrite: number;
  writes: Promise<void>;
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
    this.log.info("sync started", { source: this.source.description, lake: this.store.description, incremental: this.incremental });
    this.progress();
    const plan = await this.plan(ids);
    this.phase = "files";
    this.stats.total_floats = plan.floats.length;
    const extras = this.config.SYNC_FILES;
    this.filesTotal = plan.floats.reduce(
      (n, f) => n + f.listed + extras.filter((x) => x === "prof" || f.synthetic).length,
      0,
    );
    this.progress();
    await this.execute(plan);
    this.stats.aborted = this.signal?.aborted === true;
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

  /** Fetches the index files (in parallel) and reads them into a plan. */
  private async plan(ids: readonly string[]): Promise<Plan> {
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
    this.availableKinds = new Set(byKind.keys());
    this.phase = "plan";
    this.progress();
    const planner = new Planner(selectionFromConfig(this.config, ids, this.opts.shard), this.log);
    for (const kind of INDEX_KINDS) {
      const copy = byKind.get(kind);
      if (copy) await readIndex(indexChunks(copy), kind, planner.visitor(kind), planner.readOptions);
    }
    const plan = planner.finish();
    this.stats.index_rows_refused = plan.refused;
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

  /** Runs every float's tasks through a pool of workers; HTTP_CONCURRENCY bounds the requests in flight. */
  private async execute(plan: Plan): Promise<void> {
    const tasks = this.tasks(plan.floats);
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

  /** Reads a float's manifest and lists its raw files. */
  private async prepare(plan: FloatPlan): Promise<FloatState> {
    let manifest: FloatManifest | null = null;
    try {
      manifest = await readManifest(this.store, plan.dac, plan.wmo);
    } catch (err) {
      if (err instanceof LakeError) throw err;
      this.log.warn("float manifest unreadable: its files are fetched again", { wmo: plan.wmo, error: (err as Error).message });
    }
    const present = new Set((await this.store.list(rawFloatPrefix(plan.dac, plan.wmo))).map((o) => o.key));
    return {
      plan,
      manifest: manifest ?? { dac: plan.dac, wmo: plan.wmo, updated_at: this.started.toISOString(), files: {} },
      present,
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
    const tasks: Task[] = [];
    for (const [path, dateUpdate] of wanted) {
      const key = rawFileKey(plan.dac, plan.wmo, checkGdacPath(path).rest);
      const e = manifest.files[path];
      const upToDate = e?.status === "present" && e.date_update !== null && Number(e.date_update) >= dateUpdate &&
        e.key === key && present.has(key);
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
      const held = this.incremental && e?.status === "present" && e.key === key && present.has(key);
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
    if (plan.refusedRows === 0) {
      for (const e of Object.values(manifest.files)) {
        if (e.status !== "present" || e.date_update === null || wanted.has(e.path)) continue;
        const p = checkGdacPath(e.path);
        const kind = fileKindOf(p.rest);
        if (kind !== "prof" && kind !== "Sprof" && this.availableKinds.has(kind)) tasks.push({ type: "remove", float: fs, entry: e });
      }
    } else {
      this.log.warn("rows of this float were refused: no file of it is marked removed this run", { wmo: plan.wmo, refused: plan.refusedRows });
    }
    return tasks;
  }

  private async runTask(t: Task): Promise<void> {
    try {
      if (t.type === "fetch") await this.fetchOne(t);
      else await this.remove(t.float, t.entry);
    } catch (err) {
      this.failed(t, err);
    } finally {
      if (t.type === "fetch") this.filesDone++;
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
    const file = t.type === "fetch" ? t.path : t.entry.path;
    this.addError({
      float_id: t.float.plan.wmo,
      file,
      stage: t.type === "fetch" ? "fetch" : "remove",
      message: `${file}: ${e?.message ?? String(err)}`,
    });
  }

  private floatDone(fs: FloatState): void {
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
    await this.store.put(t.key, body);
    fs.present.add(t.key);
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
    if (fs.present.has(e.key)) {
      await this.store.move(e.key, to);
      fs.present.delete(e.key);
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

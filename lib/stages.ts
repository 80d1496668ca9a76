/**
 * The pipeline's stages, in one registry: each stage's run function, its
 * stats schema and its one verdict rule. The runner (lib/runner.ts) calls
 * them for every entry point, so the same input gets the same verdict
 * wherever it came from.
 *
 * Verdicts (README "Verdicts and exit codes"):
 *   succeeded  every item the stage had to do landed (or was already current)
 *   partial    some items failed, the others landed; the next stage works on what landed
 *   failed     nothing usable came out: the stage threw, was interrupted, or every item failed
 *   skipped    there was nothing for the stage to do (no load target, an empty shard, --skip-download,
 *              nothing to compact)
 */
import { z } from "zod";
import type { Config } from "./config.ts";
import { runSync, type SyncProgress, SyncStatsSchema } from "./gdac/sync.ts";
import type { LakeStore } from "./lake/store.ts";
import { LoadStatsSchema } from "./load/stats.ts";
import type { Logger } from "./log.ts";
import { listQuarantine } from "./parse/quarantine.ts";

// Parse and load load DuckDB (FFI): imported when they run, so a sync never loads it (Deno runs sync without --allow-ffi).
const runParse = async (...a: Parameters<typeof import("./parse/run.ts").runParse>) => (await import("./parse/run.ts")).runParse(...a);
const runLoad = async (...a: Parameters<typeof import("./load/run.ts").runLoad>) => (await import("./load/run.ts")).runLoad(...a);
const runCompact = async (...a: Parameters<typeof import("./lake/compact.ts").runCompact>) => (await import("./lake/compact.ts")).runCompact(...a);
import { ParseStatsSchema } from "./parse/stats.ts";
import { CompactStatsSchema, emptyCompactStats } from "./lake/compact-stats.ts";

/** The pipeline stages, in the order a cycle runs them. */
export const STAGE_NAMES = ["sync", "parse", "compact", "load"] as const;
export type StageName = (typeof STAGE_NAMES)[number];

/** How a stage or a run ended. */
export const VERDICTS = ["succeeded", "partial", "failed", "skipped"] as const;
export const VerdictSchema = z.enum(VERDICTS);
export type Verdict = z.infer<typeof VerdictSchema>;

/** The process exit code of a verdict: 0 succeeded or skipped, 1 partial or failed (2 is bad settings, before any run). */
export const exitCodeOfVerdict = (v: Verdict): 0 | 1 => (v === "succeeded" || v === "skipped" ? 0 : 1);

/** The verdict of several stages or runs: the worst of them (failed > partial > succeeded > skipped). */
export function combineVerdicts(vs: readonly Verdict[]): Verdict {
  if (vs.includes("failed")) return "failed";
  if (vs.includes("partial")) return "partial";
  if (vs.includes("succeeded")) return "succeeded";
  return "skipped";
}

/** One item (float or file) a stage could not do, and why. */
export const FailureSchema = z.object({
  stage: z.enum(STAGE_NAMES),
  float_id: z.string().nullable(),
  file: z.string().nullable(),
  reason: z.string(),
});
export type Failure = z.infer<typeof FailureSchema>;

/** A progress report for a bar or periodic log lines: `done` of `total` items, what they are, and retries in flight. */
export interface StageProgress {
  stage: StageName;
  unit: string;
  done: number;
  total: number;
  errors: number;
  retries: number;
  bytes: number;
}

/** What a stage is given. */
export interface StageInput {
  config: Config;
  store: LakeStore;
  log: Logger;
  /** Fires on shutdown or a lost lock: start no new item. */
  signal: AbortSignal;
  /** Keep only floats this accepts (a shard); absent means all. */
  shard?: (wmo: string) => boolean;
  /** The run's scope, "all" or "shard-i-of-n" (lib/runner.ts scopeOf): whose applied digest and journal cursor a stage keeps. */
  scope?: string;
  /** The floats the run names (run-float, --float); absent means the config's selection. */
  floatIds?: string[];
  /** Every selected float, whatever changed: parse again (parse --force), load in full (load --full). */
  force?: boolean;
  /** Parse finds its floats from the raw change journal (lib/parse/discover.ts); decided by lib/schedule/runs.ts parseReadsJournal. */
  journal?: boolean;
  onProgress?: (p: StageProgress) => void;
}

/** What a stage's verdict rule decides. */
export interface Judgement {
  verdict: Verdict;
  /** Why, in one line (null when it simply succeeded). */
  reason: string | null;
}

/** Counters the metrics endpoint exports, from a stage's stats. */
export interface StageCounters {
  files_fetched: number;
  bytes_fetched: number;
  retries: number;
  errors: number;
}

/** One stage: how to run it, the shape of its stats, and its verdict rule. */
export interface StageDef<S> {
  name: StageName;
  stats: z.ZodType<S>;
  run(input: StageInput): Promise<S>;
  /** The verdict over the stage's stats (stats of a run that threw part-way included). */
  judge(stats: S, input: StageInput): Judgement;
  /** The items that failed, named. */
  failures(stats: S, input: StageInput, runId: string): Promise<Failure[]>;
  counters(stats: S): StageCounters;
  /** What the stage did, in one line for a person. */
  summary(stats: S): string;
}

const named = (input: StageInput): string[] => input.floatIds ?? [];
const plural = (n: number, what: string) => `${n} ${what}${n === 1 ? "" : "s"}`;
const mb = (b: number) => `${(b / 1e6).toFixed(2)} MB`;

const sync: StageDef<z.infer<typeof SyncStatsSchema>> = {
  name: "sync",
  stats: SyncStatsSchema,
  run: (i) =>
    runSync(i.config, i.store, i.log, {
      floatIds: i.floatIds,
      shard: i.shard,
      scope: i.scope,
      signal: i.signal,
      onProgress: i.onProgress && ((p: SyncProgress) =>
        i.onProgress!({ stage: "sync", unit: "files", done: p.files_done, total: p.files_total, errors: p.errors, retries: 0, bytes: p.bytes_downloaded })),
    }),
  judge(s, input) {
    if (s.aborted) return { verdict: "failed", reason: "interrupted before every file was fetched" };
    const landed = s.files_downloaded + s.files_skipped;
    if (s.errors > 0) {
      const first = s.error_details[0];
      const why = `${plural(s.errors, "error")}${first ? `; first: ${first.message}${first.file ? ` (${first.file})` : ""}` : ""}`;
      return landed > 0 ? { verdict: "partial", reason: why } : { verdict: "failed", reason: why };
    }
    if (s.total_floats === 0 && named(input).length === 0) return { verdict: "skipped", reason: "no float of the index matches the selection" };
    return { verdict: "succeeded", reason: null };
  },
  failures: async (s) => s.error_details.map((d) => ({ stage: "sync" as const, float_id: d.float_id, file: d.file, reason: d.message })),
  counters: (s) => ({ files_fetched: s.files_downloaded, bytes_fetched: s.bytes_downloaded, retries: s.retries, errors: s.errors }),
  summary: (s) =>
    `${plural(s.total_floats, "float")}, ${s.files_downloaded} file(s) downloaded (${mb(s.bytes_downloaded)}), ${s.files_skipped} up to date, ` +
    `${s.files_removed} removed, ${s.retries} retries, ${plural(s.errors, "error")}`,
};

const parse: StageDef<z.infer<typeof ParseStatsSchema>> = {
  name: "parse",
  stats: ParseStatsSchema,
  run: (i) =>
    runParse(i.config, i.store, i.log, {
      floatIds: i.floatIds,
      shard: i.shard,
      signal: i.signal,
      force: i.force,
      journal: i.journal,
      scope: i.scope,
      onProgress: i.onProgress && ((p) => i.onProgress!({ stage: "parse", unit: "floats", done: p.done, total: p.total, errors: p.errors, retries: 0, bytes: 0 })),
    }),
  judge(s, input) {
    if (s.aborted) return { verdict: "failed", reason: "interrupted before every float was parsed" };
    const seen = s.floats_parsed + s.floats_skipped + s.floats_removed;
    const landed = seen - s.errors;
    const ids = named(input);
    const missing = ids.length > seen ? ids.length - seen : 0;
    const problems = [
      s.errors > 0 ? `${plural(s.errors, "float")} failed to parse${s.error_details[0] ? `; first: float ${s.error_details[0].float_id}: ${s.error_details[0].message}` : ""}` : null,
      s.quarantined > 0 ? `${plural(s.quarantined, "file")} quarantined` : null,
      missing > 0 ? `${missing} of ${plural(ids.length, "named float")} have no raw files in the lake` : null,
    ].filter((p): p is string => p !== null);
    if (seen === 0) {
      if (s.discovery === "journal" && s.errors === 0) return { verdict: "succeeded", reason: null }; // nothing changed since the last parse
      if (ids.length) return { verdict: "failed", reason: `no raw files in the lake for float(s) ${ids.join(", ")}` };
      if (input.shard) return { verdict: "skipped", reason: "no float of this shard has raw files" };
      return { verdict: "failed", reason: `the lake ${input.store.description} holds no raw files: nothing has been synced into it` };
    }
    if (problems.length === 0) return { verdict: "succeeded", reason: null };
    return { verdict: landed > 0 || s.files_parsed > 0 ? "partial" : "failed", reason: problems.join("; ") };
  },
  async failures(s, input, runId) {
    const out: Failure[] = s.error_details.map((d) => ({ stage: "parse", float_id: d.float_id, file: null, reason: d.message }));
    if (s.quarantined > 0) {
      for (const q of await listQuarantine(input.store)) {
        if (q.run_id === runId) out.push({ stage: "parse", float_id: q.float_id, file: q.file, reason: `quarantined: ${q.reason}` });
      }
    }
    return out;
  },
  counters: (s) => ({ files_fetched: 0, bytes_fetched: 0, retries: 0, errors: s.errors + s.quarantined }),
  summary: (s) =>
    `${s.floats_parsed} float(s) parsed, ${s.floats_skipped} unchanged${s.discovery === "journal" ? " (floats from the raw change journal)" : ""}; ${s.files_parsed} file(s), ${s.profiles} profiles, ` +
    `${s.measurement_rows} rows, ${s.parquet_files_written} Parquet file(s) (${mb(s.bytes_out)}), ${s.quarantined} quarantined, ${plural(s.errors, "error")}`,
};

const compact: StageDef<z.infer<typeof CompactStatsSchema>> = {
  name: "compact",
  stats: CompactStatsSchema,
  // A shard's run never compacts: other shards may be parsing (compaction must not run beside a parse).
  run: async (i) => (i.shard ? emptyCompactStats() : await runCompact(i.config, i.store, i.log, { all: i.force, signal: i.signal })),
  judge(s, input) {
    if (s.aborted) return { verdict: "failed", reason: "interrupted before the commit: the lake reads as before" };
    if (input.shard) return { verdict: "skipped", reason: "a shard does not compact: run compact once after the shards' parses" };
    if (s.locked) return { verdict: "skipped", reason: "another compaction holds the compact lock" };
    if (!s.committed && s.files_deleted === 0) {
      return { verdict: "skipped", reason: s.partitions_pending ? `nothing worth compacting yet (${plural(s.partitions_pending, "partition")} below COMPACT_MIN_SHARE)` : "nothing to compact" };
    }
    return { verdict: "succeeded", reason: null };
  },
  failures: async () => [],
  counters: () => ({ files_fetched: 0, bytes_fetched: 0, retries: 0, errors: 0 }),
  summary: (s) =>
    `commit ${s.commit}: ${plural(s.partitions, "partition")} rewritten into ${plural(s.segments_written, "segment")} (${s.rows} rows, ${mb(s.bytes_written)}), ` +
    `${s.files_folded} file(s) folded, ${s.segments_retired} retired, ${s.files_deleted} deleted, ${s.partitions_pending} pending`,
};

const load: StageDef<z.infer<typeof LoadStatsSchema>> = {
  name: "load",
  stats: LoadStatsSchema,
  run: (i) => runLoad(i.config, i.store, i.log, { floatIds: i.floatIds, shard: i.shard, signal: i.signal, scope: i.scope, full: i.force }),
  judge(s, input) {
    if (s.postgres === "skipped" && s.redis === "skipped") return { verdict: "skipped", reason: "neither DATABASE_URL nor REDIS_URL is set" };
    if (s.aborted) return { verdict: "failed", reason: "interrupted before every float was loaded" };
    if (s.floats_failed > 0) {
      const first = s.errors[0];
      const why = `${s.floats_failed} of ${plural(s.floats_selected, "float")} failed to load${first ? `; first: float ${first.float_id}: ${first.error}` : ""}`;
      return { verdict: s.floats_loaded + s.floats_removed > 0 ? "partial" : "failed", reason: why };
    }
    if (s.mode === "full" && s.floats_selected === 0 && named(input).length === 0 && !input.shard) {
      return { verdict: "failed", reason: `the lake ${input.store.description} holds no Parquet tables to load: nothing has been parsed into it` };
    }
    return { verdict: "succeeded", reason: null };
  },
  failures: async (s) => s.errors.map((e) => ({ stage: "load" as const, float_id: e.float_id, file: null, reason: e.error })),
  counters: (s) => ({ files_fetched: 0, bytes_fetched: 0, retries: 0, errors: s.floats_failed }),
  summary: (s) =>
    [
      s.postgres === "skipped"
        ? "Postgres skipped (no DATABASE_URL)"
        : `Postgres ${s.profiles_read} profiles read: ${s.profiles_inserted} inserted, ${s.profiles_updated} updated, ${s.profiles_unchanged} unchanged, ` +
          `${s.profiles_deleted} deleted; ${s.climatology_cells_changed} climatology cell(s) changed`,
      s.redis === "skipped" ? "Redis skipped (no REDIS_URL)" : `Redis ${s.redis_floats_written} float(s), ${s.redis_levels_written} levels`,
      `${s.floats_loaded} loaded, ${s.floats_failed} failed`,
    ].join("; "),
};

/** The registry: every stage by name. A new stage is added here and to STAGE_NAMES. */
export const STAGES = { sync, parse, compact, load } satisfies Record<StageName, unknown>;

/** Each stage's stats type (from its schema). */
export type StageStats = { [K in StageName]: z.infer<(typeof STAGES)[K]["stats"]> };

/** A stage's definition with its stats shape erased: the runner and the metrics treat every stage alike. */
export const stageDef = (name: StageName): StageDef<unknown> => STAGES[name] as unknown as StageDef<unknown>;

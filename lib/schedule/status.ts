/**
 * `deno task status`: what an operator and a probe need to know about a lake.
 *
 * - runs: the latest run of each job (from the lake's run records, and
 *   job_runs when DATABASE_URL is set) with its verdict and age;
 * - backlog: floats synced but not parsed (their raw inputs differ from what
 *   their Parquet files were made from), parsed but not loaded (parsed after
 *   the start of the last load that ran), and quarantined files;
 * - freshness per DAC: the newest index date_update that landed (sync
 *   manifests) against the newest in the cached GDAC index, over the floats
 *   the config selects (ARGO_DAC, FLOAT_IDS: what the lake is meant to hold).
 *
 * Unhealthy (exit 1) by this rule, each reason listed in `problems`:
 *   1. the lake does not exist, or holds nothing (no run record, no raw file);
 *   2. the latest run of some job failed;
 *   3. a DAC is stale: its newest date_update in the cached index is more than
 *      STATUS_MAX_LAG hours newer than its newest landed (or nothing landed);
 *   4. the cached index is older than STATUS_MAX_LAG hours (sync has not
 *      looked at the GDAC since);
 *   5. compaction is behind: a staging file not yet folded was written more
 *      than STATUS_MAX_LAG hours ago and no compaction has looked at the lake
 *      since (one that did and left it pending by COMPACT_MIN_SHARE is the
 *      policy, not a stopped compaction), or the live list is unreadable.
 * A partial last run is reported, not unhealthy: what failed is in the backlog.
 */
import { parseFileName } from "../argo/filename.ts";
import type { Config } from "../config.ts";
import { connectPostgres, pgMessage } from "../db/postgres.ts";
import { cachedIndex, indexChunks } from "../gdac/index-cache.ts";
import { INDEX_NAMES, type IndexKind, readIndex, ROW_UPDATE } from "../gdac/index-file.ts";
import { FloatManifestSchema } from "../gdac/manifest.ts";
import { assertLakeExists } from "../removal-guard.ts";
import { CompactStatsSchema } from "../lake/compact-stats.ts";
import { MANIFEST_PREFIX, parseManifestKey, parseRawKey, parseSegmentKey, parseStateKey, parseTableFileKey, parseTombstoneKey, RAW_DATA_PREFIX, STATE_PREFIX } from "../lake/layout.ts";
import { foldedBy, readSnapshot } from "../lake/live.ts";
import type { LakeObject, LakeStore } from "../lake/store.ts";
import type { Logger } from "../log.ts";
import { mapLimit } from "../parse/discover.ts";
import { listQuarantine } from "../parse/quarantine.ts";
import { ParseStateSchema } from "../parse/state.ts";
import { TABLES } from "../../lake/schema.ts";
import { JOB_NAMES, listRunRecords, type RunRecord } from "./runs.ts";

/** The latest run of one job. */
export interface JobStatus {
  job: string;
  run_id: string;
  verdict: string;
  error: string | null;
  finished_at: string;
  age_s: number;
}

/** Freshness of one DAC. */
export interface DacFreshness {
  dac: string;
  floats_landed: number;
  /** Newest date_update landed / in the cached index, as ISO UTC; null when none. */
  newest_landed: string | null;
  newest_in_index: string | null;
  /** Hours the lake is behind the index (0 when up to date); null when either side is unknown. */
  lag_h: number | null;
  stale: boolean;
}

/** Files of one kind: how many, their bytes, and the oldest one's modification time and age. */
export interface FileBacklog {
  files: number;
  bytes: number;
  /** Modification time of the oldest, ISO UTC; null when there is none. */
  oldest_at: string | null;
  oldest_age_h: number | null;
}

/** Compaction health: what waits to be folded into segments, the live list, and what waits for GC. */
export interface CompactionStatus {
  /** The live list's commit number (0: never compacted) and when it was committed. */
  commit: number;
  committed_at: string | null;
  /** Committed segments of every table, and their bytes. */
  segments: number;
  segment_bytes: number;
  /** Staging files (one per float and partition) no commit has folded: every query lists and opens each. */
  staging: FileBacklog;
  /** Tombstones no commit has folded (each hides a float's segment rows of a table). */
  tombstones: number;
  /** Start of the last compaction that planned over the lake (committed, or left every partition to the policy); null: none on record. */
  last_compaction_at: string | null;
  /** The staging files written after that start: no compaction has looked at them yet. */
  unseen: FileBacklog;
  /** Objects GC deletes once COMPACT_GRACE has passed: folded staging files and tombstones, retired and orphan segments. */
  gc_pending: { files: number; bytes: number };
  /** Problem 5: an unseen staging file is older than STATUS_MAX_LAG hours. */
  behind: boolean;
}

/** The whole status, as `--json` prints it. */
export interface LakeStatus {
  lake: string;
  healthy: boolean;
  /** Why it is unhealthy, one line each (empty when healthy). */
  problems: string[];
  runs: JobStatus[];
  /** job_runs rows (newest first) when DATABASE_URL is set; null otherwise. */
  db_runs: Array<{ run_id: string; job: string; status: string; started_at: string; ended_at: string | null }> | null;
  db_error: string | null;
  backlog: {
    synced_not_parsed: number;
    /** null when no load has ever run with a target (nothing to be behind). */
    parsed_not_loaded: number | null;
    quarantined: number;
    /** A few of each, for the operator to look at. */
    examples: { synced_not_parsed: string[]; parsed_not_loaded: string[]; quarantined: string[] };
  };
  freshness: DacFreshness[];
  /** null when the live list cannot be read (then a problem says why). */
  compaction: CompactionStatus | null;
  index: { fetched_at: string | null; age_h: number | null };
  thresholds: { max_lag_h: number };
}

const HOUR = 3_600_000;

/** "20250101120000" (or its number) -> epoch ms. */
function dateUpdateMs(v: string | number): number {
  const s = String(v);
  return Date.UTC(+s.slice(0, 4), +s.slice(4, 6) - 1, +s.slice(6, 8), +s.slice(8, 10), +s.slice(10, 12), +s.slice(12, 14));
}

async function readJson(store: LakeStore, key: string): Promise<unknown> {
  const bytes = await store.get(key);
  if (!bytes) return null;
  try {
    return JSON.parse(new TextDecoder().decode(bytes));
  } catch {
    return null;
  }
}

/** Gathers the status of a lake. Throws LakeError when the lake does not exist. */
export async function lakeStatus(config: Config, store: LakeStore, log: Logger, now: Date = new Date()): Promise<LakeStatus> {
  assertLakeExists(store, "run");
  const problems: string[] = [];
  const maxLagH = config.STATUS_MAX_LAG;
  const floatIds = new Set(config.FLOAT_IDS);
  const dacs = new Set<string>(config.ARGO_DAC);
  const selected = (dac: string, wmo: string) => (!dacs.size || dacs.has(dac)) && (!floatIds.size || floatIds.has(wmo));

  // Runs: the latest per job, from the newest records.
  const records = await listRunRecords(store, 500);
  const latest = new Map<string, RunRecord>();
  for (const r of records) if (!latest.has(r.job)) latest.set(r.job, r);
  const runs: JobStatus[] = JOB_NAMES.filter((j) => latest.has(j)).map((j) => {
    const r = latest.get(j)!;
    return { job: j, run_id: r.run_id, verdict: r.verdict, error: r.error, finished_at: r.finished_at, age_s: Math.round((now.getTime() - Date.parse(r.finished_at)) / 1000) };
  });
  for (const r of runs) if (r.verdict === "failed") problems.push(`the latest ${r.job} run (${r.run_id}) failed: ${r.error ?? ""}`);
  const db = config.DATABASE_URL ? await dbRuns(config.DATABASE_URL, 10) : { rows: null, error: null };

  // What landed, per float, from the manifests; then each float's parse state. One get per object: on S3
  // each is a request, so HTTP_CONCURRENCY of them are in flight (results kept in listing order).
  const landed = new Map<string, { dac: string; newest: number | null; inputs: Map<string, string> }>();
  const manifestKeys = (await store.list(MANIFEST_PREFIX)).filter((o) => parseManifestKey(o.key)).map((o) => o.key);
  const manifests = await mapLimit(manifestKeys, config.HTTP_CONCURRENCY, async (key) => FloatManifestSchema.safeParse(await readJson(store, key)));
  for (const m of manifests) {
    if (!m.success) continue;
    let newest: number | null = null;
    const inputs = new Map<string, string>();
    for (const f of Object.values(m.data.files)) {
      if (f.status !== "present") continue;
      if (f.date_update) newest = Math.max(newest ?? 0, dateUpdateMs(f.date_update));
      const rest = parseRawKey(f.key)?.rest;
      const kind = rest === undefined ? undefined : parseFileName(rest)?.kind;
      if (rest !== undefined && (kind === "meta" || kind === "core" || kind === "bio")) inputs.set(rest, f.sha256);
    }
    landed.set(m.data.wmo, { dac: m.data.dac, newest, inputs });
  }

  const states = new Map<string, { parsed_at: string; inputs: Record<string, { sha256: string }> }>();
  const stateKeys = (await store.list(STATE_PREFIX)).flatMap((o) => {
    const k = parseStateKey(o.key);
    return k ? [{ key: o.key, wmo: k.wmo }] : [];
  });
  const read = await mapLimit(stateKeys, config.HTTP_CONCURRENCY, async (k) => ParseStateSchema.safeParse(await readJson(store, k.key)));
  for (const [i, s] of read.entries()) if (s.success) states.set(stateKeys[i]!.wmo, s.data);
  const quarantine = await listQuarantine(store);

  // Backlog.
  const notParsed: string[] = [];
  for (const [wmo, l] of landed) {
    const st = states.get(wmo);
    const same = st && l.inputs.size === Object.keys(st.inputs).length && [...l.inputs].every(([rest, sha]) => st.inputs[rest]?.sha256 === sha);
    if (!same && l.inputs.size > 0) notParsed.push(wmo);
  }
  const lastLoad = records.find((r) => r.stages.some((s) => s.stage === "load" && (s.verdict === "succeeded" || s.verdict === "partial")));
  const loadStart = lastLoad?.stages.find((s) => s.stage === "load")?.started_at ?? null;
  const anyLoadTarget = Boolean(config.DATABASE_URL || config.REDIS_URL) || lastLoad !== undefined;
  const notLoaded = anyLoadTarget ? [...states].filter(([, s]) => loadStart === null || s.parsed_at > loadStart).map(([w]) => w) : null;

  // Freshness against the cached index.
  const index = await indexNewest(store, log, selected);
  const byDac = new Map<string, DacFreshness>();
  const dacOf = (dac: string) => {
    let d = byDac.get(dac);
    if (!d) byDac.set(dac, d = { dac, floats_landed: 0, newest_landed: null, newest_in_index: null, lag_h: null, stale: false });
    return d;
  };
  const landedMs = new Map<string, number>();
  for (const [wmo, l] of landed) {
    if (!selected(l.dac, wmo)) continue;
    const d = dacOf(l.dac);
    d.floats_landed++;
    if (l.newest !== null) landedMs.set(l.dac, Math.max(landedMs.get(l.dac) ?? 0, l.newest));
  }
  for (const [dac, ms] of index.newest) dacOf(dac).newest_in_index = new Date(ms).toISOString();
  for (const [dac, ms] of landedMs) dacOf(dac).newest_landed = new Date(ms).toISOString();
  for (const d of byDac.values()) {
    const idx = index.newest.get(d.dac);
    const got = landedMs.get(d.dac);
    if (idx === undefined) continue;
    d.lag_h = got === undefined ? null : Math.max(0, Math.round(((idx - got) / HOUR) * 10) / 10);
    d.stale = got === undefined || idx - got > maxLagH * HOUR;
    if (d.stale) {
      problems.push(got === undefined
        ? `DAC ${d.dac} is stale: the index lists data from ${d.newest_in_index} and none of it has landed`
        : `DAC ${d.dac} is stale: the newest landed is ${d.newest_landed}, the index has ${d.newest_in_index} (${d.lag_h} h behind, limit ${maxLagH} h)`);
    }
  }
  const indexAgeH = index.fetchedAt ? Math.round(((now.getTime() - Date.parse(index.fetchedAt)) / HOUR) * 10) / 10 : null;
  if (indexAgeH !== null && indexAgeH > maxLagH) problems.push(`the cached GDAC index was fetched ${indexAgeH} h ago (limit ${maxLagH} h): sync has not looked at the GDAC since`);

  const compaction = await compactionStatus(store, records, now, maxLagH).catch((err: Error) => {
    problems.push(`compaction: the live list cannot be read: ${err.message}`);
    return null;
  });
  if (compaction?.behind) {
    const u = compaction.unseen;
    problems.push(
      `compaction is behind: ${u.files} staging file(s) not folded since ${compaction.last_compaction_at ? `the last compaction looked (${compaction.last_compaction_at})` : "ever (no compaction on record)"}, ` +
        `the oldest written ${u.oldest_age_h} h ago (limit ${maxLagH} h): every query opens them one by one until a compaction folds them`,
    );
  }

  if (records.length === 0 && landed.size === 0 && states.size === 0 && (await store.list(RAW_DATA_PREFIX)).length === 0) {
    problems.unshift(`the lake ${store.description} holds nothing: no run record, no raw file, no parse state`);
  }

  return {
    lake: store.description,
    healthy: problems.length === 0,
    problems,
    runs,
    db_runs: db.rows,
    db_error: db.error,
    backlog: {
      synced_not_parsed: notParsed.length,
      parsed_not_loaded: notLoaded?.length ?? null,
      quarantined: quarantine.length,
      examples: { synced_not_parsed: notParsed.slice(0, 10), parsed_not_loaded: (notLoaded ?? []).slice(0, 10), quarantined: quarantine.slice(0, 10).map((q) => q.file) },
    },
    freshness: [...byDac.values()].sort((a, b) => a.dac.localeCompare(b.dac)),
    compaction,
    index: { fetched_at: index.fetchedAt, age_h: indexAgeH },
    thresholds: { max_lag_h: maxLagH },
  };
}

const ageH = (now: Date, iso: string | null) => (iso === null ? null : Math.round(((now.getTime() - Date.parse(iso)) / HOUR) * 10) / 10);

function backlogOf(objects: readonly LakeObject[], now: Date): FileBacklog {
  let oldest: Date | null = null;
  for (const o of objects) if (oldest === null || o.modified < oldest) oldest = o.modified;
  const at = oldest?.toISOString() ?? null;
  return { files: objects.length, bytes: objects.reduce((a, o) => a + o.size, 0), oldest_at: at, oldest_age_h: ageH(now, at) };
}

/**
 * Start of the newest compaction on record that planned over the lake: not
 * one that found the lock taken, was stopped or failed (or a shard's, which
 * does not compact).
 */
function lastCompactionLook(records: readonly RunRecord[]): { run_id: string; at: string } | null {
  for (const r of records) {
    for (const s of r.stages) {
      if (s.stage !== "compact" || s.verdict === "failed" || s.stats === null) continue;
      const c = CompactStatsSchema.safeParse(s.stats);
      if (c.success && !c.data.locked && !c.data.aborted) return { run_id: r.run_id, at: c.data.start_time };
    }
  }
  return null;
}

/**
 * Compaction health from one snapshot of the lake (listing of the table
 * folders and tombstones, then the live list, as readers take it). A staging
 * file or tombstone the live list names as folded, unchanged since, is
 * waiting for GC, not for compaction. Throws LakeError when the live list is
 * damaged.
 */
async function compactionStatus(store: LakeStore, records: readonly RunRecord[], now: Date, maxLagH: number): Promise<CompactionStatus> {
  const { live, listed } = await readSnapshot(store);
  // The live list's identity of a folded object (lib/lake/live.ts: size, time, and ETag on S3).
  const isFolded = foldedBy(live);
  // Retired segments and orphans (a killed compaction's) are the segments the live list does not name.
  const named = new Set(TABLES.flatMap((t) => live.tables[t].map((seg) => seg.key)));
  const staging: LakeObject[] = [];
  let tombstones = 0;
  const gc = { files: 0, bytes: 0 };
  for (const o of listed.values()) {
    const waste = isFolded(o) || (parseSegmentKey(o.key) !== null && !named.has(o.key));
    if (waste) {
      gc.files++;
      gc.bytes += o.size;
    } else if (parseTableFileKey(o.key)) staging.push(o);
    else if (parseTombstoneKey(o.key)) tombstones++;
  }
  // A commit is a look too (its run record may be older than the records read, or it ran outside the runner);
  // the record's start is earlier than its commit (the snapshot is taken between the two), so it wins for its own run.
  const look = lastCompactionLook(records);
  let lookedAt = look?.at ?? null;
  if (live.committed_at !== null && live.run_id !== look?.run_id && (lookedAt === null || live.committed_at > lookedAt)) lookedAt = live.committed_at;
  const unseen = backlogOf(lookedAt === null ? staging : staging.filter((o) => o.modified.toISOString() > lookedAt), now);
  const segments = TABLES.flatMap((t) => live.tables[t]);
  return {
    commit: live.commit,
    committed_at: live.committed_at,
    segments: segments.length,
    segment_bytes: segments.reduce((a, seg) => a + seg.size, 0),
    staging: backlogOf(staging, now),
    tombstones,
    last_compaction_at: lookedAt,
    unseen,
    gc_pending: gc,
    behind: unseen.oldest_at !== null && now.getTime() - Date.parse(unseen.oldest_at) > maxLagH * HOUR,
  };
}

/** Newest date_update per DAC over the selected floats of the cached index files, and when the newest copy was fetched. */
async function indexNewest(store: LakeStore, log: Logger, selected: (dac: string, wmo: string) => boolean): Promise<{ newest: Map<string, number>; fetchedAt: string | null }> {
  const newest = new Map<string, number>();
  let fetchedAt: string | null = null;
  for (const kind of Object.keys(INDEX_NAMES) as IndexKind[]) {
    const copy = await cachedIndex(store, kind, log);
    if (!copy) continue;
    const at = copy.previous?.fetched_at ?? null;
    if (at && (!fetchedAt || at > fetchedAt)) fetchedAt = at;
    await readIndex(indexChunks(copy), kind, {
      float: (dac, wmo) => (selected(dac, wmo) ? dac : null),
      row: (dac, _code, values) => {
        const ms = dateUpdateMs(values[ROW_UPDATE]);
        if (ms > (newest.get(dac) ?? 0)) newest.set(dac, ms);
      },
      refused: () => {},
    });
  }
  return { newest, fetchedAt };
}

async function dbRuns(url: string, limit: number): Promise<{ rows: LakeStatus["db_runs"]; error: string | null }> {
  let client;
  try {
    client = await connectPostgres(url);
  } catch (err) {
    return { rows: null, error: (err as Error).message };
  }
  try {
    const res = await client.query(`SELECT run_id, job, status, started_at, ended_at FROM job_runs ORDER BY started_at DESC LIMIT $1`, [limit]);
    return {
      rows: res.rows.map((r) => ({
        run_id: r.run_id,
        job: r.job,
        status: r.status,
        started_at: (r.started_at as Date).toISOString(),
        ended_at: r.ended_at ? (r.ended_at as Date).toISOString() : null,
      })),
      error: null,
    };
  } catch (err) {
    // A database nothing has migrated yet has no job_runs: that is "no runs", not a failure.
    if ((err as { code?: string }).code === "42P01") return { rows: [], error: null };
    return { rows: null, error: pgMessage(err) };
  } finally {
    await client.end().catch(() => {});
  }
}

const age = (s: number) => (s < 120 ? `${s} s` : s < 7200 ? `${Math.round(s / 60)} min` : s < 172800 ? `${Math.round(s / 3600)} h` : `${Math.round(s / 86400)} d`);

/** The status as text for a terminal. */
export function formatLakeStatus(s: LakeStatus): string {
  const lines = [`Lake ${s.lake}: ${s.healthy ? "healthy" : "UNHEALTHY"}`];
  for (const p of s.problems) lines.push(`  ! ${p}`);
  lines.push("Latest run per job:");
  if (s.runs.length === 0) lines.push("  none recorded");
  for (const r of s.runs) lines.push(`  ${r.job.padEnd(9)} ${r.verdict.padEnd(9)} ${age(r.age_s).padStart(7)} ago  ${r.run_id}${r.error ? `  ${r.error}` : ""}`);
  if (s.db_error) lines.push(`  job_runs unreadable: ${s.db_error}`);
  const b = s.backlog;
  lines.push("Backlog:");
  lines.push(`  synced, not parsed   ${b.synced_not_parsed}${b.examples.synced_not_parsed.length ? `  (${b.examples.synced_not_parsed.join(", ")})` : ""}`);
  lines.push(`  parsed, not loaded   ${b.parsed_not_loaded ?? "- (no load target)"}${b.examples.parsed_not_loaded.length ? `  (${b.examples.parsed_not_loaded.join(", ")})` : ""}`);
  lines.push(`  quarantined files    ${b.quarantined}${b.examples.quarantined.length ? `  (${b.examples.quarantined.join(", ")})` : ""}`);
  lines.push(`Freshness per DAC (newest date_update landed vs in the cached index${s.index.fetched_at ? `, fetched ${s.index.fetched_at}` : ": no cached index"}):`);
  if (s.freshness.length === 0) lines.push("  nothing synced yet");
  for (const d of s.freshness) {
    lines.push(`  ${d.dac.padEnd(9)} ${String(d.floats_landed).padStart(6)} floats  landed ${d.newest_landed ?? "-"}  index ${d.newest_in_index ?? "-"}  ${d.lag_h === null ? "" : `lag ${d.lag_h} h`}${d.stale ? "  STALE" : ""}`);
  }
  const c = s.compaction;
  if (c) {
    const mb = (n: number) => `${(n / 1e6).toFixed(1)} MB`;
    lines.push(`Compaction: commit ${c.commit}${c.committed_at ? ` (${c.committed_at})` : " (never compacted)"}, ${c.segments} segments (${mb(c.segment_bytes)}); last compaction ${c.last_compaction_at ?? "none on record"}`);
    lines.push(`  staging files not folded  ${c.staging.files} (${mb(c.staging.bytes)})${c.staging.oldest_at ? `, oldest ${c.staging.oldest_age_h} h old` : ""}`);
    lines.push(`  written since it looked   ${c.unseen.files}${c.unseen.oldest_at ? `, oldest ${c.unseen.oldest_age_h} h old` : ""}${c.behind ? "  BEHIND" : ""}`);
    lines.push(`  tombstones not folded     ${c.tombstones}`);
    lines.push(`  waiting for GC            ${c.gc_pending.files} (${mb(c.gc_pending.bytes)})`);
  }
  return lines.join("\n") + "\n";
}

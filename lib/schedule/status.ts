/**
 * What `deno task status` shows about the schedule: the latest runs (from the
 * lake's run records, and from job_runs when DATABASE_URL is set) and the
 * lake's freshness, i.e. per DAC the newest index date_update that has
 * landed, read from the sync manifests.
 */
import type { Config } from "../config.ts";
import { connectPostgres, pgMessage } from "../db/postgres.ts";
import { FloatManifestSchema } from "../gdac/manifest.ts";
import { MANIFEST_PREFIX, parseManifestKey } from "../lake/layout.ts";
import type { LakeStore } from "../lake/store.ts";
import { listRunRecords, type RunRecord } from "./runs.ts";

/** Per DAC: how many floats have landed and the newest data among them. */
export interface DacFreshness {
  dac: string;
  floats: number;
  /** Newest date_update (YYYYMMDDHHMISS, UTC) of a present file, null if none has one. */
  newest_date_update: string | null;
  /** When the newest file landed (ISO). */
  newest_fetched_at: string | null;
}

/** One job_runs row, as status shows it. */
export interface DbRun {
  run_id: string;
  job: string;
  status: string;
  started_at: string;
  ended_at: string | null;
  error: string | null;
}

export interface ScheduleStatus {
  /** Newest run records in the lake, newest first. */
  runs: RunRecord[];
  /** Newest job_runs rows, newest first; null without DATABASE_URL; error when the database could not be read. */
  db_runs: DbRun[] | null;
  db_error: string | null;
  freshness: DacFreshness[];
  /** Manifests that could not be read or parsed (named so they can be looked at). */
  unreadable_manifests: string[];
}

/**
 * Gathers the schedule's status. Reads every float manifest (in parallel,
 * `concurrency` at a time): one small GET per float, which on S3 is the
 * cost of knowing the newest date_update exactly.
 */
export async function scheduleStatus(config: Config, store: LakeStore, opts: { runs?: number; concurrency?: number } = {}): Promise<ScheduleStatus> {
  const limit = opts.runs ?? 10;
  const [runs, freshness, db] = await Promise.all([
    listRunRecords(store, limit),
    lakeFreshness(store, opts.concurrency ?? 16),
    config.DATABASE_URL ? dbRuns(config.DATABASE_URL, limit) : Promise.resolve({ rows: null, error: null }),
  ]);
  return { runs, db_runs: db.rows, db_error: db.error, freshness: freshness.dacs, unreadable_manifests: freshness.unreadable };
}

/** Newest date_update and fetch time per DAC, from the manifests under raw/_manifest/. */
export async function lakeFreshness(store: LakeStore, concurrency = 16): Promise<{ dacs: DacFreshness[]; unreadable: string[] }> {
  const keys = (await store.list(MANIFEST_PREFIX)).map((o) => o.key).filter((k) => parseManifestKey(k) !== null);
  const byDac = new Map<string, DacFreshness>();
  const unreadable: string[] = [];
  let next = 0;
  const worker = async () => {
    while (next < keys.length) {
      const key = keys[next++];
      const dac = parseManifestKey(key)!.dac;
      const d = byDac.get(dac) ?? { dac, floats: 0, newest_date_update: null, newest_fetched_at: null };
      byDac.set(dac, d);
      try {
        const bytes = await store.get(key);
        if (!bytes) continue; // removed between list and get
        const m = FloatManifestSchema.parse(JSON.parse(new TextDecoder().decode(bytes)));
        d.floats++;
        for (const f of Object.values(m.files)) {
          if (f.status !== "present") continue;
          if (f.date_update && (d.newest_date_update === null || f.date_update > d.newest_date_update)) d.newest_date_update = f.date_update;
          if (d.newest_fetched_at === null || f.fetched_at > d.newest_fetched_at) d.newest_fetched_at = f.fetched_at;
        }
      } catch {
        unreadable.push(key);
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, concurrency) }, worker));
  return { dacs: [...byDac.values()].sort((a, b) => a.dac.localeCompare(b.dac)), unreadable: unreadable.sort() };
}

async function dbRuns(url: string, limit: number): Promise<{ rows: DbRun[] | null; error: string | null }> {
  let client;
  try {
    client = await connectPostgres(url);
  } catch (err) {
    return { rows: null, error: (err as Error).message };
  }
  try {
    const res = await client.query(
      `SELECT run_id, job, status, started_at, ended_at, error FROM job_runs ORDER BY started_at DESC LIMIT $1`,
      [limit],
    );
    const rows = res.rows.map((r) => ({
      run_id: r.run_id,
      job: r.job,
      status: r.status,
      started_at: (r.started_at as Date).toISOString(),
      ended_at: r.ended_at ? (r.ended_at as Date).toISOString() : null,
      error: r.error,
    }));
    return { rows, error: null };
  } catch (err) {
    // A database nothing has migrated yet has no job_runs: that is "no runs", not a failure.
    if ((err as { code?: string }).code === "42P01") return { rows: [], error: null };
    return { rows: null, error: pgMessage(err) };
  } finally {
    await client.end().catch(() => {});
  }
}

/** "20250101120000" -> "2025-01-01T12:00:00Z". */
const isoOfDateUpdate = (v: string): string =>
  `${v.slice(0, 4)}-${v.slice(4, 6)}-${v.slice(6, 8)}T${v.slice(8, 10)}:${v.slice(10, 12)}:${v.slice(12, 14)}Z`;

/** The status as text lines for a terminal. */
export function formatScheduleStatus(s: ScheduleStatus): string {
  const lines: string[] = [];
  lines.push("Latest runs (lake):");
  if (s.runs.length === 0) lines.push("  none recorded");
  for (const r of s.runs) {
    const stages = r.stages.map((st) => `${st.stage}:${st.status}`).join(" ");
    lines.push(`  ${r.started_at}  ${r.job.padEnd(9)} ${r.status.padEnd(9)} ${(r.duration_ms / 1000).toFixed(1).padStart(7)} s  ${r.scope}  ${stages}  ${r.run_id}`);
    if (r.error) lines.push(`      error: ${r.error}`);
  }
  if (s.db_runs !== null || s.db_error) {
    lines.push("Latest runs (job_runs):");
    if (s.db_error) lines.push(`  cannot read: ${s.db_error}`);
    else if (s.db_runs!.length === 0) lines.push("  none recorded");
    for (const r of s.db_runs ?? []) {
      lines.push(`  ${r.started_at}  ${r.job.padEnd(9)} ${r.status.padEnd(9)} ended ${r.ended_at ?? "-"}  ${r.run_id}`);
      if (r.error) lines.push(`      error: ${r.error}`);
    }
  }
  lines.push("Lake freshness (newest date_update landed, per DAC):");
  if (s.freshness.length === 0) lines.push("  nothing synced yet");
  for (const d of s.freshness) {
    lines.push(`  ${d.dac.padEnd(9)} ${String(d.floats).padStart(6)} floats  newest ${d.newest_date_update ? isoOfDateUpdate(d.newest_date_update) : "-"}  landed ${d.newest_fetched_at ?? "-"}`);
  }
  if (s.unreadable_manifests.length) lines.push(`Unreadable manifests (${s.unreadable_manifests.length}): ${s.unreadable_manifests.slice(0, 5).join(", ")}${s.unreadable_manifests.length > 5 ? ", ..." : ""}`);
  return lines.join("\n");
}

/**
 * What a reader of a lake sees, table by table: every row of every table
 * view (and the wide measurements_bgc view) as JSON text, sorted, so two
 * lakes laid out differently (staging files, compacted segments, tombstones)
 * compare equal exactly when they hold the same rows.
 *
 * The views are the lake's own (createLakeViews over one readSnapshot): a
 * table is its live segments plus its staging files, with the segment rows of
 * floats that have a staging file or a tombstone left out.
 */
import { createLakeViews, type DuckSession, openDuckDB } from "../../lib/duckdb.ts";
import { type LakeSnapshot, readSnapshot } from "../../lib/lake/live.ts";
import { LocalLakeStore } from "../../lib/lake/local.ts";
import { TABLES } from "../../lake/schema.ts";
import { tableViewName } from "../../lake/views.ts";

/** Creates the lake's views (lib/duckdb.ts createLakeViews) of a local lake in a session, from one snapshot (read now when not given). */
export async function snapshotViews(session: DuckSession, root: string, snap?: LakeSnapshot): Promise<LakeSnapshot> {
  const s = snap ?? await readSnapshot(new LocalLakeStore(root));
  await createLakeViews(session, root, s.sources);
  return s;
}

/** The relations compared: every table view and the wide BGC view. */
export const COMPARED_VIEWS = [...TABLES.map(tableViewName), "measurements_bgc"];

/** Every row of every compared view (only the table views with `tablesOnly`), as JSON text, sorted, read through an open session. */
export async function viewRows(session: DuckSession, opts: { tablesOnly?: boolean } = {}): Promise<Record<string, string[]>> {
  const out: Record<string, string[]> = {};
  for (const view of opts.tablesOnly ? TABLES.map(tableViewName) : COMPARED_VIEWS) {
    const rows = await session.all(`SELECT * FROM ${view}`);
    out[view] = rows.map((r) => JSON.stringify(r)).sort();
  }
  return out;
}

/** Every row of every compared view of a local lake, as a reader taking one snapshot now sees it. */
export async function lakeRows(root: string, opts: { tablesOnly?: boolean } = {}): Promise<Record<string, string[]>> {
  const session = await openDuckDB({ threads: 1 });
  try {
    await snapshotViews(session, root);
    return await viewRows(session, opts);
  } finally {
    session.close();
  }
}

/** Rows per float of the measurements and profiles views, read through an open session: "float:table" to count. */
export async function countsPerFloat(session: DuckSession): Promise<Record<string, number>> {
  const out: Record<string, number> = {};
  for (const table of ["measurements", "profiles", "bgc_measurements", "floats"]) {
    for (const r of await session.all(`SELECT float_id, count(*)::INTEGER AS n FROM ${table} GROUP BY float_id`)) out[`${r.float_id}:${table}`] = Number(r.n);
  }
  return Object.fromEntries(Object.entries(out).sort(([a], [b]) => (a < b ? -1 : 1)));
}

/** Short differences between two row dumps, one line per view that differs. */
export function diffRows(actual: Record<string, string[]>, expected: Record<string, string[]>): string[] {
  const lines: string[] = [];
  for (const view of Object.keys(expected)) {
    const a = actual[view] ?? [];
    const e = expected[view]!;
    if (a.length === e.length && a.every((r, i) => r === e[i])) continue;
    const sa = new Set(a);
    const se = new Set(e);
    const missing = e.filter((r) => !sa.has(r));
    const extra = a.filter((r) => !se.has(r));
    lines.push(`${view}: ${a.length} rows, expected ${e.length}; ${missing.length} missing (first ${missing[0]?.slice(0, 200) ?? "-"}), ${extra.length} extra (first ${extra[0]?.slice(0, 200) ?? "-"})`);
  }
  return lines;
}

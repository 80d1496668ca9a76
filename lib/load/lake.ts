/**
 * What the load reads from the lake: the aggregate SQL of lake/aggregates/
 * run by DuckDB over views of the lake's tables (`profiles`,
 * `measurements`, `bgc_measurements`, `floats`, and the wide
 * `measurements_bgc`), a batch of floats at a time. The views of a
 * batch read only that batch's files (its floats' staging files, and the
 * segments holding them filtered to them: lib/lake/live.ts
 * sourcesOfFloats), so loading one float costs about the same in a lake of
 * ten floats or of twenty thousand. Rows are checked against
 * lib/db/rows.ts as they leave DuckDB.
 */
import { readFileSync } from "node:fs";
import { type DuckDBConnection, listValue, LIST, VARCHAR } from "@duckdb/node-api";
import { isWmo } from "../argo/ids.ts";
import { TABLES, type TableName } from "../../lake/schema.ts";
import { tableScans } from "../duckdb.ts";
import {
  indexedSourcesOfFloats,
  type LakeSnapshot,
  readSnapshot,
  type SourcesByFloat,
  sourcesByFloat,
  type TableSources,
  visibleFloats,
} from "../lake/live.ts";
import { tableViewSql, wideViewSql } from "../../lake/views.ts";
import type { LakeStore } from "../lake/store.ts";
import { LakeError, LoadError } from "../errors.ts";
import type { PressureBand } from "../db/loader.ts";
import { ContribRowSchema, type FloatLoad, FloatRowSchema, ProfileRowSchema, type ProfileRow } from "../db/rows.ts";
import { type LatestLevel, profileData } from "./hot.ts";

const aggregatesDir = new URL("../../lake/aggregates/", import.meta.url);

/** The text of one lake/aggregates/*.sql file. */
export function aggregateSql(name: string): string {
  return readFileSync(new URL(`${name}.sql`, aggregatesDir), "utf8");
}

async function rows(con: DuckDBConnection, name: string): Promise<Record<string, unknown>[]> {
  try {
    return (await con.runAndReadAll(aggregateSql(name))).getRowObjectsJS() as Record<string, unknown>[];
  } catch (err) {
    throw new LakeError(`lake query ${name}.sql failed: ${(err as Error).message}`, { stage: "load", query: name }, { cause: err });
  }
}

/** The lake's tables as one snapshot (lib/lake/live.ts), for batches of floats, and each float's DAC. */
export interface LakeFiles {
  /** The local directory the sources' keys are below (DuckDB reads the files in place). */
  root: string;
  /** Every table's sources: staging files and committed segments, superseded floats hidden. */
  sources: TableSources;
  /** The same, by float (lib/lake/live.ts sourcesByFloat), so a batch costs its size, not the lake's. */
  byFloat: Record<TableName, SourcesByFloat>;
  dac: Map<string, string>;
  /**
   * Floats whose rows sit under more than one DAC (in staging files or
   * segments), with the DACs: a float belongs to one DAC, so these are
   * refused (their targets keep their last good rows) and left out of every
   * table.
   */
  conflicts: Map<string, string[]>;
}

/**
 * The tables of a local lake (`root` is its directory) by float: from
 * `snapshot` when the caller has one (the local copy of an S3 lake,
 * lib/load/root.ts), else from one snapshot of `store`. Keys that are
 * neither table files nor tombstones are left out.
 */
export async function listLakeFiles(store: LakeStore, root: string, snapshot?: LakeSnapshot): Promise<LakeFiles> {
  const { sources } = snapshot ?? (await readSnapshot(store));
  const under = new Map<string, string[]>();
  for (const table of TABLES) {
    for (const [id, dacs] of visibleFloats(sources[table])) {
      const known = under.get(id);
      if (!known) under.set(id, [...dacs]);
      else for (const d of dacs) if (!known.includes(d)) known.push(d);
    }
  }
  const dac = new Map<string, string>();
  const conflicts = new Map<string, string[]>();
  for (const [id, dacs] of under) {
    dac.set(id, dacs[0]!);
    if (dacs.length > 1) conflicts.set(id, [...dacs].sort());
  }
  const byFloat = Object.fromEntries(TABLES.map((t) => [t, sourcesByFloat(sources[t])])) as Record<TableName, SourcesByFloat>;
  return { root, sources, byFloat, dac, conflicts };
}

/** Every float with rows in any table, sorted. */
export function floatIdsOf(files: LakeFiles): string[] {
  return [...files.dac.keys()].sort();
}

/**
 * Points the session's views at a batch of floats' rows (their staging
 * files whole, the segments holding them filtered to them), creates the
 * climatology's pressure bands and points view, and fills `load_floats`.
 * A table without files for the batch gets an empty view with its standard
 * columns. Floats under two DACs are left out.
 */
export async function focusOnFloats(con: DuckDBConnection, files: LakeFiles, floatIds: string[]): Promise<void> {
  for (const id of floatIds) if (!isWmo(id)) throw new LoadError(`refused float id ${JSON.stringify(id)}: not a WMO number`);
  const batch = new Set(floatIds.filter((id) => !files.conflicts.has(id)));
  try {
    for (const table of TABLES) {
      const picked = indexedSourcesOfFloats(files.byFloat[table], batch);
      await con.run(tableViewSql(table, tableScans(files.root, picked, batch), true));
    }
    // The aggregates read DOXY and CHLA as columns: the wide view pivots them from bgc_measurements.
    await con.run(wideViewSql(true));
    await con.run("CREATE OR REPLACE TEMP TABLE load_floats (float_id VARCHAR PRIMARY KEY)");
    await con.run("INSERT INTO load_floats SELECT DISTINCT unnest($1)", [listValue(floatIds)], [LIST(VARCHAR)]);
    await con.run(aggregateSql("pressure_bands"));
    await con.run(aggregateSql("climatology_points"));
  } catch (err) {
    throw new LakeError(`cannot open the lake's files for floats ${floatIds.join(", ")}: ${(err as Error).message}`, { stage: "load" }, { cause: err });
  }
}

/** The climatology's pressure bands, as the SQL defines them. */
export async function readPressureBands(con: DuckDBConnection): Promise<PressureBand[]> {
  const r = await con.runAndReadAll("SELECT band::INTEGER AS band, label, pres_min, pres_max FROM pressure_bands ORDER BY band");
  return r.getRowObjectsJS() as unknown as PressureBand[];
}

/** What the lake gives for a batch: each float's load, and the floats refused with why. */
export interface BatchLoads {
  loads: Map<string, FloatLoad>;
  /** Floats whose lake rows are defective (two rows for one profile, a value out of its type): not loaded. */
  refused: Map<string, string>;
}

/**
 * Reads everything the load writes for the floats {@link focusOnFloats}
 * selected. Floats the lake does not have are absent from the result. A
 * defect in one float's rows refuses that float alone: the others load.
 */
export async function readFloatLoads(con: DuckDBConnection): Promise<BatchLoads> {
  const out = new Map<string, FloatLoad>();
  const refused = new Map<string, string>();
  const refuse = (id: string, why: string) => {
    if (!refused.has(id)) refused.set(id, why);
    out.delete(id);
  };
  /** Checks a row of one float; a bad row refuses its float and gives null. */
  const check = <T>(schema: RowSchema<T>, id: string, row: unknown, query: string): T | null => {
    if (refused.has(id)) return null;
    try {
      return parseRow(schema, row, query);
    } catch (err) {
      refuse(id, (err as Error).message);
      return null;
    }
  };
  for (const r of await rows(con, "float_summary")) {
    const float = check(FloatRowSchema, String(r.float_id), r, "float_summary");
    if (float) out.set(float.float_id, { float, profiles: [], contributions: [], latest: null });
  }
  const seen = new Set<string>();
  for (const r of await rows(con, "profiles")) {
    const p = check(ProfileRowSchema, String(r.float_id), r, "profiles");
    if (!p) continue;
    const key = `${p.float_id}/${p.cycle_number}/${p.direction}/${p.profile_index}`;
    // Two lake rows for one profile would make the upsert touch a row twice: a lake defect to report, not to guess around.
    if (seen.has(key)) refuse(p.float_id, `the lake has two profiles ${key} (float/cycle/direction/N_PROF)`);
    seen.add(key);
    out.get(p.float_id)?.profiles.push(p);
  }
  for (const r of await rows(con, "climatology_contrib")) {
    const { float_id, ...c } = r;
    const row = check(ContribRowSchema, String(float_id), c, "climatology_contrib");
    if (row) out.get(String(float_id))?.contributions.push(row);
  }
  const levels = new Map<string, LatestLevel[]>();
  const latestKey = new Map<string, string>();
  for (const r of await rows(con, "latest_profile")) {
    const id = String(r.float_id);
    latestKey.set(id, `${r.cycle_number}/${r.direction}/${r.profile_index}`);
    if (r.level === null) continue;
    let list = levels.get(id);
    if (!list) levels.set(id, (list = []));
    list.push(r as unknown as LatestLevel);
  }
  for (const [id, load] of out) {
    const key = latestKey.get(id);
    if (key === undefined) continue;
    const header = load.profiles.find((p: ProfileRow) => `${p.cycle_number}/${p.direction}/${p.profile_index}` === key);
    if (header) load.latest = profileData(header, levels.get(id) ?? []);
  }
  return { loads: out, refused };
}

type RowSchema<T> = { safeParse(v: unknown): { success: true; data: T } | { success: false; error: { issues: { path: PropertyKey[]; message: string }[] } } };

function parseRow<T>(schema: RowSchema<T>, row: unknown, query: string): T {
  const r = schema.safeParse(row);
  if (r.success) return r.data;
  const issue = r.error.issues[0];
  throw new LakeError(
    `lake query ${query}.sql returned an unexpected value for ${issue.path.map(String).join(".")}: ${issue.message}`,
    { stage: "load", query },
  );
}

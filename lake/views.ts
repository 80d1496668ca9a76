/**
 * The SQL of the lake's DuckDB views, rendered from the templates in lake/sql/
 * and the column lists of lake/schema.ts. Pure string functions: lib/duckdb.ts
 * runs them.
 */
import { readFileSync } from "node:fs";
import { HIVE_TYPES, PARAMETER_SUFFIXES, PARTITION_KEYS, STANDARD_BGC_PARAMETERS, standardColumns, type TableName } from "./schema.ts";

const templates = new Map<string, string>();

/**
 * A template of lake/sql/, read once, without its comment lines (they
 * document the placeholders, which must not be filled inside comments).
 */
function template(name: string): string {
  let t = templates.get(name);
  if (t === undefined) {
    t = readFileSync(new URL(`./sql/${name}.sql`, import.meta.url), "utf8")
      .split("\n").filter((l) => !l.trimStart().startsWith("--") && l.trim() !== "").join("\n");
    templates.set(name, t);
  }
  return t;
}

/** Fills {{name}} placeholders; an unknown placeholder is a bug, so it throws. */
function render(text: string, values: Record<string, string>): string {
  return text.replace(/\{\{(\w+)\}\}/g, (_, k: string) => {
    const v = values[k];
    if (v === undefined) throw new Error(`no value for {{${k}}} in a lake/sql template`);
    return v;
  });
}

/** Quotes an SQL string literal. */
export const sqlString = (s: string): string => `'${s.replace(/'/g, "''")}'`;

/** `{'dac': VARCHAR, 'year': INTEGER}` for the table's partition keys. */
export function hiveTypesSql(table: TableName): string {
  return `{${PARTITION_KEYS[table].map((k) => `${sqlString(k)}: ${HIVE_TYPES[k]}`).join(", ")}}`;
}

/**
 * A path as a pattern that matches only itself: DuckDB reads every path it is
 * given as a glob, so `[`, `]`, `*` and `?` become one-character classes.
 */
export const literalPath = (path: string): string => path.replace(/[[\]*?]/g, (c) => `[${c}]`);

/** An empty relation with the table's standard columns (partition keys included), typed. */
export function standardRelationSql(table: TableName): string {
  const cols = standardColumns(table).map((c) => `CAST(NULL AS ${c.type}) AS "${c.name}"`);
  return `SELECT ${cols.join(", ")} WHERE false`;
}

/** The view over a table's files: its own name, except the per-float dictionary files. */
export const tableViewName = (table: TableName): string => (table === "dictionary" ? "dictionary_by_float" : table);

/**
 * Files a table view reads with one read_parquet, and the floats whose rows
 * in them it leaves out (`hide`: superseded floats of compacted segments) or,
 * instead, the only floats it keeps (`only`: a load batch's floats).
 */
export interface TableScan {
  /** Local paths or s3:// URLs. */
  paths: readonly string[];
  hide?: readonly string[];
  only?: readonly string[];
}

/** Lists up to this long are written out as constants (DuckDB prunes row groups with them); longer ones are hashed. */
const CONSTANT_LIST_MAX = 32;

/**
 * ` WHERE float_id [NOT] IN (...)`. A long constant list is compared
 * element by element on every row (1.5 s for 900 floats over a million rows),
 * so beyond a few dozen floats the list is a subquery, which DuckDB hashes.
 */
function floatFilter(not: boolean, floats: readonly string[]): string {
  const list = floats.map(sqlString).join(", ");
  const set = floats.length <= CONSTANT_LIST_MAX ? list : `SELECT unnest([${list}])`;
  return ` WHERE float_id ${not ? "NOT IN" : "IN"} (${set})`;
}

/**
 * CREATE VIEW for one table over its scans (lake/sql/table_scan.sql),
 * UNION ALL BY NAME; no file at all gives the empty typed view (read_parquet
 * fails on an empty list). `temp` makes a TEMP view (the load's per-batch
 * views).
 */
export function tableViewSql(table: TableName, scans: readonly TableScan[], temp = false): string {
  const view = tableViewName(table);
  const parts = scans.filter((s) => s.paths.length > 0 && (!s.only || s.only.length > 0)).map((s) =>
    render(template("table_scan"), {
      files: s.paths.map((f) => sqlString(literalPath(f))).join(", "),
      hive_types: hiveTypesSql(table),
      where: s.only ? floatFilter(false, s.only) : s.hide?.length ? floatFilter(true, s.hide) : "",
    })
  );
  const sql = parts.length === 0
    ? render(template("empty_view"), { table: view, standard: standardRelationSql(table) })
    : render(template("table_view"), { table: view, scans: parts.join("\nUNION ALL BY NAME\n") });
  return temp ? sql.replace("CREATE OR REPLACE VIEW", "CREATE OR REPLACE TEMP VIEW") : sql;
}

const bgcNames = (): string => STANDARD_BGC_PARAMETERS.map((p) => sqlString(p.toUpperCase())).join(", ");

/** The view pivoting the common BGC parameters back into wide columns: `measurements_bgc`. */
export function wideViewSql(temp = false): string {
  const pivot = STANDARD_BGC_PARAMETERS.map((p) => ",\n" + render(template("measurements_bgc_pivot"), { p, P: p.toUpperCase() })).join("");
  const cols = STANDARD_BGC_PARAMETERS.flatMap((p) => PARAMETER_SUFFIXES.map((s) => `b.${p}${s}`)).map((c) => `, ${c}`).join("");
  const sql = render(template("measurements_bgc"), { pivot_columns: pivot, bgc_columns: cols, parameters: bgcNames() });
  return temp ? sql.replace("CREATE OR REPLACE VIEW", "CREATE OR REPLACE TEMP VIEW") : sql;
}

/** argopy's BGC rule for one parameter in a mode, over a bgc_measurements row. */
function bgcRule(mode: "standard" | "research", p: string): string {
  if (mode === "research") return "mode = 'D' AND adjusted_qc IN (1, 5, 8)";
  // Radiometry and backscattering: any mode, no QC filter (argopy's code).
  if (/^(down_irradiance|downwelling_par|bbp)/.test(p)) return "value IS NOT NULL";
  return "mode IN ('A', 'D') AND coalesce(qc, 9) IN (1, 2, 5, 8)";
}

/**
 * CREATE VIEW for argopy's standard or research mode over `measurements` and
 * `bgc_measurements`: the core rule on PRES/TEMP/PSAL, each common BGC
 * parameter judged on its own (lake/sql/measurements_<mode>.sql).
 */
export function modeViewSql(mode: "standard" | "research"): string {
  const value = mode === "research" ? "adjusted" : "value";
  const qc = mode === "research" ? "adjusted_qc" : "qc";
  const error = mode === "research" ? "adjusted_error" : "CASE WHEN mode IN ('A', 'D') THEN adjusted_error END";
  const pivot = STANDARD_BGC_PARAMETERS.map((p) =>
    ",\n" + render(template("mode_pivot"), { p, P: p.toUpperCase(), rule: `(${bgcRule(mode, p)})`, value, qc, error })
  ).join("");
  const cols = STANDARD_BGC_PARAMETERS.flatMap((p) => ["", "_qc", "_error", "_mode"].map((s) => `,\n  b.${p}${s}`)).join("");
  const anyKept = `(${STANDARD_BGC_PARAMETERS.map((p) => `b.${p} IS NOT NULL`).join(" OR ")})`;
  return render(template(`measurements_${mode}`), { pivot_columns: pivot, bgc_columns: cols, any_kept: anyKept, parameters: bgcNames() });
}

/** The `dictionary` view, folding the per-float dictionary files. */
export const dictionaryViewSql = (): string => template("dictionary");

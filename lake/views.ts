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
 * One file a table view reads, and the floats whose rows in it the view
 * leaves out (`hide`: superseded in a compacted segment) or, instead, the
 * only floats it keeps (`only`: a load batch's floats of a segment).
 */
export interface TableScan {
  /** A local path or an s3:// URL. */
  path: string;
  hide?: readonly string[];
  only?: readonly string[];
}

const floatList = (floats: readonly string[]): string => floats.map(sqlString).join(", ");

/**
 * CREATE VIEW for one table over its files (local paths or s3:// URLs): one
 * read_parquet over the files read whole, UNION ALL one per filtered file;
 * no files gives the empty typed view (read_parquet fails on an empty list).
 * `temp` makes a TEMP view (the load's per-batch views).
 */
export function tableViewSql(table: TableName, scans: readonly TableScan[], temp = false): string {
  const view = tableViewName(table);
  const scan = (paths: readonly string[], where: string) =>
    render(template("table_scan"), {
      files: paths.map((f) => sqlString(literalPath(f))).join(", "),
      hive_types: hiveTypesSql(table),
      where,
    });
  const whole = scans.filter((s) => !s.hide?.length && !s.only);
  const parts = whole.length ? [scan(whole.map((s) => s.path), "")] : [];
  for (const s of scans) {
    if (s.only) {
      if (s.only.length) parts.push(scan([s.path], ` WHERE float_id IN (${floatList(s.only)})`));
    }
    else if (s.hide?.length) parts.push(scan([s.path], ` WHERE float_id NOT IN (${floatList(s.hide)})`));
  }
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

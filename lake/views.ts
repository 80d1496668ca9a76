/**
 * The SQL of the lake's DuckDB views, rendered from the templates in lake/sql/
 * and the column lists of lake/schema.ts. Pure string functions: lib/duckdb.ts
 * runs them.
 */
import { readFileSync } from "node:fs";
import { tableGlob } from "../lib/lake/layout.ts";
import { CORE_PARAMETERS, HIVE_TYPES, PARTITION_KEYS, standardColumns, type TableName } from "./schema.ts";

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

/** An empty relation with the table's standard columns (partition keys included), typed. */
export function standardRelationSql(table: TableName): string {
  const cols = standardColumns(table).map((c) => `CAST(NULL AS ${c.type}) AS "${c.name}"`);
  return `SELECT ${cols.join(", ")} WHERE false`;
}


/**
 * CREATE VIEW for one table. `hasFiles` false gives the empty typed view
 * (read_parquet fails on a glob that matches nothing).
 */
export function tableViewSql(table: TableName, root: string, hasFiles: boolean): string {
  const standard = standardRelationSql(table);
  if (!hasFiles) return render(template("empty_view"), { table, standard });
  return render(template("table_view"), {
    table,
    standard,
    files: sqlString(tableGlob(root, table)),
    hive_types: hiveTypesSql(table),
  });
}

/** Which measurement columns are parameters: those with the eight per-parameter columns. */
export function parametersOf(columns: readonly string[]): string[] {
  const set = new Set(columns);
  return columns.filter((c) =>
    /^[a-z][a-z0-9_]*$/.test(c) && set.has(`${c}_qc`) && set.has(`${c}_adjusted`) && set.has(`${c}_adjusted_error`) &&
    set.has(`${c}_mode`) && set.has(`${c}_raw`)
  );
}

/**
 * CREATE VIEW for argopy's standard or research mode, over the `measurements`
 * view whose columns are `columns`: core rules on PRES/TEMP/PSAL, the BGC rule
 * on every other parameter.
 */
export function modeViewSql(mode: "standard" | "research", columns: readonly string[]): string {
  const core = CORE_PARAMETERS as readonly string[];
  const bgc = parametersOf(columns).filter((p) => !core.includes(p));
  const part = template(`measurements_${mode}_bgc`);
  const bgcColumns = bgc.map((p) => ",\n" + render(part, { p })).join("");
  return render(template(`measurements_${mode}`), { bgc_columns: bgcColumns });
}

/**
 * Columnar tables in memory, as the Parquet writer takes them: one typed array
 * per column, with a sentinel for NULL so that whole columns can be copied
 * into DuckDB vectors without touching each value from JavaScript.
 */

/** NULL in an Int8Array column (TINYINT): QC flags are 0..9, so -128 never clashes. */
export const NULL_I8 = -128;
/** NULL in an Int16Array column (SMALLINT). */
export const NULL_I16 = -32768;
/** NULL in an Int32Array column (INTEGER) and in string codes (-1 also means NULL there). */
export const NULL_I32 = -2147483648;

/**
 * One column. Numbers keep their width; FLOAT, DOUBLE and TIMESTAMPTZ use NaN
 * for NULL; TIMESTAMPTZ holds whole microseconds since 1970-01-01T00:00:00Z
 * (exact in a double up to year 2255); VARCHAR
 * is dictionary-coded (code < 0 is NULL); `json` columns (lists, structs; small
 * tables only) hold JSON text that DuckDB casts to `type`.
 */
export type Column =
  | { name: string; type: "FLOAT"; data: Float32Array }
  | { name: string; type: "DOUBLE"; data: Float64Array }
  | { name: string; type: "TINYINT"; data: Int8Array }
  | { name: string; type: "SMALLINT"; data: Int16Array }
  | { name: string; type: "INTEGER"; data: Int32Array }
  | { name: string; type: "TIMESTAMPTZ"; data: Float64Array }
  | { name: string; type: "VARCHAR"; codes: Int32Array; dict: readonly string[] }
  | { name: string; type: "json"; sqlType: string; json: (string | null)[] };

/** A table: columns of equal length, in output order, plus Parquet key/value metadata. */
export interface ColumnTable {
  rowCount: number;
  columns: Column[];
  /** Written to the Parquet footer as key/value metadata (units, long names). */
  metadata: Record<string, string>;
}

/** Builds a dictionary-coded string column from one string (or null) per row. */
export function stringColumn(name: string, values: readonly (string | null)[]): Column {
  const dict: string[] = [];
  const index = new Map<string, number>();
  const codes = new Int32Array(values.length);
  for (let i = 0; i < values.length; i++) {
    const v = values[i];
    if (v === null) {
      codes[i] = -1;
      continue;
    }
    let c = index.get(v);
    if (c === undefined) {
      c = dict.length;
      dict.push(v);
      index.set(v, c);
    }
    codes[i] = c;
  }
  return { name, type: "VARCHAR", codes, dict };
}

/**
 * Builds a dictionary-coded string column run by run (rows of one value
 * come in runs: a profile's levels, a parameter's levels), with one lookup
 * per run instead of one per row.
 */
export class StringColumnBuilder {
  private readonly dict: string[] = [];
  private readonly index = new Map<string, number>();
  private readonly codes: Int32Array;
  private at = 0;

  constructor(private readonly name: string, rows: number) {
    this.codes = new Int32Array(rows);
  }

  /** Appends `count` rows of `value` (null: NULL). */
  add(value: string | null, count: number): void {
    let c = -1;
    if (value !== null) {
      const known = this.index.get(value);
      if (known === undefined) {
        c = this.dict.length;
        this.dict.push(value);
        this.index.set(value, c);
      } else c = known;
    }
    this.codes.fill(c, this.at, this.at + count);
    this.at += count;
  }

  build(): Column {
    return { name: this.name, type: "VARCHAR", codes: this.codes, dict: this.dict };
  }
}

/** Keeps the rows whose index is in `rows` (in that order): used to split a table by partition. */
export function takeRows(table: ColumnTable, rows: Int32Array): ColumnTable {
  const columns = table.columns.map((col): Column => {
    switch (col.type) {
      case "FLOAT":
        return { ...col, data: pick(col.data, rows, new Float32Array(rows.length)) };
      case "DOUBLE":
      case "TIMESTAMPTZ":
        return { ...col, data: pick(col.data, rows, new Float64Array(rows.length)) };
      case "TINYINT":
        return { ...col, data: pick(col.data, rows, new Int8Array(rows.length)) };
      case "SMALLINT":
        return { ...col, data: pick(col.data, rows, new Int16Array(rows.length)) };
      case "INTEGER":
        return { ...col, data: pick(col.data, rows, new Int32Array(rows.length)) };
      case "VARCHAR":
        return { ...col, codes: pick(col.codes, rows, new Int32Array(rows.length)) };
      case "json":
        return { ...col, json: Array.from(rows, (r) => col.json[r]) };
    }
  });
  return { rowCount: rows.length, columns, metadata: table.metadata };
}

function pick<T extends { [i: number]: number }>(src: T, rows: Int32Array, out: T): T {
  for (let i = 0; i < rows.length; i++) out[i] = src[rows[i]];
  return out;
}

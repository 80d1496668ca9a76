/**
 * Turns one float's parsed files into the lake's tables (lake/schema.ts):
 * the fixed-width `measurements` (PRES, TEMP, PSAL of every level), the long
 * `bgc_measurements` (every other parameter of the core and B files, one row
 * per level and parameter), the long `synthetic` (every parameter of the
 * S-files), `profiles`, the float's `floats` row and its `dictionary`, each
 * split by year of profile time. Pure: parsed files in, typed columns out.
 *
 * Measurement sources are the core single-profile files (R*, D*) with their
 * B-file (BR*, BD*) of the same cycle joined at (profile_index, level).
 * S-files (SR*, SD*) go to `synthetic` only: they repeat the core and B
 * values on a merged pressure axis, so mixing them in would count levels
 * twice. The multi-profile _prof.nc/_Sprof.nc repeat the single-profile files.
 */
import { NO_QC, type FloatMeta, type ParameterColumns, type ParameterInfo, type Profile } from "../argo/schema.ts";
import { type Column, type ColumnTable, NULL_I8, StringColumnBuilder, stringColumn } from "../lake/columns.ts";
import {
  CORE_PARAMETERS,
  CORE_UNITS,
  DICTIONARY_COLUMNS,
  FLOAT_COLUMNS,
  LONG_COLUMNS,
  MEASUREMENT_COLUMNS,
  PARAMETER_STATS_TYPE,
  PROFILE_COLUMNS,
  TABLE_COLUMNS,
  tableFileMetadata,
  TABLES,
  type TableName,
} from "../../lake/schema.ts";

/** One cycle's profiles (core merged with its B-file), with the file names they came from. */
export interface CycleProfiles {
  profiles: Profile[];
  /** Parameter metadata (units, long names, value types) of the files. */
  parameters: ParameterInfo[];
  /** Core file name, e.g. "D6901929_001.nc". */
  coreFile: string;
  /** B-file name, or null when the cycle has none (or it failed to parse). */
  bgcFile: string | null;
}

/** One S-file's profiles. */
export interface SyntheticProfiles {
  profiles: Profile[];
  parameters: ParameterInfo[];
  /** S-file name, e.g. "SD3902131_001.nc". */
  file: string;
}

/** What the table builder needs from one float. */
export interface FloatInput {
  wmo: string;
  cycles: CycleProfiles[];
  /** The float's S-files that parsed and validated. */
  synthetic?: SyntheticProfiles[];
  meta: { meta: FloatMeta; file: string } | null;
}

/** The tables of one float: per partition year (null: no valid time). */
export interface FloatTables {
  measurements: Map<number | null, ColumnTable>;
  bgc_measurements: Map<number | null, ColumnTable>;
  synthetic: Map<number | null, ColumnTable>;
  profiles: Map<number | null, ColumnTable>;
  floats: ColumnTable | null;
  dictionary: ColumnTable | null;
  profileCount: number;
  measurementRows: number;
}

/** Lower-case column name of an Argo parameter. */
export const columnName = (argoName: string): string => argoName.toLowerCase();

/** UTC year of an epoch-ms time, or null. */
export const yearOf = (ms: number | null): number | null => (ms === null ? null : new Date(ms).getUTCFullYear());

const MS_PER_DAY = 86_400_000;

/**
 * A profile's time in whole microseconds since 1970 (NaN when none), from
 * JULD itself: the day fraction is converted apart from the whole days, as
 * juldToEpochMs does, so nothing JULD resolves (a double's ~0.3 us at today's
 * dates) is rounded away to the millisecond.
 */
export function timeMicros(p: Pick<Profile, "time" | "juld">): number {
  if (p.time === null) return NaN;
  if (p.juld === null || !Number.isFinite(p.juld)) return p.time * 1000;
  const frac = p.juld - Math.floor(p.juld);
  // time = reference + whole days + round(frac in ms): take the first two back out of it.
  const dayStartMs = p.time - Math.round(frac * MS_PER_DAY);
  return dayStartMs * 1000 + Math.round(frac * MS_PER_DAY * 1000);
}

/** Milliseconds (or null) to the microseconds of a TIMESTAMPTZ column (NaN for none). */
const micros = (ms: number | null | undefined): number => (ms === null || ms === undefined ? NaN : ms * 1000);

interface Row {
  profile: Profile;
  cycle: CycleProfiles;
}

/** Orders profiles by (cycle, direction, profile_index). */
function profileOrder(a: Profile, b: Profile): number {
  return a.cycleNumber - b.cycleNumber || (a.direction < b.direction ? -1 : a.direction > b.direction ? 1 : 0) || a.profileIndex - b.profileIndex;
}

/** Groups items by the UTC year of their profile's time, keeping their order. */
function byYear<T extends { profile: Profile }>(items: T[]): Map<number | null, T[]> {
  const out = new Map<number | null, T[]>();
  for (const r of items) {
    const y = yearOf(r.profile.time);
    const list = out.get(y);
    if (list) list.push(r);
    else out.set(y, [r]);
  }
  return out;
}

/** Builds every table of a float. Rows are in (cycle, direction, profile_index, [parameter,] level) order. */
export function buildFloatTables(input: FloatInput): FloatTables {
  const rows: Row[] = input.cycles.flatMap((cycle) => cycle.profiles.map((profile) => ({ profile, cycle })));
  rows.sort((a, b) => profileOrder(a.profile, b.profile));
  const synth = (input.synthetic ?? []).flatMap((s) => s.profiles.map((profile) => ({ profile, file: s })));
  synth.sort((a, b) => profileOrder(a.profile, b.profile) || (a.file.file < b.file.file ? -1 : a.file.file > b.file.file ? 1 : 0));
  const synthFileOf = new Map<string, string>();
  for (const s of synth) synthFileOf.set(cycleKey(s.profile), s.file.file);

  const attrs = parameterAttributes(input);
  const measurements = new Map<number | null, ColumnTable>();
  const bgc = new Map<number | null, ColumnTable>();
  const profiles = new Map<number | null, ColumnTable>();
  let measurementRows = 0;
  for (const [year, group] of byYear(rows)) {
    const m = measurementTable(group, attrs);
    measurementRows += m.rowCount;
    measurements.set(year, m);
    const b = longTable(group.map((r) => ({ profile: r.profile, file: null })), "bgc_measurements", attrs);
    if (b.rowCount > 0) bgc.set(year, b);
    profiles.set(year, profileTable(group, synthFileOf));
  }
  const synthetic = new Map<number | null, ColumnTable>();
  for (const [year, group] of byYear(synth)) {
    const t = longTable(group.map((s) => ({ profile: s.profile, file: s.file.file })), "synthetic", attrs);
    if (t.rowCount > 0) synthetic.set(year, t);
  }
  const floats = input.meta || rows.length ? floatTable(input, rows) : null;
  const dictionary = floats ? dictionaryTable(input.wmo, attrs) : null;
  return { measurements, bgc_measurements: bgc, synthetic, profiles, floats, dictionary, profileCount: rows.length, measurementRows };
}

const cycleKey = (p: Profile): string => `${p.cycleNumber}${p.direction}`;

/** Argo QC flags (0-9, NO_QC) into a TINYINT column slice (NULL for NO_QC). */
function copyQc(src: Uint8Array | null, out: Int8Array, at: number, n: number): void {
  if (src === null) {
    out.fill(NULL_I8, at, at + n);
    return;
  }
  for (let i = 0; i < n; i++) {
    const f = src[i];
    out[at + i] = f === NO_QC || f === undefined ? NULL_I8 : f;
  }
}

/** Values into a FLOAT/DOUBLE column slice (NaN for none). */
function copyValues(src: Float32Array | Float64Array | null, out: Float32Array | Float64Array, at: number, n: number): void {
  if (src === null) out.fill(NaN, at, at + n);
  else out.set(src.subarray(0, n), at);
}

const fileMetadata = tableFileMetadata;

/** Fills per-level string and number columns from per-profile values. */
function levelFiller<R extends { profile: Profile }>(group: readonly R[], n: number) {
  return {
    str(name: string, f: (r: R) => string | null): Column {
      const out = new StringColumnBuilder(name, n);
      for (const r of group) out.add(f(r), r.profile.nLevels);
      return out.build();
    },
    num<A extends Float64Array | Int32Array | Int16Array | Int8Array>(out: A, f: (p: Profile) => number): A {
      let at = 0;
      for (const r of group) {
        out.fill(f(r.profile), at, at + r.profile.nLevels);
        at += r.profile.nLevels;
      }
      return out;
    },
  };
}

function measurementTable(group: Row[], attrs: ParameterAttributes): ColumnTable {
  let n = 0;
  for (const r of group) n += r.profile.nLevels;
  const fill = levelFiller(group, n);
  const level = new Int32Array(n);
  const depth = new Float64Array(n);
  let at = 0;
  for (const r of group) {
    level.set(r.profile.level.subarray(0, r.profile.nLevels), at);
    depth.set(r.profile.depthM.subarray(0, r.profile.nLevels), at);
    at += r.profile.nLevels;
  }
  const byName: Record<string, Column> = {
    float_id: fill.str("float_id", (r) => r.profile.floatId),
    cycle_number: { name: "cycle_number", type: "INTEGER", data: fill.num(new Int32Array(n), (p) => p.cycleNumber) },
    direction: fill.str("direction", (r) => r.profile.direction),
    profile_index: { name: "profile_index", type: "SMALLINT", data: fill.num(new Int16Array(n), (p) => p.profileIndex) },
    data_mode: fill.str("data_mode", (r) => r.profile.dataMode),
    time: { name: "time", type: "TIMESTAMPTZ", data: fill.num(new Float64Array(n), timeMicros) },
    juld_qc: { name: "juld_qc", type: "TINYINT", data: fill.num(new Int8Array(n), (p) => p.timeQc ?? NULL_I8) },
    latitude: { name: "latitude", type: "DOUBLE", data: fill.num(new Float64Array(n), (p) => p.latitude ?? NaN) },
    longitude: { name: "longitude", type: "DOUBLE", data: fill.num(new Float64Array(n), (p) => p.longitude ?? NaN) },
    position_qc: { name: "position_qc", type: "TINYINT", data: fill.num(new Int8Array(n), (p) => p.positionQc ?? NULL_I8) },
    level: { name: "level", type: "INTEGER", data: level },
    depth_m: { name: "depth_m", type: "DOUBLE", data: depth },
    source_file: fill.str("source_file", (r) => r.cycle.coreFile),
    bgc_source_file: fill.str("bgc_source_file", (r) => r.cycle.bgcFile),
    date_update: { name: "date_update", type: "TIMESTAMPTZ", data: fill.num(new Float64Array(n), (p) => micros(p.sources[0]?.dateUpdate)) },
  };
  const metadata = fileMetadata("measurements");
  for (const name of CORE_PARAMETERS) {
    const argoName = name.toUpperCase();
    // Core parameters are float variables in Argo's format; a double one is narrowed to its float32 value.
    const best = new Float32Array(n);
    const raw = new Float32Array(n);
    const adjusted = new Float32Array(n);
    const error = new Float32Array(n);
    const qc = new Int8Array(n);
    const rawQc = new Int8Array(n);
    const adjustedQc = new Int8Array(n);
    const modes = new StringColumnBuilder(`${name}_mode`, n);
    let off = 0;
    for (const r of group) {
      const k = r.profile.nLevels;
      const p: ParameterColumns | undefined = r.profile.parameters[argoName];
      copyValues(p?.value ?? null, best, off, k);
      copyQc(p?.qc ?? null, qc, off, k);
      copyValues(p?.raw ?? null, raw, off, k);
      copyQc(p?.rawQc ?? null, rawQc, off, k);
      copyValues(p?.adjusted ?? null, adjusted, off, k);
      copyQc(p?.adjustedQc ?? null, adjustedQc, off, k);
      copyValues(p?.adjustedError ?? null, error, off, k);
      modes.add(p?.dataMode ?? null, k);
      off += k;
    }
    byName[name] = { name, type: "FLOAT", data: best };
    byName[`${name}_qc`] = { name: `${name}_qc`, type: "TINYINT", data: qc };
    byName[`${name}_raw`] = { name: `${name}_raw`, type: "FLOAT", data: raw };
    byName[`${name}_raw_qc`] = { name: `${name}_raw_qc`, type: "TINYINT", data: rawQc };
    byName[`${name}_adjusted`] = { name: `${name}_adjusted`, type: "FLOAT", data: adjusted };
    byName[`${name}_adjusted_qc`] = { name: `${name}_adjusted_qc`, type: "TINYINT", data: adjustedQc };
    byName[`${name}_adjusted_error`] = { name: `${name}_adjusted_error`, type: "FLOAT", data: error };
    byName[`${name}_mode`] = modes.build();
    const info = attrs.get("measurements")!.get(argoName);
    if (info?.units) for (const c of [name, `${name}_raw`, `${name}_adjusted`, `${name}_adjusted_error`]) metadata[`${c}.units`] = info.units;
    if (info?.longName) metadata[`${name}.long_name`] = info.longName;
  }
  return { rowCount: n, columns: MEASUREMENT_COLUMNS.map((c) => byName[c.name]!), metadata };
}

const isValue = (v: number | undefined): boolean => v !== undefined && !Number.isNaN(v);
const isQc = (q: number | undefined): boolean => q !== undefined && q !== NO_QC;

/** True when parameter `p` holds anything at level `i`: a value, a QC flag or an error. */
function hasLevel(p: ParameterColumns, i: number): boolean {
  return isValue(p.raw[i]) || isQc(p.rawQc[i]) || isValue(p.adjusted?.[i]) || isQc(p.adjustedQc?.[i]) || isValue(p.adjustedError?.[i]);
}

/**
 * The long form of a group of profiles: one row per level and parameter that
 * holds anything there. `bgc_measurements` takes every parameter but PRES,
 * TEMP and PSAL (those are columns of `measurements`); `synthetic` takes them
 * all. Parameters of a profile in name order, then levels.
 */
function longTable(group: { profile: Profile; file: string | null }[], table: "bgc_measurements" | "synthetic", attrs: ParameterAttributes): ColumnTable {
  const core = new Set(CORE_PARAMETERS.map((p) => p.toUpperCase()));
  // One run per profile and parameter: the levels where the parameter holds anything.
  type Run = { r: { profile: Profile; file: string | null }; p: ParameterColumns; levels: Int32Array };
  const runs: Run[] = [];
  let n = 0;
  for (const r of group) {
    const names = Object.keys(r.profile.parameters).filter((k) => table === "synthetic" || !core.has(k)).sort();
    const kept = new Int32Array(r.profile.nLevels);
    for (const name of names) {
      const p = r.profile.parameters[name]!;
      let k = 0;
      for (let i = 0; i < r.profile.nLevels; i++) if (hasLevel(p, i)) kept[k++] = i;
      if (k === 0) continue;
      runs.push({ r, p, levels: kept.slice(0, k) });
      n += k;
    }
  }
  const qc = (q: number | undefined) => (q === undefined || q === NO_QC ? NULL_I8 : q);
  const v = (x: number | undefined) => (x === undefined ? NaN : x);
  const cycle = new Int32Array(n);
  const profileIndex = new Int16Array(n);
  const level = new Int32Array(n);
  const pres = new Float32Array(n);
  const value = new Float64Array(n);
  const qcs = new Int8Array(n);
  const raw = new Float64Array(n);
  const rawQc = new Int8Array(n);
  const adjusted = new Float64Array(n);
  const adjustedQc = new Int8Array(n);
  const adjustedError = new Float64Array(n);
  const dpres = new Float32Array(n);
  const strings = ["float_id", "direction", "parameter", "mode", "value_type", "source_file"] as const;
  const str = Object.fromEntries(strings.map((name) => [name, new StringColumnBuilder(name, n)])) as Record<(typeof strings)[number], StringColumnBuilder>;
  let at = 0;
  for (const { r, p, levels } of runs) {
    const k = levels.length;
    const prof = r.profile;
    cycle.fill(prof.cycleNumber, at, at + k);
    profileIndex.fill(prof.profileIndex, at, at + k);
    str.float_id.add(prof.floatId, k);
    str.direction.add(prof.direction, k);
    str.parameter.add(p.name, k);
    str.mode.add(p.dataMode, k);
    str.value_type.add(p.raw instanceof Float64Array ? "double" : "float", k);
    str.source_file.add(r.file ?? baseName(p.sourceFile), k);
    const presValues = prof.parameters["PRES"]?.value;
    for (let j = 0; j < k; j++) {
      const i = levels[j]!;
      const o = at + j;
      level[o] = prof.level[i]!;
      pres[o] = v(presValues?.[i]);
      value[o] = v(p.value[i]);
      qcs[o] = qc(p.qc[i]);
      raw[o] = v(p.raw[i]);
      rawQc[o] = qc(p.rawQc[i]);
      adjusted[o] = v(p.adjusted?.[i]);
      adjustedQc[o] = qc(p.adjustedQc?.[i]);
      adjustedError[o] = v(p.adjustedError?.[i]);
      dpres[o] = v(p.dPres?.[i]);
    }
    at += k;
  }
  const byName: Record<string, Column> = {
    float_id: str.float_id.build(),
    cycle_number: { name: "cycle_number", type: "INTEGER", data: cycle },
    direction: str.direction.build(),
    profile_index: { name: "profile_index", type: "SMALLINT", data: profileIndex },
    level: { name: "level", type: "INTEGER", data: level },
    pres: { name: "pres", type: "FLOAT", data: pres },
    parameter: str.parameter.build(),
    value: { name: "value", type: "DOUBLE", data: value },
    qc: { name: "qc", type: "TINYINT", data: qcs },
    raw: { name: "raw", type: "DOUBLE", data: raw },
    raw_qc: { name: "raw_qc", type: "TINYINT", data: rawQc },
    adjusted: { name: "adjusted", type: "DOUBLE", data: adjusted },
    adjusted_qc: { name: "adjusted_qc", type: "TINYINT", data: adjustedQc },
    adjusted_error: { name: "adjusted_error", type: "DOUBLE", data: adjustedError },
    mode: str.mode.build(),
    value_type: str.value_type.build(),
    dpres: { name: "dpres", type: "FLOAT", data: dpres },
    source_file: str.source_file.build(),
  };
  const metadata = fileMetadata(table);
  // Units of `value` depend on the parameter: `parameter.<P>.units` for each parameter the file has.
  for (const name of new Set(runs.map((run) => run.p.name))) {
    const info = attrs.get(table)!.get(name);
    if (info?.units) metadata[`parameter.${name}.units`] = info.units;
    if (info?.longName) metadata[`parameter.${name}.long_name`] = info.longName;
  }
  return { rowCount: n, columns: LONG_COLUMNS.map((c) => byName[c.name]!), metadata };
}

/** The file name of a path. */
const baseName = (path: string): string => path.slice(path.lastIndexOf("/") + 1);

type ParameterAttributes = Map<TableName, Map<string, ParameterInfo>>;

/** Every parameter's units and long name, as the float's files give them (first file wins), by table. */
function parameterAttributes(input: FloatInput): ParameterAttributes {
  const out = new Map<TableName, Map<string, ParameterInfo>>([["measurements", new Map()], ["bgc_measurements", new Map()], ["synthetic", new Map()]]);
  const core = new Set(CORE_PARAMETERS.map((p) => p.toUpperCase()));
  const add = (table: TableName, p: ParameterInfo) => {
    const m = out.get(table)!;
    if (!m.has(p.name)) m.set(p.name, p);
  };
  for (const c of input.cycles) for (const p of c.parameters) add(core.has(p.name) ? "measurements" : "bgc_measurements", p);
  for (const s of input.synthetic ?? []) for (const p of s.parameters) add("synthetic", p);
  return out;
}

/**
 * The float's dictionary: one row per column of every table (units from the
 * schema, or from the float's files for PRES/TEMP/PSAL), and one row per
 * parameter of the long tables, with the units and long name its files give.
 */
function dictionaryTable(wmo: string, attrs: ParameterAttributes): ColumnTable {
  type Entry = { table: string; column: string; parameter: string | null; type: string; units: string | null; longName: string | null; argo: string | null };
  const entries: Entry[] = [];
  for (const table of TABLES) {
    for (const c of TABLE_COLUMNS[table]) {
      const core = CORE_PARAMETERS.find((p) => c.name === p || c.name === `${p}_raw` || c.name === `${p}_adjusted` || c.name === `${p}_adjusted_error`);
      const info = core && table === "measurements" ? attrs.get("measurements")!.get(core.toUpperCase()) : undefined;
      entries.push({ table, column: c.name, parameter: null, type: c.type, units: info?.units ?? c.units ?? (core ? CORE_UNITS[core] : null), longName: info?.longName ?? c.doc, argo: c.argo ?? null });
    }
    if (table === "bgc_measurements" || table === "synthetic") {
      for (const p of [...attrs.get(table)!.values()].sort((a, b) => (a.name < b.name ? -1 : 1))) {
        entries.push({ table, column: "value", parameter: p.name, type: "DOUBLE", units: p.units, longName: p.longName, argo: p.name });
      }
    }
  }
  const col = (name: string, f: (e: Entry) => string | null) => stringColumn(name, entries.map(f));
  const byName: Record<string, Column> = {
    float_id: col("float_id", () => wmo),
    table_name: col("table_name", (e) => e.table),
    column_name: col("column_name", (e) => e.column),
    parameter: col("parameter", (e) => e.parameter),
    type: col("type", (e) => e.type),
    units: col("units", (e) => e.units),
    long_name: col("long_name", (e) => e.longName),
    argo_variable: col("argo_variable", (e) => e.argo),
  };
  return { rowCount: entries.length, columns: DICTIONARY_COLUMNS.map((c) => byName[c.name]!), metadata: fileMetadata("dictionary") };
}

/** The original system's quality_status for a DATA_MODE letter. */
function qualityStatus(mode: string | null): string | null {
  return mode === "R" ? "REAL_TIME" : mode === "A" ? "ADJUSTED" : mode === "D" ? "DELAYED" : null;
}

function profileTable(group: Row[], synthFileOf: Map<string, string>): ColumnTable {
  const n = group.length;
  const num = <A extends Float64Array | Int32Array | Int16Array | Int8Array>(out: A, f: (r: Row) => number) => {
    group.forEach((r, i) => (out[i] = f(r)));
    return out;
  };
  const s = (name: string, f: (r: Row) => string | null) => stringColumn(name, group.map(f));
  const names = (p: Profile) => Object.keys(p.parameters);
  const byName: Record<string, Column> = {
    float_id: s("float_id", (r) => r.profile.floatId),
    cycle_number: { name: "cycle_number", type: "INTEGER", data: num(new Int32Array(n), (r) => r.profile.cycleNumber) },
    direction: s("direction", (r) => r.profile.direction),
    profile_index: { name: "profile_index", type: "SMALLINT", data: num(new Int16Array(n), (r) => r.profile.profileIndex) },
    data_mode: s("data_mode", (r) => r.profile.dataMode),
    quality_status: s("quality_status", (r) => r.profile.qualityStatus ?? qualityStatus(r.profile.dataMode)),
    time: { name: "time", type: "TIMESTAMPTZ", data: num(new Float64Array(n), (r) => timeMicros(r.profile)) },
    juld: { name: "juld", type: "DOUBLE", data: num(new Float64Array(n), (r) => r.profile.juld ?? NaN) },
    juld_qc: { name: "juld_qc", type: "TINYINT", data: num(new Int8Array(n), (r) => r.profile.timeQc ?? NULL_I8) },
    latitude: { name: "latitude", type: "DOUBLE", data: num(new Float64Array(n), (r) => r.profile.latitude ?? NaN) },
    longitude: { name: "longitude", type: "DOUBLE", data: num(new Float64Array(n), (r) => r.profile.longitude ?? NaN) },
    position_qc: { name: "position_qc", type: "TINYINT", data: num(new Int8Array(n), (r) => r.profile.positionQc ?? NULL_I8) },
    positioning_system: s("positioning_system", (r) => r.profile.positioningSystem),
    vertical_sampling_scheme: s("vertical_sampling_scheme", (r) => r.profile.verticalSamplingScheme),
    data_centre: s("data_centre", (r) => r.profile.dataCentre),
    platform_type: s("platform_type", (r) => r.profile.platformType),
    n_levels: { name: "n_levels", type: "INTEGER", data: num(new Int32Array(n), (r) => r.profile.nLevels) },
    max_pres: { name: "max_pres", type: "DOUBLE", data: num(new Float64Array(n), (r) => r.profile.maxPres ?? NaN) },
    parameters: { name: "parameters", type: "json", sqlType: "VARCHAR[]", json: group.map((r) => JSON.stringify(names(r.profile).map(columnName))) },
    parameter_data_mode: s("parameter_data_mode", (r) => names(r.profile).map((k) => r.profile.parameters[k]!.dataMode ?? " ").join("")),
    parameter_stats: {
      name: "parameter_stats",
      type: "json",
      sqlType: PARAMETER_STATS_TYPE,
      json: group.map((r) =>
        JSON.stringify(names(r.profile).map((k) => {
          const p = r.profile.parameters[k]!;
          return {
            parameter: columnName(k),
            mode: p.dataMode,
            profile_qc: p.profileQc,
            min: p.stats.min,
            max: p.stats.max,
            mean: p.stats.mean,
            n: p.stats.count,
          };
        }))
      ),
    },
    source_file: s("source_file", (r) => r.cycle.coreFile),
    bgc_source_file: s("bgc_source_file", (r) => r.cycle.bgcFile),
    synthetic_source_file: s("synthetic_source_file", (r) => synthFileOf.get(cycleKey(r.profile)) ?? null),
    date_update: { name: "date_update", type: "TIMESTAMPTZ", data: num(new Float64Array(n), (r) => micros(r.profile.sources[0]?.dateUpdate)) },
  };
  return { rowCount: n, columns: PROFILE_COLUMNS.map((c) => byName[c.name]!), metadata: fileMetadata("profiles") };
}

function floatTable(input: FloatInput, rows: Row[]): ColumnTable {
  const m = input.meta?.meta ?? null;
  const times = rows.map((r) => timeMicros(r.profile)).filter((t) => !Number.isNaN(t));
  const first = times.length ? Math.min(...times) : NaN;
  const last = times.length ? Math.max(...times) : NaN;
  const s = (name: string, v: string | null | undefined) => stringColumn(name, [v ?? null]);
  const d = (name: string, v: number | null | undefined): Column => ({ name, type: "DOUBLE", data: Float64Array.of(v ?? NaN) });
  const t = (name: string, v: number | null | undefined): Column => ({ name, type: "TIMESTAMPTZ", data: Float64Array.of(micros(v)) });
  const list = (name: string, v: string[] | null): Column => ({ name, type: "json", sqlType: "VARCHAR[]", json: [v ? JSON.stringify(v) : null] });
  const byName: Record<string, Column> = {
    float_id: s("float_id", input.wmo),
    platform_type: s("platform_type", m?.platformType ?? rows[0]?.profile.platformType),
    platform_maker: s("platform_maker", m?.platformMaker),
    float_serial_no: s("float_serial_no", m?.floatSerialNo ?? rows[0]?.profile.floatSerialNo),
    firmware_version: s("firmware_version", m?.firmwareVersion ?? rows[0]?.profile.firmwareVersion),
    wmo_inst_type: s("wmo_inst_type", m?.wmoInstType ?? rows[0]?.profile.wmoInstType),
    project_name: s("project_name", m?.projectName ?? rows[0]?.profile.projectName),
    pi_name: s("pi_name", m?.piName ?? rows[0]?.profile.piName),
    data_centre: s("data_centre", m?.dataCentre ?? rows[0]?.profile.dataCentre),
    launch_date: t("launch_date", m?.launchDate),
    launch_latitude: d("launch_latitude", m?.launchLatitude),
    launch_longitude: d("launch_longitude", m?.launchLongitude),
    sensors: list("sensors", m ? m.sensors.map((x) => x.sensor) : null),
    parameters: list("parameters", m ? m.parameters.map((x) => columnName(x.parameter)) : null),
    first_profile_time: { name: "first_profile_time", type: "TIMESTAMPTZ", data: Float64Array.of(first) },
    last_profile_time: { name: "last_profile_time", type: "TIMESTAMPTZ", data: Float64Array.of(last) },
    profile_count: { name: "profile_count", type: "INTEGER", data: Int32Array.of(rows.length) },
    source_file: s("source_file", input.meta?.file ?? null),
    date_update: t("date_update", m?.dateUpdate),
  };
  return { rowCount: 1, columns: FLOAT_COLUMNS.map((c) => byName[c.name]!), metadata: fileMetadata("floats") };
}

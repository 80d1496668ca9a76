/**
 * Turns one float's parsed files into the lake's tables (lake/schema.ts):
 * measurement and profile rows split by year of profile time, and the float's
 * one `floats` row. Pure: bytes in, typed columns out.
 *
 * Measurement sources are the core single-profile files (R*, D*) with their
 * B-file (BR*, BD*) of the same cycle joined at (profile_index, level). S-files
 * and the multi-profile _prof.nc/_Sprof.nc are not sources: they repeat what
 * the single-profile files hold (S-files on a merged pressure axis), so
 * reading them too would count every level twice.
 */
import { NO_QC, type FloatMeta, type ParameterColumns, type ParameterInfo, type Profile } from "../argo/schema.ts";
import { type Column, type ColumnTable, NULL_I8, stringColumn } from "../lake/columns.ts";
import {
  CORE_PARAMETERS,
  FLOAT_COLUMNS,
  MEASUREMENT_KEY_COLUMNS,
  MEASUREMENT_TRAILING_COLUMNS,
  PARAMETER_STATS_TYPE,
  PROFILE_COLUMNS,
  SCHEMA_VERSION,
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

/** What the table builder needs from one float. */
export interface FloatInput {
  wmo: string;
  cycles: CycleProfiles[];
  meta: { meta: FloatMeta; file: string } | null;
}

/** The tables of one float: per partition year (null: no valid time). */
export interface FloatTables {
  measurements: Map<number | null, ColumnTable>;
  profiles: Map<number | null, ColumnTable>;
  floats: ColumnTable | null;
  profileCount: number;
  measurementRows: number;
}

/** Lower-case column name of an Argo parameter. */
export const columnName = (argoName: string): string => argoName.toLowerCase();

/** UTC year of an epoch-ms time, or null. */
export const yearOf = (ms: number | null): number | null => (ms === null ? null : new Date(ms).getUTCFullYear());

interface Row {
  profile: Profile;
  cycle: CycleProfiles;
}

/** Builds every table of a float. Rows are in (cycle, direction, profile_index, level) order. */
export function buildFloatTables(input: FloatInput): FloatTables {
  const rows: Row[] = input.cycles.flatMap((cycle) => cycle.profiles.map((profile) => ({ profile, cycle })));
  rows.sort((a, b) =>
    a.profile.cycleNumber - b.profile.cycleNumber ||
    (a.profile.direction < b.profile.direction ? -1 : a.profile.direction > b.profile.direction ? 1 : 0) ||
    a.profile.profileIndex - b.profile.profileIndex
  );
  const params = parameterCatalog(input.cycles);
  const byYear = new Map<number | null, Row[]>();
  for (const r of rows) {
    const y = yearOf(r.profile.time);
    const list = byYear.get(y);
    if (list) list.push(r);
    else byYear.set(y, [r]);
  }
  const measurements = new Map<number | null, ColumnTable>();
  const profiles = new Map<number | null, ColumnTable>();
  let measurementRows = 0;
  for (const [year, group] of byYear) {
    const m = measurementTable(group, params);
    measurementRows += m.rowCount;
    measurements.set(year, m);
    profiles.set(year, profileTable(group));
  }
  const floats = input.meta || rows.length ? floatTable(input, rows) : null;
  return { measurements, profiles, floats, profileCount: rows.length, measurementRows };
}

/** A parameter column group: its lower-case name, value type and NetCDF attributes. */
interface ParamSpec {
  argoName: string;
  name: string;
  double: boolean;
  units: string | null;
  longName: string | null;
}

/**
 * Every parameter of the float, core ones first (PRES, TEMP, PSAL), then the
 * others by name, so column order does not depend on file order. A parameter
 * is DOUBLE when any of its files stores it as double.
 */
function parameterCatalog(cycles: CycleProfiles[]): ParamSpec[] {
  const specs = new Map<string, ParamSpec>();
  for (const c of cycles) {
    for (const p of c.parameters) {
      const s = specs.get(p.name);
      if (s) {
        s.double ||= p.valueType === "double";
        s.units ??= p.units;
        s.longName ??= p.longName;
      } else {
        specs.set(p.name, { argoName: p.name, name: columnName(p.name), double: p.valueType === "double", units: p.units, longName: p.longName });
      }
    }
    // Profiles may name parameters the file-level list lacks: keep them too.
    for (const prof of c.profiles) {
      for (const [name, col] of Object.entries(prof.parameters)) {
        if (!specs.has(name)) {
          specs.set(name, { argoName: name, name: columnName(name), double: col.raw instanceof Float64Array, units: null, longName: null });
        }
      }
    }
  }
  const core = CORE_PARAMETERS as readonly string[];
  return [...specs.values()].sort((a, b) => {
    const ca = core.indexOf(a.name);
    const cb = core.indexOf(b.name);
    if (ca >= 0 || cb >= 0) return (ca < 0 ? 99 : ca) - (cb < 0 ? 99 : cb);
    return a.name < b.name ? -1 : a.name > b.name ? 1 : 0;
  });
}

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

function measurementTable(group: Row[], params: ParamSpec[]): ColumnTable {
  let n = 0;
  for (const r of group) n += r.profile.nLevels;
  const str = (f: (r: Row) => string | null) => {
    const out = new Array<string | null>(n);
    let at = 0;
    for (const r of group) {
      const v = f(r);
      out.fill(v, at, at + r.profile.nLevels);
      at += r.profile.nLevels;
    }
    return out;
  };
  const perProfile = <A extends Float64Array | Int32Array | Int16Array | Int8Array>(out: A, f: (p: Profile) => number) => {
    let at = 0;
    for (const r of group) {
      out.fill(f(r.profile), at, at + r.profile.nLevels);
      at += r.profile.nLevels;
    }
    return out;
  };
  const level = new Int32Array(n);
  const depth = new Float64Array(n);
  let at = 0;
  for (const r of group) {
    level.set(r.profile.level.subarray(0, r.profile.nLevels), at);
    depth.set(r.profile.depthM.subarray(0, r.profile.nLevels), at);
    at += r.profile.nLevels;
  }
  const keyColumns: Record<string, Column> = {
    float_id: stringColumn("float_id", str((r) => r.profile.floatId)),
    cycle_number: { name: "cycle_number", type: "INTEGER", data: perProfile(new Int32Array(n), (p) => p.cycleNumber) },
    direction: stringColumn("direction", str((r) => r.profile.direction)),
    profile_index: { name: "profile_index", type: "SMALLINT", data: perProfile(new Int16Array(n), (p) => p.profileIndex) },
    data_mode: stringColumn("data_mode", str((r) => r.profile.dataMode)),
    time: { name: "time", type: "TIMESTAMP", data: perProfile(new Float64Array(n), (p) => p.time ?? NaN) },
    juld_qc: { name: "juld_qc", type: "TINYINT", data: perProfile(new Int8Array(n), (p) => p.timeQc ?? NULL_I8) },
    latitude: { name: "latitude", type: "DOUBLE", data: perProfile(new Float64Array(n), (p) => p.latitude ?? NaN) },
    longitude: { name: "longitude", type: "DOUBLE", data: perProfile(new Float64Array(n), (p) => p.longitude ?? NaN) },
    position_qc: { name: "position_qc", type: "TINYINT", data: perProfile(new Int8Array(n), (p) => p.positionQc ?? NULL_I8) },
    level: { name: "level", type: "INTEGER", data: level },
  };
  const columns: Column[] = MEASUREMENT_KEY_COLUMNS.map((c) => keyColumns[c.name]!);
  const metadata: Record<string, string> = { "argo_lake.table": "measurements", "argo_lake.schema_version": String(SCHEMA_VERSION) };
  for (const spec of params) {
    const valueArray = () => (spec.double ? new Float64Array(n) : new Float32Array(n));
    const best = valueArray();
    const raw = valueArray();
    const adjusted = valueArray();
    const error = valueArray();
    const qc = new Int8Array(n);
    const rawQc = new Int8Array(n);
    const adjustedQc = new Int8Array(n);
    const modes = new Array<string | null>(n);
    let off = 0;
    for (const r of group) {
      const k = r.profile.nLevels;
      const p: ParameterColumns | undefined = r.profile.parameters[spec.argoName];
      copyValues(p?.value ?? null, best, off, k);
      copyQc(p?.qc ?? null, qc, off, k);
      copyValues(p?.raw ?? null, raw, off, k);
      copyQc(p?.rawQc ?? null, rawQc, off, k);
      copyValues(p?.adjusted ?? null, adjusted, off, k);
      copyQc(p?.adjustedQc ?? null, adjustedQc, off, k);
      copyValues(p?.adjustedError ?? null, error, off, k);
      modes.fill(p?.dataMode ?? null, off, off + k);
      off += k;
    }
    const v = (name: string, data: Float32Array | Float64Array): Column =>
      data instanceof Float64Array ? { name, type: "DOUBLE", data } : { name, type: "FLOAT", data };
    columns.push(
      v(spec.name, best),
      { name: `${spec.name}_qc`, type: "TINYINT", data: qc },
      v(`${spec.name}_raw`, raw),
      { name: `${spec.name}_raw_qc`, type: "TINYINT", data: rawQc },
      v(`${spec.name}_adjusted`, adjusted),
      { name: `${spec.name}_adjusted_qc`, type: "TINYINT", data: adjustedQc },
      v(`${spec.name}_adjusted_error`, error),
      stringColumn(`${spec.name}_mode`, modes),
    );
    if (spec.units) metadata[`${spec.name}.units`] = spec.units;
    if (spec.longName) metadata[`${spec.name}.long_name`] = spec.longName;
  }
  const trailing: Record<string, Column> = {
    depth_m: { name: "depth_m", type: "DOUBLE", data: depth },
    source_file: stringColumn("source_file", str((r) => r.cycle.coreFile)),
    bgc_source_file: stringColumn("bgc_source_file", str((r) => r.cycle.bgcFile)),
    date_update: { name: "date_update", type: "TIMESTAMP", data: perProfile(new Float64Array(n), (p) => p.sources[0]?.dateUpdate ?? NaN) },
  };
  columns.push(...MEASUREMENT_TRAILING_COLUMNS.map((c) => trailing[c.name]!));
  metadata["depth_m.units"] = "m";
  return { rowCount: n, columns, metadata };
}

/** The original system's quality_status for a DATA_MODE letter. */
function qualityStatus(mode: string | null): string | null {
  return mode === "R" ? "REAL_TIME" : mode === "A" ? "ADJUSTED" : mode === "D" ? "DELAYED" : null;
}

function profileTable(group: Row[]): ColumnTable {
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
    time: { name: "time", type: "TIMESTAMP", data: num(new Float64Array(n), (r) => r.profile.time ?? NaN) },
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
    date_update: { name: "date_update", type: "TIMESTAMP", data: num(new Float64Array(n), (r) => r.profile.sources[0]?.dateUpdate ?? NaN) },
  };
  return {
    rowCount: n,
    columns: PROFILE_COLUMNS.map((c) => byName[c.name]!),
    metadata: { "argo_lake.table": "profiles", "argo_lake.schema_version": String(SCHEMA_VERSION) },
  };
}

function floatTable(input: FloatInput, rows: Row[]): ColumnTable {
  const m = input.meta?.meta ?? null;
  const times = rows.map((r) => r.profile.time).filter((t): t is number => t !== null);
  const first = times.length ? Math.min(...times) : NaN;
  const last = times.length ? Math.max(...times) : NaN;
  const s = (name: string, v: string | null | undefined) => stringColumn(name, [v ?? null]);
  const d = (name: string, v: number | null | undefined): Column => ({ name, type: "DOUBLE", data: Float64Array.of(v ?? NaN) });
  const t = (name: string, v: number | null | undefined): Column => ({ name, type: "TIMESTAMP", data: Float64Array.of(v ?? NaN) });
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
    first_profile_time: t("first_profile_time", first),
    last_profile_time: t("last_profile_time", last),
    profile_count: { name: "profile_count", type: "INTEGER", data: Int32Array.of(rows.length) },
    source_file: s("source_file", input.meta?.file ?? null),
    date_update: t("date_update", m?.dateUpdate),
  };
  return {
    rowCount: 1,
    columns: FLOAT_COLUMNS.map((c) => byName[c.name]!),
    metadata: { "argo_lake.table": "floats", "argo_lake.schema_version": String(SCHEMA_VERSION) },
  };
}

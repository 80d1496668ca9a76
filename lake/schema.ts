/**
 * The lake's tables: the one definition of their columns, DuckDB types, units
 * and partitioning. The Parquet writer (lib/parse), the DuckDB views
 * (lake/views.ts), the dictionary and the loaders all read them from here.
 *
 * One schema per table, in every file: the columns never depend on which
 * parameters a float carries. PRES, TEMP and PSAL are fixed columns of
 * `measurements`; every other parameter (BGC and intermediate, whatever Argo
 * adds next) is a row of the long `bgc_measurements` table, and the S-files'
 * parameters are rows of `synthetic`, so a parameter name is data and can
 * never collide with a fixed column.
 *
 * Layout (keys: lib/lake/layout.ts): one folder per table, Hive partitions
 * dac and year (floats and dictionary: dac only), one file per float.
 * Partition columns live in the path only, as Hive, Athena, Spark, Trino and
 * pyarrow expect. A profile without a valid time goes to the
 * HIVE_NULL_PARTITION year, which every Hive reader (DuckDB included, with
 * `hive_types` giving `year` INTEGER) reads as a NULL year.
 */

/** One column of a lake table. */
export interface ColumnDef {
  name: string;
  /** DuckDB type, e.g. "FLOAT", "VARCHAR[]" or a STRUCT list. */
  type: string;
  doc: string;
  /** Units (Argo's reference table 3 spelling for fixed parameter columns). */
  units?: string;
  /** The Argo variable the column comes from, e.g. "TEMP_ADJUSTED_QC". */
  argo?: string;
}

/** Names of the lake's tables, one folder each under `parquet/`. */
export const TABLES = ["measurements", "bgc_measurements", "synthetic", "profiles", "floats", "dictionary"] as const;
export type TableName = (typeof TABLES)[number];

/** The Hive partition keys of each table, outermost first. */
export const PARTITION_KEYS: Record<TableName, readonly ("dac" | "year")[]> = {
  measurements: ["dac", "year"],
  bgc_measurements: ["dac", "year"],
  synthetic: ["dac", "year"],
  profiles: ["dac", "year"],
  floats: ["dac"],
  dictionary: ["dac"],
};

/** DuckDB types of the partition keys (passed as `hive_types`, so `year` stays INTEGER). */
export const HIVE_TYPES = { dac: "VARCHAR", year: "INTEGER" } as const;

/** Hive's name for a NULL partition value: where profiles without a valid time go. */
export const HIVE_NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__";

/** Core parameters: fixed columns of `measurements` (lower-case Argo names). */
export const CORE_PARAMETERS = ["pres", "temp", "psal"] as const;

/** Units of the core parameters (Argo reference table 3), for the dictionary. */
export const CORE_UNITS: Record<(typeof CORE_PARAMETERS)[number], string> = { pres: "decibar", temp: "degree_Celsius", psal: "psu" };

/**
 * BGC parameters that the wide views (`measurements_bgc`, the user modes)
 * pivot back into columns; every other parameter stays a row of the long
 * tables. Lower-case Argo names.
 */
export const STANDARD_BGC_PARAMETERS = [
  "doxy",
  "chla",
  "bbp700",
  "nitrate",
  "ph_in_situ_total",
  "cdom",
  "down_irradiance380",
  "down_irradiance412",
  "down_irradiance490",
  "downwelling_par",
] as const;

/** The per-parameter column suffixes of the wide layout, in order. */
export const PARAMETER_SUFFIXES = ["", "_qc", "_raw", "_raw_qc", "_adjusted", "_adjusted_qc", "_adjusted_error", "_mode"] as const;

/** The eight columns of one parameter P (lower-case Argo name) in a wide table. */
export function parameterColumns(p: string, valueType: "FLOAT" | "DOUBLE" = "FLOAT", units?: string): ColumnDef[] {
  const P = p.toUpperCase();
  return [
    { name: p, type: valueType, doc: `${P}: best value (adjusted when the parameter's mode is A or D, raw when R)`, units, argo: `${P} or ${P}_ADJUSTED` },
    { name: `${p}_qc`, type: "TINYINT", doc: `QC flag of the best value (NULL when blank)`, argo: `${P}_QC or ${P}_ADJUSTED_QC` },
    { name: `${p}_raw`, type: valueType, doc: `${P} as measured`, units, argo: P },
    { name: `${p}_raw_qc`, type: "TINYINT", doc: `${P}_QC`, argo: `${P}_QC` },
    { name: `${p}_adjusted`, type: valueType, doc: `${P}_ADJUSTED`, units, argo: `${P}_ADJUSTED` },
    { name: `${p}_adjusted_qc`, type: "TINYINT", doc: `${P}_ADJUSTED_QC`, argo: `${P}_ADJUSTED_QC` },
    { name: `${p}_adjusted_error`, type: valueType, doc: `${P}_ADJUSTED_ERROR`, units, argo: `${P}_ADJUSTED_ERROR` },
    { name: `${p}_mode`, type: "VARCHAR", doc: `the parameter's data mode R, A or D (NULL when the profile lacks ${P})`, argo: "DATA_MODE" },
  ];
}

/** The columns that name a level: the join key between the level tables. */
export const LEVEL_KEY = ["float_id", "cycle_number", "direction", "profile_index", "level"] as const;

/** Columns every level table starts with. */
const LEVEL_KEY_COLUMNS: readonly ColumnDef[] = [
  { name: "float_id", type: "VARCHAR", doc: "WMO float id", argo: "PLATFORM_NUMBER" },
  { name: "cycle_number", type: "INTEGER", doc: "CYCLE_NUMBER", argo: "CYCLE_NUMBER" },
  { name: "direction", type: "VARCHAR", doc: "A ascending, D descending", argo: "DIRECTION" },
  { name: "profile_index", type: "SMALLINT", doc: "index in the file's N_PROF (0 = primary sampling)", argo: "N_PROF" },
];

/** The time column type: instants, UTC-adjusted in Parquet, microseconds. */
export const TIME_TYPE = "TIMESTAMPTZ";

/** `measurements`: one row per level of the core files, fixed columns. */
export const MEASUREMENT_COLUMNS: readonly ColumnDef[] = [
  ...LEVEL_KEY_COLUMNS,
  { name: "data_mode", type: "VARCHAR", doc: "the profile's DATA_MODE R, A or D", argo: "DATA_MODE" },
  { name: "time", type: TIME_TYPE, doc: "JULD as a UTC instant (microseconds)", argo: "JULD" },
  { name: "juld_qc", type: "TINYINT", doc: "JULD_QC", argo: "JULD_QC" },
  { name: "latitude", type: "DOUBLE", doc: "LATITUDE", units: "degree_north", argo: "LATITUDE" },
  { name: "longitude", type: "DOUBLE", doc: "LONGITUDE", units: "degree_east", argo: "LONGITUDE" },
  { name: "position_qc", type: "TINYINT", doc: "POSITION_QC", argo: "POSITION_QC" },
  { name: "level", type: "INTEGER", doc: "index in N_LEVELS", argo: "N_LEVELS" },
  ...CORE_PARAMETERS.flatMap((p) => parameterColumns(p, "FLOAT", CORE_UNITS[p])),
  { name: "depth_m", type: "DOUBLE", doc: "depth in metres from the best PRES and latitude (UNESCO 1983)", units: "m" },
  { name: "source_file", type: "VARCHAR", doc: "core file name, e.g. D6901929_001.nc" },
  { name: "bgc_source_file", type: "VARCHAR", doc: "B-file of the same cycle, NULL when none" },
  { name: "date_update", type: TIME_TYPE, doc: "DATE_UPDATE of the core file", argo: "DATE_UPDATE" },
];

/**
 * The long form, one row per level and parameter, of `bgc_measurements`
 * (B-file parameters and the core files' intermediate ones, e.g. MTIME) and
 * `synthetic` (S-files, core parameters included). Values are DOUBLE: the
 * float32 values of most variables widen exactly, and the double ones (MTIME,
 * some RAW_* radiometry) keep every bit. `value_type` says which the file had.
 */
export const LONG_COLUMNS: readonly ColumnDef[] = [
  ...LEVEL_KEY_COLUMNS,
  { name: "level", type: "INTEGER", doc: "index in N_LEVELS", argo: "N_LEVELS" },
  { name: "pres", type: "FLOAT", doc: "the level's best PRES", units: "decibar", argo: "PRES or PRES_ADJUSTED" },
  { name: "parameter", type: "VARCHAR", doc: "Argo parameter name as the file spells it (DOXY, CHLA, RAW_DOWNWELLING_PAR, ...)", argo: "STATION_PARAMETERS" },
  { name: "value", type: "DOUBLE", doc: "best value (adjusted when the parameter's mode is A or D, raw when R; raw for intermediate parameters)", argo: "<P> or <P>_ADJUSTED" },
  { name: "qc", type: "TINYINT", doc: "QC flag of the best value (NULL when blank)", argo: "<P>_QC or <P>_ADJUSTED_QC" },
  { name: "raw", type: "DOUBLE", doc: "<P> as measured", argo: "<P>" },
  { name: "raw_qc", type: "TINYINT", doc: "<P>_QC", argo: "<P>_QC" },
  { name: "adjusted", type: "DOUBLE", doc: "<P>_ADJUSTED", argo: "<P>_ADJUSTED" },
  { name: "adjusted_qc", type: "TINYINT", doc: "<P>_ADJUSTED_QC", argo: "<P>_ADJUSTED_QC" },
  { name: "adjusted_error", type: "DOUBLE", doc: "<P>_ADJUSTED_ERROR", argo: "<P>_ADJUSTED_ERROR" },
  { name: "mode", type: "VARCHAR", doc: "the parameter's data mode R, A or D (PARAMETER_DATA_MODE; DATA_MODE for core files)", argo: "PARAMETER_DATA_MODE" },
  { name: "value_type", type: "VARCHAR", doc: "float or double: the NetCDF type of the parameter's variable" },
  { name: "dpres", type: "FLOAT", doc: "S-files: <P>_dPRES, pressure offset of the measurement from the level's PRES", units: "decibar", argo: "<P>_dPRES" },
  { name: "source_file", type: "VARCHAR", doc: "file the value comes from (B-, core or S-file name)" },
];

/** The STRUCT of one `parameter_stats` entry. */
export const PARAMETER_STATS_TYPE =
  "STRUCT(parameter VARCHAR, mode VARCHAR, profile_qc VARCHAR, min DOUBLE, max DOUBLE, mean DOUBLE, n INTEGER)[]";

/** One row per profile. */
export const PROFILE_COLUMNS: readonly ColumnDef[] = [
  ...LEVEL_KEY_COLUMNS,
  { name: "data_mode", type: "VARCHAR", doc: "DATA_MODE R, A or D", argo: "DATA_MODE" },
  { name: "quality_status", type: "VARCHAR", doc: "REAL_TIME (R), ADJUSTED (A) or DELAYED (D), as the original system named it" },
  { name: "time", type: TIME_TYPE, doc: "JULD as a UTC instant (microseconds)", argo: "JULD" },
  { name: "juld", type: "DOUBLE", doc: "JULD as stored", units: "days since 1950-01-01 00:00:00 UTC", argo: "JULD" },
  { name: "juld_qc", type: "TINYINT", doc: "JULD_QC", argo: "JULD_QC" },
  { name: "latitude", type: "DOUBLE", doc: "LATITUDE", units: "degree_north", argo: "LATITUDE" },
  { name: "longitude", type: "DOUBLE", doc: "LONGITUDE", units: "degree_east", argo: "LONGITUDE" },
  { name: "position_qc", type: "TINYINT", doc: "POSITION_QC", argo: "POSITION_QC" },
  { name: "positioning_system", type: "VARCHAR", doc: "POSITIONING_SYSTEM", argo: "POSITIONING_SYSTEM" },
  { name: "vertical_sampling_scheme", type: "VARCHAR", doc: "VERTICAL_SAMPLING_SCHEME", argo: "VERTICAL_SAMPLING_SCHEME" },
  { name: "data_centre", type: "VARCHAR", doc: "DATA_CENTRE", argo: "DATA_CENTRE" },
  { name: "platform_type", type: "VARCHAR", doc: "PLATFORM_TYPE", argo: "PLATFORM_TYPE" },
  { name: "n_levels", type: "INTEGER", doc: "levels whose raw PRES is not fill (= its measurement rows)" },
  { name: "max_pres", type: "DOUBLE", doc: "largest best PRES", units: "decibar" },
  { name: "parameters", type: "VARCHAR[]", doc: "lower-case parameter names, core then BGC", argo: "STATION_PARAMETERS" },
  { name: "parameter_data_mode", type: "VARCHAR", doc: "one mode letter per entry of `parameters`", argo: "PARAMETER_DATA_MODE" },
  { name: "parameter_stats", type: PARAMETER_STATS_TYPE, doc: "per parameter: stats of best values whose best QC is 1 or 2; profile_qc is PROFILE_<P>_QC" },
  { name: "source_file", type: "VARCHAR", doc: "core file name" },
  { name: "bgc_source_file", type: "VARCHAR", doc: "B-file name, NULL when none" },
  { name: "synthetic_source_file", type: "VARCHAR", doc: "S-file name of the cycle, NULL when none" },
  { name: "date_update", type: TIME_TYPE, doc: "DATE_UPDATE of the core file", argo: "DATE_UPDATE" },
];

/** One row per float, from its meta file plus its profiles. */
export const FLOAT_COLUMNS: readonly ColumnDef[] = [
  { name: "float_id", type: "VARCHAR", doc: "WMO float id", argo: "PLATFORM_NUMBER" },
  { name: "platform_type", type: "VARCHAR", doc: "PLATFORM_TYPE", argo: "PLATFORM_TYPE" },
  { name: "platform_maker", type: "VARCHAR", doc: "PLATFORM_MAKER", argo: "PLATFORM_MAKER" },
  { name: "float_serial_no", type: "VARCHAR", doc: "FLOAT_SERIAL_NO", argo: "FLOAT_SERIAL_NO" },
  { name: "firmware_version", type: "VARCHAR", doc: "FIRMWARE_VERSION", argo: "FIRMWARE_VERSION" },
  { name: "wmo_inst_type", type: "VARCHAR", doc: "WMO_INST_TYPE", argo: "WMO_INST_TYPE" },
  { name: "project_name", type: "VARCHAR", doc: "PROJECT_NAME", argo: "PROJECT_NAME" },
  { name: "pi_name", type: "VARCHAR", doc: "PI_NAME", argo: "PI_NAME" },
  { name: "data_centre", type: "VARCHAR", doc: "DATA_CENTRE", argo: "DATA_CENTRE" },
  { name: "launch_date", type: TIME_TYPE, doc: "LAUNCH_DATE, UTC", argo: "LAUNCH_DATE" },
  { name: "launch_latitude", type: "DOUBLE", doc: "LAUNCH_LATITUDE", units: "degree_north", argo: "LAUNCH_LATITUDE" },
  { name: "launch_longitude", type: "DOUBLE", doc: "LAUNCH_LONGITUDE", units: "degree_east", argo: "LAUNCH_LONGITUDE" },
  { name: "sensors", type: "VARCHAR[]", doc: "SENSOR", argo: "SENSOR" },
  { name: "parameters", type: "VARCHAR[]", doc: "PARAMETER (lower case)", argo: "PARAMETER" },
  { name: "first_profile_time", type: TIME_TYPE, doc: "earliest profile time in the lake" },
  { name: "last_profile_time", type: TIME_TYPE, doc: "latest profile time in the lake" },
  { name: "profile_count", type: "INTEGER", doc: "profiles in the lake" },
  { name: "source_file", type: "VARCHAR", doc: "meta file name" },
  { name: "date_update", type: TIME_TYPE, doc: "DATE_UPDATE of the meta file", argo: "DATE_UPDATE" },
];

/**
 * `dictionary`: every column of every table, and every parameter of the long
 * tables, with its type, units and long name. Written per float (the
 * parameters and units its files have); the `dictionary` view folds floats.
 */
export const DICTIONARY_COLUMNS: readonly ColumnDef[] = [
  { name: "float_id", type: "VARCHAR", doc: "float whose files the entry was read from" },
  { name: "table_name", type: "VARCHAR", doc: "lake table" },
  { name: "column_name", type: "VARCHAR", doc: "column of the table" },
  { name: "parameter", type: "VARCHAR", doc: "long tables: the Argo parameter the entry is about (NULL for a fixed column)" },
  { name: "type", type: "VARCHAR", doc: "DuckDB type of the column" },
  { name: "units", type: "VARCHAR", doc: "units attribute (NetCDF `units`, or Argo's reference table 3)" },
  { name: "long_name", type: "VARCHAR", doc: "NetCDF long_name, or what the column holds" },
  { name: "argo_variable", type: "VARCHAR", doc: "the Argo variable(s) the column comes from" },
];

/** The columns of each table's files, in order (partition keys excluded). */
export const TABLE_COLUMNS: Record<TableName, readonly ColumnDef[]> = {
  measurements: MEASUREMENT_COLUMNS,
  bgc_measurements: LONG_COLUMNS,
  synthetic: LONG_COLUMNS,
  profiles: PROFILE_COLUMNS,
  floats: FLOAT_COLUMNS,
  dictionary: DICTIONARY_COLUMNS,
};

/** Columns every view of a table has (partition keys included), with their types. */
export function standardColumns(table: TableName): ColumnDef[] {
  const keys = PARTITION_KEYS[table].map((k) => ({ name: k, type: HIVE_TYPES[k], doc: `partition key ${k}` }));
  return [...TABLE_COLUMNS[table], ...keys];
}

/**
 * Version of this schema, kept in each float's parse state and in every
 * file's key/value metadata: a change reparses every float. 2: fixed-width
 * measurements, long bgc_measurements and synthetic, dictionary, TIMESTAMPTZ.
 */
export const SCHEMA_VERSION = 2;


/**
 * The key/value metadata every Parquet file of a table carries (staging files
 * and compacted segments alike): the table, the schema version and the fixed
 * columns' units. Per-float units live in the dictionary table.
 */
export function tableFileMetadata(table: TableName): Record<string, string> {
  const md: Record<string, string> = { "argo_lake.table": table, "argo_lake.schema_version": String(SCHEMA_VERSION) };
  for (const c of TABLE_COLUMNS[table]) if (c.units) md[`${c.name}.units`] = c.units;
  return md;
}

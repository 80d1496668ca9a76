/**
 * The lake's tables: the one definition of their columns, DuckDB types and
 * partitioning. The Parquet writer (lib/parse), the DuckDB views (lake/views.ts)
 * and the loaders (Postgres aggregates) all read their column lists from here.
 *
 * Layout (keys: lib/lake/layout.ts): one folder per table, Hive partitions
 * dac and year (floats: dac only), one file per float. Partition columns
 * live in the path only, as Hive, Athena, Spark, Trino and pyarrow expect. A
 * profile without a valid time goes to the HIVE_NULL_PARTITION year, which
 * every Hive reader (DuckDB included, with `hive_types` giving `year` INTEGER)
 * reads as a NULL year while keeping the column an integer.
 */

/** DuckDB type names used by the lake (Parquet physical types follow from them). */
export type ScalarType = "VARCHAR" | "TINYINT" | "SMALLINT" | "INTEGER" | "BIGINT" | "FLOAT" | "DOUBLE" | "TIMESTAMP";

/** One column of a lake table. */
export interface ColumnDef {
  name: string;
  /** DuckDB type, e.g. "FLOAT", "VARCHAR[]" or a STRUCT list. */
  type: string;
  doc: string;
}

/** Names of the lake's tables, one folder each under `parquet/`. */
export const TABLES = ["measurements", "profiles", "floats"] as const;
export type TableName = (typeof TABLES)[number];

/** The Hive partition keys of each table, outermost first. */
export const PARTITION_KEYS: Record<TableName, readonly ("dac" | "year")[]> = {
  measurements: ["dac", "year"],
  profiles: ["dac", "year"],
  floats: ["dac"],
};

/** DuckDB types of the partition keys (passed as `hive_types`, so `year` stays INTEGER). */
export const HIVE_TYPES = { dac: "VARCHAR", year: "INTEGER" } as const;

/** Hive's name for a NULL partition value: where profiles without a valid time go. */
export const HIVE_NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__";


/** Core parameters: always present as columns in the views, even when no file has them. */
export const CORE_PARAMETERS = ["pres", "temp", "psal"] as const;

/**
 * BGC parameters that the views always expose (typed NULL when no file has
 * them), so queries over them work on any lake. Other parameters appear as
 * columns as soon as a file has them.
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

/** The per-parameter column suffixes, in file order. */
export const PARAMETER_SUFFIXES = ["", "_qc", "_raw", "_raw_qc", "_adjusted", "_adjusted_qc", "_adjusted_error", "_mode"] as const;

/**
 * The eight columns of one parameter P (lower-case Argo name). `valueType` is
 * the NetCDF variable's type: float -> FLOAT, double -> DOUBLE.
 */
export function parameterColumns(p: string, valueType: "FLOAT" | "DOUBLE" = "FLOAT"): ColumnDef[] {
  return [
    { name: p, type: valueType, doc: `${p}: best value (adjusted when the parameter's mode is A or D, raw when R)` },
    { name: `${p}_qc`, type: "TINYINT", doc: `QC flag of the best value (NULL when blank)` },
    { name: `${p}_raw`, type: valueType, doc: `${p} as measured (<P>)` },
    { name: `${p}_raw_qc`, type: "TINYINT", doc: `<P>_QC` },
    { name: `${p}_adjusted`, type: valueType, doc: `<P>_ADJUSTED` },
    { name: `${p}_adjusted_qc`, type: "TINYINT", doc: `<P>_ADJUSTED_QC` },
    { name: `${p}_adjusted_error`, type: valueType, doc: `<P>_ADJUSTED_ERROR` },
    { name: `${p}_mode`, type: "VARCHAR", doc: `the parameter's data mode R, A or D (NULL when the profile lacks it)` },
  ];
}

/** Measurement columns before the parameter columns. */
export const MEASUREMENT_KEY_COLUMNS: readonly ColumnDef[] = [
  { name: "float_id", type: "VARCHAR", doc: "WMO float id" },
  { name: "cycle_number", type: "INTEGER", doc: "CYCLE_NUMBER" },
  { name: "direction", type: "VARCHAR", doc: "A ascending, D descending" },
  { name: "profile_index", type: "SMALLINT", doc: "index in the file's N_PROF (0 = primary sampling)" },
  { name: "data_mode", type: "VARCHAR", doc: "the profile's DATA_MODE R, A or D" },
  { name: "time", type: "TIMESTAMP", doc: "JULD, UTC" },
  { name: "juld_qc", type: "TINYINT", doc: "JULD_QC" },
  { name: "latitude", type: "DOUBLE", doc: "LATITUDE" },
  { name: "longitude", type: "DOUBLE", doc: "LONGITUDE" },
  { name: "position_qc", type: "TINYINT", doc: "POSITION_QC" },
  { name: "level", type: "INTEGER", doc: "index in N_LEVELS" },
];

/** Measurement columns after the parameter columns. */
export const MEASUREMENT_TRAILING_COLUMNS: readonly ColumnDef[] = [
  { name: "depth_m", type: "DOUBLE", doc: "depth in metres from the best PRES and latitude (UNESCO 1983)" },
  { name: "source_file", type: "VARCHAR", doc: "core file name, e.g. D6901929_001.nc" },
  { name: "bgc_source_file", type: "VARCHAR", doc: "B-file joined at (profile_index, level), NULL when none" },
  { name: "date_update", type: "TIMESTAMP", doc: "DATE_UPDATE of the core file" },
];

/** The STRUCT of one `parameter_stats` entry. */
export const PARAMETER_STATS_TYPE =
  "STRUCT(parameter VARCHAR, mode VARCHAR, profile_qc VARCHAR, min DOUBLE, max DOUBLE, mean DOUBLE, n INTEGER)[]";

/** One row per profile. */
export const PROFILE_COLUMNS: readonly ColumnDef[] = [
  { name: "float_id", type: "VARCHAR", doc: "WMO float id" },
  { name: "cycle_number", type: "INTEGER", doc: "CYCLE_NUMBER" },
  { name: "direction", type: "VARCHAR", doc: "A ascending, D descending" },
  { name: "profile_index", type: "SMALLINT", doc: "index in the file's N_PROF" },
  { name: "data_mode", type: "VARCHAR", doc: "DATA_MODE R, A or D" },
  { name: "quality_status", type: "VARCHAR", doc: "REAL_TIME (R), ADJUSTED (A) or DELAYED (D), as the original system named it" },
  { name: "time", type: "TIMESTAMP", doc: "JULD, UTC" },
  { name: "juld_qc", type: "TINYINT", doc: "JULD_QC" },
  { name: "latitude", type: "DOUBLE", doc: "LATITUDE" },
  { name: "longitude", type: "DOUBLE", doc: "LONGITUDE" },
  { name: "position_qc", type: "TINYINT", doc: "POSITION_QC" },
  { name: "positioning_system", type: "VARCHAR", doc: "POSITIONING_SYSTEM" },
  { name: "vertical_sampling_scheme", type: "VARCHAR", doc: "VERTICAL_SAMPLING_SCHEME" },
  { name: "data_centre", type: "VARCHAR", doc: "DATA_CENTRE" },
  { name: "platform_type", type: "VARCHAR", doc: "PLATFORM_TYPE" },
  { name: "n_levels", type: "INTEGER", doc: "levels whose raw PRES is not fill (= its measurement rows)" },
  { name: "max_pres", type: "DOUBLE", doc: "largest best PRES" },
  { name: "parameters", type: "VARCHAR[]", doc: "lower-case parameter names, core then BGC" },
  { name: "parameter_data_mode", type: "VARCHAR", doc: "one mode letter per entry of `parameters`" },
  { name: "parameter_stats", type: PARAMETER_STATS_TYPE, doc: "per parameter: stats of best values whose best QC is 1 or 2" },
  { name: "source_file", type: "VARCHAR", doc: "core file name" },
  { name: "bgc_source_file", type: "VARCHAR", doc: "B-file name, NULL when none" },
  { name: "date_update", type: "TIMESTAMP", doc: "DATE_UPDATE of the core file" },
];

/** One row per float, from its meta file plus its profiles. */
export const FLOAT_COLUMNS: readonly ColumnDef[] = [
  { name: "float_id", type: "VARCHAR", doc: "WMO float id (PLATFORM_NUMBER)" },
  { name: "platform_type", type: "VARCHAR", doc: "PLATFORM_TYPE" },
  { name: "platform_maker", type: "VARCHAR", doc: "PLATFORM_MAKER" },
  { name: "float_serial_no", type: "VARCHAR", doc: "FLOAT_SERIAL_NO" },
  { name: "firmware_version", type: "VARCHAR", doc: "FIRMWARE_VERSION" },
  { name: "wmo_inst_type", type: "VARCHAR", doc: "WMO_INST_TYPE" },
  { name: "project_name", type: "VARCHAR", doc: "PROJECT_NAME" },
  { name: "pi_name", type: "VARCHAR", doc: "PI_NAME" },
  { name: "data_centre", type: "VARCHAR", doc: "DATA_CENTRE" },
  { name: "launch_date", type: "TIMESTAMP", doc: "LAUNCH_DATE, UTC" },
  { name: "launch_latitude", type: "DOUBLE", doc: "LAUNCH_LATITUDE" },
  { name: "launch_longitude", type: "DOUBLE", doc: "LAUNCH_LONGITUDE" },
  { name: "sensors", type: "VARCHAR[]", doc: "SENSOR" },
  { name: "parameters", type: "VARCHAR[]", doc: "PARAMETER (lower case)" },
  { name: "first_profile_time", type: "TIMESTAMP", doc: "earliest profile time in the lake" },
  { name: "last_profile_time", type: "TIMESTAMP", doc: "latest profile time in the lake" },
  { name: "profile_count", type: "INTEGER", doc: "profiles in the lake" },
  { name: "source_file", type: "VARCHAR", doc: "meta file name" },
  { name: "date_update", type: "TIMESTAMP", doc: "DATE_UPDATE of the meta file" },
];

/** The measurement columns that every view has, whatever the files hold. */
export function standardMeasurementColumns(): ColumnDef[] {
  return [
    ...MEASUREMENT_KEY_COLUMNS,
    ...[...CORE_PARAMETERS, ...STANDARD_BGC_PARAMETERS].flatMap((p) => parameterColumns(p)),
    ...MEASUREMENT_TRAILING_COLUMNS,
  ];
}

/** Columns every view of a table has (partition keys included), with their types. */
export function standardColumns(table: TableName): ColumnDef[] {
  const base = table === "measurements" ? standardMeasurementColumns() : table === "profiles" ? [...PROFILE_COLUMNS] : [...FLOAT_COLUMNS];
  const keys = PARTITION_KEYS[table].map((k) => ({ name: k, type: HIVE_TYPES[k], doc: `partition key ${k}` }));
  return [...base, ...keys];
}

/** Version of this schema, kept in each float's parse state: a change reparses every float. */
export const SCHEMA_VERSION = 1;

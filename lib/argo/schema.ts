/**
 * The parsed shapes of Argo files, as zod schemas; every type is `z.infer` of
 * one of them.
 *
 * Per-level data are columnar: one typed array per quantity per profile,
 * indexed by the profile's kept levels (levels whose raw PRES is not fill, in
 * file order). Missing values are NaN in value columns and {@link NO_QC} (255)
 * in QC columns. Scalars are checked by zod; the columns only by type and
 * length, since zod over thousands of levels per profile would be slow.
 */
import { z } from "zod";

import { NetcdfFormatSchema } from "../netcdf/types.ts";

/** QC column entry for "no flag": a blank, fill or non-digit QC character. */
export const NO_QC = 255;

/** R real time, A real time adjusted, D delayed mode (reference table 19). */
export const DataModeSchema = z.enum(["R", "A", "D"]);
export type DataMode = z.infer<typeof DataModeSchema>;

/** A ascending, D descending. */
export const DirectionSchema = z.enum(["A", "D"]);
export type Direction = z.infer<typeof DirectionSchema>;

/** The original system's name for a profile's DATA_MODE. */
export const QualityStatusSchema = z.enum(["REAL_TIME", "ADJUSTED", "DELAYED"]);
export type QualityStatus = z.infer<typeof QualityStatusSchema>;

/** A QC flag of reference table 2 (0-9). */
export const QcFlagSchema = z.number().int().min(0).max(9);

/** A WMO float number: 5 digits (early floats) or 7. */
export const FloatIdSchema = z.string().regex(/^[0-9]{5}([0-9]{2})?$/, "WMO float number of 5 or 7 digits");

/** An instant as milliseconds since 1970-01-01T00:00:00Z (the range of a JS Date). */
export const EpochMsSchema = z.number().int().min(-8.64e15).max(8.64e15);

/**
 * core: R/D file; bgc: B-file (BR/BD); synthetic: S-file (SR/SD, _Sprof);
 * core+bgc: a core file merged with its B-file.
 */
export const ProfileFileTypeSchema = z.enum(["core", "bgc", "synthetic", "core+bgc"]);
export type ProfileFileType = z.infer<typeof ProfileFileTypeSchema>;

/** The file a record came from. */
export const SourceFileSchema = z.object({
  path: z.string(),
  format: NetcdfFormatSchema,
  dataType: z.string().nullable(),
  formatVersion: z.string().nullable(),
  dateCreation: EpochMsSchema.nullable(),
  /** DATE_UPDATE: how the GDAC tells that a file changed. */
  dateUpdate: EpochMsSchema.nullable(),
});
export type SourceFile = z.infer<typeof SourceFileSchema>;

/**
 * measured: a STATION_PARAMETER with `<P>_ADJUSTED` variables, so with a data
 * mode and a best value. intermediate: one without (RAW_*, C1PHASE_DOXY,
 * TEMP_DOXY, MTIME, *_STD, *_MED, a B-file's PRES, ...): raw values and raw
 * QC only, and its best value is the raw one.
 */
export const ParameterKindSchema = z.enum(["measured", "intermediate"]);
export type ParameterKind = z.infer<typeof ParameterKindSchema>;

/** A parameter of a file, over all its profiles, with what Parquet metadata needs. */
export const ParameterInfoSchema = z.object({
  name: z.string().regex(/^[A-Z][A-Z0-9_]*$/),
  kind: ParameterKindSchema,
  /** NetCDF `units` attribute of the parameter variable. */
  units: z.string().nullable(),
  /** NetCDF `long_name` attribute of the parameter variable. */
  longName: z.string().nullable(),
  /** float columns are Float32Array, double columns Float64Array. */
  valueType: z.enum(["float", "double"]),
  sourceFile: z.string(),
});
export type ParameterInfo = z.infer<typeof ParameterInfoSchema>;

/** Count, min, max and mean of best values whose best QC is 1 or 2. */
export const ParameterStatsSchema = z.object({
  count: z.number().int().nonnegative(),
  min: z.number().nullable(),
  max: z.number().nullable(),
  mean: z.number().nullable(),
});
export type ParameterStats = z.infer<typeof ParameterStatsSchema>;

/** A typed-array check by class alone: O(1) however many levels it holds. */
function typedArray<T>(type: abstract new (...args: never[]) => unknown, name: string) {
  return z.custom<T>((v) => v instanceof type, `expected a ${name}`);
}

/** A value column: Float32Array for float variables, Float64Array otherwise; NaN is null. */
export const ValueColumnSchema = z.union([typedArray<Float32Array>(Float32Array, "Float32Array"), typedArray<Float64Array>(Float64Array, "Float64Array")]);
export type ValueColumn = z.infer<typeof ValueColumnSchema>;

/** A QC column: flags 0-9, {@link NO_QC} for none. */
export const QcColumnSchema = typedArray<Uint8Array>(Uint8Array, "Uint8Array");
export type QcColumn = z.infer<typeof QcColumnSchema>;

/** One parameter of one profile: every column has the profile's `nLevels` entries. */
export const ParameterColumnsSchema = z.object({
  name: z.string(),
  kind: ParameterKindSchema,
  /** PARAMETER_DATA_MODE (B and S files) or DATA_MODE (core files) for this profile. */
  dataMode: DataModeSchema.nullable(),
  sourceFile: z.string(),
  /** PROFILE_<P>_QC letter (A-F), when the file has one. */
  profileQc: z.string().regex(/^[A-F]$/).nullable(),
  raw: ValueColumnSchema,
  rawQc: QcColumnSchema,
  adjusted: ValueColumnSchema.nullable(),
  adjustedQc: QcColumnSchema.nullable(),
  adjustedError: ValueColumnSchema.nullable(),
  /** Best value: adjusted when dataMode is A or D, raw otherwise (the same array, not a copy). */
  value: ValueColumnSchema,
  /** Best QC, chosen like `value`. */
  qc: QcColumnSchema,
  /** Best error: adjusted error when dataMode is A or D, else null. */
  error: ValueColumnSchema.nullable(),
  /** S-files: `<P>_dPRES`, pressure offset of the measurement from the level's PRES. */
  dPres: ValueColumnSchema.nullable(),
  stats: ParameterStatsSchema,
});
export type ParameterColumns = z.infer<typeof ParameterColumnsSchema>;

/** One N_PROF entry of a profile file, with its levels in columns. */
export const ProfileSchema = z.object({
  floatId: FloatIdSchema,
  cycleNumber: z.number().int().nonnegative(),
  direction: DirectionSchema,
  /**
   * N_PROF index in the cycle's file: 0 is the primary sampling profile. In
   * multi-cycle files (_prof, _Sprof), which hold one profile per cycle, it is
   * the rank among profiles of the same cycle and direction, so 0 as well.
   */
  profileIndex: z.number().int().nonnegative(),
  /** N_PROF index in the file it was read from. */
  indexInFile: z.number().int().nonnegative(),
  /** DATA_MODE; S-files have none, so there PRES's PARAMETER_DATA_MODE. */
  dataMode: DataModeSchema.nullable(),
  qualityStatus: QualityStatusSchema.nullable(),
  /** JULD as stored: days since REFERENCE_DATE_TIME. */
  juld: z.number().nullable(),
  /** JULD as an exact UTC instant (ms). */
  time: EpochMsSchema.nullable(),
  timeQc: QcFlagSchema.nullable(),
  timeLocation: EpochMsSchema.nullable(),
  latitude: z.number().nullable(),
  longitude: z.number().nullable(),
  positionQc: QcFlagSchema.nullable(),
  positioningSystem: z.string().nullable(),
  verticalSamplingScheme: z.string().nullable(),
  dataCentre: z.string().nullable(),
  dcReference: z.string().nullable(),
  dataStateIndicator: z.string().nullable(),
  platformType: z.string().nullable(),
  floatSerialNo: z.string().nullable(),
  firmwareVersion: z.string().nullable(),
  wmoInstType: z.string().nullable(),
  projectName: z.string().nullable(),
  piName: z.string().nullable(),
  configMissionNumber: z.number().int().nullable(),
  /** Levels whose raw PRES is not fill. */
  nLevels: z.number().int().nonnegative(),
  /** Largest best PRES over the kept levels, whatever its QC; null without any. */
  maxPres: z.number().nullable(),
  /** N_LEVELS index of each kept level. */
  level: typedArray<Int32Array>(Int32Array, "Int32Array"),
  /** Depth (m) from best PRES and latitude, UNESCO 1983; NaN without latitude or pressure. */
  depthM: typedArray<Float64Array>(Float64Array, "Float64Array"),
  /** This profile's parameters by Argo name, in STATION_PARAMETERS order. */
  parameters: z.record(z.string(), ParameterColumnsSchema),
  /** Files the profile was read from: the core file first. */
  sources: z.array(SourceFileSchema).min(1),
});
export type Profile = z.infer<typeof ProfileSchema>;

/** A parsed profile file, without its profiles. */
export const ProfileFileHeaderSchema = z.object({
  kind: z.literal("profile"),
  fileType: ProfileFileTypeSchema,
  floatId: FloatIdSchema,
  sources: z.array(SourceFileSchema).min(1),
  /** Union over all profiles, in order of first appearance. */
  parameters: z.array(ParameterInfoSchema),
  /**
   * STATION_PARAMETERS not read into columns: intermediate parameters with
   * several values per level (e.g. UV_INTENSITY_NITRATE over N_VALUES41).
   */
  omittedParameters: z.array(z.string()),
});

/** A parsed profile file (core, B, S; single- or multi-cycle). */
export const ParsedProfileFileSchema = ProfileFileHeaderSchema.extend({
  profiles: z.array(ProfileSchema),
});
export type ParsedProfileFile = z.infer<typeof ParsedProfileFileSchema>;

/** A sensor of a float (meta file, N_SENSOR). */
export const SensorSchema = z.object({
  sensor: z.string(),
  maker: z.string().nullable(),
  model: z.string().nullable(),
  serialNo: z.string().nullable(),
});

/** A parameter a float measures (meta file, N_PARAM). */
export const MetaParameterSchema = z.object({
  parameter: z.string(),
  sensor: z.string().nullable(),
  units: z.string().nullable(),
  accuracy: z.string().nullable(),
  resolution: z.string().nullable(),
});

/** A parsed meta-data file (`<wmo>_meta.nc`): one row of the `floats` table. */
export const FloatMetaSchema = z.object({
  kind: z.literal("meta"),
  floatId: FloatIdSchema,
  source: SourceFileSchema,
  platformType: z.string().nullable(),
  platformFamily: z.string().nullable(),
  platformMaker: z.string().nullable(),
  floatSerialNo: z.string().nullable(),
  firmwareVersion: z.string().nullable(),
  wmoInstType: z.string().nullable(),
  projectName: z.string().nullable(),
  piName: z.string().nullable(),
  floatOwner: z.string().nullable(),
  operatingInstitution: z.string().nullable(),
  dataCentre: z.string().nullable(),
  positioningSystems: z.array(z.string()),
  transSystems: z.array(z.string()),
  launchDate: EpochMsSchema.nullable(),
  launchLatitude: z.number().nullable(),
  launchLongitude: z.number().nullable(),
  launchQc: QcFlagSchema.nullable(),
  startDate: EpochMsSchema.nullable(),
  endMissionDate: EpochMsSchema.nullable(),
  endMissionStatus: z.string().nullable(),
  deploymentPlatform: z.string().nullable(),
  deploymentCruiseId: z.string().nullable(),
  sensors: z.array(SensorSchema),
  parameters: z.array(MetaParameterSchema),
  dateUpdate: EpochMsSchema.nullable(),
});
export type FloatMeta = z.infer<typeof FloatMetaSchema>;

/** Any parsed Argo file. */
export const ParsedFileSchema = z.discriminatedUnion("kind", [ParsedProfileFileSchema, FloatMetaSchema]);
export type ParsedFile = z.infer<typeof ParsedFileSchema>;

/** Best-value QC flags of one measurement of {@link ProfileDataSchema}. */
export const MeasurementQcFlagsSchema = z.object({
  depth: QcFlagSchema.nullable(),
  temperature: QcFlagSchema.nullable(),
  salinity: QcFlagSchema.nullable(),
  oxygen: QcFlagSchema.nullable(),
  chlorophyll: QcFlagSchema.nullable(),
});

/** One level of {@link ProfileDataSchema}: best values. */
export const MeasurementSchema = z.object({
  /** Pressure in dbar, as the original system called it. */
  depth: z.number().nullable(),
  /** Depth in metres (UNESCO 1983), added. */
  depth_m: z.number().nullable(),
  temperature: z.number().nullable(),
  salinity: z.number().nullable(),
  oxygen: z.number().nullable(),
  chlorophyll: z.number().nullable(),
  qc_flags: MeasurementQcFlagsSchema,
});

/** The original system's JSON for one profile. */
export const ProfileDataSchema = z.object({
  float_id: FloatIdSchema,
  cycle_number: z.number().int().nonnegative(),
  /** ISO 8601 UTC, ms precision. */
  profile_time: z.iso.datetime().nullable(),
  latitude: z.number().nullable(),
  longitude: z.number().nullable(),
  measurements: z.array(MeasurementSchema),
  /** Largest pressure (dbar), like `depth`. */
  max_depth: z.number().nullable(),
  quality_status: QualityStatusSchema.nullable(),
  metadata: z.object({
    direction: DirectionSchema,
    profile_index: z.number().int().nonnegative(),
    data_mode: DataModeSchema.nullable(),
    platform_type: z.string().nullable(),
    data_centre: z.string().nullable(),
    positioning_system: z.string().nullable(),
    vertical_sampling_scheme: z.string().nullable(),
    position_qc: QcFlagSchema.nullable(),
    juld_qc: QcFlagSchema.nullable(),
    parameters: z.array(z.string()),
    source_files: z.array(z.string()),
    date_update: z.iso.datetime().nullable(),
  }),
});
export type ProfileData = z.infer<typeof ProfileDataSchema>;

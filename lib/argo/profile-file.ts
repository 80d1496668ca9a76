/**
 * Argo profile files (core, B, S; one cycle or many) from a {@link NetcdfReader}
 * into validated, columnar {@link ParsedProfileFile}s. Each variable is read
 * once for the whole file (N_PROF x N_LEVELS); profiles then take views (or,
 * when their kept levels are not contiguous, copies) of those arrays.
 */
import { qualityStatusOf, selectBest } from "./best.ts";
import {
  ARGO_EPOCH_MS,
  decodeDataMode,
  decodeProfileQc,
  decodeQc,
  decodeQcColumn,
  decodeStrings,
  juldToEpochMs,
  missingValues,
  nullifyMissing,
  numberOrNull,
  parseArgoDate,
} from "./decode.ts";
import { depthColumn } from "./depth.ts";
import {
  NO_QC,
  ProfileFileHeaderSchema,
  ProfileSchema,
  type DataMode,
  type ParameterColumns,
  type ParameterInfo,
  type ParsedProfileFile,
  type Profile,
  type ProfileFileType,
  type SourceFile,
  type ValueColumn,
} from "./schema.ts";
import { goodValueStats } from "./stats.ts";
import { ParseError } from "../errors.ts";
import type { NcVariable, NetcdfReader } from "../netcdf/types.ts";

/** JULD's fill when the variable does not declare one. */
const JULD_FILL = 999999;

/** A parameter over the whole file: arrays of N_PROF x N_LEVELS, plus per-profile letters. */
interface FileParameter {
  info: ParameterInfo;
  raw: ValueColumn;
  rawQc: Uint8Array;
  adjusted: ValueColumn | null;
  adjustedQc: Uint8Array | null;
  adjustedError: ValueColumn | null;
  dPres: ValueColumn | null;
  /** PROFILE_<P>_QC characters, one per profile. */
  profileQc: Uint8Array | null;
}

/** Reading context: the file, and what error messages need. */
class ProfileFileParse {
  private floatId: string | undefined;
  private noQcColumn: Uint8Array | undefined;
  readonly nProf: number;
  readonly nLevels: number;

  constructor(
    private readonly reader: NetcdfReader,
    private readonly source: SourceFile,
  ) {
    this.nProf = this.dimension("N_PROF");
    this.nLevels = this.dimension("N_LEVELS");
  }

  fail(message: string, where: string): never {
    throw new ParseError(message, { file: this.reader.file, floatId: this.floatId, where });
  }

  private dimension(name: string): number {
    const size = this.reader.dimensions.get(name);
    if (size === undefined) this.fail(`dimension ${name} is missing`, `dimension ${name}`);
    return size;
  }

  has(name: string): boolean {
    return this.reader.variables.has(name);
  }

  private variable(name: string): NcVariable {
    const v = this.reader.variables.get(name);
    if (v === undefined) this.fail(`required variable ${name} is missing`, name);
    return v;
  }

  /** A char variable whose first dimension is N_PROF, with its shape. */
  private profileChars(name: string): { bytes: Uint8Array; shape: readonly number[] } {
    const v = this.variable(name);
    if (v.type !== "char") this.fail(`variable ${name} is ${v.type}, expected char`, name);
    if (v.shape[0] !== this.nProf) this.fail(`variable ${name} has shape [${v.shape.join(", ")}], expected N_PROF (${this.nProf}) first`, name);
    return { bytes: this.reader.read(name) as Uint8Array, shape: v.shape };
  }

  /**
   * Trimmed strings split on the last dimension: one per profile for
   * (N_PROF, STRINGn), N_PROF x N_PARAM for STATION_PARAMETERS. All null
   * when the variable is absent and not required.
   */
  strings(name: string, required = false): Array<string | null> {
    if (!required && !this.has(name)) return new Array<string | null>(this.nProf).fill(null);
    const { bytes, shape } = this.profileChars(name);
    if (shape.length < 2) this.fail(`variable ${name} has shape [${shape.join(", ")}], expected (N_PROF, STRINGn)`, name);
    return decodeStrings(bytes, shape.at(-1)!);
  }

  /** One character per profile (DATA_MODE, DIRECTION, JULD_QC, ...), or null when absent. */
  letters(name: string, required = false): Uint8Array | null {
    if (!required && !this.has(name)) return null;
    const { bytes, shape } = this.profileChars(name);
    if (shape.length !== 1) this.fail(`variable ${name} has shape [${shape.join(", ")}], expected one character per profile`, name);
    return bytes;
  }

  /** One number per profile, fills as null (NaN); null when absent and not required. */
  numbers(name: string, markers: (fill: unknown) => number[], required = false): Array<number | null> | null {
    if (!required && !this.has(name)) return null;
    const v = this.variable(name);
    if (v.type === "char") this.fail(`variable ${name} is char, expected a number`, name);
    if (v.shape.length !== 1 || v.shape[0] !== this.nProf) this.fail(`variable ${name} has shape [${v.shape.join(", ")}], expected [N_PROF = ${this.nProf}]`, name);
    const data = this.reader.read(name) as ArrayLike<number>;
    const m = markers(v.attributes["_FillValue"]);
    return Array.from({ length: this.nProf }, (_, i) => numberOrNull(data[i], m));
  }

  /** A numeric N_PROF x N_LEVELS variable as a value column, missing values as NaN. */
  private levelValues(name: string): ValueColumn {
    const v = this.levelVariable(name);
    if (v.type === "char" || v.type === "byte") this.fail(`variable ${name} is ${v.type}, expected float or double`, name);
    const data = this.reader.read(name);
    const values = data instanceof Float32Array || data instanceof Float64Array ? data : Float64Array.from(data as ArrayLike<number>);
    nullifyMissing(values, missingValues(v.attributes["_FillValue"]));
    return values;
  }

  /** A char N_PROF x N_LEVELS QC variable as flags; all NO_QC when the file has none. */
  private levelQc(name: string): Uint8Array {
    if (!this.has(name)) {
      this.noQcColumn ??= new Uint8Array(this.nProf * this.nLevels).fill(NO_QC);
      return this.noQcColumn;
    }
    const v = this.levelVariable(name);
    if (v.type !== "char") this.fail(`variable ${name} is ${v.type}, expected char QC flags`, name);
    return decodeQcColumn(this.reader.read(name) as Uint8Array);
  }

  private levelVariable(name: string): NcVariable {
    const v = this.variable(name);
    if (v.shape.length !== 2 || v.shape[0] !== this.nProf || v.shape[1] !== this.nLevels) {
      this.fail(`variable ${name} has shape [${v.shape.join(", ")}], expected [N_PROF, N_LEVELS] = [${this.nProf}, ${this.nLevels}]`, name);
    }
    return v;
  }

  /** Reads every version of one parameter, each variable once. */
  parameter(name: string): FileParameter {
    const v = this.reader.variables.get(name);
    if (v === undefined) this.fail(`STATION_PARAMETERS lists ${name}, but the file has no ${name} variable`, name);
    const measured = this.has(`${name}_ADJUSTED`);
    const text = (key: string): string | null => {
      const a = v.attributes[key];
      return typeof a === "string" && a.trim() !== "" ? a.trim() : null;
    };
    const raw = this.levelValues(name);
    return {
      info: {
        name,
        kind: measured ? "measured" : "intermediate",
        units: text("units"),
        longName: text("long_name"),
        valueType: raw instanceof Float32Array ? "float" : "double",
        sourceFile: this.source.path,
      },
      raw,
      rawQc: this.levelQc(`${name}_QC`),
      adjusted: measured ? this.levelValues(`${name}_ADJUSTED`) : null,
      adjustedQc: measured ? this.levelQc(`${name}_ADJUSTED_QC`) : null,
      adjustedError: measured && this.has(`${name}_ADJUSTED_ERROR`) ? this.levelValues(`${name}_ADJUSTED_ERROR`) : null,
      dPres: this.has(`${name}_dPRES`) ? this.levelValues(`${name}_dPRES`) : null,
      profileQc: this.letters(`PROFILE_${name}_QC`),
    };
  }

  setFloatId(floatId: string | null): void {
    if (floatId !== null) this.floatId = floatId;
  }
}

/** Fills and the -999 / -99.999 markers: for positions and measurements. */
const measurementMarkers = missingValues;
/** JULD's declared fill (999999 by default); no in-the-wild markers, since they are plausible day counts. */
const juldMarkers = (fill: unknown): number[] => [typeof fill === "number" ? fill : JULD_FILL];
/** Integer fills (CYCLE_NUMBER, CONFIG_MISSION_NUMBER): 99999 by default. */
const integerMarkers = (fill: unknown): number[] => [typeof fill === "number" ? fill : 99999];

/** Kept levels of one profile: N_LEVELS indices whose raw PRES is not fill. */
function keptLevels(pres: ValueColumn, base: number, nLevels: number): { level: Int32Array; contiguous: boolean } {
  let n = 0;
  for (let j = 0; j < nLevels; j++) if (!Number.isNaN(pres[base + j]!)) n++;
  const level = new Int32Array(n);
  let k = 0;
  for (let j = 0; j < nLevels; j++) if (!Number.isNaN(pres[base + j]!)) level[k++] = j;
  return { level, contiguous: n === 0 || level[n - 1]! - level[0]! === n - 1 };
}

type Column = ValueColumn | Uint8Array;

/** A profile's slice of a file-wide column: a view when its levels are contiguous, else a copy. */
function profileSlice<T extends Column>(column: T, base: number, level: Int32Array, contiguous: boolean): T {
  if (contiguous) {
    const start = base + (level[0] ?? 0);
    return column.subarray(start, start + level.length) as T;
  }
  const out = new (column.constructor as new (n: number) => T)(level.length);
  for (let j = 0; j < level.length; j++) out[j] = column[base + level[j]!]!;
  return out;
}

function anyValue(column: ValueColumn | null): boolean {
  if (column === null) return false;
  for (let i = 0; i < column.length; i++) if (!Number.isNaN(column[i]!)) return true;
  return false;
}

function fileTypeOf(parse: ProfileFileParse, dataType: string | null): ProfileFileType {
  const text = (dataType ?? "").toLowerCase();
  if (!parse.has("PARAMETER_DATA_MODE")) return "core";
  if (text.includes("synthetic")) return "synthetic";
  if (text.startsWith("b-")) return "bgc";
  // B-files have no PRES_ADJUSTED (PRES comes from the core file); S-files do.
  return parse.has("PRES_ADJUSTED") ? "synthetic" : "bgc";
}

/**
 * Reads every profile of a profile file. Throws {@link ParseError} for a
 * missing required variable, a variable of the wrong shape or type, or a
 * profile whose scalars fail validation.
 */
export function readProfileFile(reader: NetcdfReader, source: SourceFile, referenceDate: string | null): ParsedProfileFile {
  const parse: ProfileFileParse = new ProfileFileParse(reader, source);
  const { nProf, nLevels } = parse;
  if (nProf === 0) parse.fail("the file holds no profile (N_PROF = 0)", "dimension N_PROF");

  const floatIds = parse.strings("PLATFORM_NUMBER", true);
  parse.setFloatId(floatIds[0] ?? null);
  const fileType = fileTypeOf(parse, source.dataType);

  const stationVar = reader.variables.get("STATION_PARAMETERS");
  if (stationVar?.shape.length !== 3) parse.fail("required variable STATION_PARAMETERS (N_PROF, N_PARAM, STRING) is missing or misshapen", "STATION_PARAMETERS");
  const nParam = stationVar!.shape[1]!;
  const stationNames = parse.strings("STATION_PARAMETERS", true);
  if (stationNames.length !== nProf * nParam) parse.fail("STATION_PARAMETERS does not hold N_PROF x N_PARAM names", "STATION_PARAMETERS");
  const dataModes = parse.letters("DATA_MODE", !parse.has("PARAMETER_DATA_MODE"));
  let parameterDataModes: Uint8Array | null = null;
  if (fileType !== "core") {
    const { shape } = reader.variables.get("PARAMETER_DATA_MODE")!;
    if (shape.length !== 2 || shape[0] !== nProf || shape[1] !== nParam) parse.fail(`PARAMETER_DATA_MODE has shape [${shape.join(", ")}], expected [N_PROF, N_PARAM] = [${nProf}, ${nParam}]`, "PARAMETER_DATA_MODE");
    parameterDataModes = reader.read("PARAMETER_DATA_MODE") as Uint8Array;
  }

  // The union of STATION_PARAMETERS over all profiles; PRES first if a file forgot it, since it is the vertical axis.
  const listedNames: string[] = [];
  for (const name of stationNames) if (name !== null && !listedNames.includes(name)) listedNames.push(name);
  if (!listedNames.includes("PRES")) listedNames.unshift("PRES");
  // Intermediate parameters with more values per level (UV_INTENSITY_NITRATE over N_VALUES41, ...) do not fit one column per level.
  const omittedParameters = listedNames.filter((name) => !parse.has(`${name}_ADJUSTED`) && (reader.variables.get(name)?.shape.length ?? 2) > 2);
  const union = listedNames.filter((name) => !omittedParameters.includes(name));
  const fileParameters = new Map(union.map((name) => [name, parse.parameter(name)]));
  const presRaw = fileParameters.get("PRES")!.raw;

  const platformTypes = parse.strings("PLATFORM_TYPE");
  const floatSerialNos = parse.strings("FLOAT_SERIAL_NO");
  const firmwareVersions = parse.strings("FIRMWARE_VERSION");
  const wmoInstTypes = parse.strings("WMO_INST_TYPE");
  const projectNames = parse.strings("PROJECT_NAME");
  const piNames = parse.strings("PI_NAME");
  const dataCentres = parse.strings("DATA_CENTRE");
  const dcReferences = parse.strings("DC_REFERENCE");
  const dataStateIndicators = parse.strings("DATA_STATE_INDICATOR");
  const positioningSystems = parse.strings("POSITIONING_SYSTEM");
  const samplingSchemes = parse.strings("VERTICAL_SAMPLING_SCHEME");
  const cycleNumbers = parse.numbers("CYCLE_NUMBER", integerMarkers, true)!;
  const configMissionNumbers = parse.numbers("CONFIG_MISSION_NUMBER", integerMarkers);
  const directions = parse.letters("DIRECTION", true)!;
  const julds = parse.numbers("JULD", juldMarkers, true)!;
  const juldQcs = parse.letters("JULD_QC");
  const juldLocations = parse.numbers("JULD_LOCATION", juldMarkers);
  const latitudes = parse.numbers("LATITUDE", measurementMarkers, true)!;
  const longitudes = parse.numbers("LONGITUDE", measurementMarkers, true)!;
  const positionQcs = parse.letters("POSITION_QC");

  const referenceMs = parseArgoDate(referenceDate) ?? ARGO_EPOCH_MS;
  const timeOf = (juld: number | null, what: string, i: number): number | null => {
    const ms = juldToEpochMs(juld, referenceMs);
    if (juld !== null && ms === null) parse.fail(`${what} of profile ${i} is ${juld} days, not a representable date`, `${what}[${i}]`);
    return ms;
  };

  const profiles: Profile[] = [];
  const seen = new Map<string, number>();
  for (let i = 0; i < nProf; i++) {
    const base = i * nLevels;
    const { level, contiguous } = keptLevels(presRaw, base, nLevels);
    const slice = <T extends Column>(c: T): T => profileSlice(c, base, level, contiguous);
    const sliceOrNull = <T extends Column>(c: T | null): T | null => (c === null ? null : slice(c));

    const listed = new Map<string, number>();
    for (let k = 0; k < nParam; k++) {
      const name = stationNames[i * nParam + k];
      if (name !== null && name !== undefined && !listed.has(name)) listed.set(name, k);
    }
    const profileDataMode = dataModes !== null ? decodeDataMode(dataModes[i]) : parameterModeOf(parameterDataModes, i, nParam, listed.get("PRES"));

    const parameters: Record<string, ParameterColumns> = {};
    // This profile's STATION_PARAMETERS first, in order; then any other parameter of the file holding data here.
    const order = [...union.filter((n) => listed.has(n)), ...union.filter((n) => !listed.has(n))];
    for (const name of order) {
      const p = fileParameters.get(name)!;
      const raw = slice(p.raw);
      const adjusted = sliceOrNull(p.adjusted);
      if (!listed.has(name) && name !== "PRES" && !anyValue(raw) && !anyValue(adjusted)) continue;
      const dataMode = parameterModeOf(parameterDataModes, i, nParam, listed.get(name)) ?? (dataModes !== null ? decodeDataMode(dataModes[i]) : null);
      const versions = { raw, rawQc: slice(p.rawQc), adjusted, adjustedQc: sliceOrNull(p.adjustedQc), adjustedError: sliceOrNull(p.adjustedError) };
      const best = selectBest(versions, dataMode);
      parameters[name] = {
        name,
        kind: p.info.kind,
        dataMode,
        sourceFile: source.path,
        profileQc: p.profileQc === null ? null : decodeProfileQc(p.profileQc[i]),
        ...versions,
        ...best,
        dPres: sliceOrNull(p.dPres),
        stats: goodValueStats(best.value, best.qc),
      };
    }

    const pres = parameters["PRES"]!.value;
    let maxPres: number | null = null;
    for (let j = 0; j < pres.length; j++) if (!Number.isNaN(pres[j]!) && (maxPres === null || pres[j]! > maxPres)) maxPres = pres[j]!;

    const floatId = floatIds[i] ?? null;
    const cycleNumber = cycleNumbers[i] ?? null;
    const direction = directions[i] === 0x41 ? "A" : directions[i] === 0x44 ? "D" : null;
    if (floatId === null) parse.fail(`PLATFORM_NUMBER of profile ${i} is blank`, `PLATFORM_NUMBER[${i}]`);
    if (cycleNumber === null) parse.fail(`CYCLE_NUMBER of profile ${i} is fill`, `CYCLE_NUMBER[${i}]`);
    if (direction === null) parse.fail(`DIRECTION of profile ${i} is '${String.fromCharCode(directions[i] ?? 32)}', expected A or D`, `DIRECTION[${i}]`);
    const key = `${cycleNumber}/${direction}`;
    const profileIndex = seen.get(key) ?? 0;
    seen.set(key, profileIndex + 1);

    const latitude = latitudes[i] ?? null;
    const profile: Profile = {
      floatId,
      cycleNumber,
      direction,
      profileIndex,
      indexInFile: i,
      dataMode: profileDataMode,
      qualityStatus: qualityStatusOf(profileDataMode),
      juld: julds[i] ?? null,
      time: timeOf(julds[i] ?? null, "JULD", i),
      timeQc: juldQcs === null ? null : decodeQc(juldQcs[i]),
      timeLocation: juldLocations === null ? null : timeOf(juldLocations[i] ?? null, "JULD_LOCATION", i),
      latitude,
      longitude: longitudes[i] ?? null,
      positionQc: positionQcs === null ? null : decodeQc(positionQcs[i]),
      positioningSystem: positioningSystems[i] ?? null,
      verticalSamplingScheme: samplingSchemes[i] ?? null,
      dataCentre: dataCentres[i] ?? null,
      dcReference: dcReferences[i] ?? null,
      dataStateIndicator: dataStateIndicators[i] ?? null,
      platformType: platformTypes[i] ?? null,
      floatSerialNo: floatSerialNos[i] ?? null,
      firmwareVersion: firmwareVersions[i] ?? null,
      wmoInstType: wmoInstTypes[i] ?? null,
      projectName: projectNames[i] ?? null,
      piName: piNames[i] ?? null,
      configMissionNumber: configMissionNumbers?.[i] ?? null,
      nLevels: level.length,
      maxPres,
      level,
      depthM: depthColumn(pres, latitude),
      parameters,
      sources: [source],
    };
    validateProfile(profile, parse, i);
    profiles.push(profile);
  }

  const parsed: ParsedProfileFile = {
    kind: "profile",
    fileType,
    floatId: profiles[0]!.floatId,
    sources: [source],
    parameters: [...fileParameters.values()].map((p) => p.info),
    omittedParameters,
    profiles,
  };
  const header = ProfileFileHeaderSchema.safeParse(parsed);
  if (!header.success) {
    const issue = header.error.issues[0]!;
    parse.fail(`invalid ${issue.path.join(".")}: ${issue.message}`, issue.path.join("."));
  }
  return parsed;
}

/** A parameter's PARAMETER_DATA_MODE letter in profile i, or null without one. */
function parameterModeOf(modes: Uint8Array | null, i: number, nParam: number, k: number | undefined): DataMode | null {
  return modes === null || k === undefined ? null : decodeDataMode(modes[i * nParam + k]);
}

/** Scalars through zod; columns only by length, all equal to nLevels. */
function validateProfile(profile: Profile, parse: { fail(message: string, where: string): never }, i: number): void {
  const result = ProfileSchema.safeParse(profile);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    const path = issue.path.join(".");
    parse.fail(`profile ${i}: invalid ${path}: ${issue.message}`, `profile ${i}: ${path}`);
  }
  const n = profile.nLevels;
  if (profile.level.length !== n || profile.depthM.length !== n) parse.fail(`profile ${i}: level columns differ in length`, `profile ${i}`);
  for (const p of Object.values(profile.parameters)) {
    for (const column of [p.raw, p.rawQc, p.adjusted, p.adjustedQc, p.adjustedError, p.value, p.qc, p.error, p.dPres]) {
      if (column !== null && column.length !== n) parse.fail(`profile ${i}: a ${p.name} column has ${column.length} levels, expected ${n}`, `profile ${i}: ${p.name}`);
    }
  }
}

/** Argo meta-data files (`<wmo>_meta.nc`) from a {@link NetcdfReader} into a validated {@link FloatMeta}. */
import { decodeQc, decodeString, decodeStrings, missingValues, numberOrNull, parseArgoDate } from "./decode.ts";
import { FloatMetaSchema, type FloatMeta, type SourceFile } from "./schema.ts";
import { ParseError } from "../errors.ts";
import type { NetcdfReader } from "../netcdf/types.ts";

/**
 * Reads a meta-data file. Only PLATFORM_NUMBER is required; every other field
 * is null (or empty) when its variable is absent, since meta files of older
 * format versions lack many of them.
 */
export function readMetaFile(reader: NetcdfReader, source: SourceFile): FloatMeta {
  // Assigned once PLATFORM_NUMBER is read, so that later errors name the float.
  // deno-lint-ignore prefer-const
  let floatId: string | undefined;
  const fail = (message: string, where: string): never => {
    throw new ParseError(message, { file: reader.file, floatId, where });
  };
  const chars = (name: string): Uint8Array | null => {
    const v = reader.variables.get(name);
    if (v === undefined) return null;
    if (v.type !== "char") fail(`variable ${name} is ${v.type}, expected char`, name);
    return reader.read(name) as Uint8Array;
  };
  const text = (name: string): string | null => {
    const bytes = chars(name);
    return bytes === null ? null : decodeString(bytes);
  };
  /** (N, STRINGn) variables: one entry per row, blank rows kept as null to stay aligned. */
  const list = (name: string): Array<string | null> => {
    const bytes = chars(name);
    const width = reader.variables.get(name)?.shape.at(-1) ?? 0;
    return bytes === null ? [] : decodeStrings(bytes, width);
  };
  const number = (name: string): number | null => {
    const v = reader.variables.get(name);
    if (v === undefined) return null;
    if (v.type === "char") fail(`variable ${name} is char, expected a number`, name);
    return numberOrNull((reader.read(name) as ArrayLike<number>)[0], missingValues(v.attributes["_FillValue"]));
  };
  const present = (values: Array<string | null>): string[] => values.filter((v): v is string => v !== null);

  floatId = text("PLATFORM_NUMBER") ?? fail("PLATFORM_NUMBER is missing or blank", "PLATFORM_NUMBER");

  const sensorNames = list("SENSOR");
  const makers = list("SENSOR_MAKER");
  const models = list("SENSOR_MODEL");
  const serials = list("SENSOR_SERIAL_NO");
  const sensors = sensorNames.flatMap((sensor, i) =>
    sensor === null ? [] : [{ sensor, maker: makers[i] ?? null, model: models[i] ?? null, serialNo: serials[i] ?? null }],
  );
  const parameterNames = list("PARAMETER");
  const parameterSensors = list("PARAMETER_SENSOR");
  const units = list("PARAMETER_UNITS");
  const accuracies = list("PARAMETER_ACCURACY");
  const resolutions = list("PARAMETER_RESOLUTION");
  const parameters = parameterNames.flatMap((parameter, i) =>
    parameter === null
      ? []
      : [{ parameter, sensor: parameterSensors[i] ?? null, units: units[i] ?? null, accuracy: accuracies[i] ?? null, resolution: resolutions[i] ?? null }],
  );

  const meta: FloatMeta = {
    kind: "meta",
    floatId,
    source,
    platformType: text("PLATFORM_TYPE"),
    platformFamily: text("PLATFORM_FAMILY"),
    platformMaker: text("PLATFORM_MAKER"),
    floatSerialNo: text("FLOAT_SERIAL_NO"),
    firmwareVersion: text("FIRMWARE_VERSION"),
    wmoInstType: text("WMO_INST_TYPE"),
    projectName: text("PROJECT_NAME"),
    piName: text("PI_NAME"),
    floatOwner: text("FLOAT_OWNER"),
    operatingInstitution: text("OPERATING_INSTITUTION"),
    dataCentre: text("DATA_CENTRE"),
    positioningSystems: present(list("POSITIONING_SYSTEM")),
    transSystems: present(list("TRANS_SYSTEM")),
    launchDate: parseArgoDate(text("LAUNCH_DATE")),
    launchLatitude: number("LAUNCH_LATITUDE"),
    launchLongitude: number("LAUNCH_LONGITUDE"),
    launchQc: decodeQc(chars("LAUNCH_QC")?.[0]),
    startDate: parseArgoDate(text("START_DATE")),
    endMissionDate: parseArgoDate(text("END_MISSION_DATE")),
    endMissionStatus: text("END_MISSION_STATUS"),
    deploymentPlatform: text("DEPLOYMENT_PLATFORM"),
    deploymentCruiseId: text("DEPLOYMENT_CRUISE_ID"),
    sensors,
    parameters,
    dateUpdate: source.dateUpdate,
  };
  const result = FloatMetaSchema.safeParse(meta);
  if (!result.success) {
    const issue = result.error.issues[0]!;
    fail(`invalid ${issue.path.join(".")}: ${issue.message}`, issue.path.join("."));
  }
  return meta;
}

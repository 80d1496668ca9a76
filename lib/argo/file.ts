/**
 * Entry points: bytes (or a path) of any Argo profile or meta-data file in,
 * a validated {@link ParsedFile} or a {@link ParseError} out. Nothing is
 * thrown for a bad file, so a caller walking many files goes on.
 */
import { readFile } from "node:fs/promises";

import { decodeString, parseArgoDate } from "./decode.ts";
import type { ParsedFile, SourceFile } from "./schema.ts";
import { ParseError } from "../errors.ts";
import { readMetaFile } from "./meta-file.ts";
import { readProfileFile } from "./profile-file.ts";
import { openNetcdf } from "../netcdf/reader.ts";
import { asParseError, type NetcdfReader } from "../netcdf/types.ts";

/** Options of {@link parseArgoFile}. */
export interface ParseOptions {
  /** Where the bytes come from (e.g. `dac/coriolis/6903247/profiles/R6903247_001.nc`): named in errors and in `sources`. */
  path: string;
}

function fileText(reader: NetcdfReader, name: string): string | null {
  const v = reader.variables.get(name);
  return v === undefined || v.type !== "char" ? null : decodeString(reader.read(name) as Uint8Array);
}

/** Which kind of Argo file this is, from DATA_TYPE and, for files that misstate it, from its variables. */
function kindOf(reader: NetcdfReader, dataType: string | null): "profile" | "meta" | null {
  const text = (dataType ?? "").toLowerCase();
  if (text.includes("meta")) return "meta";
  if (text.includes("profile")) return "profile";
  if (reader.variables.has("STATION_PARAMETERS") && reader.dimensions.has("N_PROF")) return "profile";
  if (reader.variables.has("LAUNCH_DATE")) return "meta";
  return null;
}

/**
 * Parses one Argo file: profile files (core R/D, B, S, single-cycle or
 * `_prof`/`_Sprof`) and meta-data files, NetCDF-3 or NetCDF-4/HDF5.
 * Returns a ParseError for truncated, corrupt or hostile files, non-NetCDF
 * bytes, HDF5 that h5wasm cannot open, missing required variables, and
 * trajectory/technical files, which this parser does not read.
 */
export async function parseArgoFile(bytes: Uint8Array, options: ParseOptions): Promise<ParsedFile | ParseError> {
  const file = options.path;
  const reader = await openNetcdf(bytes, file);
  if (reader instanceof ParseError) return reader;
  try {
    const dataType = fileText(reader, "DATA_TYPE");
    const source: SourceFile = {
      path: file,
      format: reader.format,
      dataType,
      formatVersion: fileText(reader, "FORMAT_VERSION"),
      dateCreation: parseArgoDate(fileText(reader, "DATE_CREATION")),
      dateUpdate: parseArgoDate(fileText(reader, "DATE_UPDATE")),
    };
    const kind = kindOf(reader, dataType);
    if (kind === "profile") return readProfileFile(reader, source, fileText(reader, "REFERENCE_DATE_TIME"));
    if (kind === "meta") return readMetaFile(reader, source);
    return new ParseError(`not an Argo profile or meta-data file (DATA_TYPE '${dataType ?? ""}')`, { file, where: "DATA_TYPE" });
  } catch (err) {
    return asParseError(err, file, "file");
  } finally {
    reader.close();
  }
}

/** Reads a file from disk and parses it; a read failure is a ParseError too. */
export async function readArgoFile(path: string): Promise<ParsedFile | ParseError> {
  let bytes: Uint8Array;
  try {
    bytes = await readFile(path);
  } catch (err) {
    return asParseError(err, path, "file");
  }
  return parseArgoFile(bytes, { path });
}

/**
 * One small reader interface over the two on-disk formats Argo files come in:
 * NetCDF-3 (classic and 64-bit offset, read by lib/netcdf/netcdf3.ts) and NetCDF-4/HDF5
 * (read with h5wasm). The Argo layer only ever talks to {@link NetcdfReader}.
 */
import { z } from "zod";

import { ParseError } from "../errors.ts";

/** NetCDF external types, in the classic data model that Argo files use. */
export type NcType = "byte" | "char" | "short" | "int" | "float" | "double";

/** Bytes per element of each type. */
export const NC_TYPE_SIZE: Readonly<Record<NcType, number>> = { byte: 1, char: 1, short: 2, int: 4, float: 4, double: 8 };

/** On-disk format of a file, from its magic bytes. */
export const NetcdfFormatSchema = z.enum(["netcdf3-classic", "netcdf3-64bit-offset", "netcdf4-hdf5"]);
/** On-disk format of a file, from its magic bytes. */
export type NetcdfFormat = z.infer<typeof NetcdfFormatSchema>;

/** An attribute value: text for char attributes, a number or numbers otherwise. */
export type NcAttributeValue = string | number | number[];

/** What a reader knows about one variable, before reading any of its data. */
export interface NcVariable {
  readonly name: string;
  readonly type: NcType;
  /** Dimension names, outermost first. */
  readonly dimensions: readonly string[];
  /** Dimension sizes, outermost first (the record dimension counts its records). */
  readonly shape: readonly number[];
  readonly attributes: Readonly<Record<string, NcAttributeValue>>;
}

/**
 * A variable's data, row-major, as stored: char and byte variables give their
 * raw bytes (Uint8Array), numbers keep their width (short -> Int16Array, ...).
 */
export type NcData = Uint8Array | Int16Array | Int32Array | Float32Array | Float64Array;

/** Read access to one open NetCDF file. Call {@link NetcdfReader.close} when done. */
export interface NetcdfReader {
  readonly format: NetcdfFormat;
  /** File name used in error messages. */
  readonly file: string;
  /** Dimension sizes by name. */
  readonly dimensions: ReadonlyMap<string, number>;
  readonly globalAttributes: Readonly<Record<string, NcAttributeValue>>;
  /** Variables by name, in file order. */
  readonly variables: ReadonlyMap<string, NcVariable>;
  /** Reads a whole variable. Throws {@link ParseError} if it is absent or unreadable. */
  read(name: string): NcData;
  /** Releases what the reader holds (for HDF5: the in-memory file). Safe to call twice. */
  close(): void;
}

/** Wraps anything thrown while reading into a ParseError that names the file. */
export function asParseError(err: unknown, file: string, where: string): ParseError {
  if (err instanceof ParseError) return err;
  const message = err instanceof Error ? err.message : String(err);
  return new ParseError(`cannot read ${where}: ${message}`, { file, where }, { cause: err });
}

/** Product of sizes as a float: exact up to 2^53 and finite for hostile headers. */
export function elementCount(shape: readonly number[]): number {
  let n = 1;
  for (const s of shape) n *= s;
  return n;
}

/**
 * NetCDF-4 (HDF5, classic model) behind the {@link NetcdfReader} interface,
 * read with h5wasm. h5wasm reads files from its Emscripten file system, so the
 * bytes are written there under a unique name, opened, and always closed and
 * unlinked again by {@link NetcdfReader.close}.
 *
 * This uses h5wasm's default (ESM) build, whose file system is in memory
 * (MEMFS), in Node and Deno alike. `h5wasm/node` is built with NODERAWFS: its
 * "file system" is the host's, so the same writeFile would put a temporary
 * file on disk (at `/` by default), racing other processes for the name.
 *
 * NetCDF-4 stores a dimension as an HDF5 dimension-scale dataset; when the
 * dimension has no coordinate variable that dataset's NAME attribute starts
 * with {@link PURE_DIMENSION}, and it is not a variable.
 */
import type { Attribute, Dataset, File as H5File } from "h5wasm";

import { ParseError } from "../errors.ts";
import type { NcAttributeValue, NcData, NcType, NcVariable, NetcdfReader } from "./types.ts";
import { elementCount, NC_TYPE_SIZE } from "./types.ts";

type H5wasm = typeof import("h5wasm").default;
type H5Module = Awaited<H5wasm["ready"]>;

const PURE_DIMENSION = "This is a netCDF dimension but not a netCDF variable";
/** Attributes NetCDF-4 uses for its own bookkeeping: not part of the NetCDF data model. */
const INTERNAL_ATTRIBUTES = new Set(["CLASS", "NAME", "REFERENCE_LIST", "DIMENSION_LIST", "_Netcdf4Dimid", "_Netcdf4Coordinates", "_nc3_strict", "_NCProperties"]);

/**
 * Largest decoded variable accepted. HDF5 data may be compressed, so the file
 * length alone does not bound it; this keeps a hostile header from growing the
 * wasm heap (which never shrinks) by gigabytes.
 */
const MAX_VARIABLE_BYTES = 256 * 1024 * 1024;
/** deflate cannot expand data by more than about 1032:1. */
const MAX_COMPRESSION_RATIO = 1032;

let loaded: Promise<{ h5: H5wasm; module: H5Module }> | undefined;
let sequence = 0;

function load(): Promise<{ h5: H5wasm; module: H5Module }> {
  loaded ??= import("h5wasm").then(async ({ default: h5 }) => {
    const module = await h5.ready;
    // Turn HDF5's error-stack printing to stderr into thrown errors we can report.
    module.activate_throwing_error_handler();
    return { h5, module };
  });
  return loaded;
}

/** The innermost line of an HDF5 error stack says what is actually wrong. */
function hdf5Reason(err: unknown): string {
  const text = err instanceof Error ? err.message : String(err);
  const frames = [...text.matchAll(/#\d+: .*? in (\w+\(\)): (.*)/g)];
  const last = frames.at(-1);
  return last ? `${last[2]} (${last[1]})` : text.split("\n")[0]!;
}

/** h5wasm's type metadata: class 0 integer, 1 float, 3 string. */
function ncType(meta: { type: number; size: number; signed: boolean; vlen: boolean }): NcType | null {
  if (meta.type === 0 && meta.size === 1) return "byte";
  if (meta.type === 0 && meta.size === 2 && meta.signed) return "short";
  if (meta.type === 0 && meta.size === 4 && meta.signed) return "int";
  if (meta.type === 1 && meta.size === 4) return "float";
  if (meta.type === 1 && meta.size === 8) return "double";
  if (meta.type === 3 && meta.size === 1 && !meta.vlen) return "char";
  return null;
}

function attributeValue(a: Attribute): NcAttributeValue | null {
  const v = a.value;
  if (typeof v === "string") return v.replace(/\0+$/, "");
  if (typeof v === "number") return v;
  if (ArrayBuffer.isView(v) && !(v instanceof DataView) && !(v instanceof BigInt64Array) && !(v instanceof BigUint64Array)) {
    const numbers = Array.from(v as ArrayLike<number>);
    return numbers.length === 1 ? numbers[0]! : numbers;
  }
  if (Array.isArray(v) && v.every((x) => typeof x === "string")) return (v as string[]).join("");
  return null;
}

function attributesOf(attrs: Record<string, Attribute>): Record<string, NcAttributeValue> {
  const out: Record<string, NcAttributeValue> = {};
  for (const [name, a] of Object.entries(attrs)) {
    if (INTERNAL_ATTRIBUTES.has(name)) continue;
    const value = attributeValue(a);
    if (value !== null) out[name] = value;
  }
  return out;
}

/**
 * Opens HDF5 bytes. Throws {@link ParseError} when h5wasm cannot open the file
 * or a variable has a type outside the NetCDF classic model.
 */
export async function openHdf5(bytes: Uint8Array, file: string): Promise<NetcdfReader> {
  const { h5, module } = await load();
  const path = `/argo-lake-${++sequence}.nc`;
  module.FS.writeFile(path, bytes);
  let f: H5File | undefined;
  try {
    f = new h5.File(path, "r");
    return new Hdf5Reader(h5, f, module, path, file, bytes.length);
  } catch (err) {
    try {
      f?.close();
    } catch {
      // The file id is already invalid; nothing left to release but the bytes.
    }
    module.FS.unlink(path);
    if (err instanceof ParseError) throw err;
    throw new ParseError(`h5wasm cannot open this HDF5 file: ${hdf5Reason(err)}`, { file, where: "HDF5 file" }, { cause: err });
  }
}

interface Hdf5Variable extends NcVariable {
  readonly filtered: boolean;
}

class Hdf5Reader implements NetcdfReader {
  readonly format = "netcdf4-hdf5" as const;
  readonly dimensions: ReadonlyMap<string, number>;
  readonly variables: ReadonlyMap<string, Hdf5Variable>;
  readonly globalAttributes: Readonly<Record<string, NcAttributeValue>>;
  private closed = false;

  constructor(
    h5: H5wasm,
    private readonly h5file: H5File,
    private readonly module: H5Module,
    private readonly path: string,
    readonly file: string,
    private readonly fileLength: number,
  ) {
    const dimensions = new Map<string, number>();
    const variables = new Map<string, Hdf5Variable>();
    const datasets: Array<[string, Dataset]> = [];
    for (const name of h5file.keys()) {
      const ds = h5file.get(name);
      if (!(ds instanceof h5.Dataset)) continue;
      const attrs = ds.attrs;
      const isScale = attrs["CLASS"]?.value === "DIMENSION_SCALE";
      const scaleName = String(attrs["NAME"]?.value ?? "");
      if (isScale) dimensions.set(name, ds.shape?.[0] ?? 0);
      if (!isScale || !scaleName.startsWith(PURE_DIMENSION)) datasets.push([name, ds]);
    }
    for (const [name, ds] of datasets) {
      const type = ncType(ds.metadata);
      const where = `variable ${name}`;
      if (type === null) throw new ParseError(`variable ${name} has an HDF5 type outside the NetCDF classic model`, { file, where });
      const shape = ds.shape ?? [];
      const dims = shape.map((_, i) => ds.get_attached_scales(i)[0]?.replace(/^\//, "") ?? `phony_dim_${i}`);
      variables.set(name, { name, type, shape, dimensions: dims, attributes: attributesOf(ds.attrs), filtered: ds.filters.length > 0 });
    }
    this.dimensions = dimensions;
    this.variables = variables;
    this.globalAttributes = attributesOf(h5file.attrs);
  }

  read(name: string): NcData {
    const v = this.variables.get(name);
    if (v === undefined) throw new ParseError(`variable ${name} is missing`, { file: this.file, where: name });
    const bytes = elementCount(v.shape) * NC_TYPE_SIZE[v.type];
    const limit = Math.min(MAX_VARIABLE_BYTES, v.filtered ? this.fileLength * MAX_COMPRESSION_RATIO : this.fileLength);
    if (bytes > limit) {
      throw new ParseError(`variable ${name} declares shape [${v.shape.join(", ")}] = ${bytes} bytes, more than this ${this.fileLength}-byte file can hold`, {
        file: this.file,
        where: name,
      });
    }
    try {
      const ds = this.h5file.get(name) as Dataset;
      return v.type === "char" ? this.rawBytes(ds, bytes) : toNcData(ds.value, v.type);
    } catch (err) {
      throw new ParseError(`cannot read variable ${name}: ${hdf5Reason(err)}`, { file: this.file, where: name }, { cause: err });
    }
  }

  /**
   * A char variable's bytes, read straight into a buffer of the wasm heap:
   * `Dataset.value` would decode every character into its own JS string,
   * which makes the QC variables of an _Sprof file the bulk of its parse time.
   */
  private rawBytes(ds: Dataset, n: number): Uint8Array {
    const ptr = this.module._malloc(Math.max(n, 1));
    if (ptr === 0) throw new Error(`cannot allocate ${n} bytes in the wasm heap`);
    try {
      this.module.get_dataset_data(ds.file_id, ds.path, null, null, null, BigInt(ptr));
      return this.module.HEAPU8.slice(ptr, ptr + n);
    } finally {
      this.module._free(ptr);
    }
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    try {
      this.h5file.close();
    } finally {
      this.module.FS.unlink(this.path);
    }
  }
}

/** h5wasm gives numbers as typed arrays (a number for a scalar). */
function toNcData(value: unknown, type: NcType): NcData {
  if (type === "byte" && value instanceof Int8Array) return new Uint8Array(value.buffer, value.byteOffset, value.length);
  if (value instanceof Uint8Array || value instanceof Int16Array || value instanceof Int32Array || value instanceof Float32Array || value instanceof Float64Array) {
    return value;
  }
  if (typeof value === "number") {
    // A scalar (0-d) variable.
    if (type === "short") return Int16Array.of(value);
    if (type === "int") return Int32Array.of(value);
    if (type === "float") return Float32Array.of(value);
    if (type === "double") return Float64Array.of(value);
  }
  throw new Error(`unexpected ${type} data from h5wasm`);
}

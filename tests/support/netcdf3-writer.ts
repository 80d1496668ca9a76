/**
 * A small NetCDF-3 classic writer for tests: dimensions, char/byte/short/int/
 * float/double variables, global and variable attributes (incl. _FillValue).
 * No record dimension. It lets tests build edge cases (fill values, N_PROF > 1,
 * odd strings, corrupt or hostile headers) without new fixture files.
 *
 * Format: https://docs.unidata.ucar.edu/netcdf-c/current/file_format_specifications.html
 */

/** NetCDF-3 external types. */
export type NcWriterType = "byte" | "char" | "short" | "int" | "float" | "double";

/** An attribute with an explicit type; plain strings are char and plain numbers double (or the variable's type for _FillValue). */
export interface NcWriterAttribute {
  type: NcWriterType;
  value: string | number | readonly number[];
}

/** Attributes by name. */
export type NcWriterAttributes = Record<string, string | number | NcWriterAttribute>;

/** A variable to write. */
export interface NcWriterVariable {
  name: string;
  type: NcWriterType;
  /** Dimension names, outermost first. */
  dimensions: readonly string[];
  attributes?: NcWriterAttributes;
  /**
   * Row-major data. Char variables: one string per row of the last dimension
   * (space-padded to its length), or one string for the whole variable.
   * Numbers: exactly one per element. Omitted: the header declares the
   * variable but no data bytes are written (for hostile-header tests).
   */
  data?: string | readonly string[] | ArrayLike<number>;
}

/** A whole file to write. */
export interface NcWriterFile {
  /** Dimension sizes in declaration order. Sizes up to 2^32 - 1 are written as is, even absurd ones. */
  dimensions: ReadonlyArray<readonly [string, number]>;
  attributes?: NcWriterAttributes;
  variables: readonly NcWriterVariable[];
}

const TYPE_CODE: Record<NcWriterType, number> = { byte: 1, char: 2, short: 3, int: 4, float: 5, double: 6 };
const TYPE_SIZE: Record<NcWriterType, number> = { byte: 1, char: 1, short: 2, int: 4, float: 4, double: 8 };
const NC_DIMENSION = 0x0a;
const NC_VARIABLE = 0x0b;
const NC_ATTRIBUTE = 0x0c;

/** Appends big-endian values to a growing byte buffer. */
class ByteSink {
  private buf = new Uint8Array(1024);
  private view = new DataView(this.buf.buffer);
  length = 0;

  private reserve(n: number): number {
    if (this.length + n > this.buf.length) {
      const next = new Uint8Array(Math.max(this.buf.length * 2, this.length + n));
      next.set(this.buf.subarray(0, this.length));
      this.buf = next;
      this.view = new DataView(next.buffer);
    }
    const at = this.length;
    this.length += n;
    return at;
  }

  u32(v: number): void {
    const at = this.reserve(4);
    this.view.setUint32(at, v);
  }

  bytes(b: ArrayLike<number>): void {
    const at = this.reserve(b.length);
    this.buf.set(b, at);
  }

  pad(): void {
    while (this.length % 4 !== 0) this.bytes([0]);
  }

  value(type: NcWriterType, v: number): void {
    // Reserve before touching the view: reserve() may replace it.
    const at = this.reserve(TYPE_SIZE[type]);
    switch (type) {
      case "byte":
      case "char":
        this.view.setInt8(at, v);
        return;
      case "short":
        this.view.setInt16(at, v);
        return;
      case "int":
        this.view.setInt32(at, v);
        return;
      case "float":
        this.view.setFloat32(at, v);
        return;
      case "double":
        this.view.setFloat64(at, v);
        return;
    }
  }

  name(text: string): void {
    const b = latin1(text);
    this.u32(b.length);
    this.bytes(b);
    this.pad();
  }

  result(): Uint8Array {
    return this.buf.slice(0, this.length);
  }
}

function latin1(text: string): Uint8Array {
  return Uint8Array.from(text, (c) => c.charCodeAt(0) & 0xff);
}

function writeAttributes(out: ByteSink, attributes: NcWriterAttributes | undefined, variableType?: NcWriterType): void {
  const entries = Object.entries(attributes ?? {});
  if (entries.length === 0) {
    out.u32(0);
    out.u32(0);
    return;
  }
  out.u32(NC_ATTRIBUTE);
  out.u32(entries.length);
  for (const [name, raw] of entries) {
    const attr: NcWriterAttribute =
      typeof raw === "string"
        ? { type: "char", value: raw }
        : typeof raw === "number"
          ? { type: name === "_FillValue" && variableType !== undefined ? variableType : "double", value: raw }
          : raw;
    out.name(name);
    out.u32(TYPE_CODE[attr.type]);
    if (typeof attr.value === "string") {
      const b = latin1(attr.value);
      out.u32(b.length);
      out.bytes(b);
    } else {
      const values = typeof attr.value === "number" ? [attr.value] : attr.value;
      out.u32(values.length);
      for (const v of values) out.value(attr.type, v);
    }
    out.pad();
  }
}

/** Char data as bytes: rows space-padded to the last dimension, or one string for everything. */
function charBytes(v: NcWriterVariable, shape: readonly number[], count: number): Uint8Array {
  const data = v.data as string | readonly string[];
  if (typeof data === "string") {
    if (data.length > count) throw new Error(`${v.name}: "${data}" is longer than ${count} chars`);
    return latin1(data.padEnd(count, " "));
  }
  const width = shape.at(-1) ?? 1;
  if (data.length * width !== count) throw new Error(`${v.name}: ${data.length} strings of ${width} chars, expected ${count / width} strings`);
  const out = new Uint8Array(count);
  data.forEach((s, i) => {
    if (s.length > width) throw new Error(`${v.name}: "${s}" is longer than ${width} chars`);
    out.set(latin1(s.padEnd(width, " ")), i * width);
  });
  return out;
}

/** Writes a NetCDF-3 classic file. */
export function writeNetcdf3(file: NcWriterFile): Uint8Array {
  const dimIndex = new Map(file.dimensions.map(([name], i) => [name, i]));
  const sizes = new Map(file.dimensions);
  const layout = file.variables.map((v) => {
    const shape = v.dimensions.map((d) => {
      const size = sizes.get(d);
      if (size === undefined) throw new Error(`${v.name}: unknown dimension ${d}`);
      return size;
    });
    const bytes = shape.reduce((a, b) => a * b, 1) * TYPE_SIZE[v.type];
    return { v, shape, count: bytes / TYPE_SIZE[v.type], vsize: Math.ceil(bytes / 4) * 4 };
  });

  // The header's length does not depend on the offsets it holds (fixed 4 bytes each), so write it twice.
  const header = (begins: readonly number[]): Uint8Array => {
    const out = new ByteSink();
    out.bytes([0x43, 0x44, 0x46, 0x01]);
    out.u32(0); // numrecs: no record dimension
    if (file.dimensions.length === 0) {
      out.u32(0);
      out.u32(0);
    } else {
      out.u32(NC_DIMENSION);
      out.u32(file.dimensions.length);
      for (const [name, size] of file.dimensions) {
        out.name(name);
        out.u32(size);
      }
    }
    writeAttributes(out, file.attributes);
    if (layout.length === 0) {
      out.u32(0);
      out.u32(0);
    } else {
      out.u32(NC_VARIABLE);
      out.u32(layout.length);
      layout.forEach(({ v, vsize }, i) => {
        out.name(v.name);
        out.u32(v.dimensions.length);
        for (const d of v.dimensions) out.u32(dimIndex.get(d)!);
        writeAttributes(out, v.attributes, v.type);
        out.u32(TYPE_CODE[v.type]);
        out.u32(Math.min(vsize, 0xffffffff));
        out.u32(begins[i]!);
      });
    }
    return out.result();
  };

  const headerLength = header(layout.map(() => 0)).length;
  const begins: number[] = [];
  let offset = headerLength;
  for (const { v, vsize } of layout) {
    begins.push(offset);
    if (v.data !== undefined) offset += vsize;
  }

  const out = new ByteSink();
  out.bytes(header(begins));
  for (const { v, shape, count } of layout) {
    if (v.data === undefined) continue;
    if (v.type === "char") {
      out.bytes(charBytes(v, shape, count));
    } else {
      const data = v.data as ArrayLike<number>;
      if (typeof data === "string" || data.length !== count) throw new Error(`${v.name}: ${typeof data === "string" ? "text" : data.length} values, expected ${count}`);
      for (let i = 0; i < count; i++) out.value(v.type, data[i]!);
    }
    out.pad();
  }
  return out.result();
}

/** Parameter values of one synthetic profile; NaN is written as the 99999 fill, QC as a string of characters. */
export interface ArgoParameterSpec {
  raw: readonly number[];
  rawQc?: string;
  adjusted?: readonly number[];
  adjustedQc?: string;
  adjustedError?: readonly number[];
}

/** One N_PROF entry of a synthetic Argo profile file. */
export interface ArgoProfileSpec {
  platformNumber?: string;
  cycleNumber?: number;
  direction?: string;
  dataMode?: string;
  /** B-files: one letter per station parameter, in `parameters` order. */
  parameterDataMode?: string;
  juld?: number;
  latitude?: number;
  longitude?: number;
  positionQc?: string;
  platformType?: string;
  parameters: Record<string, ArgoParameterSpec>;
}

const ARGO_FILL = 99999;

/**
 * A minimal Argo core (or, with `bgc`, B) profile file with the variables the
 * manual requires, for N_PROF = profiles.length. Every profile must list the
 * same parameters; `nLevels` defaults to the longest raw column.
 */
export function argoProfileFile(profiles: readonly ArgoProfileSpec[], options: { nLevels?: number; bgc?: boolean } = {}): NcWriterFile {
  const names = Object.keys(profiles[0]!.parameters);
  const nLevels = options.nLevels ?? Math.max(...profiles.flatMap((p) => Object.values(p.parameters).map((c) => c.raw.length)));
  const column = (pick: (p: ArgoProfileSpec) => readonly number[] | undefined): number[] =>
    profiles.flatMap((p) => Array.from({ length: nLevels }, (_, j) => {
      const v = pick(p)?.[j];
      return v === undefined || Number.isNaN(v) ? ARGO_FILL : v;
    }));
  const qcColumn = (pick: (p: ArgoProfileSpec) => string | undefined): string[] => profiles.map((p) => (pick(p) ?? "").padEnd(nLevels, " "));
  const scalar = (pick: (p: ArgoProfileSpec) => number | undefined, fill: number): number[] => profiles.map((p) => pick(p) ?? fill);
  const level = ["N_PROF", "N_LEVELS"];
  const measured = (name: string) => ({ _FillValue: { type: "float" as const, value: ARGO_FILL }, units: "unit", long_name: `${name} long name` });

  const variables: NcWriterVariable[] = [
    { name: "DATA_TYPE", type: "char", dimensions: ["STRING16"], data: options.bgc ? "B-Argo profile" : "Argo profile" },
    { name: "FORMAT_VERSION", type: "char", dimensions: ["STRING4"], data: "3.1" },
    { name: "REFERENCE_DATE_TIME", type: "char", dimensions: ["DATE_TIME"], data: "19500101000000" },
    { name: "DATE_UPDATE", type: "char", dimensions: ["DATE_TIME"], data: "20230102030405" },
    { name: "PLATFORM_NUMBER", type: "char", dimensions: ["N_PROF", "STRING8"], data: profiles.map((p) => p.platformNumber ?? "6900001") },
    { name: "STATION_PARAMETERS", type: "char", dimensions: ["N_PROF", "N_PARAM", "STRING16"], data: profiles.flatMap(() => names) },
    { name: "CYCLE_NUMBER", type: "int", dimensions: ["N_PROF"], attributes: { _FillValue: ARGO_FILL }, data: scalar((p) => p.cycleNumber, 1) },
    { name: "DIRECTION", type: "char", dimensions: ["N_PROF"], data: profiles.map((p) => p.direction ?? "A").join("") },
    { name: "DATA_MODE", type: "char", dimensions: ["N_PROF"], data: profiles.map((p) => p.dataMode ?? "R").join("") },
    { name: "PLATFORM_TYPE", type: "char", dimensions: ["N_PROF", "STRING32"], data: profiles.map((p) => p.platformType ?? "APEX") },
    { name: "JULD", type: "double", dimensions: ["N_PROF"], attributes: { _FillValue: 999999 }, data: scalar((p) => p.juld, 999999) },
    { name: "JULD_QC", type: "char", dimensions: ["N_PROF"], data: "1".repeat(profiles.length) },
    { name: "LATITUDE", type: "double", dimensions: ["N_PROF"], attributes: { _FillValue: ARGO_FILL }, data: scalar((p) => p.latitude, ARGO_FILL) },
    { name: "LONGITUDE", type: "double", dimensions: ["N_PROF"], attributes: { _FillValue: ARGO_FILL }, data: scalar((p) => p.longitude, ARGO_FILL) },
    { name: "POSITION_QC", type: "char", dimensions: ["N_PROF"], data: profiles.map((p) => p.positionQc ?? "1").join("") },
  ];
  if (options.bgc) {
    variables.push({
      name: "PARAMETER_DATA_MODE",
      type: "char",
      dimensions: ["N_PROF", "N_PARAM"],
      data: profiles.map((p) => (p.parameterDataMode ?? "R".repeat(names.length)).padEnd(names.length, " ")),
    });
  }
  for (const name of names) {
    const spec = (p: ArgoProfileSpec) => p.parameters[name];
    variables.push({ name, type: "float", dimensions: level, attributes: measured(name), data: column((p) => spec(p)?.raw) });
    if (profiles.some((p) => spec(p)?.rawQc !== undefined)) variables.push({ name: `${name}_QC`, type: "char", dimensions: level, data: qcColumn((p) => spec(p)?.rawQc) });
    if (profiles.some((p) => spec(p)?.adjusted !== undefined)) {
      variables.push({ name: `${name}_ADJUSTED`, type: "float", dimensions: level, attributes: measured(name), data: column((p) => spec(p)?.adjusted) });
      variables.push({ name: `${name}_ADJUSTED_QC`, type: "char", dimensions: level, data: qcColumn((p) => spec(p)?.adjustedQc) });
      variables.push({ name: `${name}_ADJUSTED_ERROR`, type: "float", dimensions: level, attributes: measured(name), data: column((p) => spec(p)?.adjustedError) });
    }
  }
  return {
    dimensions: [
      ["DATE_TIME", 14],
      ["STRING32", 32],
      ["STRING16", 16],
      ["STRING8", 8],
      ["STRING4", 4],
      ["N_PROF", profiles.length],
      ["N_PARAM", names.length],
      ["N_LEVELS", nLevels],
    ],
    attributes: { title: "Argo float vertical profile", Conventions: "Argo-3.1 CF-1.6" },
    variables,
  };
}

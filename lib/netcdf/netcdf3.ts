/**
 * NetCDF-3 (classic and 64-bit offset) behind the {@link NetcdfReader} interface.
 *
 * netcdfjs parses the header. Its header parse is bounded by the file (every
 * read is a checked DataView access), but its data reads trust the header: a
 * variable declaring 2^31 levels would have netcdfjs allocate a 2^31-slot
 * array. So, right after the header is parsed and before any data is touched,
 * every variable's extent is computed from its dimensions and checked against
 * the file length and against the other variables. Data are then decoded
 * straight from the bytes with a DataView into typed arrays: netcdfjs'
 * `getDataVariable` boxes every element (one JS string per char), which is
 * an order of magnitude slower and is not needed once the layout is known.
 */
import { NetCDFReader } from "netcdfjs";

import { ParseError } from "../errors.ts";
import type { NcAttributeValue, NcData, NcType, NcVariable, NetcdfFormat, NetcdfReader } from "./types.ts";
import { elementCount, NC_TYPE_SIZE as TYPE_SIZE } from "./types.ts";

/** netcdfjs reports an out-of-range type code as the string "undefined". */
function isNcType(type: string): type is NcType {
  return Object.hasOwn(TYPE_SIZE, type);
}

/** `numrecs` value meaning "still being written" (streaming); a finished file never has it. */
const STREAMING_NUMRECS = 0xffffffff;

type RawAttributes = ReadonlyArray<{ name: string; type: string; value: unknown }>;

/** A variable and where its data lie. Attributes are converted on first use: most variables' are never looked at. */
class Layout implements NcVariable {
  private converted: Record<string, NcAttributeValue> | undefined;

  constructor(
    readonly name: string,
    readonly type: NcType,
    readonly dimensions: readonly string[],
    readonly shape: readonly number[],
    private readonly rawAttributes: RawAttributes,
    /** Byte offset of the variable's data (of its first record, for record variables). */
    readonly begin: number,
    /** Elements per record (record variables) or in all (others). */
    readonly count: number,
    readonly isRecord: boolean,
  ) {}

  get attributes(): Record<string, NcAttributeValue> {
    this.converted ??= attributes(this.rawAttributes);
    return this.converted;
  }
}

const utf8 = new TextDecoder("utf-8");

/**
 * netcdfjs builds char attributes with String.fromCharCode(int8), which turns
 * bytes >= 0x80 into U+FF80..U+FFFF: take the low byte back, then decode UTF-8.
 */
function charAttribute(value: string): string {
  let ascii = true;
  for (let i = 0; i < value.length; i++) if (value.charCodeAt(i) > 0x7f) ascii = false;
  const text = ascii ? value : utf8.decode(Uint8Array.from(value, (c) => c.charCodeAt(0) & 0xff));
  return text.replace(/\0+$/, "");
}

function attributeValue(type: string, value: unknown): NcAttributeValue {
  if (type === "char") return charAttribute(String(value));
  const numbers = Array.isArray(value) ? (value as number[]) : [Number(value)];
  // netcdfjs reads NC_BYTE as unsigned; NetCDF bytes are signed.
  const values = type === "byte" ? numbers.map((b) => (b > 127 ? b - 256 : b)) : numbers;
  return values.length === 1 ? values[0]! : values;
}

function attributes(list: RawAttributes): Record<string, NcAttributeValue> {
  const out: Record<string, NcAttributeValue> = {};
  for (const a of list) out[a.name] = attributeValue(a.type, a.value);
  return out;
}

function pad4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

/**
 * Opens NetCDF-3 bytes. Throws {@link ParseError} for a header that is corrupt,
 * declares sizes the file cannot hold, or has variables overlapping each other
 * or the header.
 */
export function openNetcdf3(bytes: Uint8Array, file: string, format: NetcdfFormat): NetcdfReader {
  let nc: NetCDFReader;
  try {
    nc = new NetCDFReader(bytes);
  } catch (err) {
    const message = err instanceof Error ? err.message : String(err);
    throw new ParseError(`corrupt or truncated NetCDF-3 header: ${message}`, { file, where: "header" }, { cause: err });
  }
  const fail = (message: string, where: string): never => {
    throw new ParseError(message, { file, where });
  };

  const fileLength = bytes.length;
  const headerEnd = nc.buffer.offset;
  const header = nc.header;
  const numrecs = header.recordDimension.length;
  const recordId = header.recordDimension.id;
  if (recordId !== undefined && numrecs === STREAMING_NUMRECS) {
    fail("record count is 'streaming' (file was not closed by its writer)", "header: numrecs");
  }

  const dimList = header.dimensions ?? [];
  const dimensions = new Map<string, number>();
  for (const [id, d] of dimList.entries()) {
    if (dimensions.has(d.name)) fail(`dimension ${d.name} is declared twice`, `header: dimension ${d.name}`);
    dimensions.set(d.name, id === recordId ? numrecs : d.size);
  }

  const layouts = new Map<string, Layout>();
  for (const v of header.variables ?? []) {
    const where = `header: variable ${v.name}`;
    if (layouts.has(v.name)) fail(`variable ${v.name} is declared twice`, where);
    if (!isNcType(v.type)) fail(`variable ${v.name} has an invalid type code`, where);
    const type = v.type as NcType;
    const names: string[] = [];
    const shape: number[] = [];
    for (const [i, id] of v.dimensions.entries()) {
      const d = dimList[id];
      if (d === undefined) fail(`variable ${v.name} refers to dimension id ${id}, but the file has ${dimList.length}`, where);
      if (id === recordId && i !== 0) fail(`variable ${v.name} uses the record dimension other than first`, where);
      names.push(d!.name);
      shape.push(id === recordId ? numrecs : d!.size);
    }
    const isRecord = recordId !== undefined && v.dimensions[0] === recordId;
    const count = elementCount(isRecord ? shape.slice(1) : shape);
    const byteSize = count * TYPE_SIZE[type];
    if (byteSize > fileLength) {
      fail(
        `variable ${v.name} declares shape [${shape.join(", ")}] of ${type} = ${byteSize} bytes${isRecord ? " per record" : ""}, ` +
          `but the file has ${fileLength} bytes`,
        where,
      );
    }
    layouts.set(v.name, new Layout(v.name, type, names, shape, v.attributes as RawAttributes, v.offset, count, isRecord));
  }

  const recordVars = [...layouts.values()].filter((l) => l.isRecord);
  const recordBytes = (l: Layout): number => l.count * TYPE_SIZE[l.type];
  // NetCDF pads each record variable's slot to 4 bytes, except a lone record variable.
  const recsize = recordVars.length === 1 ? recordBytes(recordVars[0]!) : recordVars.reduce((s, l) => s + pad4(recordBytes(l)), 0);

  // Extents: [start, end) of every non-empty data block, checked against the file and each other.
  const extents: Array<{ start: number; end: number; what: string }> = [];
  for (const l of layouts.values()) {
    const size = l.isRecord ? recordBytes(l) : l.count * TYPE_SIZE[l.type];
    if (size === 0 || (l.isRecord && numrecs === 0)) continue;
    const where = `header: variable ${l.name}`;
    if (l.begin < headerEnd) fail(`variable ${l.name} starts at byte ${l.begin}, inside the header (which ends at ${headerEnd})`, where);
    const end = l.isRecord ? l.begin + (numrecs - 1) * recsize + size : l.begin + size;
    if (end > fileLength) {
      fail(`variable ${l.name} ends at byte ${end}, past the end of the file (${fileLength} bytes): truncated or corrupt`, where);
    }
    if (!l.isRecord) extents.push({ start: l.begin, end, what: l.name });
  }
  if (numrecs > 0 && recordVars.length > 0) {
    const recStart = Math.min(...recordVars.map((l) => l.begin));
    for (const l of recordVars) {
      const slotEnd = l.begin - recStart + recordBytes(l);
      if (slotEnd > recsize) fail(`record variable ${l.name} does not fit in the ${recsize}-byte record`, `header: variable ${l.name}`);
    }
    // Record slots of different variables must not overlap within a record.
    const slots = recordVars.map((l) => ({ start: l.begin, end: l.begin + recordBytes(l), what: l.name }));
    checkDisjoint(slots, fail);
    extents.push({ start: recStart, end: recStart + numrecs * recsize, what: "the record variables" });
  }
  checkDisjoint(extents, fail);

  return new Netcdf3Reader(bytes, file, format, dimensions, nc.globalAttributes as RawAttributes, layouts, recsize);
}

function checkDisjoint(extents: Array<{ start: number; end: number; what: string }>, fail: (m: string, w: string) => never): void {
  const sorted = extents.filter((e) => e.end > e.start).sort((a, b) => a.start - b.start);
  for (let i = 1; i < sorted.length; i++) {
    const prev = sorted[i - 1]!;
    const cur = sorted[i]!;
    if (cur.start < prev.end) {
      fail(`data of ${cur.what} (from byte ${cur.start}) overlaps ${prev.what} (bytes ${prev.start}-${prev.end})`, `header: variable ${cur.what}`);
    }
  }
}

class Netcdf3Reader implements NetcdfReader {
  readonly variables: ReadonlyMap<string, NcVariable>;
  private readonly view: DataView;
  private convertedGlobals: Record<string, NcAttributeValue> | undefined;

  constructor(
    private readonly bytes: Uint8Array,
    readonly file: string,
    readonly format: NetcdfFormat,
    readonly dimensions: ReadonlyMap<string, number>,
    private readonly rawGlobalAttributes: RawAttributes,
    private readonly layouts: ReadonlyMap<string, Layout>,
    private readonly recsize: number,
  ) {
    this.variables = layouts;
    this.view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  }

  get globalAttributes(): Readonly<Record<string, NcAttributeValue>> {
    this.convertedGlobals ??= attributes(this.rawGlobalAttributes);
    return this.convertedGlobals;
  }

  read(name: string): NcData {
    const l = this.layouts.get(name);
    if (l === undefined) throw new ParseError(`variable ${name} is missing`, { file: this.file, where: name });
    if (!l.isRecord) return this.decode(l.type, l.begin, l.count);
    const records = l.shape[0] ?? 0;
    const out = this.allocate(l.type, records * l.count);
    for (let r = 0; r < records; r++) out.set(this.decode(l.type, l.begin + r * this.recsize, l.count), r * l.count);
    return out;
  }

  close(): void {}

  private allocate(type: NcType, n: number): NcData {
    switch (type) {
      case "byte":
      case "char":
        return new Uint8Array(n);
      case "short":
        return new Int16Array(n);
      case "int":
        return new Int32Array(n);
      case "float":
        return new Float32Array(n);
      case "double":
        return new Float64Array(n);
    }
  }

  /** Decodes `count` big-endian values at `offset`; bounds were checked when the file was opened. */
  private decode(type: NcType, offset: number, count: number): NcData {
    const view = this.view;
    switch (type) {
      case "byte":
      case "char":
        // A view, not a copy: callers decode chars right away and keep nothing of it.
        return this.bytes.subarray(offset, offset + count);
      case "short": {
        const out = new Int16Array(count);
        for (let i = 0; i < count; i++) out[i] = view.getInt16(offset + 2 * i);
        return out;
      }
      case "int": {
        const out = new Int32Array(count);
        for (let i = 0; i < count; i++) out[i] = view.getInt32(offset + 4 * i);
        return out;
      }
      case "float": {
        const out = new Float32Array(count);
        for (let i = 0; i < count; i++) out[i] = view.getFloat32(offset + 4 * i);
        return out;
      }
      case "double": {
        const out = new Float64Array(count);
        for (let i = 0; i < count; i++) out[i] = view.getFloat64(offset + 8 * i);
        return out;
      }
    }
  }
}

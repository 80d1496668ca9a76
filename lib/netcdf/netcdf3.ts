/**
 * NetCDF-3 (classic and 64-bit offset) behind the {@link NetcdfReader} interface.
 *
 * The header is parsed here, in one pass over the bytes with a DataView,
 * every read checked against the file (a count is checked against the bytes
 * left before anything is read for it, so a header declaring 2^31
 * dimensions fails at once instead of allocating). Attribute names and values are only
 * located in that pass and decoded on first use: most variables' attributes
 * are never looked at, and netcdfjs' header parse (one JS string per char,
 * every attribute value decoded) was the largest part of opening a file.
 * Then, before any data is touched, every variable's extent is computed
 * from its dimensions and checked against the file length and against the
 * other variables. Data are decoded straight from the bytes with a DataView
 * into typed arrays.
 */
import { ParseError } from "../errors.ts";
import type { NcAttributeValue, NcData, NcType, NcVariable, NetcdfFormat, NetcdfReader } from "./types.ts";
import { elementCount, NC_TYPE_SIZE as TYPE_SIZE } from "./types.ts";

/** `numrecs` value meaning "still being written" (streaming); a finished file never has it. */
const STREAMING_NUMRECS = 0xffffffff;

/** NetCDF-3 type codes 1..6. */
const TYPE_CODES: readonly (NcType | undefined)[] = [undefined, "byte", "char", "short", "int", "float", "double"];

/** Header grammar tags. */
const ABSENT = 0;
const NC_DIMENSION = 10;
const NC_VARIABLE = 11;
const NC_ATTRIBUTE = 12;

/** An attribute located in the header: its name and value are decoded when asked for. */
interface RawAttribute {
  /** Byte offset and length of the name. */
  nameAt: number;
  nameLength: number;
  type: NcType;
  /** Elements, and the byte offset of the first. */
  count: number;
  at: number;
}

/** A header read failed: the bytes are not (or no longer) a NetCDF-3 header. */
class HeaderError extends Error {}

/**
 * Bytes as the text netcdfjs made of them (String.fromCharCode of each
 * signed byte: 0x80..0xff become U+FF80..U+FFFF), so names read as they
 * always have.
 */
function netcdfjsText(bytes: Uint8Array, at: number, n: number): string {
  let out = "";
  for (let i = at; i < at + n; i++) {
    const b = bytes[i]!;
    out += String.fromCharCode(b < 0x80 ? b : 0xff00 | b);
  }
  return out;
}

/**
 * A cursor over the header bytes; every read is checked against the end of
 * the file. What is being read (`what`, `of`) is only put into words when a
 * read fails: building the message for every read cost more than the read.
 */
class HeaderCursor {
  offset = 0;
  /** The dimension, variable or attribute being read, for error messages. */
  of = "the file";
  constructor(private readonly bytes: Uint8Array, private readonly view: DataView) {}

  /** Fails unless `n` more bytes are there. */
  need(n: number, what: string): void {
    if (!(n <= this.bytes.length - this.offset)) {
      throw new HeaderError(`${what} of ${this.of} needs ${n} bytes at offset ${this.offset}, past the end of the file (${this.bytes.length} bytes)`);
    }
  }

  u32(what: string): number {
    this.need(4, what);
    const v = this.view.getUint32(this.offset);
    this.offset += 4;
    return v;
  }

  /** Skips `n` bytes and the padding to the next 4-byte boundary. */
  skipPadded(n: number, what: string): void {
    const padded = Math.ceil(n / 4) * 4;
    this.need(padded, what);
    this.offset += padded;
  }

  /** A name's length and bytes (padded); returns where the bytes are. */
  nameBytes(): { at: number; n: number } {
    const n = this.u32("name length");
    const at = this.offset;
    this.skipPadded(n, "name");
    return { at, n };
  }

  /** A name, decoded. */
  name(): string {
    const { at, n } = this.nameBytes();
    return netcdfjsText(this.bytes, at, n);
  }

  /** A list's tag and count: 0 for an absent list (ABSENT, ABSENT). */
  list(tag: number, what: string): number {
    const t = this.u32(`${what} tag`);
    const n = this.u32(`${what} count`);
    if (t === ABSENT) {
      if (n !== ABSENT) throw new HeaderError(`wrong empty tag for list of ${what}`);
      return 0;
    }
    if (t !== tag) throw new HeaderError(`wrong tag for list of ${what}`);
    return n;
  }

  /** An attribute list, names and values located but not decoded. */
  attributes(): RawAttribute[] {
    const n = this.list(NC_ATTRIBUTE, "attributes");
    // Each attribute takes at least 12 bytes: name length, type, count.
    this.need(12 * n, `${n} attributes`);
    const out: RawAttribute[] = [];
    for (let i = 0; i < n; i++) {
      const { at: nameAt, n: nameLength } = this.nameBytes();
      const code = this.u32("attribute type");
      const type = TYPE_CODES[code];
      if (type === undefined) throw new HeaderError(`non valid type ${code} of an attribute of ${this.of}`);
      const count = this.u32("attribute size");
      const at = this.offset;
      this.skipPadded(count * TYPE_SIZE[type], "attribute value");
      out.push({ nameAt, nameLength, type, count, at });
    }
    return out;
  }
}

/** A variable and where its data lie. Attributes are decoded on first use: most variables' are never looked at. */
class Layout implements NcVariable {
  private converted: Record<string, NcAttributeValue> | undefined;

  constructor(
    readonly name: string,
    readonly type: NcType,
    readonly dimensions: readonly string[],
    readonly shape: readonly number[],
    private readonly rawAttributes: readonly RawAttribute[],
    private readonly view: DataView,
    /** Byte offset of the variable's data (of its first record, for record variables). */
    readonly begin: number,
    /** Elements per record (record variables) or in all (others). */
    readonly count: number,
    readonly isRecord: boolean,
  ) {}

  get attributes(): Record<string, NcAttributeValue> {
    this.converted ??= attributes(this.rawAttributes, this.view);
    return this.converted;
  }
}

const utf8 = new TextDecoder("utf-8");

/** Char attributes are UTF-8 text (a superset of the ASCII the manual asks for), trailing NULs dropped. */
function charAttribute(bytes: Uint8Array, at: number, n: number): string {
  let end = at + n;
  while (end > at && bytes[end - 1] === 0) end--;
  let ascii = true;
  for (let i = at; i < end; i++) if (bytes[i]! > 0x7f) ascii = false;
  if (!ascii) return utf8.decode(bytes.subarray(at, end)).replace(/\0+$/, "");
  let text = "";
  for (let i = at; i < end; i++) text += String.fromCharCode(bytes[i]!);
  return text;
}

/** An attribute's value: text for char, one number, or several (bytes signed, as NetCDF's are). */
function attributeValue(a: RawAttribute, view: DataView, bytes: Uint8Array): NcAttributeValue {
  if (a.type === "char") return charAttribute(bytes, a.at, a.count);
  const values = new Array<number>(a.count);
  for (let i = 0; i < a.count; i++) {
    switch (a.type) {
      case "byte":
        values[i] = view.getInt8(a.at + i);
        break;
      case "short":
        values[i] = view.getInt16(a.at + 2 * i);
        break;
      case "int":
        values[i] = view.getInt32(a.at + 4 * i);
        break;
      case "float":
        values[i] = view.getFloat32(a.at + 4 * i);
        break;
      case "double":
        values[i] = view.getFloat64(a.at + 8 * i);
        break;
    }
  }
  return values.length === 1 ? values[0]! : values;
}

function attributes(list: readonly RawAttribute[], view: DataView): Record<string, NcAttributeValue> {
  const out: Record<string, NcAttributeValue> = {};
  const bytes = new Uint8Array(view.buffer, view.byteOffset, view.byteLength);
  for (const a of list) out[netcdfjsText(bytes, a.nameAt, a.nameLength)] = attributeValue(a, view, bytes);
  return out;
}

function pad4(n: number): number {
  return Math.ceil(n / 4) * 4;
}

/** What the header says, before its layout is checked. */
interface Header {
  numrecs: number;
  dimensions: { name: string; size: number }[];
  /** The last dimension of size 0 (as netcdfjs took it), if any. */
  recordId: number | undefined;
  globalAttributes: RawAttribute[];
  variables: { name: string; typeCode: number; dimensionIds: number[]; attributes: RawAttribute[]; begin: number }[];
  /** Offset of the first byte after the header. */
  end: number;
}

/** Parses the header (magic and version already checked by the caller). */
function readHeader(bytes: Uint8Array, view: DataView, version: 1 | 2): Header {
  const c = new HeaderCursor(bytes, view);
  c.offset = 4;
  const numrecs = c.u32("numrecs");
  const nDims = c.list(NC_DIMENSION, "dimensions");
  // Each dimension takes at least 8 bytes: name length and size.
  c.need(8 * nDims, `${nDims} dimensions`);
  const dimensions: Header["dimensions"] = [];
  let recordId: number | undefined;
  for (let i = 0; i < nDims; i++) {
    c.of = `dimension ${i}`;
    const name = c.name();
    const size = c.u32("size");
    if (size === 0) recordId = i;
    dimensions.push({ name, size });
  }
  c.of = "the file";
  const globalAttributes = c.attributes();
  const nVars = c.list(NC_VARIABLE, "variables");
  // Each variable takes at least 28 bytes (32 in the 64-bit offset format).
  c.need((version === 2 ? 32 : 28) * nVars, `${nVars} variables`);
  const variables: Header["variables"] = [];
  for (let i = 0; i < nVars; i++) {
    c.of = `variable ${i}`;
    const name = c.name();
    const rank = c.u32("rank");
    c.need(4 * rank, "dimension ids");
    const dimensionIds: number[] = [];
    for (let d = 0; d < rank; d++) dimensionIds.push(c.u32("dimension id"));
    const attrs = c.attributes();
    const typeCode = c.u32("type");
    c.u32("vsize");
    let begin = c.u32("begin");
    if (version === 2) {
      if (begin > 0) throw new HeaderError("offsets larger than 4GB not supported");
      begin = c.u32("begin");
    }
    variables.push({ name, typeCode, dimensionIds, attributes: attrs, begin });
  }
  return { numrecs, dimensions, recordId, globalAttributes, variables, end: c.offset };
}

/**
 * Opens NetCDF-3 bytes. Throws {@link ParseError} for a header that is corrupt,
 * declares sizes the file cannot hold, or has variables overlapping each other
 * or the header.
 */
export function openNetcdf3(bytes: Uint8Array, file: string, format: NetcdfFormat): NetcdfReader {
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  let header: Header;
  try {
    header = readHeader(bytes, view, format === "netcdf3-64bit-offset" ? 2 : 1);
  } catch (err) {
    if (!(err instanceof HeaderError)) throw err;
    throw new ParseError(`corrupt or truncated NetCDF-3 header: ${err.message}`, { file, where: "header" }, { cause: err });
  }
  const fail = (message: string, where: string): never => {
    throw new ParseError(message, { file, where });
  };

  const fileLength = bytes.length;
  const headerEnd = header.end;
  const numrecs = header.numrecs;
  const recordId = header.recordId;
  if (recordId !== undefined && numrecs === STREAMING_NUMRECS) {
    fail("record count is 'streaming' (file was not closed by its writer)", "header: numrecs");
  }

  const dimList = header.dimensions;
  const dimensions = new Map<string, number>();
  for (const [id, d] of dimList.entries()) {
    if (dimensions.has(d.name)) fail(`dimension ${d.name} is declared twice`, `header: dimension ${d.name}`);
    dimensions.set(d.name, id === recordId ? numrecs : d.size);
  }

  const layouts = new Map<string, Layout>();
  for (const v of header.variables) {
    const where = `header: variable ${v.name}`;
    if (layouts.has(v.name)) fail(`variable ${v.name} is declared twice`, where);
    const type = TYPE_CODES[v.typeCode];
    if (type === undefined) return fail(`variable ${v.name} has an invalid type code`, where);
    const names: string[] = [];
    const shape: number[] = [];
    for (const [i, id] of v.dimensionIds.entries()) {
      const d = dimList[id];
      if (d === undefined) fail(`variable ${v.name} refers to dimension id ${id}, but the file has ${dimList.length}`, where);
      if (id === recordId && i !== 0) fail(`variable ${v.name} uses the record dimension other than first`, where);
      names.push(d!.name);
      shape.push(id === recordId ? numrecs : d!.size);
    }
    const isRecord = recordId !== undefined && v.dimensionIds[0] === recordId;
    const count = elementCount(isRecord ? shape.slice(1) : shape);
    const byteSize = count * TYPE_SIZE[type];
    if (byteSize > fileLength) {
      fail(
        `variable ${v.name} declares shape [${shape.join(", ")}] of ${type} = ${byteSize} bytes${isRecord ? " per record" : ""}, ` +
          `but the file has ${fileLength} bytes`,
        where,
      );
    }
    layouts.set(v.name, new Layout(v.name, type, names, shape, v.attributes, view, v.begin, count, isRecord));
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

  return new Netcdf3Reader(bytes, view, file, format, dimensions, header.globalAttributes, layouts, recsize);
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
  private convertedGlobals: Record<string, NcAttributeValue> | undefined;

  constructor(
    private readonly bytes: Uint8Array,
    private readonly view: DataView,
    readonly file: string,
    readonly format: NetcdfFormat,
    readonly dimensions: ReadonlyMap<string, number>,
    private readonly rawGlobalAttributes: readonly RawAttribute[],
    private readonly layouts: ReadonlyMap<string, Layout>,
    private readonly recsize: number,
  ) {
    this.variables = layouts;
  }

  get globalAttributes(): Readonly<Record<string, NcAttributeValue>> {
    this.convertedGlobals ??= attributes(this.rawGlobalAttributes, this.view);
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

/**
 * A streaming reader of the GDAC index files. The profile index has 3.3
 * million rows and the planner must keep up with DuckDB's CSV reader, so it
 * works on bytes in one pass: a valid row is checked field by field by a
 * small program built from the CSV header, which also finds the line end;
 * only other lines are searched for their end first (natively). No string is
 * made per row: a file name becomes a number (fileCode / fileRest).
 *
 * Index rows are hostile input: every row is checked (field count, path
 * shape, DAC, WMO, dates, numbers, field lengths) and a bad row is refused
 * with a reason, never passed on. Lines starting with "#" are skipped wherever
 * they are (never a fixed count); the first other line is the CSV header, and
 * columns are found by name.
 */
import { Buffer } from "node:buffer";
import { baseName, CYCLE_WIDTHS, cycleWidthOk, floatFileName, floatFileTail, parseFileName, PROFILE_PREFIXES, PROFILES_DIR, profileFileName } from "../argo/filename.ts";
import { type Dac, isDac } from "../argo/ids.ts";
import { SyncError } from "../errors.ts";
import { runtimeName } from "../runtime.ts";
import { fileKindOf, parseGdacPath, whyBadPath } from "./paths.ts";

/** The four index files the plan is made from. */
export type IndexKind = "core" | "bio" | "synthetic" | "meta";

/** File names of the index files (the server may also have `<name>.gz`). */
export const INDEX_NAMES: Record<IndexKind, string> = {
  core: "ar_index_global_prof.txt",
  bio: "argo_bio-profile_index.txt",
  synthetic: "argo_synthetic-profile_index.txt",
  meta: "ar_index_global_meta.txt",
};

/** Longest line accepted; a longer one is refused (and not kept in memory). */
export const MAX_LINE_BYTES = 64 * 1024;

/** The file code of `<wmo>_meta.nc` (profile prefixes are numbered by their place in PROFILE_PREFIXES). */
export const META_CODE = PROFILE_PREFIXES.length * 40_000;

/**
 * A listed file's name below its float folder, as one small integer:
 * prefix number, cycle, 4-digit cycle flag and descending flag. Rows keep
 * this instead of a string; fileRest turns it back into the name.
 */
export function fileCode(prefix: number, cycle: number, fourDigits: boolean, descending: boolean): number {
  return ((prefix * 10_000 + cycle) * 2 + (fourDigits ? 1 : 0)) * 2 + (descending ? 1 : 0);
}

/** The name below the float folder for a file code, e.g. "profiles/BR6903247_001D.nc" or "6903247_meta.nc". */
export function fileRest(wmo: string, code: number): string {
  if (code === META_CODE) return floatFileName(wmo, "meta");
  const descending = (code & 1) === 1;
  const width = CYCLE_WIDTHS[(code >> 1) & 1];
  const rest = code >> 2;
  const cycle = rest % 10_000;
  return profileFileName(PROFILE_PREFIXES[(rest - cycle) / 10_000]!, wmo, cycle, width, descending);
}

/** What the reader tells its user. H is the user's handle for a float. */
export interface IndexVisitor<H> {
  /**
   * Called when a row's dac/wmo differs from the previous row's (rows are
   * grouped by float in real indexes, so this is rare). Returns a handle for
   * the float, or null to skip its rows (not selected).
   */
  float(dac: Dac, wmo: string): H | null;
  /**
   * A valid row of a float that was not skipped. `code` names the file (see
   * fileRest). `values` holds the row's numbers, at the ROW_* positions:
   * date_update and date as YYYYMMDDHHMISS (date NaN when empty or not asked
   * for), latitude and longitude (NaN when empty or not asked for). It is
   * one array reused for every row (so numbers are not boxed 3 million
   * times): read it during the call, do not keep it.
   */
  row(handle: H, code: number, values: Float64Array): void;
  /** A refused row: why, where, its text (cut to 200 characters), and its float when that part was valid. */
  refused(reason: string, lineNo: number, text: string, handle: H | null): void;
  /**
   * A row kept with a value set to NaN because it was out of range (a
   * profile date outside the Argo era or after tomorrow, a latitude or
   * longitude outside the globe): why, where, and the row's text. Called
   * before row() for that row.
   */
  nulled?(reason: string, lineNo: number, text: string, handle: H): void;
}

/** Positions in the `values` array given to IndexVisitor.row. */
export const ROW_UPDATE = 0, ROW_DATE = 1, ROW_LAT = 2, ROW_LON = 3;

export interface IndexReadOptions {
  /** Parse `date` (for a time window). */
  dates?: boolean;
  /** Parse latitude/longitude (for a box). */
  positions?: boolean;
}

export interface IndexReadResult {
  /** Lines read, comments and header included. */
  lines: number;
  rows: number;
  refused: number;
  /** Rows of floats the visitor skipped. */
  skipped: number;
  /** Rows kept with an out-of-range value set to NaN (see IndexVisitor.nulled). */
  nulled: number;
  /** The last line had no newline: the file was cut short (a complete index ends with one). */
  unterminated: boolean;
  /** The `# Title : ...` comment line, when there is one. */
  title: string | null;
}

/**
 * The Argo era as index dates (YYYYMMDDHHMISS): nothing an index lists can
 * be older than the first profiling floats of the 1990s (WOCE's floats,
 * which the GDAC carries from 1994 on; 1990 leaves a margin).
 */
export const ARGO_ERA_START = 19900101000000;

/** The end of tomorrow (UTC) as YYYYMMDDHHMISS: no index date may be later. */
export function latestIndexDate(now: number = Date.now()): number {
  const d = new Date(now + 86_400_000);
  return d.getUTCFullYear() * 1e10 + (d.getUTCMonth() + 1) * 1e8 + d.getUTCDate() * 1e6 + 235959;
}

/** Whether a YYYYMMDDHHMISS number is a real UTC time in [ARGO_ERA_START, max]. */
export function indexTimeOk(v: number, max: number): boolean {
  if (!(v >= ARGO_ERA_START && v <= max)) return false;
  // Two exact halves, then small-integer arithmetic (this runs for every row).
  const ymd = Math.floor(v / 1e6), hms = v - ymd * 1e6;
  const y = (ymd / 10000) | 0, mo = ((ymd / 100) | 0) % 100, d = ymd % 100;
  const h = (hms / 10000) | 0, mi = ((hms / 100) | 0) % 100, s = hms % 100;
  if (mo < 1 || mo > 12 || d < 1 || h >= 24 || mi >= 60 || s >= 60) return false;
  // No Date per row (two per row of 3.3 million): the month's length by the Gregorian rule.
  return d <= (mo === 2 && y % 4 === 0 && (y % 100 !== 0 || y % 400 === 0) ? 29 : DAYS_IN_MONTH[mo - 1]);
}

const DAYS_IN_MONTH = [31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31];

const NL = 10, CR = 13, COMMA = 44, HASH = 35, SLASH = 47, DOT = 46, MINUS = 45, PLUS = 43, UNDERSCORE = 95;
const C_R = 82, C_D = 68, C_B = 66, C_S = 83, C_N = 110, C_C = 99;
const PROFILES = Buffer.from(PROFILES_DIR, "latin1");
const META_TAIL = Buffer.from(floatFileTail("meta"), "latin1");

/**
 * Position of the next line end. Node's Buffer#indexOf is native memchr (the
 * fastest); Deno's Buffer#indexOf is written in JavaScript, and the typed
 * array's own indexOf is faster there.
 */
const typedIndexOf = Uint8Array.prototype.indexOf;
const nextLineEnd: (buf: Buffer, from: number) => number = runtimeName === "deno"
  ? (buf, from) => typedIndexOf.call(buf, NL, from)
  : (buf, from) => buf.indexOf(NL, from);

/** row() result for a row of a float the visitor skips. */
const SKIPPED = -2;
const isDigit = (c: number): boolean => c >= 48 && c <= 57;

/** The header of ar_index_global_prof.txt. */
const CORE_LAYOUT = "file,date,latitude,longitude,ocean,profiler_type,institution,date_update";

// Field types of the per-header line program.
const T_TEXT = 0, T_DATE_OPT = 1, T_DEC = 2, T_DIGITS = 3, T_DATE = 4;
// What a field's value is kept as.
const R_NONE = 0, R_DATE = 1, R_LAT = 2, R_LON = 3, R_UPDATE = 4;
/** Longest accepted value per text column; others get `defaultFieldMax`. */
const fieldMax: Record<string, number> = { parameters: 8192, parameter_data_mode: 1024 };
const defaultFieldMax = 64;

/**
 * Checks a CSV header line and builds the line program from it: per column
 * after `file`, its type, longest length and role. Throws SyncError when the
 * header is not usable.
 */
export function headerProgram(kind: IndexKind, text: string): { names: string[]; types: Int32Array; maxes: Int32Array; roles: Int32Array } {
  const names = text.split(",").map((s) => s.trim().toLowerCase());
  const need = kind === "meta" ? ["file", "date_update"] : ["file", "date", "latitude", "longitude", "date_update"];
  const missing = need.filter((k) => !names.includes(k));
  if (names[0] !== "file" || missing.length > 0 || names.length > 64) {
    throw new SyncError(
      `index ${INDEX_NAMES[kind]}: expected a CSV header starting with "file" and having ${need.join(", ")}; got ${JSON.stringify(text.slice(0, 200))}`,
    );
  }
  const cols = names.slice(1);
  const typeOf = (k: string) =>
    k === "date_update" ? T_DATE : k === "date" ? T_DATE_OPT : k === "latitude" || k === "longitude" ? T_DEC : k === "profiler_type" ? T_DIGITS : T_TEXT;
  const roleOf = (k: string) =>
    k === "date_update" ? R_UPDATE : k === "date" ? R_DATE : k === "latitude" ? R_LAT : k === "longitude" ? R_LON : R_NONE;
  return {
    names,
    types: Int32Array.from(cols, typeOf),
    maxes: Int32Array.from(cols, (k) => (typeOf(k) === T_DIGITS ? 5 : fieldMax[k] ?? defaultFieldMax)),
    roles: Int32Array.from(cols, roleOf),
  };
}

/** Reads one index file from a stream of byte chunks. Throws SyncError when it has no usable header. */
export async function readIndex<H>(
  chunks: AsyncIterable<Uint8Array>,
  kind: IndexKind,
  visitor: IndexVisitor<H>,
  opts: IndexReadOptions = {},
): Promise<IndexReadResult> {
  const reader = new IndexReader(kind, visitor, opts);
  for await (const chunk of chunks) reader.push(chunk);
  return reader.end();
}

/** The push-style reader behind readIndex: push chunks, then end(). */
export class IndexReader<H> {
  private carry: Buffer | null = null;
  /** A line longer than MAX_LINE_BYTES is being dropped up to its newline. */
  private dropping = false;
  private lineNo = 0;
  private header: string[] | null = null;
  // The line program: per column after `file`, its type, longest length and role.
  private types: Int32Array = new Int32Array(0);
  private maxes: Int32Array = new Int32Array(0);
  private roles: Int32Array = new Int32Array(0);
  // Values of the row being read.
  private readonly values = new Float64Array(4);
  /** The header is the profile index's usual one: a hand-written fields() reads it faster. */
  private coreLayout = false;
  /** The file code of the row being read, and where its file name ended (after ".nc"). */
  private code = 0;
  private pos = 0;
  // The current float: its "dac/wmo/" bytes, where its WMO starts in them, and its handle.
  private readonly prefix = Buffer.alloc(32);
  private prefixLen = 0;
  private wmoOff = 0;
  private wmoLen = 0;
  private handle: H | null = null;
  private readonly lead: number;
  private readonly result: IndexReadResult = { lines: 0, rows: 0, refused: 0, skipped: 0, nulled: 0, unterminated: false, title: null };
  /** The latest date a row may carry (the end of tomorrow, UTC). */
  private readonly maxDate = latestIndexDate();
  /** Why a value of the row being read was set to NaN, or null. */
  private nulledReason: string | null = null;
  /** Where the row being read starts and ends, for a nulled() report. */
  private rowStart = 0;
  private rowBuf: Buffer | null = null;

  constructor(private readonly kind: IndexKind, private readonly visitor: IndexVisitor<H>, private readonly opts: IndexReadOptions = {}) {
    this.lead = kind === "bio" ? C_B : kind === "synthetic" ? C_S : 0;
  }

  push(chunk: Uint8Array): void {
    let buf = Buffer.isBuffer(chunk) ? chunk : Buffer.from(chunk.buffer, chunk.byteOffset, chunk.byteLength);
    let start = 0;
    if (this.carry) {
      // Finish the line cut by the chunk boundary on its own, rather than copying the whole chunk.
      const nl = nextLineEnd(buf, 0);
      const joined = Buffer.concat([this.carry, nl < 0 ? buf : buf.subarray(0, nl + 1)]);
      this.carry = null;
      if (nl < 0) buf = joined;
      else {
        this.scan(joined, 0);
        start = nl + 1;
      }
    } else if (this.dropping) {
      const nl = nextLineEnd(buf, 0);
      if (nl < 0) return;
      this.dropping = false;
      start = nl + 1;
    }
    const rest = this.scan(buf, start);
    if (rest < buf.length) {
      if (buf.length - rest > MAX_LINE_BYTES) {
        this.lineNo++;
        this.refuse(`line longer than ${MAX_LINE_BYTES} bytes`, buf, rest, rest + 200, null);
        this.dropping = true;
      } else {
        this.carry = Buffer.from(buf.subarray(rest));
      }
    }
  }

  end(): IndexReadResult {
    // A last line without its newline still counts.
    if (this.carry) {
      const last = Buffer.concat([this.carry, Buffer.from([NL])]);
      this.carry = null;
      this.result.unterminated = true;
      this.scan(last, 0);
    } else if (this.dropping) this.result.unterminated = true;
    if (!this.header) throw new SyncError(`index ${INDEX_NAMES[this.kind]} has no CSV header line (file,...,date_update)`);
    this.result.lines = this.lineNo;
    return this.result;
  }

  /**
   * Handles every complete line from `from`; returns where the incomplete
   * last line starts. A valid row is read in one pass that also finds its
   * line end; anything else (comments, the header, bad or skipped rows, a
   * line cut by the chunk end) goes the slow way, line end first.
   */
  private scan(buf: Buffer, from: number): number {
    const n = buf.length;
    let ls = from;
    while (ls < n) {
      if (this.header !== null && buf[ls] !== HASH) {
        const end = this.row(buf, ls, n);
        let nl = -1;
        if (end >= 0 && end < n) {
          if (buf[end] === NL) nl = end;
          else if (buf[end] === CR && end + 1 < n && buf[end + 1] === NL) nl = end + 1;
        }
        if (nl >= 0) {
          this.lineNo++;
          this.emit();
          ls = nl + 1;
          continue;
        }
      }
      const nl = nextLineEnd(buf, ls);
      if (nl < 0) return ls;
      this.lineNo++;
      const le = nl > ls && buf[nl - 1] === CR ? nl - 1 : nl;
      if (le - ls > MAX_LINE_BYTES) this.refuse(`line longer than ${MAX_LINE_BYTES} bytes`, buf, ls, ls + 200, null);
      else if (le > ls && buf[ls] !== HASH) {
        if (this.header === null) this.readHeader(buf.toString("latin1", ls, le));
        else this.slowLine(buf, ls, le);
      } else if (this.header === null && this.result.title === null && le > ls) {
        const m = /^#\s*Title\s*:\s*(.*)$/.exec(buf.toString("latin1", ls, Math.min(le, ls + 300)));
        if (m) this.result.title = m[1].trim();
      }
      ls = nl + 1;
    }
    return ls;
  }

  private readHeader(text: string): void {
    const p = headerProgram(this.kind, text);
    this.coreLayout = p.names.join(",") === CORE_LAYOUT;
    this.header = p.names;
    this.types = p.types;
    this.maxes = p.maxes;
    this.roles = p.roles;
  }

  /** A whole line [ls, le) the one-pass read did not take: a skipped float's row, or a row to refuse. */
  private slowLine(buf: Buffer, ls: number, le: number): void {
    const end = this.row(buf, ls, le);
    if (end === SKIPPED) this.result.skipped++;
    else if (end === le) this.emit();
    else this.refuseExplained(buf, ls, le, this.prefixLen > 0 && this.samePrefix(buf, ls, le) ? this.handle : null);
  }

  /** Passes the row just read to the visitor (and a nulled value's reason first). */
  private emit(): void {
    this.result.rows++;
    if (this.nulledReason !== null) {
      this.result.nulled++;
      const buf = this.rowBuf!, ls = this.rowStart;
      let le = nextLineEnd(buf, ls);
      if (le < 0) le = buf.length;
      this.visitor.nulled?.(this.nulledReason, this.lineNo, buf.toString("latin1", ls, Math.min(le, ls + 200)).replace(/\r$/, ""), this.handle!);
      this.nulledReason = null;
    }
    this.visitor.row(this.handle!, this.code, this.values);
  }

  /**
   * Reads the row at `ls` without going past `limit`: returns where its last
   * field ends (the line end, for a valid row), SKIPPED when its float is not
   * selected, or -1 when it is not a valid row.
   */
  private row(buf: Buffer, ls: number, limit: number): number {
    this.nulledReason = null;
    this.rowBuf = buf;
    this.rowStart = ls;
    if (!this.samePrefix(buf, ls, limit) && !this.enterFloat(buf, ls, limit)) return -1;
    if (this.handle === null) return SKIPPED;
    const code = this.kind === "meta" ? this.metaName(buf, ls + this.prefixLen, limit) : this.profileName(buf, ls + this.prefixLen, limit);
    if (code < 0) return -1;
    this.code = code;
    return this.fields(buf, this.pos, limit);
  }

  private samePrefix(buf: Buffer, ls: number, le: number): boolean {
    const plen = this.prefixLen;
    if (plen === 0 || le - ls <= plen) return false;
    const p = this.prefix;
    for (let k = 0; k < plen; k++) if (buf[ls + k] !== p[k]) return false;
    return true;
  }

  /** Reads a new "dac/wmo/" prefix and asks the visitor about the float; false when the prefix is malformed. */
  private enterFloat(buf: Buffer, ls: number, le: number): boolean {
    this.prefixLen = 0;
    this.handle = null;
    let s1 = ls;
    while (s1 < le && s1 - ls <= 8 && buf[s1] !== SLASH) s1++;
    let s2 = s1 + 1;
    while (s2 < le && s2 - s1 <= 8 && buf[s2] !== SLASH) s2++;
    if (s2 >= le || buf[s1] !== SLASH || buf[s2] !== SLASH) return false;
    const dac = buf.toString("latin1", ls, s1);
    const wmoLen = s2 - s1 - 1;
    if (!isDac(dac) || (wmoLen !== 5 && wmoLen !== 7)) return false;
    for (let i = s1 + 1; i < s2; i++) if (!isDigit(buf[i])) return false;
    buf.copy(this.prefix, 0, ls, s2 + 1);
    this.prefixLen = s2 + 1 - ls;
    this.wmoOff = s1 + 1 - ls;
    this.wmoLen = wmoLen;
    this.handle = this.visitor.float(dac, buf.toString("latin1", s1 + 1, s2));
    return true;
  }

  /** `<wmo>_meta.nc` at r: its code, or -1. */
  private metaName(buf: Buffer, r: number, le: number): number {
    const wl = this.wmoLen;
    if (le - r < wl + META_TAIL.length || !this.isWmoAt(buf, r)) return -1;
    for (let k = 0; k < META_TAIL.length; k++) if (buf[r + wl + k] !== META_TAIL[k]) return -1;
    this.pos = r + wl + META_TAIL.length;
    return META_CODE;
  }

  /** `profiles/<prefix><wmo>_<ccc[c]>[D].nc` at r, with this index's prefix letters: its code, or -1. */
  private profileName(buf: Buffer, r: number, le: number): number {
    const wl = this.wmoLen;
    if (le - r < 9 + 2 + wl + 1 + 3 + 3) return -1;
    for (let k = 0; k < 9; k++) if (buf[r + k] !== PROFILES[k]) return -1;
    let i = r + 9;
    let prefix = 0;
    if (this.lead !== 0) {
      if (buf[i++] !== this.lead) return -1;
      prefix = this.lead === C_B ? 2 : 4; // BR/SR in PROFILE_PREFIXES
    }
    const mode = buf[i++];
    if (mode === C_D) prefix++;
    else if (mode !== C_R) return -1;
    if (!this.isWmoAt(buf, i)) return -1;
    i += wl;
    if (buf[i++] !== UNDERSCORE) return -1;
    const ds = i;
    let cycle = 0;
    while (i < le && isDigit(buf[i]) && i - ds < 5) cycle = cycle * 10 + (buf[i++] - 48);
    const digits = i - ds;
    // The GDAC writes 3 digits below cycle 1000 and 4 from there (lib/argo/filename.ts): anything else names no real file.
    if (digits < 3 || digits > 4 || (digits === 4) !== (cycle >= 1000)) return -1;
    const descending = i < le && buf[i] === C_D;
    if (descending) i++;
    if (le - i < 3 || buf[i] !== DOT || buf[i + 1] !== C_N || buf[i + 2] !== C_C) return -1;
    this.pos = i + 3;
    return fileCode(prefix, cycle, digits === 4, descending);
  }

  private isWmoAt(buf: Buffer, at: number): boolean {
    const p = this.prefix, off = this.wmoOff;
    for (let k = 0; k < this.wmoLen; k++) if (buf[at + k] !== p[off + k]) return false;
    return true;
  }

  /**
   * The fields after the file name, by the header's program, reading no
   * further than `limit`: returns where the last field ends, or -1 at the
   * first bad one. Values land in `values`.
   */
  private fields(buf: Buffer, start: number, limit: number): number {
    if (this.coreLayout) return this.fieldsCore(buf, start, limit);
    const types = this.types, maxes = this.maxes, roles = this.roles, n = types.length;
    let i = start;
    let date = NaN, lat = NaN, lon = NaN, update = -1;
    // Every read is behind an `i < limit` test: an out-of-bounds read would slow the whole loop down.
    for (let k = 0; k < n; k++) {
      if (i >= limit || buf[i] !== COMMA) return -1;
      const s = ++i;
      const type = types[k];
      if (type === T_TEXT) {
        while (i < limit) {
          const c = buf[i];
          if (c === COMMA || c === NL) break;
          i++;
        }
        if (i - s > maxes[k]) return -1;
        continue;
      }
      if (type === T_DIGITS) {
        while (i < limit && isDigit(buf[i])) i++;
        if (i - s > maxes[k]) return -1;
        continue;
      }
      const empty = i >= limit || buf[i] === COMMA || buf[i] === NL || buf[i] === CR;
      let v = NaN;
      if (type === T_DEC) {
        const e = decimalEnd(buf, i, limit);
        if (e < 0) return -1;
        v = decimalValue(buf, i, e);
        i = e;
      } else if (!empty || type === T_DATE) {
        // date_update (required) or date (may be empty): 14 digits.
        v = digits14(buf, i, limit);
        if (v < 0) return -1;
        i += 14;
      }
      const role = roles[k];
      if (role === R_UPDATE) update = v;
      else if (role === R_DATE) date = v;
      else if (role === R_LAT) lat = v;
      else if (role === R_LON) lon = v;
    }
    if (update < 0 || !indexTimeOk(update, this.maxDate)) return -1;
    this.keep(update, date, lat, lon);
    return i;
  }

  /** fields() for the profile index's own layout: date,latitude,longitude,ocean,profiler_type,institution,date_update. */
  private fieldsCore(buf: Buffer, start: number, limit: number): number {
    let i = start;
    // ,date
    if (i >= limit || buf[i] !== COMMA) return -1;
    i++;
    let date = NaN;
    if (i < limit && buf[i] !== COMMA) {
      date = digits14(buf, i, limit);
      if (date < 0) return -1;
      i += 14;
    }
    // ,latitude ,longitude
    if (i >= limit || buf[i] !== COMMA) return -1;
    const latStart = ++i;
    i = decimalEnd(buf, i, limit);
    if (i < 0) return -1;
    const lat = this.opts.positions ? decimalValue(buf, latStart, i) : NaN;
    if (i >= limit || buf[i] !== COMMA) return -1;
    const lonStart = ++i;
    i = decimalEnd(buf, i, limit);
    if (i < 0) return -1;
    const lon = this.opts.positions ? decimalValue(buf, lonStart, i) : NaN;
    // ,ocean
    if (i >= limit || buf[i] !== COMMA) return -1;
    let s = ++i;
    while (i < limit && buf[i] !== COMMA && buf[i] !== NL) i++;
    if (i - s > defaultFieldMax) return -1;
    // ,profiler_type
    if (i >= limit || buf[i] !== COMMA) return -1;
    s = ++i;
    while (i < limit && isDigit(buf[i])) i++;
    if (i - s > 5) return -1;
    // ,institution
    if (i >= limit || buf[i] !== COMMA) return -1;
    s = ++i;
    while (i < limit && buf[i] !== COMMA && buf[i] !== NL) i++;
    if (i - s > defaultFieldMax) return -1;
    // ,date_update
    if (i >= limit || buf[i] !== COMMA) return -1;
    const update = digits14(buf, i + 1, limit);
    if (update < 0 || !indexTimeOk(update, this.maxDate)) return -1;
    this.keep(update, date, lat, lon);
    return i + 15;
  }

  /**
   * Stores a row's values, with a profile date or position out of range set
   * to NaN and the reason kept for nulled(): the row still names a real file,
   * only that value is unusable (a time window or a box does not match it).
   * Date and position are read, and so checked, only when the selection uses
   * them (a time window, a box): a value nobody reads cannot mislead the plan.
   */
  private keep(update: number, date: number, lat: number, lon: number): void {
    if (!this.opts.dates) date = NaN;
    if (date === date && !indexTimeOk(date, this.maxDate)) {
      this.nulledReason = `date ${date} is not a time between ${ARGO_ERA_START} and the end of tomorrow (${this.maxDate}): set to empty`;
      date = NaN;
    }
    if (!this.opts.positions) lat = lon = NaN;
    else if (!(lat >= -90 && lat <= 90) && lat === lat) {
      this.nulledReason = `latitude ${lat} outside -90..90: position set to empty`;
      lat = lon = NaN;
    } else if (!(lon >= -180 && lon <= 180) && lon === lon) {
      this.nulledReason = `longitude ${lon} outside -180..180: position set to empty`;
      lat = lon = NaN;
    }
    const values = this.values;
    values[ROW_UPDATE] = update;
    values[ROW_DATE] = date;
    values[ROW_LAT] = lat;
    values[ROW_LON] = lon;
  }

  /** Refuses a line the fast path rejected, with the reason found by a slower, readable check. */
  private refuseExplained(buf: Buffer, ls: number, le: number, handle: H | null): void {
    this.refuse(this.explain(buf.toString("latin1", ls, le)), buf, ls, le, handle);
  }

  private explain(line: string): string {
    const cells = line.split(",");
    const names = this.header!;
    if (cells.length !== names.length) return `expected ${names.length} fields, found ${cells.length}`;
    const path = cells[0];
    const parsed = parseGdacPath(path);
    if (!parsed || fileKindOf(parsed.rest) !== this.kind) return `refused file path: ${whyBadPath(path)}`;
    const name = parseFileName(parsed.rest)!;
    if (name.cycleDigits !== null && !cycleWidthOk(name.cycleDigits)) {
      return `cycle number ${name.cycleDigits} in ${baseName(parsed.rest)} is not written as the GDAC writes it (3 digits below 1000, 4 from 1000)`;
    }
    for (let k = 1; k < names.length; k++) {
      const v = cells[k], name = names[k];
      switch (this.types[k - 1]) {
        case T_DATE:
          if (!/^\d{14}$/.test(v)) return `${name} is not 14 digits (YYYYMMDDHHMISS)`;
          if (!indexTimeOk(Number(v), this.maxDate)) return `${name} ${v} is not a time between ${ARGO_ERA_START} and the end of tomorrow (${this.maxDate})`;
          break;
        case T_DATE_OPT:
          if (!/^(\d{14})?$/.test(v)) return `${name} is neither empty nor 14 digits (YYYYMMDDHHMISS)`;
          break;
        case T_DEC:
          if (!/^([+-]?\d{1,5}(\.\d{1,10})?)?$/.test(v)) return `${name} is not a plain decimal number`;
          break;
        case T_DIGITS:
          if (!/^\d{0,5}$/.test(v)) return `${name} is not a whole number of at most 5 digits`;
          break;
        default:
          if (v.length > this.maxes[k - 1]) return `field ${name} longer than ${this.maxes[k - 1]} bytes`;
      }
    }
    return "malformed row";
  }

  private refuse(reason: string, buf: Buffer, ls: number, le: number, handle: H | null): void {
    this.result.refused++;
    this.visitor.refused(reason, this.lineNo, buf.toString("latin1", ls, Math.min(le, ls + 200)), handle);
  }
}

/** 14 digits (YYYYMMDDHHMISS) at `i`, not past `limit`, as a number (read as two exact halves); -1 when not. */
function digits14(buf: Buffer, i: number, limit: number): number {
  if (i + 14 > limit) return -1;
  let hi = 0, lo = 0;
  for (const e = i + 8; i < e; i++) {
    const d = buf[i] - 48;
    if (d < 0 || d > 9) return -1;
    hi = hi * 10 + d;
  }
  for (const e = i + 6; i < e; i++) {
    const d = buf[i] - 48;
    if (d < 0 || d > 9) return -1;
    lo = lo * 10 + d;
  }
  return hi * 1e6 + lo;
}

/** Where a plain decimal field ([+-]ddddd[.dddddddddd], or empty) that starts at `i` ends; -1 when malformed. */
function decimalEnd(buf: Buffer, i: number, limit: number): number {
  if (i >= limit || buf[i] === COMMA || buf[i] === NL || buf[i] === CR) return i;
  if (buf[i] === MINUS || buf[i] === PLUS) i++;
  const is = i;
  while (i < limit && isDigit(buf[i])) i++;
  if (i === is || i - is > 5) return -1;
  if (i < limit && buf[i] === DOT) {
    const fs = ++i;
    while (i < limit && isDigit(buf[i])) i++;
    if (i === fs || i - fs > 10) return -1;
  }
  return i;
}

/** The value of a decimal field [s, e) that decimalEnd accepted; NaN when empty. */
function decimalValue(buf: Buffer, s: number, e: number): number {
  if (s === e) return NaN;
  let i = s, sign = 1;
  if (buf[i] === MINUS || buf[i] === PLUS) sign = buf[i++] === MINUS ? -1 : 1;
  let v = 0;
  while (i < e && buf[i] !== DOT) v = v * 10 + (buf[i++] - 48);
  let frac = 0, scale = 1;
  for (i++; i < e; i++) {
    frac = frac * 10 + (buf[i] - 48);
    scale *= 10;
  }
  return sign * (v + frac / scale);
}


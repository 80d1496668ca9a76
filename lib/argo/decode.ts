/**
 * Decoding Argo's on-disk conventions: char arrays, QC characters, data-mode
 * letters, fill values, dates and JULD. Pure functions over bytes and numbers.
 */
import { NO_QC, type DataMode } from "./schema.ts";

/** REFERENCE_DATE_TIME of every Argo file: 1950-01-01T00:00:00Z. */
export const ARGO_EPOCH_MS = Date.UTC(1950, 0, 1);
const MS_PER_DAY = 86_400_000;

/** Maps each byte to its QC flag: '0'..'9' -> 0..9, anything else (' ', NUL, junk) -> NO_QC. */
const QC_TABLE = (() => {
  const t = new Uint8Array(256).fill(NO_QC);
  for (let d = 0; d <= 9; d++) t[0x30 + d] = d;
  return t;
})();

/** QC characters to flags, for a whole column. */
export function decodeQcColumn(chars: Uint8Array): Uint8Array {
  const out = new Uint8Array(chars.length);
  for (let i = 0; i < chars.length; i++) out[i] = QC_TABLE[chars[i]!]!;
  return out;
}

/** One QC character (as a byte) to its flag, or null for ' ' and anything not a digit. */
export function decodeQc(byte: number | undefined): number | null {
  const flag = byte === undefined ? NO_QC : QC_TABLE[byte & 0xff]!;
  return flag === NO_QC ? null : flag;
}

/** A flag from a QC column, NO_QC becoming null. */
export function qcAt(column: Uint8Array, i: number): number | null {
  const flag = column[i];
  return flag === undefined || flag === NO_QC ? null : flag;
}

/** A data-mode letter, or null when it is blank or not R/A/D. */
export function decodeDataMode(byte: number | undefined): DataMode | null {
  if (byte === 0x52) return "R";
  if (byte === 0x41) return "A";
  if (byte === 0x44) return "D";
  return null;
}

/** A PROFILE_<P>_QC letter A-F, or null. */
export function decodeProfileQc(byte: number | undefined): string | null {
  return byte !== undefined && byte >= 0x41 && byte <= 0x46 ? String.fromCharCode(byte) : null;
}

const utf8 = new TextDecoder("utf-8");

function isBlank(b: number): boolean {
  return b === 0x20 || b === 0 || b === 0x09 || b === 0x0a || b === 0x0d;
}

/**
 * A char array to a trimmed string, or null when it holds only blanks/NULs.
 * Text is decoded as UTF-8 (a superset of the ASCII the manual asks for).
 */
export function decodeString(bytes: Uint8Array): string | null {
  let start = 0;
  let end = bytes.length;
  while (start < end && isBlank(bytes[start]!)) start++;
  while (end > start && isBlank(bytes[end - 1]!)) end--;
  if (start === end) return null;
  // Short ASCII strings (nearly all of them) are faster through fromCharCode; its
  // spread of arguments is kept short, as a corrupt file may declare megabyte strings.
  let ascii = end - start <= 1024;
  for (let i = start; ascii && i < end; i++) if (bytes[i]! > 0x7f) ascii = false;
  const text = ascii ? String.fromCharCode(...bytes.subarray(start, end)) : utf8.decode(bytes.subarray(start, end));
  // A NUL inside a string ends it, as in C.
  const nul = text.indexOf("\0");
  const cut = nul === -1 ? text : text.slice(0, nul).trimEnd();
  return cut === "" ? null : cut;
}

/** Splits a char array of fixed-width strings (last dimension `width`) into trimmed strings. */
export function decodeStrings(bytes: Uint8Array, width: number): Array<string | null> {
  if (width <= 0) return [];
  const n = Math.floor(bytes.length / width);
  const out = new Array<string | null>(n);
  for (let i = 0; i < n; i++) out[i] = decodeString(bytes.subarray(i * width, (i + 1) * width));
  return out;
}

/** Argo dates `YYYYMMDDHHMISS` (UTC) to epoch ms; null when blank or not a real date. */
export function parseArgoDate(text: string | null): number | null {
  if (text === null) return null;
  const m = /^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})$/.exec(text);
  if (m === null) return null;
  const [y, mo, d, h, mi, s] = m.slice(1).map(Number) as [number, number, number, number, number, number];
  const ms = Date.UTC(y, mo - 1, d, h, mi, s);
  const back = new Date(ms);
  // Date.UTC rolls 31 February over into March: reject instead of guessing.
  if (back.getUTCFullYear() !== y || back.getUTCMonth() !== mo - 1 || back.getUTCDate() !== d || h > 23 || mi > 59 || s > 59) return null;
  return ms;
}

/**
 * JULD (days since the reference date, a double) to epoch ms, rounded to the
 * millisecond. Whole days and the day fraction are converted apart: the
 * fraction `juld - floor(juld)` is exact in floating point, so e.g. 25000.5
 * gives exactly 25000 days and 12 h. Null for fill or a non-finite value, or
 * when the result is outside the range of a Date.
 */
export function juldToEpochMs(juld: number | null, referenceMs: number = ARGO_EPOCH_MS): number | null {
  if (juld === null || !Number.isFinite(juld)) return null;
  const days = Math.floor(juld);
  const ms = referenceMs + days * MS_PER_DAY + Math.round((juld - days) * MS_PER_DAY);
  return Math.abs(ms) <= 8.64e15 ? ms : null;
}

/** NetCDF's default fill values, used for data never written when a variable has no _FillValue. */
const NC_FILL_FLOAT = 9.969209968386869e36;
/** Argo's fill value for measurements and positions when a variable does not say. */
const ARGO_FILL = 99999;
/** Missing-value markers seen in real files although not declared as _FillValue. */
const WILD_FILLS = [-999, -99.999];

/**
 * The values that mean "no value" for a variable: its `_FillValue` (Argo's
 * 99999 when it has none), NetCDF's default fill, and the -999 / -99.999
 * markers seen in the wild, which no Argo measurement or position can take.
 */
export function missingValues(fillValue: unknown): number[] {
  const declared = typeof fillValue === "number" ? fillValue : Array.isArray(fillValue) && typeof fillValue[0] === "number" ? fillValue[0] : ARGO_FILL;
  return [declared, NC_FILL_FLOAT, ...WILD_FILLS];
}

/**
 * Replaces missing values by NaN, in place. Float32 data are compared with
 * the float32 rounding of each marker, since that is what a file stores.
 */
export function nullifyMissing(values: Float32Array | Float64Array, markers: readonly number[]): void {
  const targets = values instanceof Float32Array ? markers.map((m) => Math.fround(m)) : [...markers];
  const [a = NaN, b = NaN, c = NaN, d = NaN] = targets;
  const rest = targets.slice(4);
  for (let i = 0; i < values.length; i++) {
    const v = values[i]!;
    if (v === a || v === b || v === c || v === d || (rest.length > 0 && rest.includes(v))) values[i] = NaN;
  }
}

/** A scalar number with its fill markers as null (NaN too). */
export function numberOrNull(v: number | undefined, markers: readonly number[]): number | null {
  if (v === undefined || Number.isNaN(v)) return null;
  for (const m of markers) if (v === m || v === Math.fround(m)) return null;
  return v;
}

/**
 * The shortest decimal that reads back as the same float32: what the file
 * holds, without the float32-to-double noise (12.345f is 12.345, not
 * 12.345000267028809). For JSON output.
 */
export function float32ToShortest(v: number): number {
  if (!Number.isFinite(v) || Math.fround(v) !== v) return v;
  for (let p = 1; p <= 9; p++) {
    const shorter = Number(v.toPrecision(p));
    if (Math.fround(shorter) === v) return shorter;
  }
  return v;
}

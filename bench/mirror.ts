/**
 * A synthetic local GDAC mirror of N floats, built at run time from the 15
 * fixture floats (../shared/fixtures/gdac), for the scale benches.
 *
 *   npx tsx bench/mirror.ts <dir> <floats> [--all-files] [--touch <fraction>]
 *   deno run -A bench/mirror.ts <dir> <floats>
 *
 * Float i is a byte copy of fixture float i mod 15 under a new WMO id of the
 * same length (mirrorWmo): the id is replaced in the file names and inside
 * the bytes (every occurrence of the ASCII id that is not part of a longer
 * digit run, so PLATFORM_NUMBER and the file names inside the file agree
 * with the folder). The index files are regenerated: header lines verbatim,
 * each fixture float's rows once per copy with the id replaced in the path,
 * rows ordered by DAC and WMO as on the GDAC; an index the fixtures have as
 * `.gz` is written gzipped too.
 *
 * By default the mirror holds what a default sync fetches (meta and
 * single-cycle files: 0.74 MB per float, 3.7 GB at 5,000 floats, the issue's
 * mirror); --all-files adds the multi-profile `_prof.nc`/`_Sprof.nc` files.
 * A NetCDF-4 (HDF5) file may hold the id compressed, where a byte copy cannot
 * rename it: such a file is checked once through lib/netcdf/reader.ts and,
 * when its PLATFORM_NUMBER does not come out renamed, its float is left out
 * of the copies (it is named on stderr).
 *
 * touch(dir, fraction) changes that fraction of the floats as a real day
 * does: one new cycle file per changed float (a copy of its last core cycle
 * as the next cycle, CYCLE_NUMBER and DATE_UPDATE patched in place; when the
 * file's layout does not allow that, its last cycle rewritten with a new
 * DATE_UPDATE), and the index rows' date_update.
 */
import { Buffer } from "node:buffer";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, rename, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import { fileURLToPath } from "node:url";
import { gunzipSync, gzipSync } from "node:zlib";

import { NetCDFReader } from "netcdfjs";

import { parseFileName, profileFileName } from "../lib/argo/filename.ts";
import { ParseError } from "../lib/errors.ts";
import { INDEX_NAMES, type IndexKind } from "../lib/gdac/index-file.ts";
import { openNetcdf, sniffFormat } from "../lib/netcdf/reader.ts";

/** The fixture GDAC excerpt, read in place. */
export const FIXTURE_GDAC = fileURLToPath(new URL("../../shared/fixtures/gdac/", import.meta.url));

const INDEX_KINDS = Object.keys(INDEX_NAMES) as IndexKind[];

/** One file of a fixture float, with where its WMO id sits in its bytes. */
interface FixtureFile {
  /** Path below the float folder, e.g. "profiles/R13857_001.nc". */
  rest: string;
  bytes: Buffer;
  /** Offsets of the ASCII WMO id in `bytes`. */
  at: number[];
}

/** A fixture float and its files. */
export interface FixtureFloat {
  dac: string;
  wmo: string;
  files: FixtureFile[];
}

/** One index file: its header lines and whether it comes plain, gzipped or both. */
interface IndexTemplate {
  kind: IndexKind;
  head: string[];
  plain: boolean;
  gz: boolean;
}

/** A float of a built mirror. */
export interface MirrorFloat {
  dac: string;
  wmo: string;
  /** The fixture float it copies. */
  source: string;
}

export interface MirrorOptions {
  /** The fixture GDAC (default FIXTURE_GDAC). */
  fixtures?: string;
  /** Also copy the multi-profile `_prof.nc` / `_Sprof.nc` files (default: what a default sync fetches). */
  allFiles?: boolean;
  /** Files written at once (default 32). */
  concurrency?: number;
  /** Called after each float's files are written. */
  onProgress?: (floatsDone: number, floats: number) => void;
}

export interface MirrorInfo {
  dir: string;
  floats: MirrorFloat[];
  files: number;
  bytes: number;
  /** Fixture floats left out (a compressed id a byte copy cannot rename), with why. */
  leftOut: string[];
  seconds: number;
}

/**
 * The WMO id of mirror float i copying a float whose id has `length` digits:
 * 8000000 + i for 7 digits, 50000 + i for 5 (no fixture id is in those ranges).
 */
export function mirrorWmo(i: number, length: number): string {
  if (length === 7 && i < 1_000_000) return String(8_000_000 + i);
  if (length === 5 && i < 50_000) return String(50_000 + i);
  throw new Error(`mirrorWmo: no ${length}-digit id for float ${i}`);
}

const isDigit = (c: number | undefined): boolean => c !== undefined && c >= 48 && c <= 57;

/** Offsets of `id` in `bytes` not inside a longer run of digits: one pass of Buffer#indexOf. */
function idOffsets(bytes: Buffer, id: string): number[] {
  const needle = Buffer.from(id, "latin1");
  const at: number[] = [];
  for (let i = bytes.indexOf(needle); i >= 0; i = bytes.indexOf(needle, i + needle.length)) {
    if (!isDigit(bytes[i - 1]) && !isDigit(bytes[i + needle.length])) at.push(i);
  }
  return at;
}

/** A copy of a fixture file's bytes under another id of the same length. */
function renamed(f: FixtureFile, id: string): Buffer {
  const out = Buffer.allocUnsafe(f.bytes.length);
  f.bytes.copy(out);
  for (const i of f.at) out.write(id, i, "latin1");
  return out;
}

async function readText(path: string): Promise<string | null> {
  if (existsSync(path)) return await readFile(path, "latin1");
  if (existsSync(path + ".gz")) return gunzipSync(await readFile(path + ".gz")).toString("latin1");
  return null;
}

/** Splits an index text into its header lines (comments and the CSV header) and its rows. */
function splitIndex(text: string): { head: string[]; rows: string[] } {
  const lines = text.split("\n");
  if (lines.at(-1) === "") lines.pop();
  const head: string[] = [];
  let i = 0;
  for (; i < lines.length; i++) {
    head.push(lines[i]!);
    if (!lines[i]!.startsWith("#")) break;
  }
  return { head, rows: lines.slice(i + 1) };
}

/** "dac/wmo" of an index row. */
function floatOfRow(row: string): string {
  const a = row.indexOf("/"), b = row.indexOf("/", a + 1);
  return row.slice(0, b);
}

/** Reads the fixture floats: every file once, and its id's offsets once. */
export async function loadFixtures(opts: MirrorOptions = {}): Promise<{ floats: FixtureFloat[]; leftOut: string[] }> {
  const root = opts.fixtures ?? FIXTURE_GDAC;
  const floats: FixtureFloat[] = [];
  const leftOut: string[] = [];
  for (const dac of (await readdir(join(root, "dac"))).sort()) {
    for (const wmo of (await readdir(join(root, "dac", dac))).sort()) {
      const dir = join(root, "dac", dac, wmo);
      const files: FixtureFile[] = [];
      for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
        if (!e.isFile()) continue;
        const rest = join(e.parentPath, e.name).slice(dir.length + 1);
        const kind = parseFileName(rest)?.kind;
        if (!kind || kind === "tech" || kind === "traj") continue;
        if (!opts.allFiles && (kind === "prof" || kind === "Sprof")) continue;
        const bytes = await readFile(join(dir, rest));
        files.push({ rest, bytes, at: idOffsets(bytes, wmo) });
      }
      files.sort((a, b) => (a.rest < b.rest ? -1 : 1));
      const why = await renameProblem(files, wmo);
      if (why) {
        leftOut.push(`${dac}/${wmo}: ${why}`);
        continue;
      }
      floats.push({ dac, wmo, files });
    }
  }
  return { floats, leftOut };
}

/**
 * Why a byte copy of these files cannot rename the float, or null. Only
 * HDF5 files can hide the id (compressed); each is renamed to a probe id and
 * read back.
 */
async function renameProblem(files: FixtureFile[], wmo: string): Promise<string | null> {
  const probe = mirrorWmo(0, wmo.length);
  for (const f of files) {
    if (sniffFormat(f.bytes) !== "netcdf4-hdf5") continue;
    const reader = await openNetcdf(renamed(f, probe), f.rest);
    if (reader instanceof ParseError) return `${f.rest} does not parse once renamed: ${reader.message}`;
    try {
      const p = reader.variables.has("PLATFORM_NUMBER") ? Buffer.from(reader.read("PLATFORM_NUMBER") as Uint8Array).toString("latin1") : "";
      const ids = new Set(p.split(/[\s\0]+/).filter(Boolean).map((s) => s.slice(0, wmo.length)).filter(Boolean));
      if (!(ids.size === 1 && ids.has(probe))) return `${f.rest} (NetCDF-4) holds PLATFORM_NUMBER where a byte copy cannot rename it (compressed)`;
    } finally {
      reader.close();
    }
  }
  return null;
}

/** Runs `work` over `items` with at most `limit` at once. */
async function pool<T>(items: T[], limit: number, work: (item: T, i: number) => Promise<void>): Promise<void> {
  let next = 0;
  const run = async () => {
    while (next < items.length) {
      const i = next++;
      await work(items[i]!, i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, run));
}

/** An index row of `from` rewritten for float `to`: the id replaced in its path only. */
function rowFor(row: string, from: string, to: string): string {
  const comma = row.indexOf(",");
  return row.slice(0, comma).replaceAll(from, to) + row.slice(comma);
}

/**
 * Writes the index files of a mirror made of another mirror's floats under
 * new ids (`copies`: base float -> the new float), from that mirror's current
 * index files: its header lines, each base float's rows with the id replaced
 * in the path, floats ordered by DAC and WMO.
 */
export async function replicateIndexes(base: string, dir: string, copies: readonly { from: MirrorFloat; to: MirrorFloat }[]): Promise<void> {
  for (const kind of INDEX_KINDS) {
    const text = await readText(join(base, INDEX_NAMES[kind]));
    if (text === null) continue;
    const { head, rows } = splitIndex(text);
    const rowsOf = new Map<string, string[]>();
    for (const row of rows) {
      const f = floatOfRow(row);
      if (!rowsOf.has(f)) rowsOf.set(f, []);
      rowsOf.get(f)!.push(row);
    }
    const ordered = [...copies].sort((a, b) => (a.to.dac === b.to.dac ? (a.to.wmo < b.to.wmo ? -1 : 1) : a.to.dac < b.to.dac ? -1 : 1));
    const lines = [...head];
    for (const c of ordered) for (const row of rowsOf.get(`${c.from.dac}/${c.from.wmo}`) ?? []) lines.push(rowFor(row, c.from.wmo, c.to.wmo));
    const t: IndexTemplate = { kind, head, plain: existsSync(join(base, INDEX_NAMES[kind])), gz: existsSync(join(base, INDEX_NAMES[kind] + ".gz")) };
    await writeIndex(dir, t, lines);
  }
}

/** Writes an index text as the fixtures have it (plain and/or gzipped), each atomically. */
async function writeIndex(dir: string, t: IndexTemplate, lines: string[]): Promise<void> {
  const text = Buffer.from(lines.join("\n") + "\n", "latin1");
  const path = join(dir, INDEX_NAMES[t.kind]);
  if (t.plain) await atomicWrite(path, text);
  if (t.gz) await atomicWrite(path + ".gz", gzipSync(text));
}

async function atomicWrite(path: string, bytes: Uint8Array): Promise<void> {
  await writeFile(path + ".tmp", bytes);
  await rename(path + ".tmp", path);
}

/**
 * Builds a mirror of `n` floats in `dir` (emptied first). Float i copies
 * fixture float i mod (fixture floats kept).
 */
export async function buildMirror(dir: string, n: number, opts: MirrorOptions = {}): Promise<MirrorInfo> {
  const t0 = performance.now();
  const { floats: fixtures, leftOut } = await loadFixtures(opts);
  if (fixtures.length === 0) throw new Error(`no fixture floats under ${opts.fixtures ?? FIXTURE_GDAC}`);
  await rm(dir, { recursive: true, force: true });
  await mkdir(dir, { recursive: true });
  const floats: (MirrorFloat & { fixture: FixtureFloat })[] = [];
  for (let i = 0; i < n; i++) {
    const fixture = fixtures[i % fixtures.length]!;
    floats.push({ dac: fixture.dac, wmo: mirrorWmo(i, fixture.wmo.length), source: fixture.wmo, fixture });
  }
  let files = 0, bytes = 0, done = 0;
  await pool(floats, opts.concurrency ?? 32, async (f) => {
    const base = join(dir, "dac", f.dac, f.wmo);
    await mkdir(join(base, "profiles"), { recursive: true });
    for (const file of f.fixture.files) {
      await writeFile(join(base, file.rest.replaceAll(f.source, f.wmo)), renamed(file, f.wmo));
      files++;
      bytes += file.bytes.length;
    }
    opts.onProgress?.(++done, n);
  });
  const base = opts.fixtures ?? FIXTURE_GDAC;
  await replicateIndexes(base, dir, floats.map((f) => ({ from: { dac: f.dac, wmo: f.source, source: f.source }, to: f })));
  return {
    dir,
    floats: floats.map(({ dac, wmo, source }) => ({ dac, wmo, source })),
    files,
    bytes,
    leftOut,
    seconds: (performance.now() - t0) / 1000,
  };
}

/** A time as the index and DATE_UPDATE write it: YYYYMMDDHHMISS, UTC. */
export function argoTime(ms: number): string {
  return new Date(ms).toISOString().replace(/[-:T]/g, "").slice(0, 14);
}

export interface TouchOptions {
  /** Shifts which floats are picked, so successive touches change different floats (default 0). */
  seed?: number;
  /** The time written as date_update and DATE_UPDATE (default now). */
  now?: number;
  /** Only floats ("dac/wmo") this accepts are changed (default: any). */
  eligible?: (float: string) => boolean;
}

export interface TouchResult {
  /** The changed floats as "dac/wmo", and the GDAC path of the file each got. */
  changed: { float: string; path: string; how: "new cycle" | "rewritten" }[];
}

/**
 * Patches a non-record variable of a NetCDF-3 file in place: CYCLE_NUMBER
 * (int) to `cycle` and DATE_UPDATE (char[14]) to `date`. Returns false when
 * the file's layout does not allow it (not NetCDF-3, a variable missing or
 * in the record section).
 */
function patchCycle(bytes: Buffer, cycle: number | null, date: string): boolean {
  if (sniffFormat(bytes)?.startsWith("netcdf3") !== true) return false;
  let header: { variables: { name: string; type: string; size: number; offset: number; record: boolean }[] };
  try {
    header = new NetCDFReader(bytes).header as unknown as typeof header;
  } catch {
    return false;
  }
  const find = (name: string, type: string) => header.variables.find((v) => v.name === name && v.type === type && !v.record);
  const du = find("DATE_UPDATE", "char");
  const cn = cycle === null ? undefined : find("CYCLE_NUMBER", "int");
  if (!du || du.size < 14 || (cycle !== null && !cn)) return false;
  bytes.write(date, du.offset, "latin1");
  if (cn) for (let o = cn.offset; o + 4 <= cn.offset + cn.size; o += 4) bytes.writeInt32BE(cycle!, o);
  return true;
}

/**
 * Changes `fraction` of the mirror's floats (at least one when > 0), spread
 * evenly over the core index: per float one new cycle file (or its last
 * cycle rewritten), its index row added (or its date_update moved), and the
 * index's "Date of update" line.
 */
export async function touch(dir: string, fraction: number, opts: TouchOptions = {}): Promise<TouchResult> {
  const now = opts.now ?? Date.now();
  const stamp = argoTime(now);
  const t: IndexTemplate = { kind: "core", head: [], plain: existsSync(join(dir, INDEX_NAMES.core)), gz: existsSync(join(dir, INDEX_NAMES.core + ".gz")) };
  const text = await readText(join(dir, INDEX_NAMES.core));
  if (text === null) throw new Error(`${dir}: no ${INDEX_NAMES.core}`);
  const { head, rows } = splitIndex(text);
  const names = head.at(-1)!.split(",");
  const updateCol = names.indexOf("date_update");
  // Rows by float, in index order: [first row, last row + 1).
  const spans: { float: string; from: number; to: number }[] = [];
  rows.forEach((row, i) => {
    const f = floatOfRow(row);
    if (spans.at(-1)?.float === f) spans.at(-1)!.to = i + 1;
    else spans.push({ float: f, from: i, to: i + 1 });
  });
  const eligible = opts.eligible ? spans.filter((s) => opts.eligible!(s.float)) : spans;
  const count = fraction <= 0 || eligible.length === 0 ? 0 : Math.min(eligible.length, Math.max(1, Math.round(fraction * spans.length)));
  const picked = new Set<number>();
  for (let k = 0; k < count; k++) picked.add((Math.floor(((k + 0.5) * eligible.length) / count) + (opts.seed ?? 0)) % eligible.length);
  const result: TouchResult = { changed: [] };
  const inserts = new Map<number, string>();
  const setUpdate = (row: string) => {
    const cells = row.split(",");
    cells[updateCol] = stamp;
    return cells.join(",");
  };
  for (const s of [...picked].sort((a, b) => a - b).map((i) => eligible[i]!)) {
    const [dac, wmo] = s.float.split("/") as [string, string];
    let last = -1, lastCycle = -1, maxCycle = -1;
    for (let i = s.from; i < s.to; i++) {
      const name = parseFileName(rows[i]!.slice(s.float.length + 1, rows[i]!.indexOf(",")));
      if (!name || name.cycle === null) continue;
      maxCycle = Math.max(maxCycle, name.cycle);
      if (name.cycle > lastCycle || (name.cycle === lastCycle && !name.descending)) [last, lastCycle] = [i, name.cycle];
    }
    if (last < 0) continue;
    const row = rows[last]!;
    const rest = row.slice(s.float.length + 1, row.indexOf(","));
    const name = parseFileName(rest)!;
    const bytes = await readFile(join(dir, "dac", dac, wmo, rest));
    const cycle = maxCycle + 1;
    const newRest = profileFileName(name.prefix!, wmo, cycle, cycle >= 1000 ? 4 : 3, name.descending);
    if (patchCycle(bytes, cycle, stamp)) {
      await atomicWrite(join(dir, "dac", dac, wmo, newRest), bytes);
      inserts.set(s.to - 1, setUpdate(`${s.float}/${newRest}${row.slice(row.indexOf(","))}`));
      result.changed.push({ float: s.float, path: `${s.float}/${newRest}`, how: "new cycle" });
    } else {
      // No safe cycle patch: the last cycle itself changes, as a DAC's reprocessing does.
      const fresh = Buffer.from(bytes);
      if (!patchCycle(fresh, null, stamp)) fresh.set(bytes);
      await atomicWrite(join(dir, "dac", dac, wmo, rest), fresh);
      rows[last] = setUpdate(row);
      result.changed.push({ float: s.float, path: `${s.float}/${rest}`, how: "rewritten" });
    }
  }
  const out = head.map((l) => (/^#\s*Date of update\s*:/.test(l) ? `# Date of update : ${stamp}` : l));
  rows.forEach((row, i) => {
    out.push(row);
    const extra = inserts.get(i);
    if (extra !== undefined) out.push(extra);
  });
  await writeIndex(dir, t, out);
  return result;
}

async function main(): Promise<void> {
  const args = process.argv.slice(2);
  const flag = (name: string) => {
    const i = args.indexOf(name);
    return i < 0 ? undefined : args.splice(i, name.startsWith("--all") ? 1 : 2).slice(1)[0] ?? "";
  };
  const allFiles = flag("--all-files") !== undefined;
  const touchFraction = flag("--touch");
  const [dir, n] = args;
  const fraction = Number(touchFraction);
  if (!dir || (touchFraction === undefined ? !(Number(n) >= 1) : !(fraction > 0 && fraction <= 1))) {
    console.error("usage: npx tsx bench/mirror.ts <dir> <floats> [--all-files]   (build)\n       npx tsx bench/mirror.ts <dir> --touch <fraction 0..1>   (a day's changes)");
    process.exit(2);
  }
  if (touchFraction !== undefined) {
    const r = await touch(dir, fraction);
    console.log(`touched ${r.changed.length} floats: ${r.changed.slice(0, 5).map((c) => `${c.path} (${c.how})`).join(", ")}${r.changed.length > 5 ? ", ..." : ""}`);
    return;
  }
  let shown = 0;
  const info = await buildMirror(dir, Number(n), {
    allFiles,
    onProgress: (d, total) => {
      if (d === total || d - shown >= Math.max(100, total / 10)) {
        shown = d;
        process.stderr.write(`  ${d}/${total} floats\n`);
      }
    },
  });
  for (const why of info.leftOut) console.error(`left out: ${why}`);
  console.log(`${info.dir}: ${info.floats.length} floats, ${info.files} files, ${(info.bytes / 1e6).toFixed(0)} MB in ${info.seconds.toFixed(1)} s`);
}

if ((import.meta as { main?: boolean }).main ?? process.argv[1] === fileURLToPath(import.meta.url)) await main();

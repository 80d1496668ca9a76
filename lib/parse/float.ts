/**
 * Parsing one float: its raw files' bytes in, its lake tables (and the files
 * that failed, for quarantine) out. Runs in a worker thread or in-process;
 * does no lake I/O, so a worker needs nothing but the bytes.
 */
import { join } from "node:path";
import { baseName, floatFileName, parseFileName } from "../argo/filename.ts";
import { checkMetaFile, checkProfileFile, type CheckFailure } from "../argo/checks.ts";
import { mergeCoreAndBgc } from "../argo/merge.ts";
import type { FloatMeta, ParsedProfileFile } from "../argo/schema.ts";
import { ParseError } from "../errors.ts";
import { type Compression, type ParquetWriter } from "../lake/parquet.ts";
import { parseArgoFile } from "../argo/file.ts";
import type { TableName } from "../../lake/schema.ts";
import { partitionFileKey } from "../lake/layout.ts";
import { buildFloatTables, type CycleProfiles, type FloatInput, type FloatTables, type SyntheticProfiles } from "./tables.ts";

/** One raw file of a float: its path below the float folder and its bytes. */
export interface RawFile {
  /** e.g. "profiles/D6901929_001.nc" or "6901929_meta.nc". */
  rest: string;
  bytes: Uint8Array;
}

/** What parsing a float needs. */
export interface FloatJob {
  dac: string;
  wmo: string;
  /** Meta, core, B and S files (others are ignored). */
  files: RawFile[];
  /** PROFILE_BATCH_LIMIT: at most this many core files (lowest cycles first); null = all. */
  profileBatchLimit: number | null;
}

/** A raw file that could not be used, with why. */
export interface FileFailure {
  rest: string;
  reason: string;
  where: string | null;
}

/** The role of a raw file in parsing, from its name. */
export type RawRole = "meta" | "core" | "bgc" | "synthetic" | "other";

/**
 * What a raw file is for. Meta, core, B and S single-profile files are
 * parsed; _prof/_Sprof repeat the single-profile files (see lib/parse/tables.ts).
 */
export function roleOf(rest: string, wmo: string): RawRole {
  const name = parseFileName(rest);
  if (!name || name.wmo !== wmo) return "other";
  const roles: Partial<Record<typeof name.kind, RawRole>> = { meta: "meta", core: "core", bio: "bgc", synthetic: "synthetic" };
  return roles[name.kind] ?? "other";
}

/** Cycle key of a core, B or S file name: "001", "001D", "1000". */
const cycleKeyOf = (rest: string): string => parseFileName(rest)!.cycleKey!;

/** Sort key: cycle number, then ascending before descending. */
function cycleOrder(key: string): [number, number] {
  return [parseInt(key, 10), key.endsWith("D") ? 1 : 0];
}


/** Core (or S) files to parse, in cycle order, cut to PROFILE_BATCH_LIMIT. */
export function selectCoreFiles(rests: readonly string[], wmo: string, limit: number | null, role: "core" | "synthetic" = "core"): string[] {
  const cores = rests.filter((r) => roleOf(r, wmo) === role).sort((a, b) => {
    const [ca, da] = cycleOrder(cycleKeyOf(a));
    const [cb, db] = cycleOrder(cycleKeyOf(b));
    return ca - cb || da - db || (a < b ? -1 : a > b ? 1 : 0);
  });
  return limit === null ? cores : cores.slice(0, limit);
}

/** The float's parsed input for the table builder, and the files that failed. */
export interface ParsedFloat {
  input: FloatInput;
  failures: FileFailure[];
  /** Raw files parsed without error. */
  parsed: string[];
  /**
   * Why the float as a whole cannot be written (two files claim one cycle, two
   * profiles share a key): nothing of it is written and its last good tables stay.
   */
  refused: string | null;
}

/** What a profile file's name says it holds. */
function identityOf(rest: string, wmo: string) {
  const name = parseFileName(rest)!;
  return { wmo, cycle: name.cycle!, direction: name.descending ? "D" as const : "A" as const };
}

/** Core or B files of the float whose names claim the same cycle and direction (R and D of one cycle, say). */
function cycleClaims(rests: readonly string[], wmo: string): string | null {
  const byKey = new Map<string, string[]>();
  for (const rest of rests) {
    const role = roleOf(rest, wmo);
    if (role !== "core" && role !== "bgc") continue;
    const key = `${role}/${cycleKeyOf(rest)}`;
    byKey.set(key, [...(byKey.get(key) ?? []), rest]);
  }
  for (const rests of byKey.values()) {
    if (rests.length < 2) continue;
    const id = identityOf(rests[0]!, wmo);
    return `${rests.map(baseName).sort().join(" and ")} both claim cycle ${id.cycle} (${id.direction === "D" ? "descending" : "ascending"})`;
  }
  return null;
}

function failure(rest: string, err: ParseError): FileFailure {
  return { rest, reason: err.message, where: err.where ?? null };
}

/**
 * Parses a float's meta, core, B and S files. A file that fails is reported and
 * left out; the others still count. A B-file that cannot be joined to its core
 * file (e.g. PRES differs) fails alone: the core profile lands without BGC.
 * An S-file must be a synthetic profile file of this float, of one cycle.
 */
export async function parseFloatFiles(job: FloatJob): Promise<ParsedFloat> {
  const byRest = new Map(job.files.map((f) => [f.rest, f]));
  const failures: FileFailure[] = [];
  const parsed: string[] = [];
  const parse = async (rest: string) => {
    // Named by its GDAC path, as the parser's errors and `sources` expect.
    const result = await parseArgoFile(byRest.get(rest)!.bytes, { path: `dac/${job.dac}/${job.wmo}/${rest}` });
    if (result instanceof ParseError) {
      failures.push(failure(rest, result));
      return null;
    }
    if (result.floatId !== job.wmo) {
      failures.push({ rest, reason: `file is float ${result.floatId}, expected ${job.wmo}`, where: "PLATFORM_NUMBER" });
      return null;
    }
    let bad: CheckFailure | null = null;
    if (result.kind === "meta") bad = checkMetaFile(result, now);
    else if (roleOf(rest, job.wmo) !== "meta") bad = checkProfileFile(result, identityOf(rest, job.wmo), now);
    if (bad) {
      failures.push({ rest, ...bad });
      return null;
    }
    return result;
  };
  const now = Date.now();
  const claims = cycleClaims([...byRest.keys()], job.wmo);
  if (claims) return { input: { wmo: job.wmo, cycles: [], meta: null }, failures: [], parsed: [], refused: claims };

  let meta: FloatInput["meta"] = null;
  const metaRest = floatFileName(job.wmo, "meta");
  if (byRest.has(metaRest)) {
    const m = await parse(metaRest);
    if (m && m.kind === "meta") {
      meta = { meta: m as FloatMeta, file: baseName(metaRest) };
      parsed.push(metaRest);
    } else if (m) failures.push({ rest: metaRest, reason: `expected a meta-data file, got a ${m.kind} file`, where: "DATA_TYPE" });
  }

  const bgcByCycle = new Map<string, string>();
  for (const rest of byRest.keys()) if (roleOf(rest, job.wmo) === "bgc") bgcByCycle.set(cycleKeyOf(rest), rest);

  const cycles: CycleProfiles[] = [];
  for (const coreRest of selectCoreFiles([...byRest.keys()], job.wmo, job.profileBatchLimit)) {
    const core = await parse(coreRest);
    if (!core) continue;
    if (core.kind !== "profile" || core.fileType !== "core") {
      failures.push({ rest: coreRest, reason: `expected a core profile file, got ${core.kind === "profile" ? core.fileType : core.kind}`, where: "DATA_TYPE" });
      continue;
    }
    parsed.push(coreRest);
    let file: ParsedProfileFile = core;
    let bgcFile: string | null = null;
    const bgcRest = bgcByCycle.get(cycleKeyOf(coreRest));
    if (bgcRest) {
      const bgc = await parse(bgcRest);
      if (bgc && (bgc.kind !== "profile" || bgc.fileType !== "bgc")) {
        failures.push({ rest: bgcRest, reason: `expected a B profile file, got ${bgc.kind === "profile" ? bgc.fileType : bgc.kind}`, where: "DATA_TYPE" });
      } else if (bgc) {
        const merged = mergeCoreAndBgc(core, bgc);
        if (merged instanceof ParseError) failures.push(failure(bgcRest, merged));
        else {
          file = merged;
          bgcFile = baseName(bgcRest);
          parsed.push(bgcRest);
        }
      }
    }
    cycles.push({ profiles: file.profiles, parameters: file.parameters, coreFile: baseName(coreRest), bgcFile });
  }

  const synthetic: SyntheticProfiles[] = [];
  for (const rest of selectCoreFiles([...byRest.keys()], job.wmo, job.profileBatchLimit, "synthetic")) {
    const s = await parse(rest);
    if (!s) continue;
    if (s.kind !== "profile" || s.fileType !== "synthetic") {
      failures.push({ rest, reason: `expected a synthetic (S) profile file, got ${s.kind === "profile" ? s.fileType : s.kind}`, where: "DATA_TYPE" });
      continue;
    }
    const cycle = parseInt(cycleKeyOf(rest), 10);
    const other = s.profiles.find((p) => p.cycleNumber !== cycle);
    if (other) {
      failures.push({ rest, reason: `file name says cycle ${cycle}, the file holds cycle ${other.cycleNumber}`, where: "CYCLE_NUMBER" });
      continue;
    }
    parsed.push(rest);
    synthetic.push({ profiles: s.profiles, parameters: s.parameters, file: baseName(rest) });
  }
  return { input: { wmo: job.wmo, cycles, synthetic, meta }, failures, parsed, refused: duplicateProfileKey(cycles) };
}

/** A profile key (cycle, direction, N_PROF) that two profiles of the float share, as a reason; null when all differ. */
function duplicateProfileKey(cycles: readonly CycleProfiles[]): string | null {
  const seen = new Map<string, string>();
  for (const c of cycles) {
    for (const p of c.profiles) {
      const key = `${p.cycleNumber}/${p.direction}/${p.profileIndex}`;
      const other = seen.get(key);
      if (other !== undefined) return `${other} and ${c.coreFile} both hold profile ${key} (cycle/direction/N_PROF)`;
      seen.set(key, c.coreFile);
    }
  }
  return null;
}

/** One Parquet file written for a float, waiting in a local file to be put in the lake. */
export interface WrittenFile {
  table: TableName;
  key: string;
  /** Local temporary file holding the bytes. */
  path: string;
  size: number;
}

/** What parsing and writing a float gives. */
export interface FloatOutcome {
  written: WrittenFile[];
  failures: FileFailure[];
  parsed: string[];
  profiles: number;
  measurementRows: number;
  /** See {@link ParsedFloat.refused}: set, nothing was written. */
  refused: string | null;
}

/**
 * Parses a float and writes its tables as Parquet files into `outDir`, named
 * uniquely; the caller puts them into the lake under `written[].key`.
 */
export async function processFloat(job: FloatJob, writer: ParquetWriter, outDir: string, compression: Compression): Promise<FloatOutcome> {
  const { input, failures, parsed, refused } = await parseFloatFiles(job);
  if (refused) return { written: [], failures, parsed, profiles: 0, measurementRows: 0, refused };
  const tables: FloatTables = buildFloatTables(input);
  const written: WrittenFile[] = [];
  const write = async (table: TableName, year: number | null, t: FloatTables["floats"]) => {
    if (!t || t.rowCount === 0) return;
    const path = join(outDir, `${job.dac}-${job.wmo}-${table}-${year ?? "null"}.parquet`);
    const size = await writer.writeFile(t, path, compression);
    written.push({ table, key: partitionFileKey(table, job.dac, year, job.wmo), path, size });
  };
  for (const table of ["measurements", "bgc_measurements", "synthetic", "profiles"] as const) {
    for (const [year, t] of tables[table]) await write(table, year, t);
  }
  await write("floats", null, tables.floats);
  await write("dictionary", null, tables.dictionary);
  return { written, failures, parsed, profiles: tables.profileCount, measurementRows: tables.measurementRows, refused: null };
}

/**
 * Helpers for the parse and query tests: landing fixture files into a lake at
 * the raw keys the sync job uses, and reading fixture files with netcdfjs
 * directly, independently of the project's parser, to compute expectations.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { NetCDFReader } from "netcdfjs";
import type { LakeStore } from "../lib/lake/store.ts";
import { fixturesDir } from "./support/fixtures.ts";

/** One fixture file of a float: where it is and where it lands in the lake. */
export interface FixtureFile {
  dac: string;
  wmo: string;
  /** Path below the float folder, e.g. "profiles/D6901929_001.nc". */
  rest: string;
  /** Absolute path of the fixture. */
  file: string;
  /** raw/dac=<dac>/wmo=<wmo>/<rest> */
  key: string;
}

/** Every fixture file of the GDAC mirror (optionally of some floats only). */
export function fixtureFiles(floats?: readonly string[], dir: string = fixturesDir): FixtureFile[] {
  const out: FixtureFile[] = [];
  const dacRoot = join(dir, "dac");
  for (const dac of readdirSync(dacRoot).sort()) {
    for (const wmo of readdirSync(join(dacRoot, dac)).sort()) {
      if (floats && !floats.includes(wmo)) continue;
      const base = join(dacRoot, dac, wmo);
      for (const e of readdirSync(base, { recursive: true, withFileTypes: true })) {
        if (!e.isFile() || !e.name.endsWith(".nc")) continue;
        const file = join(e.parentPath, e.name);
        const rest = relative(base, file).split(sep).join("/");
        out.push({ dac, wmo, rest, file, key: `raw/dac=${dac}/wmo=${wmo}/${rest}` });
      }
    }
  }
  return out.sort((a, b) => (a.key < b.key ? -1 : 1));
}

/** Copies fixture files into the lake's raw zone, as sync would land them. */
export async function landFixtures(store: LakeStore, floats?: readonly string[]): Promise<FixtureFile[]> {
  const files = fixtureFiles(floats);
  for (const f of files) await store.put(f.key, readFileSync(f.file));
  return files;
}

/** True for core single-profile files (R*, D*): the measurement sources. */
export const isCoreProfile = (f: FixtureFile): boolean => /^profiles\/[RD]\d+_\d+D?\.nc$/.test(f.rest);

/** A NetCDF variable read with netcdfjs: its values (flat, row-major) and fill value. */
export interface NcVar {
  values: (string | number)[];
  fill: number | null;
}

/** Opens a fixture with netcdfjs. */
export function openNc(file: string): NetCDFReader {
  return new NetCDFReader(readFileSync(file));
}

/** A variable's flat values and _FillValue (null when absent), or null when the file lacks it. */
export function ncVar(reader: NetCDFReader, name: string): NcVar | null {
  const v = reader.variables.find((x) => x.name === name);
  if (!v) return null;
  // netcdfjs types `attributes` as an empty tuple; they are name/value pairs.
  const attributes = v.attributes as Array<{ name: string; value: unknown }>;
  const fill = attributes.find((a) => a.name === "_FillValue")?.value;
  return { values: reader.getDataVariable(name).flat() as (string | number)[], fill: typeof fill === "number" ? fill : null };
}

/** The dimension size of a file. */
export function ncDim(reader: NetCDFReader, name: string): number {
  return reader.dimensions.find((d) => d.name === name)!.size;
}

/** Levels of one profile whose raw PRES is not fill, with their N_LEVELS index. */
export function keptLevels(reader: NetCDFReader, prof: number): number[] {
  const pres = ncVar(reader, "PRES")!;
  const nLevels = ncDim(reader, "N_LEVELS");
  const out: number[] = [];
  for (let j = 0; j < nLevels; j++) {
    const v = pres.values[prof * nLevels + j] as number;
    if (v !== pres.fill && !Number.isNaN(v)) out.push(j);
  }
  return out;
}

/** Sum over every profile of a file of its levels whose raw PRES is not fill. */
export function countKeptLevels(file: string): number {
  const r = openNc(file);
  let n = 0;
  for (let p = 0; p < ncDim(r, "N_PROF"); p++) n += keptLevels(r, p).length;
  return n;
}

/** A value at (profile, level) of a 2-D variable, fill as null. */
export function ncValue(reader: NetCDFReader, v: NcVar, prof: number, level: number): number | null {
  const x = v.values[prof * ncDim(reader, "N_LEVELS") + level] as number;
  return x === v.fill || Number.isNaN(x) ? null : x;
}

/** A QC flag at (profile, level) of a 2-D char variable, blank as null. */
export function ncQc(reader: NetCDFReader, v: NcVar, prof: number, level: number): number | null {
  const c = String(v.values[prof * ncDim(reader, "N_LEVELS") + level]);
  return /^[0-9]$/.test(c) ? Number(c) : null;
}

/** A per-profile char (DATA_MODE, JULD_QC, POSITION_QC) as a string. */
export function ncProfileChar(reader: NetCDFReader, name: string, prof: number): string {
  return String(ncVar(reader, name)!.values[prof]);
}

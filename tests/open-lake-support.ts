/**
 * Helpers for the open-lake tests: a lake parsed from the fixtures (and, for
 * BGC, the extra fixtures' S-files), the lake's files per table, and the
 * fixture values read with netcdfjs, independently of the project's parser.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { loadConfig } from "../lib/config.ts";
import { listLocalTableFiles } from "../lib/duckdb.ts";
import { LocalLakeStore } from "../lib/lake/local.ts";
import { createLogger } from "../lib/log.ts";
import { runParse } from "../lib/parse/run.ts";
import { TABLES, type TableName } from "../lake/schema.ts";
import { extraFixturesDir, fixturesDir } from "./support/fixtures.ts";
import { type FixtureFile, fixtureFiles, ncDim, ncVar, openNc } from "./parse-job-support.ts";

/** Lands fixture files (from `dirs`, each optionally limited to some floats) into `root` and parses them. */
export async function parsedLake(root: string, sources: { dir?: string; floats?: string[] }[] = [{}]): Promise<FixtureFile[]> {
  const store = new LocalLakeStore(root);
  const files = sources.flatMap((s) => fixtureFiles(s.floats, s.dir ?? fixturesDir));
  for (const f of files) await store.put(f.key, readFileSync(f.file));
  const config = loadConfig({ env: { LAKE_URL: root, MAX_WORKERS: "1", LOG_LEVEL: "error" }, envFile: "/nonexistent/.env" });
  const stats = await runParse(config, store, createLogger({ level: "error" }));
  if (stats.errors > 0) throw new Error(`parse failed: ${JSON.stringify(stats.error_details)}`);
  await store.close();
  return files;
}

/** The BGC sources: the fixtures' BGC floats and the extra fixtures (S-files of three more floats). */
export const BGC_SOURCES = [{ floats: ["3902131", "6903247", "13857"] }, { dir: extraFixturesDir }];

/** Every table's files under a local lake, sorted. */
export async function tableFiles(root: string): Promise<Record<TableName, string[]>> {
  const out = {} as Record<TableName, string[]>;
  for (const t of TABLES) out[t] = await listLocalTableFiles(root, t);
  return out;
}

/** A value read from a NetCDF variable, or null when it is a fill value (as the Argo manual and the parser define them). */
export function ncNumber(v: number, fill: number | null): number | null {
  if (Number.isNaN(v) || v === fill || v === 99999 || v === -999 || Math.fround(v) === Math.fround(-99.999) || Math.abs(v) >= 9.9e36) return null;
  return v;
}

/** A QC character as a number, null when blank or not a digit. */
export const ncQcChar = (c: unknown): number | null => (/^[0-9]$/.test(String(c)) ? Number(c) : null);

/** One expected value of the old layout: where it is (level key, parameter) and what it is. */
export interface LevelValue {
  key: string;
  parameter: string;
  field: "raw" | "raw_qc" | "adjusted" | "adjusted_qc" | "adjusted_error";
  value: number;
}

/**
 * Every per-level value a core or B profile file holds for its station
 * parameters (raw, QC, adjusted, adjusted QC, adjusted error), at the levels
 * whose core PRES is not fill, read with netcdfjs. Keys are
 * `float/cycle/direction/N_PROF/level`.
 */
export function levelValues(file: string, wmo: string, corePres: (prof: number, level: number) => boolean): LevelValue[] {
  const r = openNc(file);
  const nProf = ncDim(r, "N_PROF");
  const nLevels = ncDim(r, "N_LEVELS");
  const nParam = ncDim(r, "N_PARAM");
  const params = stationParameters(r);
  const cycles = ncVar(r, "CYCLE_NUMBER")!.values as number[];
  const dirs = ncVar(r, "DIRECTION")!.values as string[];
  const out: LevelValue[] = [];
  for (let p = 0; p < nProf; p++) {
    const names = new Set<string>();
    for (let k = 0; k < nParam; k++) {
      const name = String(params[p * nParam + k] ?? "").trim();
      if (name) names.add(name);
    }
    for (const name of names) {
      const variable = r.variables.find((v) => v.name === name);
      // Intermediate parameters over N_VALUES (several values per level) are left out by design.
      if (!variable || variable.dimensions.length !== 2) continue;
      const fields: [LevelValue["field"], string, boolean][] = [
        ["raw", name, false],
        ["raw_qc", `${name}_QC`, true],
        ["adjusted", `${name}_ADJUSTED`, false],
        ["adjusted_qc", `${name}_ADJUSTED_QC`, true],
        ["adjusted_error", `${name}_ADJUSTED_ERROR`, false],
      ];
      for (const [field, varName, isQc] of fields) {
        const v = ncVar(r, varName);
        if (!v) continue;
        for (let l = 0; l < nLevels; l++) {
          if (!corePres(p, l)) continue;
          const x = v.values[p * nLevels + l];
          const value = isQc ? ncQcChar(x) : ncNumber(x as number, v.fill);
          if (value === null) continue;
          out.push({ key: `${wmo}/${cycles[p]}/${String(dirs[p]).trim()}/${p}/${l}`, parameter: name, field, value });
        }
      }
    }
  }
  return out;
}

/**
 * STATION_PARAMETERS as N_PROF x N_PARAM trimmed names. netcdfjs gives char
 * arrays one character per entry; the string length is the variable's last
 * dimension (STRING16 in core files, STRING64 in B and S files).
 */
export function stationParameters(r: ReturnType<typeof openNc>): string[] {
  const v = r.variables.find((x) => x.name === "STATION_PARAMETERS")!;
  const width = r.dimensions[v.dimensions[v.dimensions.length - 1]!]!.size;
  const chars = ncVar(r, "STATION_PARAMETERS")!.values as string[];
  const n = ncDim(r, "N_PROF") * ncDim(r, "N_PARAM");
  return Array.from({ length: n }, (_, i) => chars.slice(i * width, (i + 1) * width).join("").trim());
}

/** Levels of a core file whose raw PRES is not fill, as a predicate on (N_PROF, level). */
export function presPredicate(file: string): (prof: number, level: number) => boolean {
  const r = openNc(file);
  const pres = ncVar(r, "PRES")!;
  const nLevels = ncDim(r, "N_LEVELS");
  return (p, l) => ncNumber(pres.values[p * nLevels + l] as number, pres.fill) !== null;
}

/** The core file of a B-file (BR6903247_001.nc -> R6903247_001.nc, or D... when that one exists). */
export function coreOf(bgc: FixtureFile, all: readonly FixtureFile[]): FixtureFile | undefined {
  const name = bgc.rest.replace(/^profiles\/B[RD]/, "");
  return all.find((f) => f.wmo === bgc.wmo && /^profiles\/[RD]/.test(f.rest) && f.rest.endsWith(name) && f.rest.length === bgc.rest.length - 1);
}

export { join };

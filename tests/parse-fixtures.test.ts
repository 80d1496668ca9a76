/**
 * Every real .nc fixture (gdac and gdac_extra, read in place) parses into a
 * valid result, and what the GDAC index excerpts say about the files (date,
 * position, date_update, parameters and their modes) matches what we read.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

import { beforeAll, describe, expect, it } from "vitest";

import { FloatMetaSchema, ParsedProfileFileSchema, type ParsedFile, type ParsedProfileFile } from "../lib/argo/schema.ts";
import { ParseError } from "../lib/errors.ts";
import { readArgoFile } from "../lib/argo/file.ts";

const FIXTURES = fileURLToPath(new URL("../../shared/fixtures/", import.meta.url));

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : path.endsWith(".nc") ? [path] : [];
  });
}

const files = walk(FIXTURES).sort();
const parsed = new Map<string, ParsedFile | ParseError>();

/** Key by path under `dac/`, as the index files name them. */
const dacPath = (path: string) => relative(FIXTURES, path).replace(/^gdac(_extra)?\/dac\//, "");

beforeAll(async () => {
  for (const f of files) parsed.set(dacPath(f), await readArgoFile(f));
});

function profileFile(path: string): ParsedProfileFile {
  const r = parsed.get(path);
  if (r === undefined || r instanceof ParseError || r.kind !== "profile") throw new Error(`${path} is not a parsed profile file`);
  return r;
}

/** Data rows of an index excerpt: `#` lines are comments, then a CSV header. */
function indexRows(name: string): Array<Record<string, string>> {
  const lines = readFileSync(join(FIXTURES, "gdac", name), "utf8").split("\n").filter((l) => l !== "" && !l.startsWith("#"));
  const header = lines[0]!.split(",");
  return lines.slice(1).map((l) => Object.fromEntries(l.split(",").map((v, i) => [header[i]!, v])));
}

const indexDate = (text: string) => Date.parse(text.replace(/(\d{4})(\d\d)(\d\d)(\d\d)(\d\d)(\d\d)/, "$1-$2-$3T$4:$5:$6Z"));
const argoDate = (ms: number) => new Date(ms).toISOString().replace(/[-:T]/g, "").slice(0, 14);

describe("every fixture file", () => {
  it("is found: 215 in gdac and 9 in gdac_extra", () => {
    expect(files.filter((f) => f.includes("/gdac/")).length).toBe(215);
    expect(files.filter((f) => f.includes("/gdac_extra/")).length).toBe(9);
  });

  it("parses without error and passes its schema", () => {
    const failures = [...parsed].filter(([, r]) => r instanceof ParseError).map(([p, r]) => `${p}: ${(r as ParseError).message}`);
    expect(failures).toEqual([]);
    for (const [path, r] of parsed) {
      const schema = (r as ParsedFile).kind === "meta" ? FloatMetaSchema : ParsedProfileFileSchema;
      expect(schema.safeParse(r).success, path).toBe(true);
    }
  });

  it("gives meta files for *_meta.nc and profile files for all others, with the right file type", () => {
    for (const [path, r] of parsed) {
      const name = path.split("/").at(-1)!;
      const kind = (r as ParsedFile).kind;
      expect(kind, path).toBe(name.endsWith("_meta.nc") ? "meta" : "profile");
      if (kind !== "profile") continue;
      const expected = /^B[RD]/.test(name) ? "bgc" : /^S[RD]/.test(name) || name.endsWith("_Sprof.nc") ? "synthetic" : "core";
      expect((r as ParsedProfileFile).fileType, path).toBe(expected);
    }
  });

  it("keeps every profile's columns as long as its kept levels", () => {
    for (const [path, r] of parsed) {
      if ((r as ParsedFile).kind !== "profile") continue;
      for (const p of (r as ParsedProfileFile).profiles) {
        for (const c of Object.values(p.parameters)) {
          expect([c.raw.length, c.rawQc.length, c.value.length, c.qc.length].every((n) => n === p.nLevels), `${path} ${p.indexInFile} ${c.name}`).toBe(true);
        }
        expect(p.level.length, path).toBe(p.nLevels);
      }
    }
  });

  it("reads multi-cycle files whole: every N_PROF, one primary profile per cycle", () => {
    const prof = profileFile("aoml/5906072/5906072_prof.nc");
    expect(prof.profiles.length).toBe(121);
    expect(prof.profiles.every((p) => p.profileIndex === 0)).toBe(true);
    expect(prof.profiles.filter((p) => p.dataMode === "D").length).toBe(115);
    expect(prof.profiles.filter((p) => p.dataMode === "A").length).toBe(6);
    expect(profileFile("aoml/13857/13857_prof.nc").profiles.length).toBe(140);
    expect(profileFile("coriolis/3902131/3902131_Sprof.nc").profiles.length).toBe(162);
  });
});

describe("agreement with the GDAC index excerpts", () => {
  it("ar_index_global_prof: date, position and date_update of each file's first profile", () => {
    const rows = indexRows("ar_index_global_prof.txt");
    expect(rows.length).toBe(177);
    for (const row of rows) {
      const f = profileFile(row["file"]!);
      const first = f.profiles[0]!;
      if (row["date"] === "") {
        // The GDAC leaves the date empty when JULD is missing or flagged bad (R2901746_001: JULD_QC 4).
        expect(first.time === null || first.timeQc === 3 || first.timeQc === 4, row["file"]).toBe(true);
      } else {
        // The index gives the date to the second; JULD can carry a few ms (e.g. 20:03:00.002).
        const toSecond = Math.round(first.time! / 1000) * 1000;
        expect(Math.abs(toSecond - indexDate(row["date"]!)), row["file"]).toBeLessThanOrEqual(1000);
      }
      if (row["latitude"] === "") {
        expect(first.latitude, row["file"]).toBeNull();
      } else {
        expect(Math.abs(first.latitude! - Number(row["latitude"])), row["file"]).toBeLessThanOrEqual(0.0005 + 1e-9);
        expect(Math.abs(first.longitude! - Number(row["longitude"])), row["file"]).toBeLessThanOrEqual(0.0005 + 1e-9);
      }
      expect(argoDate(f.sources[0]!.dateUpdate!), row["file"]).toBe(row["date_update"]);
    }
  });

  it("bio and synthetic indexes: parameters (union over N_PROF) and, for S-files, parameter_data_mode", () => {
    for (const name of ["argo_bio-profile_index.txt", "argo_synthetic-profile_index.txt"]) {
      for (const row of indexRows(name)) {
        const f = profileFile(row["file"]!);
        const names = f.parameters.map((p) => p.name).concat(f.omittedParameters);
        expect(new Set(names), row["file"]).toEqual(new Set(row["parameters"]!.split(" ")));
        if (name.startsWith("argo_synthetic")) {
          const first = f.profiles[0]!;
          const modes = row["parameters"]!.split(" ").map((p) => first.parameters[p]?.dataMode ?? " ").join("");
          expect(modes, row["file"]).toBe(row["parameter_data_mode"]);
        }
        expect(argoDate(f.sources[0]!.dateUpdate!), row["file"]).toBe(row["date_update"]);
      }
    }
  });

  it("ar_index_global_meta: date_update of each meta file", () => {
    for (const row of indexRows("ar_index_global_meta.txt")) {
      const r = parsed.get(row["file"]!);
      expect(r instanceof ParseError || r === undefined ? null : r.kind, row["file"]).toBe("meta");
      if (r !== undefined && !(r instanceof ParseError) && r.kind === "meta") expect(argoDate(r.dateUpdate!)).toBe(row["date_update"]);
    }
  });
});

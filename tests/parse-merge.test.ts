/**
 * Core + B-file merge on real files (coriolis/6903247, cycle 001, N_PROF 6),
 * and the ParseError when their PRES disagree.
 *
 * Expected values read with Python's netCDF4 1.6.2 (/usr/bin/python3), as in
 * parse-values.test.ts: e.g. BR6903247_001.nc DOXY_ADJUSTED[2, 0] = 208.2613.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { NetCDFReader } from "netcdfjs";
import { beforeAll, describe, expect, it } from "vitest";

import { groupByFloat, mergeCoreAndBgc, mergeCycleFiles } from "../lib/argo/merge.ts";
import { toProfileData } from "../lib/argo/profile-data.ts";
import { NO_QC, ParsedProfileFileSchema, ProfileDataSchema, type ParsedProfileFile } from "../lib/argo/schema.ts";
import { ParseError } from "../lib/errors.ts";
import { parseArgoFile } from "../lib/argo/file.ts";
import { argoProfileFile, writeNetcdf3 } from "./support/netcdf3-writer.ts";

const PROFILES = fileURLToPath(new URL("../../shared/fixtures/gdac/dac/coriolis/6903247/profiles/", import.meta.url));

async function parseBytes(bytes: Uint8Array, path: string): Promise<ParsedProfileFile> {
  const r = await parseArgoFile(bytes, { path });
  if (r instanceof ParseError) throw r;
  if (r.kind !== "profile") throw new Error(`${path} is not a profile file`);
  return r;
}

const parseFixture = (name: string) => parseBytes(new Uint8Array(readFileSync(PROFILES + name)), name);

function merged(core: ParsedProfileFile, bgc: ParsedProfileFile): ParsedProfileFile {
  const m = mergeCoreAndBgc(core, bgc);
  if (m instanceof ParseError) throw m;
  return m;
}

/** The best value and QC of a parameter at an N_LEVELS index. */
function bestAt(file: ParsedProfileFile, profile: number, name: string, level: number): [number | null, number | null] {
  const p = file.profiles[profile]!;
  const j = p.level.indexOf(level);
  const c = p.parameters[name]!;
  return [Number.isNaN(c.value[j]!) ? null : c.value[j]!, c.qc[j] === NO_QC ? null : c.qc[j]!];
}

describe("coriolis/6903247 cycle 001: R + BR, N_PROF 6", () => {
  let core: ParsedProfileFile;
  let bgc: ParsedProfileFile;
  let file: ParsedProfileFile;
  beforeAll(async () => {
    core = await parseFixture("R6903247_001.nc");
    bgc = await parseFixture("BR6903247_001.nc");
    file = merged(core, bgc);
  });

  it("gives one validated file with all six profiles and both sources", () => {
    expect(ParsedProfileFileSchema.safeParse(file).success).toBe(true);
    expect(file.fileType).toBe("core+bgc");
    expect(file.profiles.length).toBe(6);
    expect(file.sources.map((s) => s.path)).toEqual(["R6903247_001.nc", "BR6903247_001.nc"]);
    expect(file.profiles.map((p) => p.nLevels)).toEqual([201, 2, 271, 552, 279, 31]);
    const names = file.parameters.map((p) => p.name);
    for (const n of ["PRES", "TEMP", "PSAL", "DOXY", "CHLA", "BBP700", "CDOM", "NITRATE", "DOWN_IRRADIANCE380", "DOWNWELLING_PAR"]) expect(names).toContain(n);
    expect(names.filter((n) => n === "PRES").length).toBe(1);
    expect(file.omittedParameters).toEqual(["UV_INTENSITY_NITRATE"]);
  });

  it("keeps the core PRES and adds DOXY at the same levels (profile 2, DOXY in mode A)", () => {
    const p = file.profiles[2]!;
    // Core file: PRES[2, 0] = 0.0 with QC 4 (the B file's PRES has no QC).
    expect(p.parameters["PRES"]!.sourceFile).toBe("R6903247_001.nc");
    expect(bestAt(file, 2, "PRES", 0)).toEqual([0, 4]);
    expect(p.parameters["DOXY"]).toMatchObject({ kind: "measured", dataMode: "A", sourceFile: "BR6903247_001.nc" });
    expect(bestAt(file, 2, "DOXY", 0)).toEqual([Math.fround(208.2613), 4]);
    expect(p.parameters["DOXY"]!.raw[0]).toBe(Math.fround(182.28561));
    expect(p.parameters["DOXY"]!.error![0]).toBe(Math.fround(9.667804));
    expect(bestAt(file, 2, "DOXY", 150)).toEqual([Math.fround(233.13301), 1]);
    expect(p.parameters["DOXY"]!.raw[p.level.indexOf(150)]).toBe(Math.fround(204.05515));
    expect(p.parameters["DOXY"]!.stats).toEqual({ count: 232, min: 182.1582794189453, max: 244.92970275878906, mean: expect.closeTo(208.69677583102523, 12) });
    // Intermediate parameters from both files: MTIME (core, double) and TEMP_DOXY (B).
    expect(p.parameters["MTIME"]!.raw[p.level.indexOf(150)]).toBe(-0.016111111111968057);
    expect(bestAt(file, 2, "TEMP_DOXY", 0)).toEqual([Math.fround(25.428), 1]);
  });

  it("adds CHLA (mode A) and BBP700 (mode R) to profile 4", () => {
    const p = file.profiles[4]!;
    expect(p.parameters["CHLA"]!.dataMode).toBe("A");
    expect(p.parameters["BBP700"]!.dataMode).toBe("R");
    expect(bestAt(file, 4, "CHLA", 0)).toEqual([Math.fround(0.0438), 5]);
    expect(bestAt(file, 4, "CHLA", 100)).toEqual([Math.fround(0.1825), 1]);
    expect(bestAt(file, 4, "BBP700", 0)).toEqual([Math.fround(0.00045768582), 2]);
    expect(p.parameters["CHLA"]!.stats).toEqual({ count: 216, min: -0.003650000086054206, max: 0.21899999678134918, mean: expect.closeTo(0.03867986123939907, 12) });
    expect(p.parameters["BBP700"]!.stats).toEqual({ count: 279, min: 0.00016966341354418546, max: 0.002912797499448061, mean: expect.closeTo(0.0003417850659591042, 12) });
    expect(bestAt(file, 5, "NITRATE", 5)).toEqual([Math.fround(3.7862918), 3]);
  });

  it("gives ProfileData with oxygen and chlorophyll from the B file", () => {
    const oxygen = toProfileData(file.profiles[2]!);
    expect(ProfileDataSchema.safeParse(oxygen).success).toBe(true);
    expect(oxygen.measurements[0]).toMatchObject({ depth: 0, oxygen: 208.2613, chlorophyll: null, qc_flags: { depth: 4, oxygen: 4 } });
    expect(oxygen.metadata.source_files).toEqual(["R6903247_001.nc", "BR6903247_001.nc"]);
    const chlorophyll = toProfileData(file.profiles[4]!);
    expect(chlorophyll.measurements[0]).toMatchObject({ chlorophyll: 0.0438, qc_flags: { chlorophyll: 5 } });
    expect(chlorophyll.quality_status).toBe("REAL_TIME");
  });

  it("pairs files by float and cycle, and groups profiles per float", async () => {
    const synthetic = await parseFixture("SR6903247_001.nc");
    const coreD = await parseFixture("R6903247_001D.nc");
    const bgcD = await parseFixture("BR6903247_001D.nc");
    const out = mergeCycleFiles([bgc, synthetic, coreD, core, bgcD]);
    expect(out.every((r) => !(r instanceof ParseError))).toBe(true);
    const files = out as ParsedProfileFile[];
    expect(files.map((f) => f.fileType).sort()).toEqual(["core+bgc", "core+bgc", "synthetic"]);
    const grouped = groupByFloat(files.filter((f) => f.fileType === "core+bgc")).get("6903247")!;
    expect(grouped.map((p) => `${p.cycleNumber}${p.direction}${p.profileIndex}`)).toEqual(["1D0", "1D1", "1D2", "1D3", "1D4", "1A0", "1A1", "1A2", "1A3", "1A4", "1A5"]);
  });
});

describe("a core and a B file that disagree", () => {
  it("give a ParseError naming the cycle, profile and level when one PRES value differs", async () => {
    const bytes = new Uint8Array(readFileSync(PROFILES + "BR6903247_001.nc"));
    // Overwrite PRES[2, 10] (float32, big-endian, N_LEVELS = 552) in memory.
    const pres = new NetCDFReader(bytes).variables.find((v) => v.name === "PRES")!;
    new DataView(bytes.buffer, bytes.byteOffset).setFloat32(pres.offset + (2 * 552 + 10) * 4, 123.5);
    const bgc = await parseBytes(bytes, "BR6903247_001.nc");
    const core = await parseFixture("R6903247_001.nc");
    const result = mergeCoreAndBgc(core, bgc);
    expect(result).toBeInstanceOf(ParseError);
    const err = result as ParseError;
    expect(err.where).toBe("PRES[2, 10]");
    expect(err.context).toMatchObject({ stage: "parse", file: "BR6903247_001.nc", floatId: "6903247" });
    expect(err.message).toContain("cycle 1A, profile 2, level 10: core 0.10000000149011612 dbar, B 123.5 dbar");
  });

  it("give a ParseError when the B file has a level the core file lacks (written with the test writer)", async () => {
    const spec = (pres: number[]) => [{ cycleNumber: 3, parameters: { PRES: { raw: pres, rawQc: "111", adjusted: pres, adjustedQc: "111" } } }];
    const core = await parseBytes(writeNetcdf3(argoProfileFile(spec([5, 10, NaN]))), "R6900001_003.nc");
    const bgcSpec = [{ cycleNumber: 3, parameterDataMode: "RR", parameters: { PRES: { raw: [5, 10, 15] }, DOXY: { raw: [200, 201, 202], rawQc: "111", adjusted: [210, 211, 212], adjustedQc: "111" } } }];
    const bgc = await parseBytes(writeNetcdf3(argoProfileFile(bgcSpec, { bgc: true })), "BR6900001_003.nc");
    const result = mergeCoreAndBgc(core, bgc);
    expect(result).toBeInstanceOf(ParseError);
    expect((result as ParseError).where).toBe("PRES[0, 2]");
    expect((result as ParseError).message).toContain("core fill dbar, B 15 dbar");
  });

  it("give a ParseError when they are not of the same float or N_PROF", async () => {
    const core = await parseFixture("R6903247_001.nc");
    const otherCycle = await parseFixture("BR6903247_001D.nc");
    expect((mergeCoreAndBgc(core, otherCycle) as ParseError).where).toBe("N_PROF");
    expect((mergeCoreAndBgc(core, core) as ParseError).where).toBe("file type");
  });
});

/**
 * Values on chosen levels of real fixture files, against an independent reader.
 *
 * Every expected number here was read with Python's netCDF4 1.6.2 (Debian
 * package python3-netcdf4, run with /usr/bin/python3), e.g.
 *   d = netCDF4.Dataset(path); v = d.variables["TEMP_ADJUSTED"][i, level]
 * float32 values are written as numpy prints them (str(np.float32(v)), the
 * shortest decimal that reads back to the same float32) and compared after
 * Math.fround; fills are masked values there and NaN / no flag here. Times are
 * datetime(1950, 1, 1) + timedelta(days=JULD) rounded to the millisecond;
 * statistics are numpy over levels with a non-fill PRES and best QC 1 or 2.
 * netCDF4 also masks values outside valid_min/valid_max; this parser keeps
 * them (they are data, flagged by QC), so those were read with
 * set_auto_mask(False).
 */
import { fileURLToPath } from "node:url";

import { beforeAll, describe, expect, it } from "vitest";

import { NO_QC, type FloatMeta, type ParsedProfileFile, type Profile } from "../lib/argo/schema.ts";
import { ParseError } from "../lib/errors.ts";
import { readArgoFile } from "../lib/argo/file.ts";

const FIXTURES = fileURLToPath(new URL("../../shared/fixtures/", import.meta.url));

async function parseFixture(path: string): Promise<ParsedProfileFile> {
  const r = await readArgoFile(FIXTURES + path);
  if (r instanceof ParseError) throw r;
  if (r.kind !== "profile") throw new Error(`${path} is not a profile file`);
  return r;
}

async function parseMeta(path: string): Promise<FloatMeta> {
  const r = await readArgoFile(FIXTURES + path);
  if (r instanceof ParseError) throw r;
  if (r.kind !== "meta") throw new Error(`${path} is not a meta file`);
  return r;
}

/** Expected versions of one parameter at one level, as netCDF4 printed them; null is a fill / blank QC. */
interface Expected {
  raw?: string | null;
  rawQc?: number | null;
  adjusted?: string | null;
  adjustedQc?: number | null;
  adjustedError?: string | null;
  /** The best value and QC after the data-mode rule. */
  best: string | null;
  bestQc: number | null;
}

const f32 = (text: string | null) => (text === null ? null : Math.fround(Number(text)));
const asNull = (v: number | undefined) => (v === undefined || Number.isNaN(v) ? null : v);
const asFlag = (v: number | undefined) => (v === undefined || v === NO_QC ? null : v);

/** Checks one parameter of a profile at an N_LEVELS index. */
function expectLevel(profile: Profile, name: string, level: number, e: Expected): void {
  const p = profile.parameters[name];
  expect(p, `${name} in profile ${profile.indexInFile}`).toBeDefined();
  const j = profile.level.indexOf(level);
  expect(j, `level ${level} kept`).toBeGreaterThanOrEqual(0);
  const where = `${name}[${profile.indexInFile}, ${level}]`;
  if (e.raw !== undefined) expect(asNull(p!.raw[j]), `${where} raw`).toBe(f32(e.raw));
  if (e.rawQc !== undefined) expect(asFlag(p!.rawQc[j]), `${where} raw QC`).toBe(e.rawQc);
  if (e.adjusted !== undefined) expect(asNull(p!.adjusted?.[j]), `${where} adjusted`).toBe(f32(e.adjusted));
  if (e.adjustedQc !== undefined) expect(asFlag(p!.adjustedQc?.[j]), `${where} adjusted QC`).toBe(e.adjustedQc);
  if (e.adjustedError !== undefined) expect(asNull(p!.adjustedError?.[j]), `${where} adjusted error`).toBe(f32(e.adjustedError));
  expect(asNull(p!.value[j]), `${where} best`).toBe(f32(e.best));
  expect(asFlag(p!.qc[j]), `${where} best QC`).toBe(e.bestQc);
}

const iso = (ms: number | null) => (ms === null ? null : new Date(ms).toISOString());

describe("bodc/6901929 D6901929_001: N_PROF 2, modes D and R", () => {
  let file: ParsedProfileFile;
  beforeAll(async () => {
    file = await parseFixture("gdac/dac/bodc/6901929/profiles/D6901929_001.nc");
  });

  it("reads both profiles, with their own data modes", () => {
    expect(file.profiles.map((p) => [p.profileIndex, p.dataMode, p.qualityStatus, p.nLevels])).toEqual([
      [0, "D", "DELAYED", 581],
      [1, "R", "REAL_TIME", 6],
    ]);
    const [p0] = file.profiles;
    expect(p0).toMatchObject({ floatId: "6901929", cycleNumber: 1, direction: "A", timeQc: 1, positionQc: 1 });
    expect(iso(p0!.time)).toBe("2018-02-14T08:39:00.000Z");
    expect(p0!.juld).toBe(24881.360416666666);
    expect(p0!.latitude).toBe(53.67167166666667);
    expect(p0!.longitude).toBe(-16.492245);
  });

  it("profile 0 (D): best values are the adjusted ones", () => {
    const p = file.profiles[0]!;
    expectLevel(p, "PRES", 0, { raw: "5.9", rawQc: 1, adjusted: "5.9", adjustedQc: 1, adjustedError: "2.4", best: "5.9", bestQc: 1 });
    expectLevel(p, "TEMP", 0, { raw: "10.079", rawQc: 1, adjusted: "10.079", adjustedQc: 1, adjustedError: "0.002", best: "10.079", bestQc: 1 });
    expectLevel(p, "PSAL", 0, { raw: "35.321", adjusted: "35.321", adjustedError: "0.01", best: "35.321", bestQc: 1 });
    expectLevel(p, "PRES", 100, { raw: "151.7", adjusted: "151.7", best: "151.7", bestQc: 1 });
    expectLevel(p, "TEMP", 100, { raw: "10.084", best: "10.084", bestQc: 1 });
    expectLevel(p, "PSAL", 100, { raw: "35.32", best: "35.32", bestQc: 1 });
    expectLevel(p, "PRES", 580, { best: "2025.8", bestQc: 1 });
    expectLevel(p, "TEMP", 580, { best: "3.393", bestQc: 1 });
    expectLevel(p, "PSAL", 580, { best: "34.931", bestQc: 1 });
    expect(p.parameters["TEMP"]!.error![0]).toBe(Math.fround(0.002));
    expect(p.maxPres).toBe(2025.800048828125);
    expect(p.parameters["PRES"]!.stats).toEqual({ count: 581, min: 5.900000095367432, max: 2025.800048828125, mean: expect.closeTo(777.0168686963605, 9) });
    expect(p.parameters["TEMP"]!.stats).toEqual({ count: 581, min: 3.3929998874664307, max: 10.093000411987305, mean: expect.closeTo(7.4666919318410905, 12) });
    expect(p.parameters["PSAL"]!.stats).toEqual({ count: 581, min: 34.930999755859375, max: 35.32400131225586, mean: expect.closeTo(35.159559292555265, 12) });
  });

  it("profile 1 (R): best values are the raw ones, stats skip QC 3", () => {
    const p = file.profiles[1]!;
    expectLevel(p, "PRES", 0, { raw: "0.1", rawQc: 1, adjusted: null, adjustedQc: null, best: "0.1", bestQc: 1 });
    expectLevel(p, "TEMP", 0, { raw: "10.068", rawQc: 3, adjusted: null, best: "10.068", bestQc: 3 });
    expectLevel(p, "PSAL", 0, { raw: "35.326", rawQc: 3, best: "35.326", bestQc: 3 });
    expectLevel(p, "PRES", 5, { raw: "4.7", best: "4.7", bestQc: 1 });
    expectLevel(p, "TEMP", 5, { raw: "10.078", best: "10.078", bestQc: 1 });
    expectLevel(p, "PSAL", 5, { raw: "35.322", best: "35.322", bestQc: 3 });
    expect(p.parameters["TEMP"]!.error).toBeNull();
    expect(p.parameters["PRES"]!.stats).toEqual({ count: 6, min: 0.10000000149011612, max: 4.699999809265137, mean: expect.closeTo(2.3999999624987445, 12) });
    expect(p.parameters["TEMP"]!.stats).toEqual({ count: 4, min: 10.074000358581543, max: 10.07800006866455, mean: expect.closeTo(10.07575011253357, 12) });
    expect(p.parameters["PSAL"]!.stats).toEqual({ count: 0, min: null, max: null, mean: null });
  });
});

describe("single core files", () => {
  it("coriolis/1900857 D1900857_000D: a descending profile of cycle 0", async () => {
    const [p] = (await parseFixture("gdac/dac/coriolis/1900857/profiles/D1900857_000D.nc")).profiles;
    expect(p).toMatchObject({ floatId: "1900857", cycleNumber: 0, direction: "D", dataMode: "D", nLevels: 69, latitude: -39.926, longitude: 10.809 });
    expect(iso(p!.time)).toBe("2008-02-25T04:03:00.000Z");
    expectLevel(p!, "PRES", 0, { raw: "17.0", adjusted: "17.0", adjustedError: "2.4", best: "17.0", bestQc: 1 });
    expectLevel(p!, "TEMP", 0, { raw: "16.141", best: "16.141", bestQc: 1 });
    expectLevel(p!, "PSAL", 0, { raw: "34.677", adjustedError: "0.02", best: "34.677", bestQc: 1 });
    expectLevel(p!, "PRES", 10, { best: "115.0", bestQc: 1 });
    expectLevel(p!, "TEMP", 10, { best: "10.742", bestQc: 1 });
    expectLevel(p!, "PSAL", 10, { best: "34.669", bestQc: 1 });
  });

  it("aoml/5906072 R5906072_121: mode A in an R file, and no position", async () => {
    const [p] = (await parseFixture("gdac/dac/aoml/5906072/profiles/R5906072_121.nc")).profiles;
    expect(p).toMatchObject({ cycleNumber: 121, dataMode: "A", qualityStatus: "ADJUSTED", latitude: null, longitude: null, positionQc: 9, nLevels: 509 });
    expect(iso(p!.time)).toBe("2023-04-23T18:43:50.002Z");
    // No latitude, no depth: see depthColumn.
    expect(Array.from(p!.depthM).every(Number.isNaN)).toBe(true);
    expectLevel(p!, "PRES", 0, { raw: "4.5", rawQc: 1, adjusted: "4.17", adjustedQc: 1, adjustedError: null, best: "4.17", bestQc: 1 });
    expectLevel(p!, "TEMP", 0, { raw: "22.827", adjusted: "22.827", best: "22.827", bestQc: 1 });
    expectLevel(p!, "PSAL", 0, { raw: "35.664", adjusted: "35.652115", best: "35.652115", bestQc: 1 });
    expectLevel(p!, "PRES", 20, { raw: "44.0", adjusted: "43.67", best: "43.67", bestQc: 1 });
    expectLevel(p!, "PSAL", 20, { raw: "35.747", adjusted: "35.735115", best: "35.735115", bestQc: 1 });
    expect(p!.maxPres).toBe(1998.06005859375);
    expect(p!.parameters["PSAL"]!.stats).toEqual({ count: 509, min: 34.25511169433594, max: 35.749114990234375, mean: expect.closeTo(34.56295918013117, 12) });
    expect(p!.parameters["TEMP"]!.stats).toEqual({ count: 509, min: 2.0822999477386475, max: 22.891000747680664, mean: expect.closeTo(9.57041022585511, 12) });
  });

  it("aoml/5906072 R5906072_116: mode A with a position", async () => {
    const [p] = (await parseFixture("gdac/dac/aoml/5906072/profiles/R5906072_116.nc")).profiles;
    expect(p).toMatchObject({ dataMode: "A", latitude: -29.29, longitude: -99.476 });
    expect(iso(p!.time)).toBe("2023-03-04T19:31:30.002Z");
    expectLevel(p!, "PRES", 30, { raw: "64.0", adjusted: "63.73", best: "63.73", bestQc: 1 });
    expectLevel(p!, "TEMP", 30, { raw: "20.335", best: "20.335", bestQc: 1 });
    expectLevel(p!, "PSAL", 30, { raw: "35.358", adjusted: "35.346115", best: "35.346115", bestQc: 1 });
    expect(p!.depthM[p!.level.indexOf(30)]).toBeCloseTo(63.3, 1);
  });

  it("aoml/13857 R13857_001: a 5-digit WMO number and no PSAL", async () => {
    const file = await parseFixture("gdac/dac/aoml/13857/profiles/R13857_001.nc");
    const [p] = file.profiles;
    expect(file.floatId).toBe("13857");
    expect(file.parameters.map((x) => x.name)).toEqual(["PRES", "TEMP"]);
    expect(Object.keys(p!.parameters)).toEqual(["PRES", "TEMP"]);
    expect(p).toMatchObject({ dataMode: "R", cycleNumber: 1, latitude: 0.267, longitude: -16.032, nLevels: 112 });
    expect(iso(p!.time)).toBe("1997-07-29T20:03:00.002Z");
    expectLevel(p!, "PRES", 0, { raw: "11.9", rawQc: 1, adjusted: null, best: "11.9", bestQc: 1 });
    expectLevel(p!, "TEMP", 0, { raw: "22.235", best: "22.235", bestQc: 1 });
    expectLevel(p!, "PRES", 50, { best: "436.9", bestQc: 1 });
    expectLevel(p!, "TEMP", 50, { best: "8.176", bestQc: 1 });
  });

  it("kma/2901746 R2901746_001: FORMAT_VERSION 2.2", async () => {
    const file = await parseFixture("gdac/dac/kma/2901746/profiles/R2901746_001.nc");
    const [p] = file.profiles;
    expect(file.sources[0]!.formatVersion).toBe("2.2");
    // Version 2.2 files have no PLATFORM_TYPE or VERTICAL_SAMPLING_SCHEME.
    expect(p).toMatchObject({ dataMode: "R", timeQc: 4, platformType: null, verticalSamplingScheme: null, latitude: 37.312, longitude: 130.451, nLevels: 50 });
    expect(iso(p!.time)).toBe("2015-05-28T18:37:20.000Z");
    expectLevel(p!, "PRES", 0, { raw: "20.5", adjusted: "20.5", best: "20.5", bestQc: 1 });
    expectLevel(p!, "TEMP", 0, { raw: "15.365", adjusted: null, best: "15.365", bestQc: 1 });
    expectLevel(p!, "PSAL", 0, { raw: "34.096", best: "34.096", bestQc: 1 });
    expectLevel(p!, "PRES", 49, { best: "800.4", bestQc: 1 });
    expectLevel(p!, "TEMP", 49, { best: "0.516", bestQc: 1 });
    expectLevel(p!, "PSAL", 49, { best: "34.069", bestQc: 1 });
  });
});

describe("BGC and synthetic files", () => {
  it("coriolis/6901494 BD6901494_352 (gdac_extra): parameters of one profile in modes R, A and D", async () => {
    const file = await parseFixture("gdac_extra/dac/coriolis/6901494/profiles/BD6901494_352.nc");
    expect(file.fileType).toBe("bgc");
    expect(file.profiles.map((p) => p.dataMode).join("")).toBe("RRRD");
    expect(Object.keys(file.profiles[0]!.parameters)).toEqual(["PRES"]);
    const p = file.profiles[3]!;
    const modes = Object.fromEntries(Object.values(p.parameters).map((c) => [c.name, [c.kind, c.dataMode]]));
    expect(modes).toEqual({
      PRES: ["intermediate", "R"],
      FLUORESCENCE_CHLA: ["intermediate", "R"],
      BETA_BACKSCATTERING700: ["intermediate", "R"],
      FLUORESCENCE_CDOM: ["intermediate", "R"],
      CHLA: ["measured", "A"],
      BBP700: ["measured", "D"],
      CDOM: ["measured", "R"],
    });
    expectLevel(p, "FLUORESCENCE_CHLA", 0, { raw: "28.0", rawQc: 1, best: "28.0", bestQc: 1 });
    expectLevel(p, "CHLA", 0, { raw: "-0.1533", rawQc: 4, adjusted: "-0.07665", adjustedQc: 4, adjustedError: null, best: "-0.07665", bestQc: 4 });
    // Mode D with a fill adjusted value: the best value is null, not the raw one.
    expectLevel(p, "BBP700", 0, { raw: "0.024735468", rawQc: 4, adjusted: null, adjustedQc: 4, best: null, bestQc: 4 });
    expectLevel(p, "CDOM", 0, { raw: "3.276", rawQc: 4, adjusted: null, adjustedQc: null, best: "3.276", bestQc: 4 });
    expectLevel(p, "CHLA", 100, { raw: "0.5037", adjusted: "0.25185", best: "0.25185", bestQc: 4 });
    expectLevel(p, "CDOM", 100, { best: "1.001", bestQc: 4 });
    const radiometry = file.profiles[2]!;
    expectLevel(radiometry, "DOWN_IRRADIANCE380", 0, { raw: "0.31729797", rawQc: 1, best: "0.31729797", bestQc: 1 });
    expectLevel(radiometry, "DOWNWELLING_PAR", 0, { raw: "844.76935", best: "844.76935", bestQc: 1 });
  });

  it("coriolis/3902131 SD3902131_001: an S-file, modes DDDR from PARAMETER_DATA_MODE", async () => {
    const file = await parseFixture("gdac/dac/coriolis/3902131/profiles/SD3902131_001.nc");
    const [p] = file.profiles;
    expect(file.fileType).toBe("synthetic");
    expect(Object.values(p!.parameters).map((c) => c.dataMode).join("")).toBe("DDDR");
    // S-files have no DATA_MODE: the profile takes PRES's mode.
    expect(p).toMatchObject({ dataMode: "D", nLevels: 780, latitude: -6.63136, longitude: 5.002931666666667 });
    expect(iso(p!.time)).toBe("2018-03-15T12:21:40.000Z");
    expectLevel(p!, "PRES", 0, { raw: "8.1", adjusted: "8.099999", adjustedError: "2.0035", best: "8.099999", bestQc: 1 });
    expectLevel(p!, "TEMP", 0, { raw: "28.87", rawQc: 8, adjusted: "28.87", best: "28.87", bestQc: 8 });
    expectLevel(p!, "PSAL", 0, { raw: "34.982", adjusted: "34.982018", best: "34.982018", bestQc: 3 });
    expectLevel(p!, "DOXY", 0, { raw: "189.706", rawQc: 3, adjusted: null, best: "189.706", bestQc: 3 });
    expectLevel(p!, "PSAL", 300, { raw: "34.83859", adjusted: "34.84535", best: "34.84535", bestQc: 8 });
    expectLevel(p!, "DOXY", 300, { raw: "37.63753", best: "37.63753", bestQc: 3 });
    expect(p!.parameters["DOXY"]!.dPres).toBeInstanceOf(Float32Array);
  });

  it("coriolis/3902131 3902131_Sprof (NetCDF-4/HDF5): values as stored, even outside valid_min", async () => {
    const file = await parseFixture("gdac/dac/coriolis/3902131/3902131_Sprof.nc");
    expect(file.sources[0]!.format).toBe("netcdf4-hdf5");
    const p = file.profiles[10]!;
    expect(p).toMatchObject({ cycleNumber: 10, dataMode: "D", nLevels: 546, latitude: -6.225371666666667, longitude: 5.106825 });
    // netCDF4 masks PRES = -0.2 at level 0 as below valid_min (0); read with set_auto_mask(False) it is
    // -0.2 with QC 1 in PRES and PRES_ADJUSTED. It is what the file holds, so it is kept.
    expectLevel(p, "PRES", 0, { raw: "-0.2", rawQc: 1, adjusted: "-0.2", best: "-0.2", bestQc: 1 });
    expectLevel(p, "TEMP", 0, { raw: "28.473", best: "28.473", bestQc: 3 });
    expect(iso(p.time)).toBe("2018-04-02T12:01:40.000Z");
    expectLevel(p, "PRES", 1, { raw: "0.1", adjusted: "0.1", adjustedError: "2.0000417", best: "0.1", bestQc: 1 });
    expectLevel(p, "TEMP", 1, { raw: "28.473", rawQc: 3, best: "28.473", bestQc: 3 });
    expectLevel(p, "PSAL", 1, { raw: "35.092", adjusted: "35.091995", best: "35.091995", bestQc: 3 });
    expectLevel(p, "DOXY", 1, { raw: null, rawQc: null, best: null, bestQc: null });
    expectLevel(p, "PRES", 201, { adjustedError: "2.0466666", best: "112.0", bestQc: 1 });
    expectLevel(p, "PSAL", 201, { raw: "35.545", adjusted: "35.551426", best: "35.551426", bestQc: 1 });
    expect(file.parameters.find((x) => x.name === "DOXY")).toMatchObject({ units: "micromole/kg", valueType: "float", kind: "measured" });
  });
});

describe("meta files", () => {
  it("coriolis/6903247_meta: a BGC float", async () => {
    const meta = await parseMeta("gdac/dac/coriolis/6903247/6903247_meta.nc");
    expect(meta).toMatchObject({
      floatId: "6903247",
      platformType: "PROVOR_III",
      platformMaker: "NKE",
      floatSerialNo: "OIN-13IT-S4-06",
      firmwareVersion: "3",
      wmoInstType: "836",
      projectName: "ARGO Italy",
      piName: "Pierre-Marie Poulain",
      launchLatitude: 34.21,
      launchLongitude: 26.05,
      launchQc: 1,
      positioningSystems: ["GPS"],
      transSystems: ["IRIDIUM"],
    });
    expect(iso(meta.launchDate)).toBe("2018-10-18T04:40:00.000Z");
    expect(iso(meta.dateUpdate)).toBe("2023-04-26T10:47:44.000Z");
    expect(meta.sensors.length).toBe(13);
    expect(meta.sensors[1]).toMatchObject({ sensor: "CTD_PRES", model: "KISTLER_2900PSIA" });
    expect(meta.parameters.length).toBe(36);
    expect(meta.parameters.slice(0, 5).map((p) => p.parameter)).toEqual(["MTIME", "PRES", "TEMP", "PSAL", "C1PHASE_DOXY"]);
  });

  it("aoml/13857_meta: a 1997 float with float launch position", async () => {
    const meta = await parseMeta("gdac/dac/aoml/13857/13857_meta.nc");
    expect(meta).toMatchObject({ floatId: "13857", platformType: "PALACE", platformMaker: "WRC", floatSerialNo: "28", firmwareVersion: "012797", wmoInstType: "845", piName: "BOB MOLINARI" });
    expect(meta.launchLatitude).toBe(Math.fround(0.007516666781157255));
    expect(meta.launchLongitude).toBe(Math.fround(-15.013999938964844));
    expect(iso(meta.launchDate)).toBe("1997-07-19T14:55:00.000Z");
    expect(meta.sensors.map((s) => s.sensor)).toEqual(["CTD_TEMP", "CTD_PRES"]);
  });
});

/**
 * The test NetCDF-3 writer: what it writes reads back the same through
 * netcdfjs (an independent reader), through our NetCDF reader, and through
 * the Argo parser.
 */
import { NetCDFReader } from "netcdfjs";
import { describe, expect, it } from "vitest";

import { ParseError } from "../lib/errors.ts";
import { parseArgoFile } from "../lib/argo/file.ts";
import { openNetcdf } from "../lib/netcdf/reader.ts";
import type { NetcdfReader } from "../lib/netcdf/types.ts";
import { argoProfileFile, writeNetcdf3, type NcWriterFile } from "./support/netcdf3-writer.ts";

const sample: NcWriterFile = {
  dimensions: [
    ["N", 3],
    ["STRING5", 5],
    ["ODD", 3],
  ],
  attributes: { title: "writer test", version: { type: "int", value: 7 }, scale: 0.5 },
  variables: [
    { name: "B", type: "byte", dimensions: ["N"], data: [-1, 0, 127] },
    { name: "S", type: "short", dimensions: ["N"], attributes: { _FillValue: -32767 }, data: [-32767, 1, 300] },
    { name: "I", type: "int", dimensions: ["N"], data: [-2147483648, 0, 99999] },
    { name: "F", type: "float", dimensions: ["N"], attributes: { _FillValue: 99999, units: "degree_Celsius" }, data: [1.5, 99999, -0.25] },
    { name: "D", type: "double", dimensions: ["N"], attributes: { valid_range: { type: "double", value: [0, 1] } }, data: [0.1, 1e300, -2] },
    { name: "NAMES", type: "char", dimensions: ["N", "STRING5"], data: ["ab", "", "abcde"] },
    { name: "TAIL", type: "char", dimensions: ["ODD"], data: "xy" },
  ],
};

async function open(bytes: Uint8Array): Promise<NetcdfReader> {
  const r = await openNetcdf(bytes, "sample.nc");
  if (r instanceof ParseError) throw r;
  return r;
}

describe("writeNetcdf3", () => {
  const bytes = writeNetcdf3(sample);

  it("writes a file netcdfjs reads back exactly", () => {
    const nc = new NetCDFReader(bytes);
    expect(nc.version).toBe("classic format");
    expect(nc.dimensions).toEqual([
      { name: "N", size: 3 },
      { name: "STRING5", size: 5 },
      { name: "ODD", size: 3 },
    ]);
    expect(nc.getAttribute("title")).toBe("writer test");
    expect(nc.getAttribute("version")).toBe(7);
    // netcdfjs sizes data by the header's vsize, which includes padding to 4 bytes: a 4th short of 0.
    expect(nc.getDataVariable("S")).toEqual([-32767, 1, 300, 0]);
    expect(nc.getDataVariable("I")).toEqual([-2147483648, 0, 99999]);
    expect(nc.getDataVariable("F")).toEqual([1.5, 99999, -0.25]);
    expect(nc.getDataVariable("D")).toEqual([0.1, 1e300, -2]);
    expect(nc.getDataVariable("NAMES").join("")).toBe("ab        abcde");
    expect(nc.getDataVariableAsString("TAIL")).toBe("xy ");
    const f = nc.variables.find((v) => v.name === "F")!;
    expect(f.attributes).toEqual([
      { name: "_FillValue", type: "float", value: 99999 },
      { name: "units", type: "char", value: "degree_Celsius" },
    ]);
  });

  it("writes a file our reader reads back exactly, with typed arrays", async () => {
    const r = await open(bytes);
    expect(r.format).toBe("netcdf3-classic");
    expect([...r.dimensions]).toEqual([
      ["N", 3],
      ["STRING5", 5],
      ["ODD", 3],
    ]);
    expect(r.globalAttributes).toEqual({ title: "writer test", version: 7, scale: 0.5 });
    expect(r.variables.get("D")!.attributes).toEqual({ valid_range: [0, 1] });
    expect(r.variables.get("NAMES")).toMatchObject({ type: "char", dimensions: ["N", "STRING5"], shape: [3, 5] });
    expect(Array.from(r.read("B"))).toEqual([255, 0, 127]);
    expect(r.read("S")).toEqual(Int16Array.of(-32767, 1, 300));
    expect(r.read("I")).toEqual(Int32Array.of(-2147483648, 0, 99999));
    expect(r.read("F")).toEqual(Float32Array.of(1.5, 99999, -0.25));
    expect(r.read("D")).toEqual(Float64Array.of(0.1, 1e300, -2));
    expect(new TextDecoder().decode(r.read("NAMES") as Uint8Array)).toBe("ab        abcde");
    expect(() => r.read("NOPE")).toThrow(ParseError);
    r.close();
  });

  it("declares variables without data for hostile-header tests", () => {
    const header = writeNetcdf3({ dimensions: [["N_LEVELS", 2 ** 31]], variables: [{ name: "PRES", type: "float", dimensions: ["N_LEVELS"] }] });
    const nc = new NetCDFReader(header);
    expect(nc.dimensions[0]).toEqual({ name: "N_LEVELS", size: 2 ** 31 });
    expect(nc.variables[0]!.offset).toBe(header.length);
  });

  it("writes Argo profile files the parser reads back", async () => {
    const file = argoProfileFile(
      [
        {
          platformNumber: "6900001",
          cycleNumber: 12,
          dataMode: "D",
          juld: 25000.5,
          latitude: 30,
          longitude: -20.5,
          parameters: {
            PRES: { raw: [5, 10, 20], rawQc: "111", adjusted: [5.5, 10.5, 20.5], adjustedQc: "112", adjustedError: [2.4, 2.4, 2.4] },
            TEMP: { raw: [15, 14, NaN], rawQc: "14 ", adjusted: [15.1, 14.1, NaN], adjustedQc: "14 ", adjustedError: [0.002, 0.002, NaN] },
          },
        },
        {
          platformNumber: "6900001",
          cycleNumber: 12,
          dataMode: "R",
          juld: 25000.5,
          latitude: 30,
          longitude: -20.5,
          parameters: { PRES: { raw: [1, 2], rawQc: "11" }, TEMP: { raw: [16, 16.5], rawQc: "12" } },
        },
      ],
      { nLevels: 4 },
    );
    const r = await parseArgoFile(writeNetcdf3(file), { path: "D6900001_012.nc" });
    if (r instanceof ParseError || r.kind !== "profile") throw r;
    expect(r.profiles.map((p) => [p.profileIndex, p.dataMode, p.nLevels])).toEqual([
      [0, "D", 3],
      [1, "R", 2],
    ]);
    const [d, rt] = r.profiles;
    expect(new Date(d!.time!).toISOString()).toBe("2018-06-13T12:00:00.000Z");
    expect(Array.from(d!.parameters["PRES"]!.value)).toEqual([5.5, 10.5, 20.5]);
    expect(Array.from(d!.parameters["TEMP"]!.value)).toEqual([Math.fround(15.1), Math.fround(14.1), NaN]);
    expect(d!.parameters["TEMP"]!.stats).toEqual({ count: 1, min: Math.fround(15.1), max: Math.fround(15.1), mean: Math.fround(15.1) });
    expect(Array.from(rt!.parameters["TEMP"]!.value)).toEqual([16, 16.5]);
    expect(r.parameters.find((p) => p.name === "TEMP")).toMatchObject({ units: "unit", longName: "TEMP long name", kind: "measured" });
  });
});

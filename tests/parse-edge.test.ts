/**
 * Edge cases built with the test writer: fill values and in-the-wild markers,
 * N_PROF > 1, odd strings, missing or misshapen variables, and files that are
 * not NetCDF, truncated, overlapping or pointing past their end. Every bad
 * file is a ParseError value naming the file and what is wrong, never a throw.
 */
import { describe, expect, it } from "vitest";

import { NO_QC, type ParsedProfileFile } from "../lib/argo/schema.ts";
import { ParseError } from "../lib/errors.ts";
import { parseArgoFile } from "../lib/argo/file.ts";
import { argoProfileFile, writeNetcdf3, type ArgoProfileSpec, type NcWriterFile } from "./support/netcdf3-writer.ts";

const basic: ArgoProfileSpec = {
  cycleNumber: 5,
  juld: 25000.5,
  latitude: 10,
  longitude: 20,
  parameters: { PRES: { raw: [5, 10, 15], rawQc: "111" }, TEMP: { raw: [20, 19, 18], rawQc: "111" } },
};

async function parse(file: NcWriterFile | Uint8Array, path = "R6900001_005.nc"): Promise<ParsedProfileFile | ParseError> {
  const r = await parseArgoFile(file instanceof Uint8Array ? file : writeNetcdf3(file), { path });
  if (!(r instanceof ParseError) && r.kind !== "profile") throw new Error("expected a profile file");
  return r as ParsedProfileFile | ParseError;
}

async function parseOk(file: NcWriterFile): Promise<ParsedProfileFile> {
  const r = await parse(file);
  if (r instanceof ParseError) throw r;
  return r;
}

async function parseError(file: NcWriterFile | Uint8Array, path = "R6900001_005.nc"): Promise<ParseError> {
  const r = await parse(file, path);
  expect(r).toBeInstanceOf(ParseError);
  const err = r as ParseError;
  expect(err.context.file).toBe(path);
  expect(err.context.stage).toBe("parse");
  return err;
}

/** A writer file with one variable changed by `edit` (or removed when it returns null). */
function editVariable(file: NcWriterFile, name: string, edit: (v: NcWriterFile["variables"][number]) => NcWriterFile["variables"][number] | null): NcWriterFile {
  return { ...file, variables: file.variables.flatMap((v) => (v.name === name ? [edit(v)].filter((x) => x !== null) : [v])) };
}

const values = (column: ArrayLike<number>) => Array.from(column, (v) => (Number.isNaN(v) ? null : v));

describe("fill values", () => {
  it("null the declared fill, NetCDF's default fill and -999 / -99.999; levels without PRES are dropped", async () => {
    const file = await parseOk(
      argoProfileFile([
        {
          ...basic,
          parameters: {
            PRES: { raw: [5, NaN, 15, 20, 25], rawQc: "1 111" },
            TEMP: { raw: [-999, 19, 9.969209968386869e36, -99.999, 17.5], rawQc: "11111" },
          },
        },
      ]),
    );
    const p = file.profiles[0]!;
    expect(Array.from(p.level)).toEqual([0, 2, 3, 4]);
    expect(p.nLevels).toBe(4);
    expect(values(p.parameters["PRES"]!.value)).toEqual([5, 15, 20, 25]);
    expect(values(p.parameters["TEMP"]!.raw)).toEqual([null, null, null, 17.5]);
    expect(p.parameters["TEMP"]!.stats).toEqual({ count: 1, min: 17.5, max: 17.5, mean: 17.5 });
  });

  it("makes a missing position, time and QC null; depth is NaN without latitude", async () => {
    const file = await parseOk(argoProfileFile([{ ...basic, juld: undefined, latitude: undefined, longitude: undefined, positionQc: " " }]));
    const p = file.profiles[0]!;
    expect(p).toMatchObject({ time: null, juld: null, latitude: null, longitude: null, positionQc: null });
    expect(values(p.depthM)).toEqual([null, null, null]);
  });

  it("keeps blank QC as no flag and a mode-D fill adjusted value as null", async () => {
    const file = await parseOk(
      argoProfileFile([
        {
          ...basic,
          dataMode: "D",
          parameters: { PRES: { raw: [5, 10, 15], rawQc: "111", adjusted: [5, 10, NaN], adjustedQc: "1 4" }, TEMP: basic.parameters["TEMP"]! },
        },
      ]),
    );
    const pres = file.profiles[0]!.parameters["PRES"]!;
    expect(values(pres.value)).toEqual([5, 10, null]);
    expect(Array.from(pres.qc)).toEqual([1, NO_QC, 4]);
    // TEMP has no TEMP_ADJUSTED in this file: intermediate, so its raw values stand.
    expect(file.profiles[0]!.parameters["TEMP"]).toMatchObject({ kind: "intermediate", adjusted: null });
  });
});

describe("several profiles", () => {
  it("reads every N_PROF; profile_index counts within a cycle and direction", async () => {
    const same = await parseOk(argoProfileFile([basic, { ...basic, dataMode: "A" }, { ...basic, dataMode: "D" }]));
    expect(same.profiles.map((p) => [p.profileIndex, p.indexInFile, p.dataMode])).toEqual([
      [0, 0, "R"],
      [1, 1, "A"],
      [2, 2, "D"],
    ]);
    // A multi-cycle file (like _prof.nc) holds one primary profile per cycle.
    const cycles = await parseOk(argoProfileFile([1, 2, 2, 3].map((c, i) => ({ ...basic, cycleNumber: c, direction: i === 2 ? "D" : "A" }))));
    expect(cycles.profiles.map((p) => `${p.cycleNumber}${p.direction}${p.profileIndex}`)).toEqual(["1A0", "2A0", "2D0", "3A0"]);
  });

  it("drops a parameter from a profile that neither lists it nor has data for it", async () => {
    const file = argoProfileFile([basic, { ...basic, parameters: { PRES: basic.parameters["PRES"]!, TEMP: { raw: [] } } }]);
    const stations = editVariable(file, "STATION_PARAMETERS", (v) => ({ ...v, data: ["PRES", "TEMP", "PRES", ""] }));
    const parsed = await parseOk(stations);
    expect(Object.keys(parsed.profiles[0]!.parameters)).toEqual(["PRES", "TEMP"]);
    expect(Object.keys(parsed.profiles[1]!.parameters)).toEqual(["PRES"]);
  });
});

describe("odd strings", () => {
  it("trims blanks and NULs and reads UTF-8", async () => {
    const file = argoProfileFile([{ ...basic, platformNumber: " 6900001", platformType: "ARVOR\0\0junk" }]);
    const parsed = await parseOk(editVariable(file, "STATION_PARAMETERS", (v) => ({ ...v, data: ["PRES\0\0\0\0", "  TEMP"] })));
    const p = parsed.profiles[0]!;
    expect(p.floatId).toBe("6900001");
    expect(p.platformType).toBe("ARVOR");
    expect(Object.keys(p.parameters)).toEqual(["PRES", "TEMP"]);
    const utf8 = editVariable(file, "PLATFORM_TYPE", (v) => ({ ...v, data: [String.fromCharCode(...new TextEncoder().encode("Hervé"))] }));
    expect((await parseOk(utf8)).profiles[0]!.platformType).toBe("Hervé");
  });
});

describe("errors are values", () => {
  it("a missing required variable names it", async () => {
    const err = await parseError(editVariable(argoProfileFile([basic]), "JULD", () => null));
    expect(err.where).toBe("JULD");
    expect(err.message).toContain("required variable JULD is missing");
    expect(err.context.floatId).toBe("6900001");
  });

  it("a parameter listed without its variable names it", async () => {
    const file = editVariable(argoProfileFile([basic]), "STATION_PARAMETERS", (v) => ({ ...v, data: ["PRES", "DOXY"] }));
    const err = await parseError(file);
    expect(err.where).toBe("DOXY");
  });

  it("a misshapen level variable, a fill cycle number and a blank direction are each named", async () => {
    const shaped = editVariable(argoProfileFile([basic]), "TEMP", (v) => ({ ...v, dimensions: ["N_LEVELS"], data: [1, 2, 3] }));
    expect((await parseError(shaped)).message).toContain("variable TEMP has shape [3], expected [N_PROF, N_LEVELS] = [1, 3]");
    expect((await parseError(argoProfileFile([{ ...basic, cycleNumber: 99999 }]))).where).toBe("CYCLE_NUMBER[0]");
    expect((await parseError(argoProfileFile([{ ...basic, direction: " " }]))).where).toBe("DIRECTION[0]");
  });

  it("bytes that are not NetCDF: empty, text, CDF version 5", async () => {
    expect((await parseError(new Uint8Array(0), "empty.nc")).where).toBe("magic bytes");
    expect((await parseError(new TextEncoder().encode("<html>not found</html>"), "x.nc")).message).toContain("not a NetCDF file");
    expect((await parseError(Uint8Array.of(0x43, 0x44, 0x46, 0x05, 0, 0, 0, 0), "cdf5.nc")).where).toBe("magic bytes");
  });

  it("an HDF5 file h5wasm cannot open", async () => {
    const bytes = new Uint8Array(64);
    bytes.set([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]);
    const err = await parseError(bytes, "broken_Sprof.nc");
    expect(err.message).toContain("h5wasm cannot open this HDF5 file");
  });

  it("a truncated file: in the header, and in the data", async () => {
    const bytes = writeNetcdf3(argoProfileFile([basic]));
    expect((await parseError(bytes.subarray(0, 100))).where).toBe("header");
    const err = await parseError(bytes.subarray(0, bytes.length - 8));
    expect(err.message).toContain("past the end of the file");
    expect(err.where).toMatch(/^header: variable /);
  });

  it("variables that overlap", async () => {
    const bytes = writeNetcdf3({
      dimensions: [["N", 4]],
      variables: [
        { name: "A", type: "int", dimensions: ["N"], data: [1, 2, 3, 4] },
        { name: "B", type: "int", dimensions: ["N"], data: [5, 6, 7, 8] },
      ],
    });
    // B's begin offset is the last 4 bytes of the header; point it 8 bytes back, into A.
    const view = new DataView(bytes.buffer);
    const headerEnd = bytes.length - 32;
    view.setUint32(headerEnd - 4, view.getUint32(headerEnd - 4) - 8);
    const err = await parseError(bytes, "overlap.nc");
    expect(err.message).toMatch(/overlaps A/);
  });

  it("a file that is NetCDF but not an Argo profile or meta file", async () => {
    const err = await parseError(writeNetcdf3({ dimensions: [["N", 1]], variables: [{ name: "DATA_TYPE", type: "char", dimensions: ["N"], data: "x" }] }), "traj.nc");
    expect(err.where).toBe("DATA_TYPE");
  });
});

describe("meta files built with the writer", () => {
  it("need only PLATFORM_NUMBER", async () => {
    const r = await parseArgoFile(
      writeNetcdf3({
        dimensions: [
          ["STRING8", 8],
          ["STRING32", 32],
          ["DATE_TIME", 14],
        ],
        variables: [
          { name: "DATA_TYPE", type: "char", dimensions: ["STRING32"], data: "Argo meta-data" },
          { name: "PLATFORM_NUMBER", type: "char", dimensions: ["STRING8"], data: "1234567" },
          { name: "LAUNCH_DATE", type: "char", dimensions: ["DATE_TIME"], data: "20200230000000" },
        ],
      }),
      { path: "1234567_meta.nc" },
    );
    expect(r).toMatchObject({ kind: "meta", floatId: "1234567", launchDate: null, sensors: [], platformType: null });
  });
});

/**
 * The pure Argo logic: depth, JULD, dates, QC and string decoding, fill
 * handling, best values, statistics, ProfileData.
 */
import { describe, expect, it } from "vitest";

import { selectBest, qualityStatusOf, usesAdjusted } from "../lib/argo/best.ts";
import {
  decodeDataMode,
  decodeProfileQc,
  decodeQc,
  decodeQcColumn,
  decodeString,
  decodeStrings,
  float32ToShortest,
  juldToEpochMs,
  missingValues,
  nullifyMissing,
  parseArgoDate,
} from "../lib/argo/decode.ts";
import { depthColumn, depthFromPressure } from "../lib/argo/depth.ts";
import { toProfileData } from "../lib/argo/profile-data.ts";
import { NO_QC, ProfileDataSchema, type ParameterColumns, type Profile } from "../lib/argo/schema.ts";
import { goodValueStats } from "../lib/argo/stats.ts";

const ascii = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

describe("depth (UNESCO 1983, Saunders-Fofonoff)", () => {
  it("gives the check value 9712.653 m for 10000 dbar at 30 degrees", () => {
    expect(depthFromPressure(10000, 30)).toBeCloseTo(9712.653, 3);
  });

  it("is symmetric in latitude and zero at the surface", () => {
    expect(depthFromPressure(1000, -45)).toBe(depthFromPressure(1000, 45));
    expect(depthFromPressure(0, 10)).toBe(0);
  });

  it("fills a column, NaN for missing pressure, all NaN without latitude", () => {
    const d = depthColumn(Float32Array.of(10000, NaN, 0), 30);
    expect(d[0]).toBeCloseTo(9712.653, 3);
    expect(Number.isNaN(d[1]!)).toBe(true);
    expect(d[2]).toBe(0);
    expect(Array.from(depthColumn(Float32Array.of(1, 2), null)).every(Number.isNaN)).toBe(true);
  });
});

describe("JULD to UTC", () => {
  it("is exact for half days and whole days", () => {
    // 1950-01-01 + 25000.5 days = 2018-06-13T12:00:00Z (Python datetime + timedelta).
    expect(new Date(juldToEpochMs(25000.5)!).toISOString()).toBe("2018-06-13T12:00:00.000Z");
    expect(juldToEpochMs(0)).toBe(Date.UTC(1950, 0, 1));
    expect(juldToEpochMs(1)).toBe(Date.UTC(1950, 0, 2));
  });

  it("rounds to the millisecond the way Python's timedelta does", () => {
    // datetime(1950,1,1) + timedelta(days=24881.360416666666) = 2018-02-14 08:39:00
    expect(new Date(juldToEpochMs(24881.360416666666)!).toISOString()).toBe("2018-02-14T08:39:00.000Z");
    // JULD of R13857_001: 1997-07-29T20:03:00.002Z, to the ms (Python: round(juld * 86400e3) ms).
    expect(new Date(juldToEpochMs(17376.835416691552)!).toISOString()).toBe("1997-07-29T20:03:00.002Z");
  });

  it("is exact at every minute of a day", () => {
    for (let minute = 0; minute < 1440; minute++) {
      const juld = 20000 + minute / 1440;
      expect(juldToEpochMs(juld)).toBe(Date.UTC(1950, 0, 1) + 20000 * 86_400_000 + minute * 60_000);
    }
  });

  it("gives null for fill and for days beyond a Date", () => {
    expect(juldToEpochMs(null)).toBeNull();
    expect(juldToEpochMs(NaN)).toBeNull();
    expect(juldToEpochMs(1e300)).toBeNull();
  });

  it("honours another reference date", () => {
    expect(juldToEpochMs(1, Date.UTC(2000, 0, 1))).toBe(Date.UTC(2000, 0, 2));
  });
});

describe("Argo dates", () => {
  it("parses YYYYMMDDHHMISS as UTC", () => {
    expect(parseArgoDate("20230426104744")).toBe(Date.UTC(2023, 3, 26, 10, 47, 44));
  });

  it("rejects blanks, garbage and impossible dates", () => {
    expect(parseArgoDate(null)).toBeNull();
    expect(parseArgoDate("2023042610474")).toBeNull();
    expect(parseArgoDate("20230231000000")).toBeNull();
    expect(parseArgoDate("20230101246000")).toBeNull();
  });
});

describe("char and QC decoding", () => {
  it("trims blanks and NULs, null when empty", () => {
    expect(decodeString(ascii("  PRES    "))).toBe("PRES");
    expect(decodeString(ascii("AB\0\0\0"))).toBe("AB");
    expect(decodeString(ascii("    "))).toBeNull();
    expect(decodeString(new Uint8Array(4))).toBeNull();
    expect(decodeString(Uint8Array.of(0x48, 0xc3, 0xa9, 0x20))).toBe("Hé");
    expect(decodeStrings(ascii("PRES    TEMP            "), 8)).toEqual(["PRES", "TEMP", null]);
  });

  it("maps QC characters to flags, blank to none", () => {
    expect(Array.from(decodeQcColumn(ascii("0123456789 X")))).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9, NO_QC, NO_QC]);
    expect(decodeQc(0x31)).toBe(1);
    expect(decodeQc(0x20)).toBeNull();
    expect(decodeQc(undefined)).toBeNull();
  });

  it("reads data modes and profile QC letters", () => {
    expect(["R", "A", "D", " ", "x"].map((c) => decodeDataMode(c.charCodeAt(0)))).toEqual(["R", "A", "D", null, null]);
    expect(["A", "F", "G", " "].map((c) => decodeProfileQc(c.charCodeAt(0)))).toEqual(["A", "F", null, null]);
  });
});

describe("fill values", () => {
  it("nulls the declared fill, NetCDF's default fill and -999 / -99.999 in float32 and float64 data", () => {
    const f32 = Float32Array.of(1.5, 99999, 9.969209968386869e36, -999, -99.999, -99.998);
    nullifyMissing(f32, missingValues(99999));
    expect(Array.from(f32).map((v) => (Number.isNaN(v) ? null : v))).toEqual([1.5, null, null, null, null, Math.fround(-99.998)]);
    const f64 = Float64Array.of(7, 1e36, -99.999);
    nullifyMissing(f64, missingValues(1e36));
    expect(Array.from(f64).map((v) => (Number.isNaN(v) ? null : v))).toEqual([7, null, null]);
  });

  it("gives float32 values their shortest decimal", () => {
    expect(float32ToShortest(Math.fround(12.345))).toBe(12.345);
    expect(float32ToShortest(Math.fround(0.00045768582))).toBe(0.00045768582);
    expect(float32ToShortest(0.1)).toBe(0.1);
  });
});

const qc = (s: string) => decodeQcColumn(ascii(s));

describe("best value", () => {
  const versions = {
    raw: Float32Array.of(1, 2),
    rawQc: qc("11"),
    adjusted: Float32Array.of(1.5, 2.5),
    adjustedQc: qc("12"),
    adjustedError: Float32Array.of(0.1, 0.1),
  };

  it("takes adjusted columns in modes A and D, raw in R", () => {
    expect(selectBest(versions, "D").value).toBe(versions.adjusted);
    expect(selectBest(versions, "A").qc).toBe(versions.adjustedQc);
    expect(selectBest(versions, "A").error).toBe(versions.adjustedError);
    expect(selectBest(versions, "R")).toEqual({ value: versions.raw, qc: versions.rawQc, error: null });
  });

  it("takes raw columns of a parameter without adjusted ones, whatever the mode", () => {
    expect(selectBest({ ...versions, adjusted: null, adjustedQc: null, adjustedError: null }, "D").value).toBe(versions.raw);
  });

  it("maps DATA_MODE to the original quality_status", () => {
    expect([qualityStatusOf("R"), qualityStatusOf("A"), qualityStatusOf("D"), qualityStatusOf(null)]).toEqual(["REAL_TIME", "ADJUSTED", "DELAYED", null]);
    expect([usesAdjusted("R"), usesAdjusted("A"), usesAdjusted("D")]).toEqual([false, true, true]);
  });
});

describe("statistics", () => {
  it("use only QC 1 and 2 and skip fills", () => {
    const stats = goodValueStats(Float32Array.of(1, 2, 100, 4, NaN, 7), qc("1243 1"));
    expect(stats).toEqual({ count: 3, min: 1, max: 7, mean: 10 / 3 });
  });

  it("are null when no value qualifies", () => {
    expect(goodValueStats(Float32Array.of(1, 2), qc("34"))).toEqual({ count: 0, min: null, max: null, mean: null });
  });
});

describe("toProfileData", () => {
  const column = (name: string, values: number[], flags: string): ParameterColumns => {
    const value = Float32Array.from(values);
    const q = qc(flags);
    return {
      name,
      kind: "measured",
      dataMode: "R",
      sourceFile: "R6900001_001.nc",
      profileQc: "A",
      raw: value,
      rawQc: q,
      adjusted: null,
      adjustedQc: null,
      adjustedError: null,
      value,
      qc: q,
      error: null,
      dPres: null,
      stats: goodValueStats(value, q),
    };
  };
  const profile: Profile = {
    floatId: "6900001",
    cycleNumber: 7,
    direction: "A",
    profileIndex: 0,
    indexInFile: 0,
    dataMode: "R",
    qualityStatus: "REAL_TIME",
    juld: 25000.5,
    time: juldToEpochMs(25000.5),
    timeQc: 1,
    timeLocation: null,
    latitude: 30,
    longitude: -20,
    positionQc: 1,
    positioningSystem: "GPS",
    verticalSamplingScheme: "Primary sampling",
    dataCentre: "IF",
    dcReference: null,
    dataStateIndicator: "2B",
    platformType: "ARVOR",
    floatSerialNo: null,
    firmwareVersion: null,
    wmoInstType: "844",
    projectName: null,
    piName: null,
    configMissionNumber: 1,
    nLevels: 2,
    maxPres: Math.fround(10000.1),
    level: Int32Array.of(0, 1),
    depthM: depthColumn(Float32Array.of(5.1, 10000.1), 30),
    parameters: { PRES: column("PRES", [5.1, 10000.1], "11"), TEMP: column("TEMP", [12.345, NaN], "1 ") },
    sources: [{ path: "R6900001_001.nc", format: "netcdf3-classic", dataType: "Argo profile", formatVersion: "3.1", dateCreation: null, dateUpdate: Date.UTC(2023, 0, 2) }],
  };

  it("gives depth in dbar, depth_m, best values as written and their QC", () => {
    const data = toProfileData(profile);
    expect(ProfileDataSchema.parse(data)).toEqual(data);
    expect(data.profile_time).toBe("2018-06-13T12:00:00.000Z");
    expect(data.max_depth).toBe(10000.1);
    expect(data.measurements[0]).toEqual({
      depth: 5.1,
      depth_m: depthFromPressure(Math.fround(5.1), 30),
      temperature: 12.345,
      salinity: null,
      oxygen: null,
      chlorophyll: null,
      qc_flags: { depth: 1, temperature: 1, salinity: null, oxygen: null, chlorophyll: null },
    });
    expect(data.measurements[1]!.temperature).toBeNull();
    expect(data.measurements[1]!.qc_flags.temperature).toBeNull();
    expect(data.metadata).toMatchObject({ direction: "A", profile_index: 0, parameters: ["PRES", "TEMP"], date_update: "2023-01-02T00:00:00.000Z" });
  });
});

/**
 * Blast radius, identity and ranges: a file must be what its name (and so
 * its index row) says, and every time and position that lands in a typed
 * column must be physically possible. A file that fails is quarantined with
 * its reason and never reaches a table or an aggregate (the climatology
 * included); a good file already served stays served through its previous
 * version; every other float, and the float's other files, are exactly as in
 * a clean run. A control file with plausible values lands, so the checks do
 * not simply refuse everything new.
 */
import { describe, expect, test } from "vitest";
import type { PipelineSnapshot } from "./support/compare.ts";
import { type Bed, expectSame, rawSideOf, statsOf, withCleanRun } from "./support/blast.ts";
import { argoProfileFile, writeNetcdf3 } from "./support/netcdf3-writer.ts";

let bed: Bed;
let clean: PipelineSnapshot;

withCleanRun("identity", (b, c) => {
  bed = b;
  clean = c;
});

/** JULD (days since 1950-01-01) of a UTC date. */
const juld = (iso: string) => (Date.parse(iso) - Date.UTC(1950, 0, 1)) / 86_400_000;

/** A one-profile core file of float 13857 with two levels. */
function synthetic(cycle: number, over: { juld?: number; latitude?: number; longitude?: number } = {}): Uint8Array {
  return writeNetcdf3(argoProfileFile([{
    platformNumber: "13857",
    cycleNumber: cycle,
    juld: over.juld ?? juld("2000-05-01T00:00:00Z"),
    latitude: over.latitude ?? 3.5,
    longitude: over.longitude ?? -29.8,
    parameters: { PRES: { raw: [5, 10], rawQc: "11" }, TEMP: { raw: [25.1, 25.0], rawQc: "11" } },
  }]));
}

/** Each hostile file, by its GDAC path, with the reason its quarantine record must give. */
const hostile = (): { path: string; bytes: Uint8Array; where: string; reason: RegExp; keptPrevious?: boolean }[] => [
  { path: "aoml/13857/profiles/R13857_010.nc", bytes: bed.fixture("nmdis/2901623/profiles/R2901623_001.nc"), where: "PLATFORM_NUMBER", reason: /file is float 2901623, expected 13857/ },
  { path: "aoml/13857/profiles/R13857_011.nc", bytes: bed.fixture("aoml/13857/profiles/R13857_003.nc"), where: "CYCLE_NUMBER", reason: /CYCLE_NUMBER 3 \(profile 0\), but the file name says cycle 11/ },
  { path: "aoml/13857/profiles/R13857_003D.nc", bytes: bed.fixture("aoml/13857/profiles/R13857_003.nc"), where: "DIRECTION", reason: /DIRECTION A \(profile 0\), but the file name says descending \(D\)/ },
  { path: "aoml/13857/profiles/R13857_012.nc", bytes: synthetic(12, { juld: juld("2150-01-01T00:00:00Z") }), where: "JULD", reason: /JULD 2150-01-01T00:00:00\.000Z is after tomorrow/ },
  { path: "aoml/13857/profiles/R13857_013.nc", bytes: synthetic(13, { juld: 10 }), where: "JULD", reason: /JULD 1950-01-11T00:00:00\.000Z is before the Argo era/ },
  { path: "aoml/13857/profiles/R13857_014.nc", bytes: synthetic(14, { latitude: 95 }), where: "LATITUDE", reason: /LATITUDE 95 is outside -90\.\.90/ },
  { path: "aoml/13857/profiles/R13857_015.nc", bytes: synthetic(15, { longitude: 200 }), where: "LONGITUDE", reason: /LONGITUDE 200 is outside -180\.\.180/ },
  // A damaged update of a good file: the file served until now stays served.
  { path: "aoml/13857/profiles/R13857_090.nc", bytes: synthetic(90, { juld: juld("2150-06-01T00:00:00Z") }), where: "JULD", reason: /after tomorrow/, keptPrevious: true },
];

describe("a file that is not what its name says, or holds impossible values", () => {
  test("is quarantined with its reason; tables, Postgres (climatology included) and Redis are the clean run's", async () => {
    const files = hostile();
    for (const f of files) await bed.putFile(f.path, f.bytes, "20250101000000");
    expect((await bed.run("sync")).code).toBe(0);
    const parse = await bed.run("parse");
    // Partial (exit 1): the files are quarantined, the rest landed (README "Runs, verdicts and health").
    expect(parse.code, parse.stderr).toBe(1);
    expect(statsOf(parse)).toMatchObject({ quarantined: files.length, errors: 0 });
    for (const f of files) {
      const name = f.path.slice(f.path.lastIndexOf("/") + 1);
      const bytes = await bed.store.get(`quarantine/dac=aoml/wmo=13857/${name}.json`);
      expect(bytes, name).not.toBeNull();
      const rec = JSON.parse(new TextDecoder().decode(bytes!));
      expect(rec, name).toMatchObject({ float_id: "13857", where: f.where, kept_previous: f.keptPrevious ?? false });
      expect(rec.reason, name).toMatch(f.reason);
    }
    const load = await bed.run("load");
    expect(load.code, load.stderr).toBe(0);
    expectSame(await bed.snap(), clean, rawSideOf("13857"));
  });

  test("a control file with plausible values lands beside them", async () => {
    await bed.putFile("aoml/13857/profiles/R13857_016.nc", synthetic(16), "20250101000000");
    expect((await bed.run("sync")).code).toBe(0);
    const parse = await bed.run("parse");
    // Partial (exit 1): the files are quarantined, the rest landed (README "Runs, verdicts and health").
    expect(parse.code, parse.stderr).toBe(1);
    expect(statsOf(parse)).toMatchObject({ quarantined: hostile().length, errors: 0 });
    expect((await bed.run("load")).code).toBe(0);
    const cycles = (await bed.db.pool.query("SELECT cycle_number FROM profiles WHERE float_id = '13857' ORDER BY 1")).rows.map((r) => r.cycle_number);
    expect(cycles).toEqual([1, 2, 3, 16, 90]);
    const n = (await bed.db.pool.query("SELECT max(extract(year FROM time))::int AS y FROM profiles")).rows[0].y;
    expect(n).toBeLessThan(2100);
  });
});

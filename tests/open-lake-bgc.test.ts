/**
 * argopy's user modes for BGC users: in measurements_standard each BGC
 * parameter is judged by its own mode and QC and by the position, time and
 * pressure QC of its level, so DOXY and CHLA on the secondary profiles of
 * float 6903247 (N_PROF 2-4, no TEMP/PSAL there) are kept; the expected
 * counts and values are computed from the NetCDF files with netcdfjs. A float
 * without PSAL (13857) keeps its good TEMP, as argopy does (440 points).
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLakeViews, type DuckSession, openDuckDB } from "../lib/duckdb.ts";
import { tempDir, type TempDir } from "./support/fixtures.ts";
import { coreOf, ncNumber, ncQcChar, parsedLake, stationParameters } from "./open-lake-support.ts";
import { type FixtureFile, ncDim, ncVar, openNc } from "./parse-job-support.ts";

/** One kept BGC value, as argopy's standard rule judges it on B-file levels. */
interface Kept {
  key: string;
  value: number;
}

/** A per-profile char variable (DATA_MODE, JULD_QC, POSITION_QC) at N_PROF p. */
const charAt = (file: ReturnType<typeof openNc>, name: string, p: number) => String(ncVar(file, name)!.values[p]);

/**
 * The values of `param` that argopy's standard mode keeps, from a B-file and
 * its core file: the parameter's PARAMETER_DATA_MODE is A or D, its adjusted
 * value is present with adjusted QC 1, 2, 5 or 8, and the level has
 * POSITION_QC, JULD_QC and the best PRES QC (core DATA_MODE) in 1 or 2.
 */
function keptByStandard(bgc: FixtureFile, core: FixtureFile, param: string): Kept[] {
  const b = openNc(bgc.file);
  const c = openNc(core.file);
  const nProf = ncDim(b, "N_PROF");
  const nLevels = ncDim(b, "N_LEVELS");
  const nParam = ncDim(b, "N_PARAM");
  const station = stationParameters(b);
  const modes = ncVar(b, "PARAMETER_DATA_MODE")!.values as string[];
  const cycles = ncVar(c, "CYCLE_NUMBER")!.values as number[];
  const pres = ncVar(c, "PRES")!;
  const presQc = ncVar(c, "PRES_QC")!.values;
  const presAdjQc = ncVar(c, "PRES_ADJUSTED_QC")!.values;
  const out: Kept[] = [];
  for (let p = 0; p < nProf; p++) {
    let k = -1;
    for (let i = 0; i < nParam; i++) {
      if (station[p * nParam + i] === param) k = i;
    }
    if (k < 0) continue;
    const mode = String(modes[p * nParam + k]);
    if (mode !== "A" && mode !== "D") continue;
    const good = (q: number | null) => q === 1 || q === 2;
    if (!good(ncQcChar(charAt(c, "POSITION_QC", p))) || !good(ncQcChar(charAt(c, "JULD_QC", p)))) continue;
    const coreMode = charAt(c, "DATA_MODE", p);
    const adj = ncVar(b, `${param}_ADJUSTED`)!;
    const adjQc = ncVar(b, `${param}_ADJUSTED_QC`)!.values;
    for (let l = 0; l < nLevels; l++) {
      const i = p * nLevels + l;
      if (ncNumber(pres.values[i] as number, pres.fill) === null) continue;
      if (!good(ncQcChar(coreMode === "R" ? presQc[i] : presAdjQc[i]))) continue;
      const v = ncNumber(adj.values[i] as number, adj.fill);
      const q = ncQcChar(adjQc[i]) ?? 9;
      if (v !== null && [1, 2, 5, 8].includes(q)) out.push({ key: `${cycles[p]}/${p}/${l}`, value: v });
    }
  }
  return out;
}

describe("BGC in argopy's user modes", () => {
  let dir: TempDir;
  let fixtures: FixtureFile[];
  let db: DuckSession;
  beforeAll(async () => {
    dir = await tempDir("open-lake-bgc");
    fixtures = await parsedLake(dir.path, [{ floats: ["6903247", "13857"] }]);
    db = await openDuckDB({ threads: 1 });
    await createLakeViews(db, dir.path);
  }, 240_000);
  afterAll(async () => {
    db?.close();
    await dir?.cleanup();
  });

  for (const param of ["DOXY", "CHLA"]) {
    it(`measurements_standard holds exactly the ${param} values of 6903247 that pass the per-parameter rule`, async () => {
      const expected: Kept[] = [];
      for (const f of fixtures.filter((x) => x.wmo === "6903247" && /^profiles\/B[RD]\d/.test(x.rest))) {
        expected.push(...keptByStandard(f, coreOf(f, fixtures)!, param));
      }
      const p = param.toLowerCase();
      const rows = await db.all(
        `SELECT cycle_number || '/' || profile_index || '/' || level AS key, CAST(${p} AS DOUBLE) AS value, ${p}_qc AS qc, ${p}_mode AS mode, temp
         FROM measurements_standard WHERE float_id = '6903247' AND ${p} IS NOT NULL ORDER BY key`,
      );
      expect(expected.length).toBeGreaterThan(100);
      expect(rows.length).toBe(expected.length);
      const byKey = new Map(expected.map((e) => [e.key, e.value]));
      for (const r of rows) expect(Number(r.value), String(r.key)).toBe(byKey.get(String(r.key)));
      // Edge rows: values on secondary profiles, on levels with no TEMP/PSAL kept.
      expect(rows.filter((r) => !String(r.key).split("/")[1]!.startsWith("0")).length).toBeGreaterThan(0);
      expect(rows.filter((r) => r.temp === null).length).toBeGreaterThan(0);
      expect(rows.every((r) => r.mode === "A" || r.mode === "D")).toBe(true);
    });
  }

  it("drops a BGC value whose own mode is R or whose QC is bad, but keeps the level's other good values", async () => {
    const bad = await db.all(
      `SELECT count(*) AS n FROM bgc_measurements b JOIN measurements_standard s USING (float_id, cycle_number, direction, profile_index, level)
       WHERE b.float_id = '6903247' AND b.parameter = 'DOXY' AND (b.mode = 'R' OR coalesce(b.qc, 9) IN (3, 4, 9)) AND s.doxy IS NOT NULL`,
    );
    expect(Number(bad[0]!.n)).toBe(0);
    // Radiometry has no QC filter (argopy's code): every value of a level that passes is kept.
    const rad = await db.all(
      `SELECT count(*) FILTER (WHERE s.downwelling_par IS NULL) AS dropped, count(*) AS n
       FROM bgc_measurements b JOIN measurements_standard s USING (float_id, cycle_number, direction, profile_index, level)
       WHERE b.float_id = '6903247' AND b.parameter = 'DOWNWELLING_PAR' AND b.value IS NOT NULL`,
    );
    expect(Number(rad[0]!.n)).toBeGreaterThan(0);
    expect(Number(rad[0]!.dropped)).toBe(0);
  });

  it("a float without PSAL (13857) keeps its good TEMP in standard mode: argopy's 440 points", async () => {
    const r = await db.all("SELECT count(*) AS n, count(temp) AS t, count(psal) AS s FROM measurements_standard WHERE float_id = '13857'");
    expect(r[0]).toEqual({ n: "440", t: "440", s: "0" });
  });
});

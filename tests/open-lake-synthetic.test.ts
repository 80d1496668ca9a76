/**
 * S-files: written to the long `synthetic` table, whose counts per parameter
 * for every fixture S-file equal what netCDF4-python (Debian's
 * python3-netcdf4, tests/support/synthetic_counts.py) reads from the same
 * files; a bad S-file is quarantined like any file and the rest lands.
 */
import { execFile } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createLakeViews, openDuckDB } from "../lib/duckdb.ts";
import { LocalLakeStore } from "../lib/lake/local.ts";
import { repoRoot, tempDir, type TempDir } from "./support/fixtures.ts";
import { BGC_SOURCES, parsedLake } from "./open-lake-support.ts";
import type { FixtureFile } from "./parse-job-support.ts";

const run = promisify(execFile);
/** Debian's python3 (with python3-netcdf4; .ci/run installs it) before a PATH one. */
const python = existsSync("/usr/bin/python3") ? "/usr/bin/python3" : "python3";

describe("the synthetic table", () => {
  let dir: TempDir;
  let fixtures: FixtureFile[];
  beforeAll(async () => {
    dir = await tempDir("open-lake-synthetic");
    const store = new LocalLakeStore(dir.path);
    // A truncated S-file for a cycle of its own: it must be quarantined, the others must land.
    const good = readFileSync(`${repoRoot}/../shared/fixtures/gdac/dac/coriolis/3902131/profiles/SD3902131_002.nc`);
    await store.put("raw/dac=coriolis/wmo=3902131/profiles/SD3902131_003.nc", good.subarray(0, Math.floor(good.length / 2)));
    fixtures = await parsedLake(dir.path, [{}, BGC_SOURCES[1]!]);
  }, 240_000);
  afterAll(async () => {
    await dir?.cleanup();
  });

  it("has, per S-file and parameter, the counts netCDF4-python reads", async () => {
    const sFiles = fixtures.filter((f) => /^profiles\/S[RD]\d/.test(f.rest));
    expect(sFiles.length).toBeGreaterThanOrEqual(8);
    const { stdout } = await run(python, [`${repoRoot}/tests/support/synthetic_counts.py`, ...sFiles.map((f) => f.file)], { maxBuffer: 16 << 20 });
    const expected: Record<string, Record<string, number>> = {};
    for (const line of stdout.trim().split("\n")) {
      const r = JSON.parse(line) as { file: string; counts: Record<string, number> };
      // A station parameter with nothing at any level has no rows.
      expected[r.file] = Object.fromEntries(Object.entries(r.counts).filter(([, n]) => n > 0));
    }
    const db = await openDuckDB({ threads: 1 });
    try {
      await createLakeViews(db, dir.path);
      const rows = await db.all("SELECT source_file, parameter, count(*) AS n FROM synthetic GROUP BY ALL ORDER BY ALL");
      const got: Record<string, Record<string, number>> = {};
      for (const r of rows) (got[String(r.source_file)] ??= {})[String(r.parameter)] = Number(r.n);
      expect(got).toEqual(expected);
      expect(Object.keys(got).length).toBe(sFiles.length);
      // Each S-file's levels sit on its own pressure axis, with PRES in every row.
      const nullPres = await db.all("SELECT count(*) AS n FROM synthetic WHERE pres IS NULL");
      expect(nullPres[0]!.n).toBe("0");
    } finally {
      db.close();
    }
  });

  it("quarantines a bad S-file, and the float's other files land", async () => {
    const store = new LocalLakeStore(dir.path);
    const q = (await store.list("quarantine/")).map((o) => o.key);
    expect(q.filter((k) => k.includes("SD3902131_003"))).toHaveLength(1);
    const record = JSON.parse(new TextDecoder().decode(await store.get(q.find((k) => k.includes("SD3902131_003"))!)));
    expect(JSON.stringify(record)).toMatch(/SD3902131_003\.nc/);
    const db = await openDuckDB({ threads: 1 });
    try {
      await createLakeViews(db, dir.path);
      const files = await db.all("SELECT DISTINCT source_file FROM synthetic WHERE float_id = '3902131' ORDER BY 1");
      expect(files.map((r) => r.source_file)).toEqual(["SD3902131_001.nc", "SD3902131_001D.nc", "SD3902131_002.nc"]);
    } finally {
      db.close();
    }
  });
});

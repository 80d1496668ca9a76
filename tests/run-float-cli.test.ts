/**
 * The run-float, run-batch and load jobs as processes: usage, exit code 2 for
 * bad arguments, exit code 1 naming the stage that failed, run-batch's
 * batches, and a load with neither target.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { LocalLakeStore } from "../lib/lake/local.ts";
import { fixturesDir, type TempDir, tempDir } from "./support/fixtures.ts";
import { stagesOf } from "./support/runs.ts";
import { runJobProcess } from "./support/jobs.ts";
import { createTestDatabase, type TestDatabase } from "./support/postgres.ts";

let lake: TempDir;
let db: TestDatabase;

beforeAll(async () => {
  [lake, db] = await Promise.all([tempDir("rfcli"), createTestDatabase("rfcli")]);
});

afterAll(async () => {
  await db?.drop();
  await lake?.cleanup();
});

describe("run-float, run-batch and load as commands", () => {
  test("--help prints each job's usage and exits 0", async () => {
    const results = await Promise.all(["run-float", "run-batch", "load"].map((job) => runJobProcess(job, ["--help"])));
    expect(results.map((r) => r.code)).toEqual([0, 0, 0]);
    expect(results[0].stdout).toMatch(/^Usage: deno task run-float <WMO> \[options\]/);
    expect(results[0].stdout).toContain("--skip-download");
    expect(results[0].stdout).toMatch(/Exit codes: 0 succeeded, or skipped \(nothing to do\); 1 partial/);
    expect(results[1].stdout).toMatch(/^Usage: deno task run-batch/);
    expect(results[2].stdout).toMatch(/^Usage: deno task load/);
  });

  test("bad arguments exit 2 before doing anything", async () => {
    const env = { LAKE_URL: lake.path };
    const cases: [string, string[], RegExp][] = [
      ["run-float", [], /expected exactly one WMO float number, got none/],
      ["run-float", ["123"], /"123" is not a WMO float number \(5 or 7 digits\)/],
      ["run-float", ["2902269", "5900865"], /expected exactly one WMO float number, got 2902269 5900865/],
      ["run-float", ["2902269", "--no-such-flag"], /unknown flag --no-such-flag/],
      ["run-batch", [], /nothing to run: set FLOAT_IDS \(--float\) or ARGO_DAC \(--dac\)/],
      ["load", ["extra"], /unexpected argument "extra"/],
    ];
    const results = await Promise.all(cases.map(([job, args]) => runJobProcess(job, args, { env })));
    results.forEach((r, i) => {
      const [job, args, message] = cases[i];
      expect(r.code, `${job} ${args.join(" ")}: ${r.stderr}`).toBe(2);
      expect(r.stderr).toMatch(message);
    });
    expect(await new LocalLakeStore(lake.path).list("")).toEqual([]);
  });

  test("a float the GDAC does not list fails at sync; with --skip-download and no raw files, at parse", async () => {
    const env = { LAKE_URL: lake.path, GDAC_BASE_URL: fixturesDir };
    const [notListed, noRaw] = await Promise.all([
      runJobProcess("run-float", ["1234567", "--json"], { env }),
      runJobProcess("run-float", ["1234568", "--skip-download"], { env }),
    ]);
    expect(notListed.code).toBe(1);
    expect(notListed.stderr).toMatch(/run-float: sync stage failed for float 1234567: 1 error; first: .*1234567 is not in the GDAC index/);
    expect(stagesOf(JSON.parse(notListed.stdout))).toMatchObject({ verdict: "failed", failed_stage: "sync", parse: null, load: null });
    expect(noRaw.code).toBe(1);
    expect(noRaw.stderr).toContain("run-float: parse stage failed for float 1234568: no raw files in the lake for float(s) 1234568");
    expect(noRaw.stdout).toMatch(/ {2}sync +skipped +--skip-download: not run/);
  });

  test("run-batch runs FLOAT_IDS through the three stages (BATCH_SIZE floats at a time) and load with no target skips both", async () => {
    const env = { LAKE_URL: lake.path, GDAC_BASE_URL: fixturesDir, DATABASE_URL: db.url, BATCH_SIZE: "1", MAX_WORKERS: "1" };
    const batch = await runJobProcess("run-batch", ["--float", "2902696", "--float", "2901780", "--json"], { env });
    expect(batch.code, batch.stderr).toBe(0);
    const run = stagesOf(JSON.parse(batch.stdout));
    expect(run).toMatchObject({ verdict: "succeeded", sync: { total_floats: 2, errors: 0 }, parse: { floats_parsed: 2, errors: 0 }, load: { floats_loaded: 2 } });
    expect(run.record.float_ids).toEqual(["2902696", "2901780"]);
    expect((await db.pool.query("SELECT float_id FROM floats ORDER BY 1")).rows.map((r) => r.float_id)).toEqual(["2901780", "2902696"]);
    expect((await db.pool.query("SELECT job, status FROM job_runs")).rows).toEqual([{ job: "run-batch", status: "succeeded" }]);

    const load = await runJobProcess("load", ["--json"], { env: { LAKE_URL: lake.path } });
    expect(load.code, load.stderr).toBe(0);
    expect(JSON.parse(load.stdout)).toMatchObject({ postgres: "skipped", redis: "skipped" });
    expect(load.stderr).toContain("DATABASE_URL is not set: skipping the Postgres load");
    expect(load.stderr).toContain("REDIS_URL is not set: skipping the Redis hot layer");
  });
});

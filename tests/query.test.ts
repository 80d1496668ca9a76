/**
 * The query job (jobs/query.ts) and the parse job's command line, run as
 * processes: readable table, CSV and JSON on stdout, result files, exit codes,
 * and views that work when no file has a standard column.
 */
import { execFile } from "node:child_process";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../lib/config.ts";
import { createLakeViews, openDuckDB } from "../lib/duckdb.ts";
import { LocalLakeStore } from "../lib/lake/local.ts";
import { createLogger } from "../lib/log.ts";
import { runParse } from "../lib/parse/run.ts";
import { repoRoot, tempDir, type TempDir } from "./support/fixtures.ts";
import { countKeptLevels, fixtureFiles, isCoreProfile, landFixtures } from "./parse-job-support.ts";

const run = promisify(execFile);

/** Runs a job with tsx (or deno); resolves with exit code, stdout and stderr. */
async function job(args: string[], opts: { deno?: boolean; env?: Record<string, string> } = {}) {
  const [cmd, pre] = opts.deno ? ["deno", ["run", "-A"]] : [join(repoRoot, "node_modules/.bin/tsx"), []];
  try {
    const { stdout, stderr } = await run(cmd, [...pre, ...args], {
      cwd: repoRoot,
      env: { ...process.env, LOG_LEVEL: "warn", ...opts.env },
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (err) {
    const e = err as { code: number; stdout: string; stderr: string };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr };
  }
}

describe("query job over a parsed lake", () => {
  let dir: TempDir;
  let rows13857: number;
  beforeAll(async () => {
    dir = await tempDir("query");
    const store = new LocalLakeStore(dir.path);
    // 13857 has PRES and TEMP only: no file in this lake has a psal column.
    await landFixtures(store, ["13857"]);
    rows13857 = fixtureFiles(["13857"]).filter(isCoreProfile).reduce((n, f) => n + countKeptLevels(f.file), 0);
    const config = loadConfig({ env: { LAKE_URL: dir.path, MAX_WORKERS: "1", LOG_LEVEL: "error" }, envFile: "/nonexistent/.env" });
    expect((await runParse(config, store, createLogger({ level: "error" }))).floats_parsed).toBe(1);
  });
  afterAll(async () => {
    await dir?.cleanup();
  });

  it("has every standard column even when no file has it (no psal anywhere)", async () => {
    const db = await openDuckDB({ threads: 1 });
    try {
      const views = await createLakeViews(db, dir.path);
      expect(views.files.measurements).toBe(2);
      const cols = new Map((await db.all("DESCRIBE measurements")).map((r) => [r.column_name, r.column_type]));
      expect(cols.get("psal")).toBe("FLOAT");
      expect(cols.get("psal_qc")).toBe("TINYINT");
      // Fixed schema: BGC parameters are rows of bgc_measurements, pivoted back by measurements_bgc.
      expect(cols.has("doxy_mode")).toBe(false);
      expect(new Map((await db.all("DESCRIBE measurements_bgc")).map((r) => [r.column_name, r.column_type])).get("doxy_mode")).toBe("VARCHAR");
      expect(cols.get("year")).toBe("INTEGER");
      const [r] = await db.all("SELECT count(*) AS n, count(psal) AS s, count(temp) AS t FROM measurements");
      expect(r).toEqual({ n: String(rows13857), s: "0", t: String(rows13857) });
      // The mode views exist too; 13857 has no PSAL and is judged on the QC it has (argopy: 440 points).
      expect((await db.all("SELECT count(*) AS n FROM measurements_standard"))[0]!.n).toBe(String(rows13857));
    } finally {
      db.close();
    }
  });

  it("prints a readable table by default", async () => {
    const r = await job(["jobs/query.ts", "--lake", dir.path, "SELECT float_id, count(*) AS n, count(psal) AS psal FROM measurements GROUP BY ALL"]);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain("│ float_id │");
    expect(r.stdout).toMatch(new RegExp(`│ 13857\\s+│\\s+${rows13857} │\\s+0 │`));
    expect(r.stdout.trim().endsWith("1 row")).toBe(true);
  });

  it("prints CSV and JSON, and writes csv, json and parquet files", async () => {
    const sql = "SELECT cycle_number, count(*) AS n, max(time) AS last FROM measurements GROUP BY ALL ORDER BY 1";
    const csv = await job(["jobs/query.ts", "--lake", dir.path, "--format", "csv", sql]);
    expect(csv.code).toBe(0);
    const lines = csv.stdout.trim().split("\n");
    expect(lines[0]).toBe("cycle_number,n,last");
    expect(lines.slice(1).map((l) => Number(l.split(",")[0]))).toEqual([1, 2, 3, 90]);
    const json = await job(["jobs/query.ts", "--lake", dir.path, "--format", "json", sql]);
    expect(json.code).toBe(0);
    const data = JSON.parse(json.stdout) as Array<{ cycle_number: number; n: number; last: string }>;
    expect(data.map((d) => d.cycle_number)).toEqual([1, 2, 3, 90]);
    expect(data.reduce((a, d) => a + d.n, 0)).toBe(rows13857);
    expect(data[0]!.last).toMatch(/^1997-/);

    for (const ext of ["csv", "json", "parquet"]) {
      const out = join(dir.path, `out.${ext}`);
      const r = await job(["jobs/query.ts", "--lake", dir.path, "--out", out, sql]);
      expect(r.code, r.stderr).toBe(0);
      const db = await openDuckDB({ threads: 1 });
      const reader = ext === "csv" ? "read_csv" : ext === "json" ? "read_json" : "read_parquet";
      const [back] = await db.all(`SELECT count(*) AS c, sum(n) AS n FROM ${reader}('${out}')`);
      db.close();
      expect(Number(back!.c)).toBe(4);
      expect(Number(back!.n)).toBe(rows13857);
    }
    expect((await readFile(join(dir.path, "out.json"), "utf8")).trimStart().startsWith("[")).toBe(true);
  }, 180_000);

  it("fails with exit 1 on bad SQL and exit 2 on bad flags", async () => {
    const bad = await job(["jobs/query.ts", "--lake", dir.path, "SELECT nope FROM measurements"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toMatch(/query failed/);
    const flag = await job(["jobs/query.ts", "--lake", dir.path, "--format", "xml", "SELECT 1"]);
    expect(flag.code).toBe(2);
  });

  it("parse --format json prints ProfileData under Deno, and status lists the parse state", async () => {
    const r = await job(["jobs/parse.ts", "--lake", dir.path, "--format", "json", "--float", "13857"], { deno: true });
    expect(r.code, r.stderr).toBe(0);
    const profiles = JSON.parse(r.stdout) as Array<{ float_id: string; cycle_number: number; measurements: unknown[] }>;
    expect(profiles.map((p) => p.cycle_number)).toEqual([1, 2, 3, 90]);
    expect(profiles.reduce((a, p) => a + p.measurements.length, 0)).toBe(rows13857);
    const status = await job(["jobs/status.ts", "--lake", dir.path, "--json"]);
    expect(status.code).toBe(0);
    const s = JSON.parse(status.stdout) as { parse: { totals: { floats: number; measurement_rows: number; quarantined: number } } };
    expect(s.parse.totals).toMatchObject({ floats: 1, measurement_rows: rows13857, quarantined: 0 });
  }, 60_000);

  it("parses with worker threads under Deno", async () => {
    const lake = await tempDir("parse-deno");
    try {
      await landFixtures(new LocalLakeStore(lake.path), ["2902696", "5900446"]);
      const r = await job(["jobs/parse.ts", "--lake", lake.path, "--max-workers", "2", "--json"], { deno: true });
      expect(r.code, r.stderr).toBe(0);
      expect(JSON.parse(r.stdout)).toMatchObject({ floats_parsed: 2, errors: 0, workers: 2, runtime: "deno" });
    } finally {
      await lake.cleanup();
    }
  }, 60_000);
});

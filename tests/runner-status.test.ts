/**
 * `deno task status --json` as a probe: on a lake with a failed last run, a
 * stale DAC and a backlog it shows all three and exits 1; on a healthy lake
 * it exits 0; on a lake that does not exist, 1.
 */
import { copyFile, cp, mkdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixturesDir, tempDir, type TempDir } from "./support/fixtures.ts";
import { INDEX_FILES } from "./support/https-server.ts";
import { runJobProcess } from "./support/jobs.ts";

const A = "13857"; // aoml
const B = "2902696"; // csio
let work: TempDir;
let mirror: string;

beforeAll(async () => {
  work = await tempDir("status");
  mirror = join(work.path, "gdac");
  await mkdir(mirror);
  for (const name of INDEX_FILES) await copyFile(join(fixturesDir, name), join(mirror, name));
  for (const [dac, wmo] of [["aoml", A], ["csio", B]]) await cp(join(fixturesDir, "dac", dac, wmo), join(mirror, "dac", dac, wmo), { recursive: true });
});
afterAll(async () => {
  await work?.cleanup();
});

const env = (lake: string, extra: Record<string, string> = {}) => ({ GDAC_BASE_URL: mirror, LAKE_URL: lake, FLOAT_IDS: `${A},${B}`, LOG_FORMAT: "json", ...extra });

// deno-lint-ignore no-explicit-any
async function status(lake: string): Promise<{ code: number | null; body: Record<string, any> }> {
  const r = await runJobProcess("status", ["--json"], { env: env(lake) });
  return { code: r.code, body: JSON.parse(r.stdout) };
}

describe("status as a probe", () => {
  it("exits 0 on a healthy lake: every run succeeded, nothing behind the index, nothing in the backlog", async () => {
    const lake = join(work.path, "healthy");
    await mkdir(lake);
    for (const job of ["sync", "parse"]) expect((await runJobProcess(job, [], { env: env(lake) })).code).toBe(0);
    const s = await status(lake);
    expect(s.code, JSON.stringify(s.body.problems)).toBe(0);
    expect(s.body).toMatchObject({ healthy: true, problems: [], backlog: { synced_not_parsed: 0, quarantined: 0, parsed_not_loaded: null } });
    expect(s.body.runs.map((r: { job: string; verdict: string }) => [r.job, r.verdict])).toEqual([["sync", "succeeded"], ["parse", "succeeded"]]);
    expect(s.body.freshness.map((d: { dac: string; stale: boolean; lag_h: number }) => [d.dac, d.stale, d.lag_h])).toEqual([["aoml", false, 0], ["csio", false, 0]]);
  }, 120_000);

  it("shows a failed last run, a stale DAC and a backlog, and exits 1", async () => {
    const lake = join(work.path, "unhealthy");
    await mkdir(lake);
    expect((await runJobProcess("sync", [], { env: env(lake) })).code).toBe(0);
    // Backlog: A is parsed with one file that breaks (quarantined); B is synced and never parsed.
    const broken = join(mirror, "dac/aoml/13857/profiles/R13857_002.nc");
    const good = await readFile(broken);
    await rm(broken);
    await writeFile(broken, good.subarray(0, 300));
    // Stale: the index now says B's cycle 1 was updated in 2026, and the GDAC does not serve it (404).
    const index = join(mirror, "ar_index_global_prof.txt");
    const text = await readFile(index, "utf8");
    const row = text.split("\n").find((l) => l.startsWith(`csio/${B}/profiles/`))!;
    const bumped = row.replace(/,\d{14}$/, ",20260601000000");
    await writeFile(index, text.replace(row, bumped));
    const bPath = join(mirror, "dac", row.split(",")[0]);
    const bBytes = await readFile(bPath);
    await rm(bPath);
    await rm(join(mirror, "ar_index_global_prof.txt.gz"), { force: true });
    try {
      // The touched A file is fetched again (ENABLE_INCREMENTAL_SYNC=false): it lands broken, parse quarantines it.
      const sync = await runJobProcess("sync", [], { env: env(lake, { ENABLE_INCREMENTAL_SYNC: "false" }) });
      expect(sync.code, sync.stderr.slice(-1500)).toBe(1); // partial: B's bumped file is a 404
      const parse = await runJobProcess("parse", ["--float", A], { env: env(lake) });
      expect(parse.code, parse.stderr.slice(-1500)).toBe(1); // partial: one file quarantined
      // The last load failed: Postgres is not there.
      const load = await runJobProcess("load", [], { env: env(lake, { DATABASE_URL: "postgres://postgres@127.0.0.1:1/none" }) });
      expect(load.code).toBe(1);

      const s = await status(lake);
      expect(s.code).toBe(1);
      expect(s.body.healthy).toBe(false);
      const problems = (s.body.problems as string[]).join("\n");
      expect(problems).toMatch(/the latest load run \(\S+\) failed: .*Postgres/);
      expect(problems).toMatch(/DAC csio is stale: the newest landed is \S+, the index has 2026-06-01T00:00:00.000Z/);
      expect(problems).not.toMatch(/DAC aoml is stale/);
      expect(s.body.runs.map((r: { job: string; verdict: string }) => [r.job, r.verdict])).toEqual([["sync", "partial"], ["parse", "partial"], ["load", "failed"]]);
      // B was never parsed; A's broken file is quarantined (so A's raw inputs differ from what its tables were made from too).
      expect(s.body.backlog).toMatchObject({ quarantined: 1 });
      expect(s.body.backlog.synced_not_parsed).toBeGreaterThanOrEqual(1);
      expect(s.body.backlog.examples.synced_not_parsed).toContain(B);
      expect(s.body.backlog.examples.quarantined).toEqual([`raw/dac=aoml/wmo=${A}/profiles/R13857_002.nc`]);
      expect(s.body.freshness.find((d: { dac: string }) => d.dac === "csio")).toMatchObject({ stale: true, newest_in_index: "2026-06-01T00:00:00.000Z" });
    } finally {
      await writeFile(index, text);
      await writeFile(bPath, bBytes);
      await rm(broken);
      await writeFile(broken, good);
    }
  }, 180_000);

  it("exits 1 on a lake that does not exist, and on an empty one", async () => {
    const missing = await runJobProcess("status", ["--json"], { env: env(join(work.path, "no-such-lake")) });
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/the lake .*no-such-lake does not exist/);
    const empty = join(work.path, "empty");
    await mkdir(empty);
    const s = await status(empty);
    expect(s.code).toBe(1);
    expect(s.body.problems[0]).toMatch(/holds nothing/);
  }, 60_000);
});

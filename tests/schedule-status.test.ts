/**
 * The runs part of `status`: the latest run per job from the lake's records
 * and from job_runs, and per DAC the newest date_update landed against the
 * cached index, checked against the fixture GDAC's own date_update values.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../lib/config.ts";
import { handler } from "../lib/handler.ts";
import { LocalLakeStore } from "../lib/lake/local.ts";
import { createLogger } from "../lib/log.ts";
import type { RunRecord } from "../lib/schedule/runs.ts";
import { formatLakeStatus, lakeStatus } from "../lib/schedule/status.ts";
import { fixturesDir, readManifest as readFixtureManifest, tempDir, type TempDir } from "./support/fixtures.ts";
import { createTestDatabase, type TestDatabase } from "./support/postgres.ts";

let db: TestDatabase;
let lake: TempDir;
const env = { PATH: process.env.PATH, LOG_LEVEL: "warn" };
/** Two DACs, three floats. */
const FLOATS = ["13857", "5900446", "2902696"];

beforeAll(async () => {
  db = await createTestDatabase("schedule_status");
  lake = await tempDir("status-lake");
});
afterAll(async () => {
  await db?.drop();
  await lake?.cleanup();
});

describe("schedule status", () => {
  it("shows the latest run per job and per DAC the newest date_update landed against the cached index", async () => {
    const config = { GDAC_BASE_URL: fixturesDir, LAKE_URL: lake.path, DATABASE_URL: db.url };
    const first = await handler({ job: "sync", config, floatIds: FLOATS.slice(0, 2) }, {}, { env }) as RunRecord;
    const second = await handler({ job: "sync", config, floatIds: FLOATS }, {}, { env }) as RunRecord;

    const cfg = loadConfig({ env: { ...config, FLOAT_IDS: FLOATS.join(",") }, envFile: "/nonexistent" });
    const status = await lakeStatus(cfg, new LocalLakeStore(lake.path), createLogger({ level: "error", write: () => {} }));
    expect(status.runs.map((r) => [r.job, r.run_id, r.verdict])).toEqual([["sync", second.run_id, "succeeded"]]);
    expect(status.db_runs!.map((r) => [r.run_id, r.status])).toEqual([[second.run_id, "succeeded"], [first.run_id, "succeeded"]]);
    expect(status.db_error).toBeNull();

    // Expected: the newest DATE_UPDATE among the files sync takes (meta and profiles), per DAC.
    const expected = new Map<string, string>();
    for (const r of readFixtureManifest()) {
      if (!r.wmo || !FLOATS.includes(r.wmo) || /_S?prof\.nc$/.test(r.path) || !r.dateUpdate) continue;
      if ((expected.get(r.dac!) ?? "") < r.dateUpdate) expected.set(r.dac!, r.dateUpdate);
    }
    const iso = (v: string) => `${v.slice(0, 4)}-${v.slice(4, 6)}-${v.slice(6, 8)}T${v.slice(8, 10)}:${v.slice(10, 12)}:${v.slice(12, 14)}.000Z`;
    expect(status.freshness.map((d) => [d.dac, d.floats_landed, d.newest_landed, d.newest_in_index, d.stale])).toEqual([
      ["aoml", 2, iso(expected.get("aoml")!), iso(expected.get("aoml")!), false],
      ["csio", 1, iso(expected.get("csio")!), iso(expected.get("csio")!), false],
    ]);
    expect(status.backlog).toMatchObject({ synced_not_parsed: 3, quarantined: 0 });
    expect(status.healthy).toBe(true);

    const text = formatLakeStatus(status);
    expect(text).toContain(second.run_id);
    expect(text).toMatch(/aoml\s+2 floats\s+landed \d{4}-\d{2}-\d{2}T/);
  });
});

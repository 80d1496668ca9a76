/**
 * The schedule's part of `status`: latest runs from the lake and from
 * job_runs, and the lake's freshness per DAC from the sync manifests,
 * checked against the fixture GDAC's own date_update values.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../lib/config.ts";
import { handler } from "../lib/handler.ts";
import { LocalLakeStore } from "../lib/lake/local.ts";
import type { RunRecord } from "../lib/schedule/runs.ts";
import { formatScheduleStatus, scheduleStatus } from "../lib/schedule/status.ts";
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
  it("shows the latest runs, newest first, and per DAC the newest date_update that landed", async () => {
    const config = { GDAC_BASE_URL: fixturesDir, LAKE_URL: lake.path, DATABASE_URL: db.url };
    const first = await handler({ job: "sync", config, floatIds: FLOATS.slice(0, 2) }, {}, { env }) as RunRecord;
    const second = await handler({ job: "sync", config, floatIds: FLOATS }, {}, { env }) as RunRecord;

    const status = await scheduleStatus(loadConfig({ env: config, envFile: "/nonexistent" }), new LocalLakeStore(lake.path));
    expect(status.runs.map((r) => r.run_id)).toEqual([second.run_id, first.run_id]);
    expect(status.db_runs!.map((r) => [r.run_id, r.status])).toEqual([[second.run_id, "succeeded"], [first.run_id, "succeeded"]]);
    expect(status.db_error).toBeNull();
    expect(status.unreadable_manifests).toEqual([]);

    // Expected: the newest DATE_UPDATE among the files sync takes (meta and profiles), per DAC.
    const expected = new Map<string, string>();
    for (const r of readFixtureManifest()) {
      if (!r.wmo || !FLOATS.includes(r.wmo) || /_S?prof\.nc$/.test(r.path) || !r.dateUpdate) continue;
      if ((expected.get(r.dac!) ?? "") < r.dateUpdate) expected.set(r.dac!, r.dateUpdate);
    }
    expect(status.freshness.map((d) => [d.dac, d.floats, d.newest_date_update])).toEqual([
      ["aoml", 2, expected.get("aoml")],
      ["csio", 1, expected.get("csio")],
    ]);

    const text = formatScheduleStatus(status);
    expect(text).toContain(second.run_id);
    expect(text).toMatch(/aoml\s+2 floats\s+newest \d{4}-\d{2}-\d{2}T/);
  });
});

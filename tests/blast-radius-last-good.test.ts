/**
 * Blast radius, "the last good version stays": a new version of a good raw
 * file that fails to parse does not replace the data already served. Sync
 * lands it (it is what the GDAC serves) and keeps the good copy aside in
 * raw/_previous/; parse quarantines the new copy with its reason, parses the
 * previous copy in its place, and tries the new one again on every run; the
 * Parquet tables, Postgres and Redis stay exactly as after the clean run. A
 * second bad version does not push the good copy out. When a good version
 * arrives, the quarantine record and the previous copy go.
 */
import { createHash } from "node:crypto";
import { beforeAll, describe, expect, test } from "vitest";
import type { PipelineSnapshot } from "./support/compare.ts";
import { type Bed, expectSame, rawSideOf, statsOf, withCleanRun } from "./support/blast.ts";

const PATH = "aoml/13857/profiles/R13857_002.nc";
const RAW = "raw/dac=aoml/wmo=13857/profiles/R13857_002.nc";
const PREVIOUS = "raw/_previous/dac=aoml/wmo=13857/profiles/R13857_002.nc";
const RECORD = "quarantine/dac=aoml/wmo=13857/R13857_002.nc.json";
const sha = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");

let bed: Bed;
let clean: PipelineSnapshot;
let good: Uint8Array;

withCleanRun("last-good", (b, c) => {
  bed = b;
  clean = c;
});

beforeAll(() => {
  good = bed.fixture(PATH);
});

/** Runs sync, parse and load; returns the parse stats. */
async function stages(): Promise<Record<string, unknown>> {
  const sync = await bed.run("sync");
  expect(sync.code, sync.stderr).toBe(0);
  const parse = await bed.run("parse");
  // A quarantined file makes the parse partial (exit 1, named in the run record); the float's data is
  // served from its previous version.
  expect(parse.code, parse.stderr).toBe((statsOf(parse).quarantined as number) > 0 ? 1 : 0);
  const load = await bed.run("load");
  expect(load.code, load.stderr).toBe(0);
  return statsOf(parse);
}

async function record(): Promise<Record<string, unknown> | null> {
  const bytes = await bed.store.get(RECORD);
  return bytes ? JSON.parse(new TextDecoder().decode(bytes)) : null;
}

describe("a damaged update of a good file", () => {
  test("is quarantined with its reason; the previous bytes, Parquet rows, Postgres rows and Redis keys stay", async () => {
    const damaged = good.slice(0, Math.floor(good.length * 0.6));
    await bed.putFile(PATH, damaged, "20250101000000");
    const parse = await stages();
    expect(parse.quarantined).toBe(1);

    // The raw zone holds what the GDAC serves, and the good copy aside.
    expect(sha((await bed.store.get(RAW))!)).toBe(sha(damaged));
    expect(sha((await bed.store.get(PREVIOUS))!)).toBe(sha(good));
    const rec = await record();
    expect(rec).toMatchObject({ file: RAW, float_id: "13857", kept_previous: true, sha256: sha(damaged), size: damaged.byteLength });
    expect(String(rec!.reason)).toMatch(/past the end|file has|truncated|declares/);

    // Everything served is exactly the clean run's: this float's rows included.
    expectSame(await bed.snap(), clean, rawSideOf("13857"));
  });

  test("is tried again on the next run, and stays quarantined while it is bad", async () => {
    const parse = statsOf(await bed.run("parse"));
    expect(parse).toMatchObject({ floats_parsed: 1, floats_skipped: 4, quarantined: 1, errors: 0 });
    expect((await record())?.kept_previous).toBe(true);
    expectSame(await bed.snap(), clean, rawSideOf("13857"));
  });

  test("a second bad version does not push the good copy out", async () => {
    const garbage = new Uint8Array(good.length);
    garbage.set([0x43, 0x44, 0x46, 0x01]); // "CDF\x01" and nothing sensible after it
    await bed.putFile(PATH, garbage, "20250201000000");
    await stages();
    expect(sha((await bed.store.get(RAW))!)).toBe(sha(garbage));
    expect(sha((await bed.store.get(PREVIOUS))!)).toBe(sha(good));
    expect(await record()).toMatchObject({ kept_previous: true, sha256: sha(garbage) });
    expectSame(await bed.snap(), clean, rawSideOf("13857"));
  });

  test("a good version clears the quarantine record and the previous copy", async () => {
    await bed.putFile(PATH, good, "20250301000000");
    const parse = await stages();
    expect(parse.quarantined).toBe(0);
    expect(await record()).toBeNull();
    expect(await bed.store.get(PREVIOUS)).toBeNull();
    // Only the manifest (the new date_update) and the cached index differ from the clean run.
    expectSame(await bed.snap(), clean, [/^raw\/_manifest\/dac=aoml\/wmo=13857\.json$/, /^raw\/_index\//]);
  });
});

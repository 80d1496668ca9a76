/**
 * Blast radius, removal guards of parse and load: evidence that looks like
 * "everything vanished" is refused before anything is removed.
 *
 * - parse and load pointed at a lake path that does not exist: exit 1, one
 *   line naming the path; nothing is created, Postgres and Redis keep every
 *   float.
 * - load pointed at an existing but empty lake, and parse of a lake whose raw
 *   zone is gone while its parse states remain: exit 1 naming the lake and
 *   the numbers ("would remove 5 of 5"); nothing changes.
 * - a withdrawal beyond REMOVAL_MAX_FLOATS is refused
 *   the same way, and goes through with --allow-removals; a small one
 *   goes through by itself.
 */
import { existsSync } from "node:fs";
import { mkdir, rename, rm } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import type { PipelineSnapshot } from "./support/compare.ts";
import { type Bed, BED_FLOATS, expectSame, lastLine, statsOf, withCleanRun } from "./support/blast.ts";

let bed: Bed;
let clean: PipelineSnapshot;

withCleanRun("missing-lake", (b, c) => {
  bed = b;
  clean = c;
});

describe("a lake path that does not exist", () => {
  test("load refuses it and deletes nothing from Postgres or Redis", async () => {
    const missing = join(bed.root.path, "no-such-lake");
    const r = await bed.run("load", { LAKE_URL: missing });
    expect(r.code).toBe(1);
    expect(lastLine(r.stderr)).toMatch(new RegExp(`^load: load refused: the lake ${missing} does not exist`));
    expect(existsSync(missing)).toBe(false);
    expectSame(await bed.snap(), clean);
    expect((await bed.db.pool.query("SELECT count(*)::int AS n FROM floats")).rows[0].n).toBe(5);
  });

  test("parse refuses it instead of reporting 0 floats", async () => {
    const missing = join(bed.root.path, "no-such-lake");
    const r = await bed.run("parse", { LAKE_URL: missing });
    expect(r.code).toBe(1);
    expect(lastLine(r.stderr)).toMatch(new RegExp(`^parse: parse refused: the lake ${missing} does not exist`));
    expect(r.stdout).not.toMatch(/floats_parsed/);
    expect(existsSync(missing)).toBe(false);
  });
});

describe("an empty lake where the state says there was data", () => {
  test("load of an existing empty lake removes nothing and names the numbers", async () => {
    const empty = join(bed.root.path, "empty-lake");
    await mkdir(empty);
    const r = await bed.run("load", { LAKE_URL: empty });
    expect(r.code).toBe(1);
    expect(lastLine(r.stderr)).toMatch(/load refused: it would remove 5 of 5 loaded floats \(100%\) in Postgres\/Redis \(lake .*empty-lake\) because the lake no longer has them; that is every one of them/);
    expectSame(await bed.snap(), clean);
  });

  test("parse of a lake whose raw zone is gone keeps every Parquet file", async () => {
    const raw = join(bed.lake, "raw");
    const aside = join(bed.root.path, "raw-aside");
    await rename(raw, aside);
    try {
      const r = await bed.run("parse");
      expect(r.code).toBe(1);
      expect(lastLine(r.stderr)).toMatch(new RegExp(`parse refused: it would remove 5 of 5 parsed floats \\(100%\\) in ${bed.lake} because their raw files are gone`));
      const load = await bed.run("load");
      expect(load.code, load.stderr).toBe(0);
    } finally {
      await rename(aside, raw);
    }
    expectSame(await bed.snap(), clean);
  });
});

describe("a withdrawal of many floats at once", () => {
  const gone = ["6901929", "3902131", "4902252"] as const;
  const folder = (wmo: (typeof gone)[number]) => join(bed.lake, "raw", `dac=${BED_FLOATS[wmo]}`, `wmo=${wmo}`);

  test("beyond REMOVAL_MAX_FLOATS is refused, then goes through when allowed", async () => {
    const limits = { REMOVAL_MAX_FLOATS: "2" };
    const folders = gone.map(folder);
    const asides = gone.map((wmo) => join(bed.root.path, `aside-${wmo}`));
    for (let i = 0; i < gone.length; i++) await rename(folders[i]!, asides[i]!);
    try {
      const refused = await bed.run("parse", limits);
      expect(refused.code).toBe(1);
      expect(lastLine(refused.stderr)).toMatch(/would remove 3 of 5 parsed floats \(60%\) .* more than REMOVAL_MAX_FLOATS=2\. Nothing was removed; if this is intended, run again with --allow-removals/);
      expectSame(await bed.snap(), clean, [/^raw\/dac=/]);

      const allowed = await bed.run("parse", limits, ["--allow-removals"]);
      expect(allowed.code, allowed.stderr).toBe(0);
      expect(statsOf(allowed)).toMatchObject({ floats_removed: 3 });
      // The load is guarded on its own: refused first, then allowed.
      const loadRefused = await bed.run("load", limits);
      expect(loadRefused.code).toBe(1);
      expect(lastLine(loadRefused.stderr)).toMatch(/would remove 3 of 5 loaded floats/);
      const loadAllowed = await bed.run("load", { ...limits, ALLOW_REMOVALS: "true" });
      expect(loadAllowed.code, loadAllowed.stderr).toBe(0);
      expect(statsOf(loadAllowed)).toMatchObject({ floats_removed: 3 });
      const left = (await bed.db.pool.query("SELECT float_id FROM floats ORDER BY 1")).rows.map((r) => r.float_id);
      expect(left).toEqual(["13857", "2901623"]);
    } finally {
      for (let i = 0; i < gone.length; i++) {
        await rm(folders[i]!, { recursive: true, force: true });
        await rename(asides[i]!, folders[i]!);
      }
    }
  });

  test("a small withdrawal goes through by itself, and putting the files back restores the clean state", async () => {
    // Back to all five (the earlier test's files are back in the raw zone).
    expect((await bed.run("parse")).code).toBe(0);
    expect((await bed.run("load")).code).toBe(0);
    expectSame(await bed.snap(), clean, [/^parquet\/_state\//]);

    const folder = join(bed.lake, "raw", "dac=nmdis", "wmo=2901623");
    const aside = join(bed.root.path, "aside-2901623");
    await rename(folder, aside);
    try {
      const parse = await bed.run("parse");
      expect(parse.code, parse.stderr).toBe(0);
      expect(statsOf(parse)).toMatchObject({ floats_removed: 1 });
      const load = await bed.run("load");
      expect(load.code, load.stderr).toBe(0);
      expect(statsOf(load)).toMatchObject({ floats_removed: 1 });
    } finally {
      await rename(aside, folder);
    }
  });
});

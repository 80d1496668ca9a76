/**
 * The removal guard of the sync job (a real process, HTTPS GDAC serving the
 * fixture mirror): withdrawals are legitimate but bounded. A run whose index
 * would move more than REMOVAL_MAX_SHARE or REMOVAL_MAX_FILES of the files
 * it holds to removed/ stops before moving any (exit 1, the numbers named),
 * every float's raw files stay exactly as a clean run left them; the same
 * run with --allow-removals moves exactly the withdrawn files and nothing
 * else; a small withdrawal passes without being told.
 */
import { existsSync, readdirSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type LakeEntry } from "./support/compare.ts";
import { type TempDir } from "./support/fixtures.ts";
import { fixtureIndex, lakeDir, rawByFloat, runSync, servedMirror, type ServedMirror, without } from "./support/blast-radius.ts";

const PROF = "ar_index_global_prof.txt";
/** Let the index itself pass (its plausibility is tests/blast-radius-index.test.ts's): only the removal guard is judged here. */
const INDEX_OPEN = { INDEX_MAX_SHRINK: "1" };

let clean: Map<string, Record<string, LakeEntry>>;
const temps: TempDir[] = [];
const mirrors: ServedMirror[] = [];

async function syncedLake(name: string): Promise<{ m: ServedMirror; dir: string }> {
  const m = await servedMirror();
  mirrors.push(m);
  const t = await lakeDir(name);
  temps.push(t);
  const r = await runSync(m.srv, t.path);
  expect(r.code, r.stderr.slice(-2000)).toBe(0);
  return { m, dir: t.path };
}

/** The profile index without the rows of one float (csiro/5900865: 80 of its 177 rows). */
async function withoutFloat(prefix: string): Promise<string> {
  return (await fixtureIndex(PROF)).split("\n").filter((l) => !l.startsWith(prefix)).join("\n");
}

function removedFiles(dir: string): string[] {
  const root = join(dir, "removed");
  if (!existsSync(root)) return [];
  return (readdirSync(root, { recursive: true }) as string[]).filter((p) => p.endsWith(".nc")).map((p) => p.replace(/^[^/]+\//, "")).sort();
}

beforeAll(async () => {
  const { dir } = await syncedLake("clean");
  clean = await rawByFloat(dir);
});

afterAll(async () => {
  for (const m of mirrors) await m.stop();
  for (const t of temps) await t.cleanup();
});

describe("a run that would withdraw too much stops before moving any file", { timeout: 180_000 }, () => {
  test("80 of 200 files leaving the index (over REMOVAL_MAX_SHARE=0.1): stopped with the numbers, nothing moved; --allow-removals moves exactly those 80", async () => {
    const { m, dir } = await syncedLake("share");
    const held = Object.keys(without(clean)).filter((k) => k.endsWith(".nc")).length;
    const gone = Object.keys(clean.get("5900865")!).filter((k) => k.endsWith(".nc") && !k.endsWith("_meta.nc"));
    expect(gone.length).toBe(80);
    await m.write(PROF, await withoutFloat("csiro/5900865/"));

    const r = await runSync(m.srv, dir, INDEX_OPEN);
    expect(r.code, r.stderr.slice(-2000)).toBe(1);
    expect(r.stats.error_details).toEqual([{
      float_id: null,
      file: null,
      stage: "remove",
      message: `removal guard: expected at most REMOVAL_MAX_FILES=1000 files or REMOVAL_MAX_SHARE=0.1 of the ${held} held to leave the index, found 80 (1 floats: 5900865): ` +
        "none moved to removed/; check the GDAC index, then run again with --allow-removals (ALLOW_REMOVALS=true)",
    }]);
    expect(r.stats.files_removed).toBe(0);
    expect(removedFiles(dir)).toEqual([]);
    expect(without(await rawByFloat(dir))).toEqual(without(clean));

    // Run again: still stopped (the index is unchanged), until told.
    expect((await runSync(m.srv, dir, INDEX_OPEN)).code).toBe(1);
    expect(removedFiles(dir)).toEqual([]);

    const allowed = await runSync(m.srv, dir, INDEX_OPEN, ["--allow-removals"]);
    expect(allowed.code, allowed.stderr.slice(-2000)).toBe(0);
    expect(allowed.stats).toMatchObject({ files_removed: 80, errors: 0, files_downloaded: 0 });
    expect(removedFiles(dir)).toEqual(gone.sort());
    const after = await rawByFloat(dir);
    expect(without(after, "5900865")).toEqual(without(clean, "5900865"));
    // The float keeps only its meta file in raw/; its manifest marks the 80 as removed.
    expect(Object.keys(after.get("5900865")!).filter((k) => k.endsWith(".nc"))).toEqual(["raw/dac=csiro/wmo=5900865/5900865_meta.nc"]);
  });

  test("REMOVAL_MAX_FILES: 57 files leaving the index with a cap of 50 stop the run; ALLOW_REMOVALS=true lets it through", async () => {
    const { m, dir } = await syncedLake("count");
    await m.write(PROF, await withoutFloat("incois/2902269/"));
    const env = { ...INDEX_OPEN, REMOVAL_MAX_SHARE: "1", REMOVAL_MAX_FILES: "50" };
    const r = await runSync(m.srv, dir, env);
    expect(r.code).toBe(1);
    expect(r.errorLines).toContainEqual(expect.stringMatching(/^removal guard: expected at most REMOVAL_MAX_FILES=50 files or REMOVAL_MAX_SHARE=1 of the \d+ held to leave the index, found 57 \(1 floats: 2902269\): none moved/));
    expect(removedFiles(dir)).toEqual([]);
    expect(without(await rawByFloat(dir))).toEqual(without(clean));
    const allowed = await runSync(m.srv, dir, { ...env, ALLOW_REMOVALS: "true" });
    expect(allowed.code).toBe(0);
    expect(allowed.stats.files_removed).toBe(57);
    expect(without(await rawByFloat(dir), "2902269")).toEqual(without(clean, "2902269"));
  });

  test("a small withdrawal (one file) passes the guard without being told", async () => {
    const { m, dir } = await syncedLake("small");
    await m.write(PROF, await withoutFloat("aoml/13857/profiles/R13857_090.nc"));
    const r = await runSync(m.srv, dir);
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    expect(r.stats.files_removed).toBe(1);
    expect(removedFiles(dir)).toEqual(["raw/dac=aoml/wmo=13857/profiles/R13857_090.nc"]);
    expect(without(await rawByFloat(dir), "13857")).toEqual(without(clean, "13857"));
  });
});

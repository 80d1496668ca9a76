/**
 * Blast radius of a bad index file: the sync job (a real process) against
 * an HTTPS GDAC serving the fixture mirror with one index file damaged. Each
 * hostile index is refused whole with a one-line reason naming the file,
 * what was expected and what was found (exit 1), the cached copy stays the
 * plan's source, nothing is moved to removed/, and every other float's raw
 * files and manifests are exactly what a clean run gives.
 */
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type LakeEntry } from "./support/compare.ts";
import { fixturesDir, type TempDir } from "./support/fixtures.ts";
import { fixtureIndex, lakeDir, rawByFloat, runSync, servedMirror, type ServedMirror, without } from "./support/blast-radius.ts";

const PROF = "ar_index_global_prof.txt";
const PROF_ROWS = 177;
const FLOATS = 15;

let clean: Map<string, Record<string, LakeEntry>>;
const temps: TempDir[] = [];
const mirrors: ServedMirror[] = [];

async function lake(name: string): Promise<string> {
  const t = await lakeDir(name);
  temps.push(t);
  return t.path;
}

async function mirror(): Promise<ServedMirror> {
  const m = await servedMirror();
  mirrors.push(m);
  return m;
}

/** A lake that holds a clean sync of the mirror (so it has a cached copy of every index). */
async function syncedLake(m: ServedMirror, name: string): Promise<string> {
  const dir = await lake(name);
  const r = await runSync(m.srv, dir);
  expect(r.code, r.stderr.slice(-2000)).toBe(0);
  return dir;
}

/** The profile index's comment lines and CSV header, without any row. */
async function headerOnly(): Promise<string> {
  return (await fixtureIndex(PROF)).split("\n").filter((l) => l.startsWith("#") || l.startsWith("file,")).join("\n") + "\n";
}

/** The cached copy of the profile index in a lake is still the fixture's. */
function cachedIsFixture(dir: string): void {
  expect(readFileSync(join(dir, "raw", "_index", PROF))).toEqual(readFileSync(join(fixturesDir, PROF)));
}

beforeAll(async () => {
  const m = await mirror();
  clean = await rawByFloat(await syncedLake(m, "clean"));
  expect(clean.size).toBe(FLOATS);
});

afterAll(async () => {
  for (const m of mirrors) await m.stop();
  for (const t of temps) await t.cleanup();
});

describe("a damaged profile index is refused whole; the cached copy stays the plan's source", { timeout: 180_000 }, () => {
  test("a header-only profile index: refused against the cached copy (exit 1, numbers named), nothing removed, every float as after a clean run", async () => {
    const m = await mirror();
    const dir = await syncedLake(m, "header-only");
    await m.write(PROF, await headerOnly());
    const r = await runSync(m.srv, dir);
    expect(r.code, r.stderr.slice(-2000)).toBe(1);
    const line = r.errorLines.find((l) => l.startsWith(`index ${PROF}:`));
    expect(line).toMatch(new RegExp(`^index ${PROF}: expected at least 160 rows \\(the cached copy has ${PROF_ROWS}; INDEX_MAX_SHRINK=0.1\\), found 0: refused; the cached copy ${PROF} \\(${PROF_ROWS} rows\\) stays the plan's source$`));
    expect(r.stats.error_details).toEqual([expect.objectContaining({ stage: "index", file: PROF, float_id: null })]);
    expect(r.stats).toMatchObject({ files_removed: 0, files_downloaded: 0 });
    expect(existsSync(join(dir, "removed"))).toBe(false);
    cachedIsFixture(dir);
    expect(without(await rawByFloat(dir))).toEqual(without(clean));
  });

  test("a header-only profile index on a first run (no cached copy): refused because the other indexes list 15 floats it has no row for", async () => {
    const m = await mirror();
    await m.write(PROF, await headerOnly());
    const dir = await lake("header-only-first");
    const r = await runSync(m.srv, dir);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`index ${PROF}: expected rows for the floats the other indexes list, found none for ${FLOATS} of ${FLOATS} \\(.*\\): refused; there is no cached copy to plan from`));
    expect((await rawByFloat(dir)).size).toBe(0);
    expect(existsSync(join(dir, "raw", "_index", PROF))).toBe(false);
  });

  test("an index cut at 60% (plain, then gzipped): refused as cut short; every float as after a clean run", async () => {
    const m = await mirror();
    const dir = await syncedLake(m, "cut");
    const full = readFileSync(join(fixturesDir, PROF));
    let at = Math.floor(full.length * 0.6);
    if (full[at - 1] === 10) at++; // cut inside a line, as a dropped connection does
    await m.write(PROF, full.subarray(0, at));
    const r = await runSync(m.srv, dir);
    expect(r.code).toBe(1);
    expect(r.errorLines).toContainEqual(expect.stringMatching(new RegExp(`^index ${PROF}: expected a complete file \\(its last line ending with a newline\\), found the last of \\d+ lines cut: refused as cut short; the cached copy`)));
    expect(r.stats.files_removed).toBe(0);
    cachedIsFixture(dir);
    expect(without(await rawByFloat(dir))).toEqual(without(clean));

    // The same index whole again, and a .gz of it cut at 60%: the server offers the .gz first.
    await m.write(PROF, full);
    const gz = gzipSync(full);
    await m.write(`${PROF}.gz`, gz.subarray(0, Math.floor(gz.length * 0.6)));
    const g = await runSync(m.srv, dir);
    expect(g.code).toBe(1);
    expect(g.errorLines).toContainEqual(expect.stringMatching(new RegExp(`^index ${PROF}\\.gz could not be decompressed: .*; the cached copy ${PROF} \\(${PROF_ROWS} rows\\) stays the plan's source$`)));
    expect(existsSync(join(dir, "raw", "_index", `${PROF}.gz`))).toBe(false);
    expect(without(await rawByFloat(dir))).toEqual(without(clean));
  });

  test("a decompression bomb (64 MiB of zeros in a small .gz) is refused by name at MAX_DECOMPRESSED_BYTES; every float as after a clean run", async () => {
    const m = await mirror();
    const dir = await syncedLake(m, "bomb");
    const bomb = gzipSync(Buffer.concat([Buffer.from(await headerOnly()), Buffer.alloc(64 * 1024 * 1024)]), { level: 9 });
    expect(bomb.length).toBeLessThan(200_000);
    await m.write(`${PROF}.gz`, bomb);
    const r = await runSync(m.srv, dir, { MAX_DECOMPRESSED_BYTES: String(8 * 1024 * 1024) });
    expect(r.code).toBe(1);
    expect(r.errorLines).toContainEqual(expect.stringMatching(new RegExp(
      `^index ${PROF}\\.gz: expected at most MAX_DECOMPRESSED_BYTES=8388608 bytes once decompressed, found more than that from ${bomb.length} compressed bytes: refused as a decompression bomb; the cached copy`,
    )));
    expect(r.stats.files_removed).toBe(0);
    expect(without(await rawByFloat(dir))).toEqual(without(clean));
  });

  test("an index that lost 45% of its rows (one float's 80) is refused; nothing is moved to removed/", async () => {
    const m = await mirror();
    const dir = await syncedLake(m, "shrink");
    const text = (await fixtureIndex(PROF)).split("\n").filter((l) => !l.startsWith("csiro/5900865/")).join("\n");
    await m.write(PROF, text);
    const r = await runSync(m.srv, dir);
    expect(r.code).toBe(1);
    expect(r.errorLines).toContainEqual(expect.stringMatching(new RegExp(`^index ${PROF}: expected at least 160 rows \\(the cached copy has ${PROF_ROWS}; INDEX_MAX_SHRINK=0.1\\), found 97: refused`)));
    expect(existsSync(join(dir, "removed"))).toBe(false);
    expect(without(await rawByFloat(dir))).toEqual(without(clean));
  });
});

describe("an index that is another index", { timeout: 180_000 }, () => {
  test("the bio index served under the synthetic index's name: refused by its own title line; every float as after a clean run", async () => {
    const m = await mirror();
    const dir = await syncedLake(m, "title");
    await m.write("argo_synthetic-profile_index.txt", await fixtureIndex("argo_bio-profile_index.txt"));
    const r = await runSync(m.srv, dir);
    expect(r.code).toBe(1);
    expect(r.stats.error_details).toEqual([{
      float_id: null,
      file: "argo_synthetic-profile_index.txt",
      stage: "index",
      message: 'index argo_synthetic-profile_index.txt: expected the title of argo_synthetic-profile_index.txt, found "Bio-Profile directory file of the Argo Global Data Assembly Center": ' +
        "refused; the cached copy argo_synthetic-profile_index.txt (5 rows) stays the plan's source",
    }]);
    expect(r.stats.files_removed).toBe(0);
    expect(without(await rawByFloat(dir))).toEqual(without(clean));
  });
});

describe("rows and floats the index gets wrong stop at themselves", { timeout: 180_000 }, () => {
  test("a float listed under two DACs is refused by name (exit 1); every other float lands as in a clean run, and on a synced lake its files stay", async () => {
    const m = await mirror();
    const text = await fixtureIndex(PROF);
    const row = text.split("\n").find((l) => l.startsWith("aoml/13857/profiles/R13857_002.nc"))!;
    await m.write(PROF, text + row.replace(/^aoml\//, "coriolis/") + "\n");
    const first = await lake("two-dacs");
    const r = await runSync(m.srv, first);
    expect(r.code).toBe(1);
    expect(r.stats.error_details).toEqual([{
      float_id: "13857",
      file: null,
      stage: "plan",
      message: `float 13857 refused: expected one DAC per float, found it listed under aoml and coriolis (${PROF}); its files are not synced and none is removed until the index agrees`,
    }]);
    const got = await rawByFloat(first);
    expect(got.has("13857")).toBe(false);
    expect(without(got)).toEqual(without(clean, "13857"));

    // On a lake that already holds the float, its files and manifest stay as they were.
    const m2 = await mirror();
    const synced = await syncedLake(m2, "two-dacs-synced");
    await m2.write(PROF, text + row.replace(/^aoml\//, "coriolis/") + "\n");
    const again = await runSync(m2.srv, synced);
    expect(again.code).toBe(1);
    expect(again.stats.files_removed).toBe(0);
    expect(without(await rawByFloat(synced))).toEqual(without(clean));
  });

  test("index fields out of range: a date_update after tomorrow and a mis-written cycle are refused, a latitude of 95.5 and a date in 1850 are set to empty (a window and a box are asked for); all with reasons", async () => {
    const m = await mirror();
    const lines = (await fixtureIndex(PROF)).split("\n");
    const edit = (file: string, f: (cells: string[]) => void) => {
      const i = lines.findIndex((l) => l.startsWith(file + ","));
      const cells = lines[i].split(",");
      f(cells);
      lines[i] = cells.join(",");
    };
    edit("aoml/13857/profiles/R13857_003.nc", (c) => (c[7] = "20990101000000"));
    edit("aoml/13857/profiles/R13857_090.nc", (c) => (c[0] = "aoml/13857/profiles/R13857_0090.nc"));
    // On another float, which other rows keep in the window and the box: those files still land.
    edit("aoml/5906072/profiles/D5906072_001.nc", (c) => (c[2] = "95.5"));
    edit("aoml/5906072/profiles/D5906072_002.nc", (c) => (c[1] = "18500101000000"));
    await m.write(PROF, lines.join("\n"));
    const dir = await lake("ranges");
    // A time window and a box that take every float: the index's dates and positions are then read (and checked).
    const r = await runSync(m.srv, dir, { SYNC_DATE_FROM: "1990-01-01", SYNC_BBOX: "-180,180,-90,90" });
    expect(r.code, r.stderr.slice(-2000)).toBe(0);
    expect(r.stats).toMatchObject({ index_rows_refused: 2, index_values_nulled: 2, errors: 0 });
    const warns = r.stderr.split("\n").filter((l) => /index row refused"|index value out of range/.test(l)).map((l) => JSON.parse(l).reason);
    expect(warns).toEqual(expect.arrayContaining([
      expect.stringMatching(/^date_update 20990101000000 is not a time between 19900101000000 and the end of tomorrow \(\d{8}235959\)$/),
      expect.stringMatching(/^cycle number 0090 in R13857_0090\.nc is not written as the GDAC writes it/),
      "latitude 95.5 outside -90..90: position set to empty",
      expect.stringMatching(/^date 18500101000000 is not a time between 19900101000000 and the end of tomorrow/),
    ]));
    const got = await rawByFloat(dir);
    expect(without(got, "13857")).toEqual(without(clean, "13857"));
    // The float's rows that were kept land exactly as in a clean run; the refused ones do not.
    const dataKeys = (d: Record<string, LakeEntry>) => Object.fromEntries(Object.entries(d).filter(([k]) => k.endsWith(".nc")));
    const expected = dataKeys(clean.get("13857")!);
    delete expected["raw/dac=aoml/wmo=13857/profiles/R13857_003.nc"];
    delete expected["raw/dac=aoml/wmo=13857/profiles/R13857_090.nc"];
    expect(dataKeys(got.get("13857")!)).toEqual(expected);
  });
});

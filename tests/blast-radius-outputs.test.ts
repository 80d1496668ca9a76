/**
 * Blast radius, outputs are checked, not only state: parse's decision to
 * skip an unchanged float verifies that every Parquet file its state names
 * still exists with the size it was written with. A lost or damaged
 * (truncated, replaced) file makes the next run parse that float again and
 * rebuild it byte for byte; the other floats are skipped; the load then
 * gives exactly the clean run's rows.
 */
import { readdir, rm, truncate, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { describe, expect, test } from "vitest";
import type { PipelineSnapshot } from "./support/compare.ts";
import { type Bed, expectSame, statsOf, withCleanRun } from "./support/blast.ts";

let bed: Bed;
let clean: PipelineSnapshot;

withCleanRun("outputs", (b, c) => {
  bed = b;
  clean = c;
});

/** The first year partition's file of a float in a table. */
async function fileOf(table: string, dac: string, wmo: string): Promise<string> {
  const dir = join(bed.lake, "parquet", table, `dac=${dac}`);
  for (const year of (await readdir(dir)).sort()) {
    const names = await readdir(join(dir, year)).catch(() => [] as string[]);
    if (names.includes(`${wmo}.parquet`)) return join(dir, year, `${wmo}.parquet`);
  }
  throw new Error(`no ${table} file of ${wmo}`);
}

/** Parse without --force: exactly one float is parsed again, and the lake is the clean run's. */
async function rebuilt(): Promise<void> {
  const parse = await bed.run("parse");
  expect(parse.code, parse.stderr).toBe(0);
  expect(statsOf(parse)).toMatchObject({ floats_parsed: 1, floats_skipped: 4, errors: 0 });
  expect(parse.stderr).toMatch(/an output of an unchanged float is missing or damaged: parsing it again/);
  const load = await bed.run("load");
  expect(load.code, load.stderr).toBe(0);
  expectSame(await bed.snap(), clean);
}

describe("a float whose inputs did not change", () => {
  test("a control: with its outputs intact it is skipped", async () => {
    const parse = await bed.run("parse");
    expect(statsOf(parse)).toMatchObject({ floats_parsed: 0, floats_skipped: 5 });
  });

  test("a lost Parquet file is rebuilt by the next run", async () => {
    await rm(await fileOf("measurements", "aoml", "13857"));
    await rebuilt();
  });

  test("a truncated Parquet file is rebuilt", async () => {
    const path = await fileOf("profiles", "bodc", "6901929");
    await truncate(path, 100);
    await rebuilt();
  });

  test("a file replaced by other bytes of another size is rebuilt", async () => {
    await writeFile(join(bed.lake, "parquet/floats/dac=jma/4902252.parquet"), "not the file parse wrote");
    await rebuilt();
  });
});

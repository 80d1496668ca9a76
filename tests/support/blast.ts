/**
 * The test bed of the blast-radius tests (tests/blast-radius-*.test.ts): a
 * temporary GDAC mirror of a few real fixture floats (files copied, index
 * files cut down to their rows, so a test can edit a file or a row), a lake,
 * a Postgres database and a Redis prefix, and the pipeline's jobs run on them
 * as real processes, one stage at a time.
 *
 * A test takes a snapshot after a clean run, feeds one hostile input, runs
 * the stages again, and compares: the hostile input is refused or
 * quarantined with its reason, and everything else is exactly the clean
 * snapshot (`expectSame` with the keys the input may legitimately change).
 */
import { readdirSync, readFileSync } from "node:fs";
import { copyFile, mkdir, rm, writeFile } from "node:fs/promises";
import { dirname, join, relative, sep } from "node:path";
import { afterAll, beforeAll, expect } from "vitest";
import { LocalLakeStore } from "../../lib/lake/local.ts";
import { diffSnapshots, type PipelineSnapshot, snapshot } from "./compare.ts";
import { fixturesDir, type TempDir, tempDir } from "./fixtures.ts";
import { type JobResult, jsonLines, runJobProcess } from "./jobs.ts";
import { createTestDatabase, type TestDatabase } from "./postgres.ts";
import { type TestRedis, testRedis } from "./redis.ts";

/** The floats of the bed: five DACs, core and BGC (3902131 has B-files), one and two N_PROF. */
export const BED_FLOATS = {
  "13857": "aoml",
  "6901929": "bodc",
  "3902131": "coriolis",
  "4902252": "jma",
  "2901623": "nmdis",
} as const;

export const INDEXES = ["ar_index_global_prof.txt", "argo_bio-profile_index.txt", "argo_synthetic-profile_index.txt", "ar_index_global_meta.txt"];

/** A stage of the pipeline, as a job. */
export type Stage = "sync" | "parse" | "load";

export interface Bed {
  root: TempDir;
  /** The GDAC mirror (GDAC_BASE_URL). */
  mirror: string;
  /** The lake directory (LAKE_URL). */
  lake: string;
  store: LocalLakeStore;
  db: TestDatabase;
  redis: TestRedis;
  /** The environment every job gets; `extra` adds to it. */
  env(extra?: Record<string, string>): Record<string, string>;
  /** Runs one stage as a process with --json. */
  run(stage: Stage, extra?: Record<string, string>, args?: string[]): Promise<JobResult>;
  /** Runs sync, parse and load, each expected to exit 0. */
  cycle(extra?: Record<string, string>): Promise<void>;
  /** Lake, Postgres and Redis as they are now (removed/, runs/ and locks/ left out). */
  snap(): Promise<PipelineSnapshot>;
  /** Writes a file into the mirror at its GDAC path (below dac/) and lists it in the index with this date_update. */
  putFile(gdacPath: string, bytes: Uint8Array, dateUpdate: string): Promise<void>;
  /** Takes a file out of the mirror and its index (a GDAC withdrawal). */
  removeFile(gdacPath: string): Promise<void>;
  /** The bytes of a fixture file, by GDAC path below dac/. */
  fixture(gdacPath: string): Uint8Array;
  close(): Promise<void>;
}

const indexOf = (gdacPath: string): string => {
  const name = gdacPath.slice(gdacPath.lastIndexOf("/") + 1);
  if (name.endsWith("_meta.nc")) return "ar_index_global_meta.txt";
  if (name.startsWith("B")) return "argo_bio-profile_index.txt";
  if (name.startsWith("S")) return "argo_synthetic-profile_index.txt";
  return "ar_index_global_prof.txt";
};

/** Makes the bed for one test file and runs nothing yet. */
export async function makeBed(name: string): Promise<Bed> {
  const root = await tempDir(`blast-${name}`);
  const mirror = join(root.path, "gdac");
  const lake = join(root.path, "lake");
  await mkdir(lake, { recursive: true });
  const wanted = Object.entries(BED_FLOATS).map(([wmo, dac]) => `${dac}/${wmo}/`);
  for (const index of INDEXES) {
    const lines = readFileSync(join(fixturesDir, index), "utf8").split("\n");
    let header = false;
    const kept = lines.filter((l) => {
      if (l.startsWith("#") || l === "") return true;
      if (!header) return (header = true);
      return wanted.some((w) => l.startsWith(w));
    });
    await mkdir(mirror, { recursive: true });
    await writeFile(join(mirror, index), kept.join("\n"));
  }
  for (const [wmo, dac] of Object.entries(BED_FLOATS)) {
    const from = join(fixturesDir, "dac", dac, wmo);
    for (const e of readdirSync(from, { recursive: true, withFileTypes: true })) {
      if (!e.isFile()) continue;
      const rel = relative(from, join(e.parentPath, e.name)).split(sep).join("/");
      const to = join(mirror, "dac", dac, wmo, rel);
      await mkdir(dirname(to), { recursive: true });
      await copyFile(join(e.parentPath, e.name), to);
    }
  }
  const db = await createTestDatabase(`blast_${name}`);
  const redis = await testRedis(`blast-${name}`);
  const store = new LocalLakeStore(lake);
  const env = (extra: Record<string, string> = {}) => ({
    GDAC_BASE_URL: mirror,
    LAKE_URL: lake,
    DATABASE_URL: db.url,
    REDIS_URL: redis.url,
    REDIS_PREFIX: redis.prefix,
    MAX_WORKERS: "1",
    LOG_LEVEL: "warn",
    ...extra,
  });
  const bed: Bed = {
    root,
    mirror,
    lake,
    store,
    db,
    redis,
    env,
    run: (stage, extra = {}, args = []) => runJobProcess(stage, ["--json", ...args], { env: env(extra), timeoutMs: 120_000 }),
    async cycle(extra = {}) {
      for (const stage of ["sync", "parse", "load"] as const) {
        const r = await bed.run(stage, extra);
        expect(r.code, `${stage}: ${r.stderr}`).toBe(0);
      }
    },
    // The bed runs sync, parse and load, never compact: its tables are compared file by file.
    snap: () => snapshot(store, db.pool, redis.client, redis.prefix, { exclude: ["removed/", "runs/", "locks/"], tables: "files" }),
    async putFile(gdacPath, bytes, dateUpdate) {
      const to = join(mirror, "dac", gdacPath);
      await mkdir(dirname(to), { recursive: true });
      await writeFile(to, bytes);
      const index = join(mirror, indexOf(gdacPath));
      const lines = readFileSync(index, "utf8").split("\n");
      const at = lines.findIndex((l) => l.startsWith(`${gdacPath},`));
      if (at >= 0) {
        const cols = lines[at]!.split(",");
        cols[cols.length - 1] = dateUpdate;
        lines[at] = cols.join(",");
      } else {
        // A new row: the float's first row in that index with this path and date_update.
        const dacWmo = gdacPath.split("/").slice(0, 2).join("/") + "/";
        const like = lines.find((l) => l.startsWith(dacWmo));
        if (!like) throw new Error(`no row of ${dacWmo} in ${index} to model a new row on`);
        const cols = like.split(",");
        cols[0] = gdacPath;
        cols[cols.length - 1] = dateUpdate;
        const lastRow = lines.map((l, i) => (l && !l.startsWith("#") ? i : -1)).reduce((a, b) => Math.max(a, b));
        lines.splice(lastRow + 1, 0, cols.join(","));
      }
      await writeFile(index, lines.join("\n"));
    },
    async removeFile(gdacPath) {
      await rm(join(mirror, "dac", gdacPath));
      const index = join(mirror, indexOf(gdacPath));
      await writeFile(index, readFileSync(index, "utf8").split("\n").filter((l) => !l.startsWith(`${gdacPath},`)).join("\n"));
    },
    fixture: (gdacPath) => new Uint8Array(readFileSync(join(fixturesDir, "dac", gdacPath))),
    async close() {
      await redis.cleanup();
      await db.drop();
      await root.cleanup();
    },
  };
  return bed;
}

/**
 * The JSON stats a job printed with --json, or, when it failed with its stats
 * in the error (the load), those from its error log line.
 */
export function statsOf(r: JobResult): Record<string, unknown> {
  const start = r.stdout.indexOf("{");
  if (start >= 0) return JSON.parse(r.stdout.slice(start)) as Record<string, unknown>;
  const failed = jsonLines(r.stderr).findLast((l) => l.level === "error" && l.stats && typeof l.stats === "object");
  return (failed?.stats as Record<string, unknown>) ?? {};
}

/**
 * Expects `actual` to equal `expected` except for lake keys that one of
 * `allowed` matches (the objects the hostile input may change: its raw
 * copy, manifest, quarantine record, parse state, previous version).
 */
export function expectSame(actual: PipelineSnapshot, expected: PipelineSnapshot, allowed: RegExp[] = []): void {
  const strip = (s: PipelineSnapshot): PipelineSnapshot => ({
    ...s,
    lake: Object.fromEntries(Object.entries(s.lake).filter(([k]) => !allowed.some((re) => re.test(k)))),
  });
  expect(diffSnapshots(strip(actual), strip(expected))).toEqual([]);
}

/** Lake keys that concern one float's raw side (raw copy, manifest, previous version, quarantine, parse state). */
export function rawSideOf(wmo: string): RegExp[] {
  return [
    new RegExp(`^raw/dac=[a-z]+/wmo=${wmo}/`),
    new RegExp(`^raw/_manifest/dac=[a-z]+/wmo=${wmo}\\.json$`),
    new RegExp(`^raw/_previous/dac=[a-z]+/wmo=${wmo}/`),
    new RegExp(`^quarantine/dac=[a-z]+/wmo=${wmo}/`),
    new RegExp(`^parquet/_state/dac=[a-z]+/wmo=${wmo}\\.json$`),
    /^raw\/_index\//,
  ];
}

/**
 * Registers the test file's bed: made, run clean once (sync, parse, load)
 * and snapshotted before the tests, closed after them. `ready` receives the
 * bed and the clean snapshot.
 */
export function withCleanRun(name: string, ready: (bed: Bed, clean: PipelineSnapshot) => void): void {
  let made: Bed | undefined;
  beforeAll(async () => {
    made = await makeBed(name);
    await made.cycle();
    ready(made, await made.snap());
  }, 180_000);
  afterAll(async () => {
    await made?.close();
  });
}

/** A job's last stderr line (its one-line error). */
export const lastLine = (s: string): string => s.trim().split("\n").at(-1) ?? "";

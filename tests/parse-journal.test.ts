/**
 * The cycle's parse reads the raw change journal (lib/parse/discover.ts):
 * after a sync, on the fixture GDAC served by our local HTTPS server into a
 * real local lake (wrapped to count what it is asked), it lists only the
 * folders of the floats the sync named, parses exactly those that changed,
 * keeps its cursor, and its tables equal a full parse of the same raw zone
 * row for row (byte for byte). The parse job itself still lists everything,
 * so a raw file put in place by hand is seen.
 */
import { cp } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Config, loadConfig } from "../lib/config.ts";
import { readJournalSince } from "../lib/lake/changes.ts";
import { PARQUET_PREFIX, RAW_DATA_PREFIX, RAW_PREFIX, rawCursorKey, rawFloatPrefix } from "../lib/lake/layout.ts";
import { LocalLakeStore } from "../lib/lake/local.ts";
import { createLogger } from "../lib/log.ts";
import { runParse } from "../lib/parse/run.ts";
import { executeRun, stageStats } from "../lib/runner.ts";
import { diffDumps, dumpLake } from "./support/compare.ts";
import { CountingStore } from "./support/counting-store.ts";
import { tempDir, type TempDir } from "./support/fixtures.ts";
import { editableMirror, editIndex, restoreIndexes, startHttpsServer, type TestHttpsServer } from "./support/https-server.ts";

let mirror: TempDir;
let srv: TestHttpsServer;
let lakeDir: TempDir;
let cleanDir: TempDir;
let store: CountingStore;
const log = createLogger({ level: "error" });

beforeAll(async () => {
  mirror = await editableMirror();
  srv = await startHttpsServer({ root: mirror.path });
  lakeDir = await tempDir("parse-journal");
  cleanDir = await tempDir("parse-journal-clean");
  store = new CountingStore(lakeDir.path);
});

afterAll(async () => {
  await srv?.stop();
  await restoreIndexes(mirror.path);
  await mirror?.cleanup();
  await lakeDir?.cleanup();
  await cleanDir?.cleanup();
});

const config = (extra: Record<string, string> = {}): Config =>
  loadConfig({
    env: { GDAC_BASE_URL: srv.url, GDAC_CA_FILE: srv.caFile, LAKE_URL: lakeDir.path, HTTP_TIMEOUT: "5", MAX_WORKERS: "1", ...extra },
    envFile: "/nonexistent/.env",
  });

const cycle = async (extra: Record<string, string> = {}) => {
  const outcome = await executeRun({ config: config(extra), store, log, shard: null, lock: null }, { job: "cycle", trigger: "cli" });
  if (!outcome.ran) throw new Error(outcome.reason);
  return outcome.record;
};

describe("the cycle's parse reads the raw change journal", () => {
  it("parses exactly the floats the sync named, and equals a full parse row for row", async () => {
    const first = await cycle();
    expect(first.stages.map((s) => s.verdict)).toEqual(["succeeded", "succeeded", "skipped"]);
    expect(stageStats(first, "parse")).toMatchObject({ floats_parsed: 15, errors: 0 });
    // No cursor yet: the first parse listed the raw zone, then kept a cursor.
    expect(store.lists).toContain(RAW_DATA_PREFIX);
    expect(await store.inner.stat(rawCursorKey("all"))).not.toBeNull();

    // 5900446 loses a profile (its file moves to removed/); 13857's file is fetched again with the same bytes.
    await editIndex(mirror.path, "ar_index_global_prof.txt", (t) =>
      t.replace(/^aoml\/5900446\/profiles\/D5900446_001\.nc,.*\n/m, "")
        .replace("aoml/13857/profiles/R13857_002.nc,19970809192112,0.072,-17.659,A,845,AO,20181011180521", "aoml/13857/profiles/R13857_002.nc,19970809192112,0.072,-17.659,A,845,AO,20240101000000"));
    const cursor = JSON.parse(new TextDecoder().decode((await store.inner.get(rawCursorKey("all")))!)).cursor;
    store.reset();
    const second = await cycle();
    expect(second.stages.map((s) => s.verdict)).toEqual(["succeeded", "succeeded", "skipped"]);
    expect(stageStats(second, "sync")).toMatchObject({ files_downloaded: 1, files_removed: 1 });
    const named = (await readJournalSince(store.inner, "raw", cursor)).changes.map((c) => c.wmo);
    expect(named).toEqual(["13857", "5900446"]);
    expect(stageStats(second, "parse")).toMatchObject({ floats_parsed: 1, floats_skipped: 1, floats_removed: 0, errors: 0, discovery: "journal" });
    // The parse listed those two floats' folders, not the raw zone, nor the Parquet zone.
    const rawLists = store.lists.filter((p) => p.startsWith(RAW_PREFIX));
    expect(rawLists.filter((p) => p.startsWith(RAW_DATA_PREFIX)).every((p) => [rawFloatPrefix("aoml", "13857"), rawFloatPrefix("aoml", "5900446")].includes(p)), rawLists.join("\n")).toBe(true);
    expect(store.lists).not.toContain(RAW_DATA_PREFIX);
    expect(store.lists).not.toContain(PARQUET_PREFIX);

    // Nothing new: the next cycle's parse looks at nothing.
    store.reset();
    const third = await cycle();
    expect(third.stages.map((s) => s.verdict)).toEqual(["succeeded", "succeeded", "skipped"]);
    expect(stageStats(third, "parse")).toMatchObject({ floats_parsed: 0, floats_skipped: 0, discovery: "journal" });
    expect(store.lists.filter((p) => p.startsWith(RAW_DATA_PREFIX))).toEqual([]);

    // A full parse of the same raw zone into a clean lake: the same tables, states and quarantine, byte for byte.
    await cp(join(lakeDir.path, "raw"), join(cleanDir.path, "raw"), { recursive: true });
    const clean = new LocalLakeStore(cleanDir.path);
    expect(await runParse(config({ LAKE_URL: cleanDir.path }), clean, log)).toMatchObject({ floats_parsed: 15, errors: 0 });
    const exclude = ["raw/", "removed/", "runs/", "locks/", rawCursorKey("all"), `${PARQUET_PREFIX}_changes/`];
    const a = await dumpLake(store.inner, { exclude, tables: "files" });
    const b = await dumpLake(clean, { exclude, tables: "files" });
    expect(Object.keys(b).filter((k) => k.endsWith(".parquet")).length).toBeGreaterThan(15);
    expect(diffDumps(a, b)).toEqual([]);
  }, 180_000);

  it("the parse job, and the cycle on a full check, list the whole raw zone: a raw file put in place by hand is seen", async () => {
    // The file the sync moved to removed/ is put back by hand: no journal entry names its float.
    const removed = (await store.inner.list("removed/")).map((o) => o.key);
    expect(removed).toHaveLength(1);
    const back = removed[0]!.slice(removed[0]!.indexOf(RAW_PREFIX));
    await store.inner.put(back, (await store.inner.get(removed[0]!))!);
    expect(stageStats(await cycle(), "parse")).toMatchObject({ floats_parsed: 0 });
    const job = await executeRun({ config: config(), store, log, shard: null, lock: null }, { job: "parse", trigger: "cli" });
    expect(job.ran && stageStats(job.record, "parse")).toMatchObject({ floats_parsed: 1, errors: 0 });
    // Taken away again by hand: the cycle's parse sees it on a full check (FULL_CHECK, or FULL_CHECK_EVERY hours after the last).
    await store.inner.delete(back);
    expect(stageStats(await cycle(), "parse")).toMatchObject({ floats_parsed: 0 });
    store.reset();
    expect(stageStats(await cycle({ FULL_CHECK: "true" }), "parse")).toMatchObject({ floats_parsed: 1, errors: 0 });
    expect(store.lists).toContain(RAW_DATA_PREFIX);
  }, 180_000);
});

/**
 * The sync reads only what the index says changed (lib/gdac/applied.ts), on
 * the fixture GDAC served by our local HTTPS server, with a real local lake
 * wrapped to count what the sync asks of it: a no-op sync lists no float's raw
 * folder and reads no manifest; a changed index row makes it read exactly
 * that float's manifest (and list no folder: the manifest says what it
 * holds); a file that left the index goes to removed/ even when its raw copy
 * went first; a sync killed part-way (SIGKILL, a real process) is completed
 * by the next one, whose journal names what the killed one changed; a full
 * check still lists every folder and repairs a raw file deleted behind the
 * sync's back.
 */
import { readFileSync } from "node:fs";
import { utimes } from "node:fs/promises";
import { join } from "node:path";
import { beforeEach, describe, expect, it } from "vitest";
import { readManifest } from "../lib/gdac/manifest.ts";
import { runSync } from "../lib/gdac/sync.ts";
import { checkRawZone } from "../lib/gdac/verify.ts";
import { type JournalEntry } from "../lib/lake/changes.ts";
import { appliedKey, journalPrefix, parseManifestKey, parseRawKey } from "../lib/lake/layout.ts";
import { createLogger } from "../lib/log.ts";
import { fixturesDir, readManifest as readFixtureManifest } from "./support/fixtures.ts";
import { editIndex, INDEX_FILES } from "./support/https-server.ts";
import { CountingStore } from "./support/counting-store.ts";
import { useSyncBed } from "./support/sync-bed.ts";
import { spawnJobProcess } from "./support/jobs.ts";

const fixtureFiles = readFixtureManifest().filter((r) => r.path.startsWith("dac/"));
const FLOATS = new Set(fixtureFiles.map((r) => r.path.split("/")[2]!));
/** Files the fixture index files list (data rows of the four). */
const LISTED = INDEX_FILES.map((n) => readFileSync(join(fixturesDir, n), "utf8").split("\n").filter((l) => l && !l.startsWith("#") && !l.startsWith("file,")).length)
  .reduce((a, b) => a + b, 0);

const bed = useSyncBed("sync-applied");
const { env, config } = bed;
let store: CountingStore;
const log = createLogger({ level: "error" });

beforeEach(() => {
  store = new CountingStore(bed.lake.path);
});

/** Bumps the date_update of one row of the profile index (the row's file name, e.g. R13857_002.nc). */
const bump = (file: string, to: string) => (t: string) => t.replace(new RegExp(`^(.*/${file.replace(".", "\\.")},(?:[^,]*,){6})\\d{14}$`, "m"), `$1${to}`);

/** The journal entries in the lake, oldest first. */
async function journal(): Promise<JournalEntry[]> {
  const out: JournalEntry[] = [];
  for (const o of await store.inner.list(journalPrefix("raw"))) out.push(JSON.parse(new TextDecoder().decode((await store.inner.get(o.key))!)));
  return out;
}

/** The floats whose raw folder a run listed (once or more), from the prefixes it listed. */
const floatsListed = () => [...new Set(store.floatLists().map((p) => parseRawKey(p + "x")?.wmo ?? p))].sort();
/** The floats whose manifest a run read (once or more). */
const manifestsRead = () => [...new Set(store.manifestGets().map((k) => (parseManifestKey(k) ? k.slice(k.lastIndexOf("=") + 1, -".json".length) : k)))].sort();

describe("a sync reads only what the index says changed", () => {
  it("a no-op sync lists no float's raw folder and reads no manifest, even when an index comes back whole with the same bytes", async () => {
    const first = await runSync(config(), store, log);
    expect(first).toMatchObject({ total_floats: 15, files_downloaded: LISTED, errors: 0 });
    // The first sync had nothing to diff against: it looked at every float, and named every one in the journal.
    expect(new Set(floatsListed())).toEqual(FLOATS);
    expect((await journal()).flatMap((e) => e.changes.map((c) => c.wmo)).sort()).toEqual([...FLOATS].sort());
    expect(await store.inner.stat(appliedKey("all"))).not.toBeNull();

    store.reset();
    const noop = await runSync(config(), store, log);
    expect(noop).toMatchObject({ total_floats: 15, files_downloaded: 0, files_skipped: LISTED, files_removed: 0, errors: 0 });
    expect(store.floatLists()).toEqual([]);
    expect(store.manifestGets()).toEqual([]);
    expect(bed.srv.countFor("/ar_index_global_prof.txt", "not_modified")).toBe(1);
    expect(await journal()).toHaveLength(1);

    // A new modification time (new ETag): the index is fetched whole, its bytes are the same: still nothing looked at.
    const file = join(bed.mirror.path, "ar_index_global_prof.txt");
    await utimes(file, new Date(), new Date(Date.now() + 5000));
    bed.srv.resetCounts();
    store.reset();
    const same = await runSync(config(), store, log);
    expect(bed.srv.countFor("/ar_index_global_prof.txt", "ok")).toBe(1);
    expect(same).toMatchObject({ total_floats: 15, files_downloaded: 0, files_skipped: LISTED, errors: 0 });
    expect(store.floatLists()).toEqual([]);
    expect(store.manifestGets()).toEqual([]);
    expect((await checkRawZone(store.inner)).problems).toEqual([]);
  });

  it("a changed index row makes the sync look at exactly that float, fetch that file, and name that float in the journal", async () => {
    await runSync(config(), store, log);
    await editIndex(bed.mirror.path, "ar_index_global_prof.txt", bump("R13857_002.nc", "20240101000000"));
    store.reset();
    bed.srv.resetCounts();
    const stats = await runSync(config(), store, log);
    expect(stats).toMatchObject({ total_floats: 15, files_downloaded: 1, files_skipped: LISTED - 1, errors: 0 });
    expect(manifestsRead()).toEqual(["13857"]);
    // Its manifest says what it holds: no folder is listed outside a full check.
    expect(store.floatLists()).toEqual([]);
    const entries = await journal();
    expect(entries).toHaveLength(2);
    expect(entries[1]!.changes).toEqual([{ dac: "aoml", wmo: "13857", change: "changed" }]);
    expect((await readManifest(store.inner, "aoml", "13857"))!.files["aoml/13857/profiles/R13857_002.nc"]!.date_update).toBe("20240101000000");

    // A row gone: the float is looked at, its file moved to removed/, the float named again.
    await editIndex(bed.mirror.path, "ar_index_global_prof.txt", (t) => t.replace(/^aoml\/5900446\/profiles\/D5900446_001\.nc,.*\n/m, ""));
    store.reset();
    const gone = await runSync(config(), store, log);
    expect(gone).toMatchObject({ files_removed: 1, files_downloaded: 0, errors: 0 });
    expect(manifestsRead()).toEqual(["5900446"]);
    expect(store.floatLists()).toEqual([]);
    expect((await journal())[2]!.changes).toEqual([{ dac: "aoml", wmo: "5900446", change: "changed" }]);

    // A failed fetch leaves its float pending: looked at again next time, though the index did not change.
    await editIndex(bed.mirror.path, "ar_index_global_prof.txt", bump("R13857_003.nc", "20240101000000"));
    bed.srv.setFaults({ rules: [{ path: "/dac/aoml/13857/profiles/R13857_003.nc", fault: { kind: "status", status: 404 } }] });
    expect((await runSync(config(), store, log)).errors).toBe(1);
    bed.srv.setFaults({ rules: [] });
    store.reset();
    const retry = await runSync(config(), store, log);
    expect(retry).toMatchObject({ files_downloaded: 1, errors: 0 });
    expect(manifestsRead()).toEqual(["13857"]);
    store.reset();
    expect((await runSync(config(), store, log)).files_downloaded).toBe(0);
    expect(store.floatLists()).toEqual([]);
  });

  it("a file that left the index is marked removed even when its raw copy is gone already (a run killed between the move and its manifest)", async () => {
    await runSync(config(), store, log);
    const key = "raw/dac=aoml/wmo=5900446/profiles/D5900446_001.nc";
    // What a run killed after moving the file to removed/, before its manifest said so, leaves.
    await store.inner.move(key, "removed/20260101T000000Z/" + key);
    await editIndex(bed.mirror.path, "ar_index_global_prof.txt", (t) => t.replace(/^aoml\/5900446\/profiles\/D5900446_001\.nc,.*\n/m, ""));
    store.reset();
    const gone = await runSync(config(), store, log);
    expect(gone).toMatchObject({ files_removed: 1, files_downloaded: 0, errors: 0 });
    expect(store.floatLists()).toEqual([]);
    const e = (await readManifest(store.inner, "aoml", "5900446"))!.files["aoml/5900446/profiles/D5900446_001.nc"]!;
    expect(e).toMatchObject({ status: "removed", key });
    expect((await journal()).at(-1)!.changes).toEqual([{ dac: "aoml", wmo: "5900446", change: "changed" }]);
    expect((await checkRawZone(store.inner)).problems).toEqual([]);
  });

  it("a sync killed part-way is completed by the next, whose journal names what the killed one changed", async () => {
    await runSync(config(), store, log);
    // 13857 gets two newer files; 5900446 one, whose download hangs until the process is killed.
    await editIndex(bed.mirror.path, "ar_index_global_prof.txt", (t) =>
      bump("D5900446_000.nc", "20240202000000")(bump("R13857_001.nc", "20240101000000")(bump("R13857_002.nc", "20240101000000")(t))));
    bed.srv.setFaults({ rules: [{ path: "/dac/aoml/5900446/profiles/D5900446_000.nc", fault: { kind: "hang" } }] });
    const job = spawnJobProcess("sync", ["--json"], { env: env({ LOG_FORMAT: "json", HTTP_TIMEOUT: "60" }) });
    try {
      const deadline = Date.now() + 40_000;
      for (;;) {
        const m = await readManifest(store.inner, "aoml", "13857").catch(() => null);
        const landed = m?.files["aoml/13857/profiles/R13857_001.nc"]?.date_update === "20240101000000" &&
          m?.files["aoml/13857/profiles/R13857_002.nc"]?.date_update === "20240101000000";
        if (landed && bed.srv.countFor("/dac/aoml/5900446/profiles/D5900446_000.nc") > 0) break;
        if (Date.now() > deadline) throw new Error(`the sync did not reach the hanging file:\n${job.stderr()}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    } finally {
      job.kill("SIGKILL");
    }
    expect((await job.done).signal).toBe("SIGKILL");
    // Killed: 13857's files landed, but no journal entry says so.
    expect(await journal()).toHaveLength(1);
    bed.srv.setFaults({ rules: [] });
    store.reset();
    bed.srv.resetCounts();
    const next = await runSync(config(), store, log);
    expect(next).toMatchObject({ files_downloaded: 1, errors: 0 });
    expect([...bed.srv.counts.byPath].filter(([p, o]) => p.startsWith("/dac/") && (o.ok ?? 0) > 0).map(([p]) => p)).toEqual([
      "/dac/aoml/5900446/profiles/D5900446_000.nc",
    ]);
    expect(manifestsRead()).toEqual(["13857", "5900446"]);
    const entries = await journal();
    expect(entries).toHaveLength(2);
    expect(entries[1]!.changes.map((c) => c.wmo)).toEqual(["13857", "5900446"]);
    expect((await checkRawZone(store.inner, { hashes: true })).problems).toEqual([]);
    // And then it is a no-op again.
    store.reset();
    expect((await runSync(config(), store, log)).files_downloaded).toBe(0);
    expect(store.floatLists()).toEqual([]);
  }, 60_000);

  it("a raw file deleted behind the sync's back is fetched again by a full check (FULL_CHECK, or FULL_CHECK_EVERY hours after the last)", async () => {
    await runSync(config(), store, log);
    await store.inner.delete("raw/dac=aoml/wmo=13857/profiles/R13857_003.nc");
    // The index did not change: an ordinary sync does not look.
    expect((await runSync(config(), store, log)).files_downloaded).toBe(0);
    store.reset();
    const full = await runSync(config({ FULL_CHECK: "true" }), store, log);
    expect(full).toMatchObject({ files_downloaded: 1, errors: 0 });
    expect(new Set(floatsListed())).toEqual(FLOATS);
    expect((await journal()).at(-1)!.changes).toEqual([{ dac: "aoml", wmo: "13857", change: "changed" }]);
    // FULL_CHECK_EVERY: a full check is due once that many hours passed since the last one.
    await store.inner.delete("raw/dac=aoml/wmo=13857/profiles/R13857_003.nc");
    store.reset();
    expect((await runSync(config({ FULL_CHECK_EVERY: "1" }), store, log)).files_downloaded).toBe(0);
    expect(store.floatLists()).toEqual([]);
    const applied = JSON.parse(new TextDecoder().decode((await store.inner.get(appliedKey("all")))!));
    applied.full_check_at = new Date(Date.now() - 2 * 3600_000).toISOString();
    await store.inner.put(appliedKey("all"), new TextEncoder().encode(JSON.stringify(applied)));
    expect((await runSync(config({ FULL_CHECK_EVERY: "1" }), store, log)).files_downloaded).toBe(1);
  });
});

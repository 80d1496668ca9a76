/**
 * Bounded in time and size: the sync job (a real process) against an HTTPS
 * GDAC whose answers are hostile. A body that trickles one byte per second
 * never trips the silence timeout, so only a deadline on the whole exchange
 * (HTTP_DEADLINE) ends it: the file is abandoned by name after its retries
 * (exit 1) and every other file lands exactly as in a clean run; the next
 * run fetches it. A gzipped index that inflates without end is refused by
 * name at MAX_DECOMPRESSED_BYTES (the index tests check the lake side).
 */
import { gzipSync } from "node:zlib";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type LakeEntry } from "./support/compare.ts";
import { type TempDir } from "./support/fixtures.ts";
import { lakeDir, rawByFloat, runSync, servedMirror, type ServedMirror, without } from "./support/blast-radius.ts";

const SLOW = "/dac/aoml/13857/profiles/R13857_002.nc";
const SLOW_KEY = "raw/dac=aoml/wmo=13857/profiles/R13857_002.nc";

let clean: Map<string, Record<string, LakeEntry>>;
const temps: TempDir[] = [];
const mirrors: ServedMirror[] = [];

async function mirror(): Promise<ServedMirror> {
  const m = await servedMirror();
  mirrors.push(m);
  return m;
}

async function lake(name: string): Promise<string> {
  const t = await lakeDir(name);
  temps.push(t);
  return t.path;
}

beforeAll(async () => {
  const m = await mirror();
  const dir = await lake("clean");
  expect((await runSync(m.srv, dir)).code).toBe(0);
  clean = await rawByFloat(dir);
});

afterAll(async () => {
  for (const m of mirrors) await m.stop();
  for (const t of temps) await t.cleanup();
});

describe("every request has a deadline for the whole exchange", { timeout: 180_000 }, () => {
  test("a body that trickles one byte per second is abandoned at HTTP_DEADLINE (silence timeout 30 s never trips); the rest lands as in a clean run", async () => {
    const m = await mirror();
    m.srv.setFaults({ rules: [{ path: SLOW, fault: { kind: "trickle", intervalMs: 1000 } }] });
    const dir = await lake("trickle");
    const r = await runSync(m.srv, dir, { HTTP_DEADLINE: "2", HTTP_TIMEOUT: "30", HTTP_MAX_RETRIES: "1" });
    expect(r.code, r.stderr.slice(-2000)).toBe(1);
    // Two attempts, each given up at the deadline with about two bytes received.
    expect(m.srv.countFor(SLOW, "trickle")).toBe(2);
    expect(r.stats.error_details).toEqual([{
      float_id: "13857",
      file: "aoml/13857/profiles/R13857_002.nc",
      stage: "fetch",
      message: `aoml/13857/profiles/R13857_002.nc: ${m.srv.url}${SLOW}: expected a complete answer within HTTP_DEADLINE=2 s, found the exchange still going: abandoned`,
    }]);
    const got = await rawByFloat(dir);
    expect(without(got, "13857")).toEqual(without(clean, "13857"));
    const expected13857 = Object.fromEntries(Object.entries(clean.get("13857")!).filter(([k]) => k.endsWith(".nc") && k !== SLOW_KEY));
    expect(Object.fromEntries(Object.entries(got.get("13857")!).filter(([k]) => k.endsWith(".nc")))).toEqual(expected13857);

    // The server recovers: the next run fetches only that file and the lake is the clean one.
    m.srv.setFaults({ rules: [] });
    const again = await runSync(m.srv, dir);
    expect(again.code).toBe(0);
    expect(again.stats).toMatchObject({ files_downloaded: 1, errors: 0 });
    expect(without(await rawByFloat(dir))).toEqual(without(clean));
  });

  test("an index that trickles is abandoned at the deadline too: the run stops by name (exit 1) and nothing lands half-planned", async () => {
    const m = await mirror();
    m.srv.setFaults({ rules: [{ path: "/ar_index_global_meta.txt", fault: { kind: "trickle", intervalMs: 1000 } }] });
    const dir = await lake("trickle-index");
    const r = await runSync(m.srv, dir, { HTTP_DEADLINE: "1.5", HTTP_MAX_RETRIES: "0" });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(`sync: ${m.srv.url.replace(/\./g, "\\.")}/ar_index_global_meta\\.txt: expected a complete answer within HTTP_DEADLINE=1\\.5 s, found the exchange still going: abandoned`));
    expect((await rawByFloat(dir)).size).toBe(0);
  });
});

describe("every body and every decompression is capped", { timeout: 180_000 }, () => {
  test("a gzip bomb served as the profile index is refused by name before it inflates past MAX_DECOMPRESSED_BYTES", async () => {
    const m = await mirror();
    const bomb = gzipSync(Buffer.alloc(256 * 1024 * 1024), { level: 9 });
    await m.write("ar_index_global_prof.txt.gz", bomb);
    const dir = await lake("bomb");
    const r = await runSync(m.srv, dir, { MAX_DECOMPRESSED_BYTES: String(16 * 1024 * 1024) });
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(new RegExp(
      `sync: index ar_index_global_prof\\.txt\\.gz: expected at most MAX_DECOMPRESSED_BYTES=16777216 bytes once decompressed, found more than that from ${bomb.length} compressed bytes: refused as a decompression bomb; there is no cached copy to plan from`,
    ));
    expect((await rawByFloat(dir)).size).toBe(0);
  });
});

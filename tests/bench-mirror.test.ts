/**
 * The scale benches' synthetic mirror (bench/mirror.ts): every copied file
 * parses as its new float, the regenerated indexes are read whole by the
 * index reader and list exactly the mirror's files, and touch() adds one
 * real next cycle per changed float with its index row.
 */
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { buildMirror, type MirrorInfo, touch } from "../bench/mirror.ts";
import { parseArgoFile } from "../lib/argo/file.ts";
import { ParseError } from "../lib/errors.ts";
import { fileRest, INDEX_NAMES, type IndexKind, readIndex } from "../lib/gdac/index-file.ts";
import { fixturesDir, readManifest, type TempDir, tempDir } from "./support/fixtures.ts";

/** Every file below the mirror's dac/, as GDAC paths. */
function mirrorFiles(dir: string): string[] {
  return readdirSync(join(dir, "dac"), { recursive: true, withFileTypes: true })
    .filter((e) => e.isFile())
    .map((e) => relative(join(dir, "dac"), join(e.parentPath, e.name)).split(sep).join("/"))
    .sort();
}

/** The GDAC paths an index of the mirror lists, read by the sync's own index reader (no row refused). */
async function listed(dir: string, kind: IndexKind): Promise<string[]> {
  const out: string[] = [];
  const chunks = (async function* () {
    yield new Uint8Array(readFileSync(join(dir, INDEX_NAMES[kind])));
  })();
  const result = await readIndex<string>(chunks, kind, {
    float: (dac, wmo) => `${dac}/${wmo}`,
    row: (h, code) => out.push(`${h}/${fileRest(h.slice(h.indexOf("/") + 1), code)}`),
    refused: (reason, line, text) => {
      throw new Error(`${kind} line ${line} refused (${reason}): ${text}`);
    },
  });
  expect(result.refused).toBe(0);
  return out;
}

describe("bench/mirror.ts", () => {
  let tmp: TempDir;
  let info: MirrorInfo;
  const n = 32;

  beforeAll(async () => {
    tmp = await tempDir("bench-mirror");
    info = await buildMirror(join(tmp.path, "gdac"), n);
  });
  afterAll(() => tmp.cleanup());

  it("copies each fixture float under new ids of the same length, and every file parses as the new float", async () => {
    const fixtureFloats = [...new Set(readManifest().filter((r) => r.wmo).map((r) => `${r.dac}/${r.wmo}`))];
    expect(info.floats.length).toBe(n);
    expect(new Set(info.floats.map((f) => f.wmo)).size).toBe(n);
    for (const f of info.floats) expect(f.wmo.length).toBe(f.source.length);
    expect(new Set(info.floats.map((f) => f.source)).size).toBe(fixtureFloats.length);
    const files = mirrorFiles(info.dir);
    expect(files.length).toBe(info.files);
    for (const path of files) {
      const [, wmo, ...rest] = path.split("/");
      expect(rest.join("/")).toContain(wmo);
      const parsed = await parseArgoFile(new Uint8Array(readFileSync(join(info.dir, "dac", path))), { path });
      if (parsed instanceof ParseError) throw parsed;
      if (parsed.kind === "profile") for (const p of parsed.profiles) expect(p.floatId, path).toBe(wmo);
      else expect(parsed.floatId, path).toBe(wmo);
    }
  });

  it("regenerates the indexes: every row is valid and they list exactly the mirror's meta and profile files", async () => {
    const all = (await Promise.all((Object.keys(INDEX_NAMES) as IndexKind[]).map((k) => listed(info.dir, k)))).flat().sort();
    expect(all).toEqual(mirrorFiles(info.dir));
    const fixtureRows = readFileSync(join(fixturesDir, INDEX_NAMES.core), "latin1").split("\n").filter((l) => l.includes(".nc,")).length;
    const copies = info.floats.length / 15;
    expect((await listed(info.dir, "core")).length).toBeGreaterThan(fixtureRows * Math.floor(copies));
  });

  it("touch() adds the next cycle of the changed floats, CYCLE_NUMBER patched, listed with today's date_update", async () => {
    const before = new Set(mirrorFiles(info.dir));
    const now = Date.UTC(2026, 0, 2, 3, 4, 5);
    const r = await touch(info.dir, 0.1, { now });
    expect(r.changed.length).toBe(3);
    const after = mirrorFiles(info.dir);
    const added = after.filter((p) => !before.has(p));
    expect(added.sort()).toEqual(r.changed.map((c) => c.path).sort());
    const rows = readFileSync(join(info.dir, INDEX_NAMES.core), "latin1").split("\n");
    expect(rows).toContain("# Date of update : 20260102030405");
    for (const path of added) {
      const [dac, wmo] = path.split("/") as [string, string];
      const cycleOf = (p: string) => Number(/_(\d+)D?\.nc$/.exec(p)![1]);
      const cycle = cycleOf(path);
      const others = [...before].filter((p) => p.startsWith(`${dac}/${wmo}/profiles/`));
      expect(cycle).toBe(Math.max(...others.map(cycleOf)) + 1);
      const parsed = await parseArgoFile(new Uint8Array(readFileSync(join(info.dir, "dac", path))), { path });
      if (parsed instanceof ParseError) throw parsed;
      if (parsed.kind !== "profile") throw new Error(`${path} is not a profile file`);
      for (const p of parsed.profiles) expect([p.floatId, p.cycleNumber]).toEqual([wmo, cycle]);
      const row = rows.find((l) => l.startsWith(path + ","));
      expect(row?.endsWith(",20260102030405"), path).toBe(true);
    }
    expect((await listed(info.dir, "core")).sort()).toEqual(after.filter((p) => /\/profiles\/[RD]/.test(p)));
  });
});

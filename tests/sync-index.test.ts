/**
 * The index reader and the planner: the real fixture indexes read whole and
 * right; hostile rows refused with a reason; chunk boundaries, comment lines
 * and CRLF do not matter; the byte-level path check agrees with the regex
 * one; float-level selection by DAC, id, time window, box and shard.
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";
import { describe, expect, it } from "vitest";
import { loadConfig } from "../lib/config.ts";
import { indexChunks } from "../lib/gdac/index-cache.ts";
import {
  fileRest,
  INDEX_NAMES,
  type IndexKind,
  MAX_LINE_BYTES,
  readIndex,
  ROW_DATE,
  ROW_LAT,
  ROW_LON,
  ROW_UPDATE,
} from "../lib/gdac/index-file.ts";
import { checkGdacPath, parseGdacPath } from "../lib/gdac/paths.ts";
import { indexDate, plannedFiles, Planner, type Selection, selectionFromConfig } from "../lib/gdac/plan.ts";
import { fixturesDir, readManifest } from "./support/fixtures.ts";

interface Row {
  dac: string;
  wmo: string;
  path: string;
  dateUpdate: number;
  date: number;
  lat: number;
  lon: number;
}

/** Reads `text` as an index of `kind`, in chunks of `chunk` bytes, keeping every row and refusal. */
async function read(text: string | Uint8Array, kind: IndexKind, chunk = 1 << 20, opts = { dates: true, positions: true }) {
  const bytes = typeof text === "string" ? new TextEncoder().encode(text) : text;
  const rows: Row[] = [];
  const refused: { reason: string; line: number; text: string; float: string | null }[] = [];
  async function* chunks() {
    for (let i = 0; i < bytes.byteLength; i += chunk) yield bytes.subarray(i, i + chunk);
  }
  const visitor = {
    float: (dac: string, wmo: string) => ({ dac, wmo }),
    row: (h: { dac: string; wmo: string }, code: number, v: Float64Array) =>
      rows.push({ ...h, path: `${h.dac}/${h.wmo}/${fileRest(h.wmo, code)}`, dateUpdate: v[ROW_UPDATE], date: v[ROW_DATE], lat: v[ROW_LAT], lon: v[ROW_LON] }),
    refused: (reason: string, line: number, t: string, h: { wmo: string } | null) => refused.push({ reason, line, text: t, float: h?.wmo ?? null }),
  };
  const result = await readIndex(chunks(), kind, visitor, opts);
  return { rows, refused, result };
}

const fixture = (kind: IndexKind) => readFileSync(join(fixturesDir, INDEX_NAMES[kind]), "utf8");
const CORE_HEADER = "# Title : Profile directory file\n# another comment\nfile,date,latitude,longitude,ocean,profiler_type,institution,date_update\n";
const good = "aoml/13857/profiles/R13857_001.nc,19970729200300,0.267,-16.032,A,845,AO,20181011180520";

describe("reading the fixture index files", () => {
  it("reads every row of the four real excerpts, refuses none, and each row names a fixture file", async () => {
    const files = new Set(readManifest().map((r) => r.path));
    const expected: Record<IndexKind, number> = { core: 177, bio: 5, synthetic: 5, meta: 15 };
    for (const kind of Object.keys(expected) as IndexKind[]) {
      const { rows, refused } = await read(fixture(kind), kind);
      expect(refused).toEqual([]);
      expect(rows.length).toBe(expected[kind]);
      for (const r of rows) expect(files.has(`dac/${r.path}`)).toBe(true);
    }
  });

  it("keeps date_update, date and position exactly, and an empty position as NaN", async () => {
    const { rows } = await read(fixture("core"), "core");
    const first = rows.find((r) => r.path === "aoml/13857/profiles/R13857_001.nc")!;
    expect(first).toMatchObject({ dac: "aoml", wmo: "13857", dateUpdate: 20181011180520, date: 19970729200300, lat: 0.267, lon: -16.032 });
    const noPos = rows.find((r) => r.path === "aoml/5906072/profiles/R5906072_121.nc")!;
    expect(noPos.lat).toBeNaN();
    expect(noPos.lon).toBeNaN();
    // date_update of each row equals the file's DATE_UPDATE (MANIFEST.tsv)
    const byPath = new Map(readManifest().map((r) => [r.path, r.dateUpdate]));
    for (const r of rows) expect(String(r.dateUpdate)).toBe(byPath.get(`dac/${r.path}`));
  });

  it("gives the same rows for 1-byte chunks, CRLF line ends, no final newline and 10 comment lines", async () => {
    const text = fixture("bio");
    const whole = await read(text, "bio");
    const tiny = await read(text, "bio", 1);
    expect(tiny.rows).toEqual(whole.rows);
    const crlf = await read(text.replace(/\n/g, "\r\n").trimEnd(), "bio", 7);
    expect(crlf.rows).toEqual(whole.rows);
    const s3Style = "# a\n# b\n" + text.replace(/^#.*\n/, "#\n#\n#\n");
    expect((await read(s3Style, "bio")).rows).toEqual(whole.rows);
  });

  it("reads a gzipped copy through indexChunks", async () => {
    const text = fixture("core");
    const copy = { kind: "core" as const, name: "ar_index_global_prof.txt.gz", bytes: gzipSync(text), gz: true, cached: false, etag: null, lastModified: null, previous: null };
    const rows: string[] = [];
    await readIndex(indexChunks(copy), "core", {
      float: (_dac, wmo) => wmo,
      row: (wmo, code) => rows.push(fileRest(wmo, code)),
      refused: () => {},
    });
    expect(rows.length).toBe(177);
  });

  it("finds columns by name in the header, and fails on a file with no header", async () => {
    const moved = "# c\nfile,date_update,date,latitude,longitude,ocean,profiler_type,institution\n" +
      "aoml/13857/profiles/R13857_001.nc,20181011180520,19970729200300,0.267,-16.032,A,845,AO\n";
    const { rows } = await read(moved, "core");
    expect(rows[0]).toMatchObject({ dateUpdate: 20181011180520, date: 19970729200300, lat: 0.267 });
    await expect(read("# only comments\n# here\n", "core")).rejects.toThrow(/no CSV header/);
    await expect(read("<html><body>Not Found</body></html>\n", "core")).rejects.toThrow(/expected a CSV header/);
  });
});

describe("hostile index rows (issue 8)", () => {
  const hostile: [string, string, RegExp][] = [
    ["traversal", "../../x,19970729200300,0.267,-16.032,A,845,AO,20181011180520", /traversal|unknown DAC/],
    ["deep traversal", "aoml/13857/profiles/../../../../etc/passwd,19970729200300,0.267,-16.032,A,845,AO,20181011180520", /traversal/],
    ["absolute", "/etc/passwd,19970729200300,0.267,-16.032,A,845,AO,20181011180520", /absolute/],
    ["encoded traversal", "aoml/13857/profiles/%2e%2e/%2e%2e/R13857_001.nc,19970729200300,0.267,-16.032,A,845,AO,20181011180520", /percent-encoded/],
    ["encoded dac", "%2e%2e/13857/profiles/R13857_001.nc,19970729200300,0.267,-16.032,A,845,AO,20181011180520", /percent-encoded/],
    ["unknown DAC", "evil/13857/profiles/R13857_001.nc,19970729200300,0.267,-16.032,A,845,AO,20181011180520", /unknown DAC/],
    ["WMO with letters", "aoml/12ab5/profiles/R12ab5_001.nc,19970729200300,0.267,-16.032,A,845,AO,20181011180520", /malformed WMO/],
    ["8-digit WMO", "aoml/12345678/profiles/R12345678_001.nc,19970729200300,0.267,-16.032,A,845,AO,20181011180520", /malformed WMO/],
    ["name of another float", "aoml/13857/profiles/R5900446_001.nc,19970729200300,0.267,-16.032,A,845,AO,20181011180520", /file name does not match/],
    ["B-file in the core index", "aoml/13857/profiles/BR13857_001.nc,19970729200300,0.267,-16.032,A,845,AO,20181011180520", /file name does not match/],
    ["not .nc", "aoml/13857/profiles/R13857_001.sh,19970729200300,0.267,-16.032,A,845,AO,20181011180520", /file name does not match/],
    ["backslash", "aoml/13857/profiles\\R13857_001.nc,19970729200300,0.267,-16.032,A,845,AO,20181011180520", /backslash/],
    ["negative date_update", "aoml/13857/profiles/R13857_001.nc,19970729200300,0.267,-16.032,A,845,AO,-2018101118052", /date_update/],
    ["huge date_update", "aoml/13857/profiles/R13857_001.nc,19970729200300,0.267,-16.032,A,845,AO,99999999999999999999999", /date_update/],
    ["negative date", "aoml/13857/profiles/R13857_001.nc,-1997072920030,0.267,-16.032,A,845,AO,20181011180520", /date is neither/],
    ["huge latitude", "aoml/13857/profiles/R13857_001.nc,19970729200300,1e308,-16.032,A,845,AO,20181011180520", /latitude is not a plain decimal/],
    ["huge longitude", "aoml/13857/profiles/R13857_001.nc,19970729200300,0.267,-1600000000000000000000.5,A,845,AO,20181011180520", /longitude is not a plain decimal/],
    ["negative profiler_type", "aoml/13857/profiles/R13857_001.nc,19970729200300,0.267,-16.032,A,-845,AO,20181011180520", /profiler_type/],
    ["huge field", `aoml/13857/profiles/R13857_001.nc,19970729200300,0.267,-16.032,A,845,${"X".repeat(5000)},20181011180520`, /longer than/],
    ["too many fields", good + ",extra", /expected 8 fields, found 9/],
    ["too few fields", "aoml/13857/profiles/R13857_001.nc,20181011180520", /expected 8 fields, found 2/],
  ];

  // The profile index's usual header takes a hand-written path; any other header the generic one (here: one column more).
  const layouts = [
    { name: "usual header", header: CORE_HEADER, row: (l: string) => l, fields: 8 },
    { name: "other header", header: CORE_HEADER.replace("date_update\n", "date_update,note\n"), row: (l: string) => l + ",x", fields: 9 },
  ];
  for (const layout of layouts) {
    for (const [name, line, reason] of hostile) {
      it(`refuses ${name} (${layout.name}), with a reason, and still reads the good rows around it`, async () => {
        const text = `${layout.header}${layout.row(good)}\n${layout.row(line)}\n${layout.row(good.replace("_001", "_002"))}\n`;
        const { rows, refused } = await read(text, "core");
        expect(rows.map((r) => r.path)).toEqual(["aoml/13857/profiles/R13857_001.nc", "aoml/13857/profiles/R13857_002.nc"]);
        expect(rows[0]).toMatchObject({ dateUpdate: 20181011180520, date: 19970729200300, lat: 0.267, lon: -16.032 });
        expect(refused.length).toBe(1);
        expect(refused[0].reason).toMatch(reason instanceof RegExp && /fields, found/.test(reason.source)
          ? new RegExp(reason.source.replace(/\d+ fields, found (\d+)/, (_m, f) => `${layout.fields} fields, found ${Number(f) + layout.fields - 8}`))
          : reason);
        expect(refused[0].line).toBe(5);
      });
    }
  }

  it("refuses a line longer than MAX_LINE_BYTES without keeping it, whatever the chunking", async () => {
    const long = `aoml/13857/profiles/R13857_001.nc,${"9".repeat(MAX_LINE_BYTES + 10)}`;
    for (const chunk of [1 << 20, 4096]) {
      const { rows, refused } = await read(`${CORE_HEADER}${long}\n${good}\n`, "core", chunk);
      expect(refused.map((r) => r.reason)).toEqual([`line longer than ${MAX_LINE_BYTES} bytes`]);
      expect(rows.length).toBe(1);
    }
  });

  it("names the float of a refused row when its dac/wmo part was valid", async () => {
    const { refused } = await read(`${CORE_HEADER}aoml/13857/profiles/R13857_001.nc,x,0,0,A,845,AO,20181011180520\n`, "core");
    expect(refused[0].float).toBe("13857");
  });

  it("the byte-level check and parseGdacPath agree on good and bad paths", async () => {
    const paths = [
      ...readManifest().filter((r) => r.path.startsWith("dac/")).map((r) => r.path.slice(4)),
      ...hostile.map(([, line]) => line.split(",")[0]),
      "aoml/13857/profiles/R13857_1000.nc", "aoml/13857/profiles/R13857_10000.nc", "aoml/13857/profiles/R13857_01.nc",
      "aoml/13857/profiles/D13857_001D.nc", "aoml/13857/profiles/D13857_001DD.nc", "aoml/13857/13857_meta.nc",
      "aoml/13857/13857_meta.nc.nc", "aoml/13857//profiles/R13857_001.nc", "aoml/13857/profiles/R13857_001.nc/",
    ];
    for (const kind of ["core", "bio", "synthetic", "meta"] as IndexKind[]) {
      const header = kind === "meta" ? "file,profiler_type,institution,date_update\n" : "file,date,latitude,longitude,date_update\n";
      const text = header + paths.map((p) => kind === "meta" ? `${p},845,AO,20181011180520` : `${p},,,,20181011180520`).join("\n") + "\n";
      const { rows } = await read(text, kind);
      const accepted = new Set(rows.map((r) => r.path));
      for (const p of paths) {
        const parsed = parseGdacPath(p);
        const rest = parsed?.rest ?? "";
        const ofKind = kind === "meta"
          ? rest.endsWith("_meta.nc")
          : rest.startsWith("profiles/") && ({ core: /^profiles\/[RD]\d/, bio: /^profiles\/B/, synthetic: /^profiles\/S/ }[kind]).test(rest);
        expect(accepted.has(p), `${kind}: ${p}`).toBe(parsed !== null && ofKind);
      }
    }
    expect(() => checkGdacPath("../../x")).toThrow(/refused GDAC path/);
  });
});

describe("planning", () => {
  async function plan(sel: Partial<Selection>) {
    const planner = new Planner({ dacs: [], floatIds: [], ...sel });
    for (const kind of ["core", "bio", "synthetic", "meta"] as IndexKind[]) {
      await readIndex((async function* () {
        yield new TextEncoder().encode(fixture(kind));
      })(), kind, planner.visitor(kind), planner.readOptions);
    }
    return planner.finish();
  }

  it("without a selection, plans every float and every listed file", async () => {
    const p = await plan({});
    expect(p.floats.length).toBe(15);
    const listed = p.floats.flatMap((f) => [...plannedFiles(f).keys()]).map((k) => `dac/${k}`).sort();
    expect(listed).toEqual(readManifest().map((r) => r.path).filter((x) => /(_meta|\/profiles\/.*)\.nc$/.test(x)).sort());
    expect(p.floats.filter((f) => f.synthetic).map((f) => f.wmo).sort()).toEqual(["3902131", "6903247"]);
  });

  it("selects by DAC and by float id, and names requested ids it cannot find", async () => {
    const p = await plan({ dacs: ["coriolis", "bodc"] });
    expect(p.floats.map((f) => f.wmo).sort()).toEqual(["1900857", "3902131", "6901929", "6903247"]);
    const q = await plan({ floatIds: ["13857", "3902131", "1234567"], dacs: ["aoml"] });
    expect(q.floats.map((f) => f.wmo)).toEqual(["13857"]);
    expect(q.unknownIds).toEqual(["1234567"]);
    expect([...q.otherDacIds]).toEqual([["3902131", "coriolis"]]);
    const f3902131 = (await plan({ floatIds: ["3902131"] })).floats[0];
    // meta, core D (3), B (3), S (3)
    expect([...plannedFiles(f3902131).keys()].sort()).toEqual([
      "coriolis/3902131/3902131_meta.nc",
      "coriolis/3902131/profiles/BR3902131_001.nc", "coriolis/3902131/profiles/BR3902131_001D.nc", "coriolis/3902131/profiles/BR3902131_002.nc",
      "coriolis/3902131/profiles/D3902131_001.nc", "coriolis/3902131/profiles/D3902131_001D.nc", "coriolis/3902131/profiles/D3902131_002.nc",
      "coriolis/3902131/profiles/SD3902131_001.nc", "coriolis/3902131/profiles/SD3902131_001D.nc", "coriolis/3902131/profiles/SD3902131_002.nc",
    ]);
  });

  it("selects whole floats by time window and box: one matching profile brings all the float's files", async () => {
    // R13857_001 is 1997-07-29 at 0.267N 16.032W; the float's other profiles are later.
    const p = await plan({ dateFrom: indexDate("1997-07-29"), dateTo: indexDate("1997-07-29", true) });
    expect(p.floats.map((f) => f.wmo)).toEqual(["13857"]);
    expect(p.floats[0].listed).toBe(5); // 4 profiles + meta
    const box = await plan({ bbox: { lonMin: -16.5, lonMax: -16, latMin: 0, latMax: 0.5 } });
    expect(box.floats.map((f) => f.wmo)).toEqual(["13857"]);
    const none = await plan({ dateFrom: indexDate("2030-01-01") });
    expect(none.floats).toEqual([]);
  });

  it("a shard filter keeps only its floats", async () => {
    const p = await plan({ shard: (wmo) => Number(wmo) % 2 === 0 });
    expect(p.floats.length).toBeGreaterThan(0);
    expect(p.floats.every((f) => Number(f.wmo) % 2 === 0)).toBe(true);
  });

  it("builds its selection from the config (dates are inclusive, a bare end date means the whole day)", () => {
    const config = loadConfig({
      env: { ARGO_DAC: "aoml,meds", SYNC_DATE_FROM: "2020-01-01", SYNC_DATE_TO: "2020-12-31", SYNC_BBOX: "-20,10,-5,5" },
      envFile: "/nonexistent",
    });
    const sel = selectionFromConfig(config, ["13857"]);
    expect(sel).toMatchObject({
      dacs: ["aoml", "meds"],
      floatIds: ["13857"],
      dateFrom: 20200101000000,
      dateTo: 20201231235959,
      bbox: { lonMin: -20, lonMax: 10, latMin: -5, latMax: 5 },
    });
  });
});

/**
 * The plots checked for what they show, for fixture floats in a lake filled
 * by run-float: the trajectory has one mark per primary profile with a
 * position and circles the latest; the profile plot's axes span the plotted
 * pressures, temperatures and salinities; the section has a column per
 * profile and covers its cycles and times. Expected values come from SQL over
 * the lake written here, not from the plot code. Also `deno task plot` /
 * `npm run plot` from the lake alone, SVG and PNG, and its errors.
 */
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { DuckSession } from "../lib/duckdb.ts";
import { trajectorySvg } from "../lib/plot/trajectory.ts";
import { duckRows, lakeSession } from "./load-dump.ts";
import { runJobProcess } from "./support/jobs.ts";
import { type ServeBed, serveBed } from "./serve-support.ts";

let bed: ServeBed;
let duck: DuckSession;
let url: string;

beforeAll(async () => {
  bed = await serveBed("plotcontent", ["5900865", "13857"]);
  url = (await bed.start({ RATE_LIMIT_RATE: "0" })).url;
  duck = await lakeSession(bed.lake.path);
}, 120_000);

afterAll(async () => {
  duck?.close();
  await bed?.cleanup();
});

const svg = async (wmo: string, kind: string, q = "") => {
  const r = await fetch(`${url}/plots/floats/${wmo}/${kind}.svg${q}`);
  expect(r.status).toBe(200);
  expect(r.headers.get("content-type")).toMatch(/^image\/svg\+xml/);
  return r.text();
};
const all = (text: string, re: RegExp) => [...text.matchAll(re)];
const domainOf = (text: string, cls: string, quantity: string): [number, number] => {
  const m = new RegExp(`<g class="axis ${cls}" data-quantity="${quantity}" data-domain="([^"]+)"`).exec(text);
  expect(m, `${cls} axis of ${quantity}`).not.toBeNull();
  const [a, b] = m![1]!.split(",").map(Number) as [number, number];
  return [Math.min(a, b), Math.max(a, b)];
};
const GOOD = (p: string) => `${p} IS NOT NULL AND coalesce(${p}_qc, 0) NOT IN (3, 4)`;

describe("trajectory", () => {
  test("one mark per primary profile with a position, the latest circled, axes and the float id", async () => {
    for (const wmo of ["5900865", "13857"]) {
      const text = await svg(wmo, "trajectory");
      const expected = await duckRows(duck, `SELECT cycle_number, direction FROM profiles WHERE float_id = '${wmo}' AND profile_index = 0 AND latitude IS NOT NULL AND longitude IS NOT NULL ORDER BY time NULLS LAST, cycle_number`);
      const marks = all(text, /<circle class="position" data-cycle="(\d+)" data-direction="(\w)" cx="([\d.]+)" cy="([\d.]+)"/g);
      expect(marks.length, wmo).toBe(expected.length);
      expect(marks.map((m) => Number(m[1])).sort((a, b) => a - b)).toEqual(expected.map((r) => r.cycle_number).sort((a, b) => (a as number) - (b as number)));
      const latest = await duckRows(duck, `SELECT cycle_number FROM profiles WHERE float_id = '${wmo}' AND profile_index = 0 AND latitude IS NOT NULL AND time IS NOT NULL ORDER BY time DESC LIMIT 1`);
      expect(text).toContain(`<g class="latest" data-cycle="${latest[0]!.cycle_number}">`);
      expect(text).toContain(`Float ${wmo}: trajectory`);
      expect(text).toContain("Longitude (°E)");
      expect(text).toContain("Latitude (°N)");
      // Every mark is inside the map, and east is right: the easternmost position has the largest x.
      for (const m of marks) {
        expect(Number(m[3])).toBeGreaterThan(78);
        expect(Number(m[3])).toBeLessThan(760);
      }
    }
    const pos = await duckRows(duck, "SELECT cycle_number, longitude FROM profiles WHERE float_id = '5900865' AND profile_index = 0 ORDER BY longitude DESC LIMIT 1");
    const text = await svg("5900865", "trajectory");
    // 5900865 drifted south of Java: its map has coastlines.
    expect(text).toContain('<path class="land" d="M');
    const xs = all(text, /<circle class="position" data-cycle="(\d+)" data-direction="\w" cx="([\d.]+)"/g);
    const maxX = Math.max(...xs.map((m) => Number(m[2])));
    expect(xs.find((m) => Number(m[1]) === pos[0]!.cycle_number)![2]).toBe(String(maxX));
  });
});

test("a float that crosses the antimeridian is drawn across it, east to the right, on a map centred there", () => {
  const at = (cycle: number, lon: number) => ({ cycle_number: cycle, direction: "A", time_ms: Date.UTC(2020, 0, cycle), latitude: -17.5, longitude: lon, position_qc: 1 });
  const text = trajectorySvg("5901234", [at(1, 178), at(2, 179.5), at(3, -179.5), at(4, -178)]);
  const xs = all(text, /<circle class="position" data-cycle="(\d+)" data-direction="\w" cx="([\d.]+)"/g).map((m) => Number(m[2]));
  expect(xs.length).toBe(4);
  expect([...xs].sort((a, b) => a - b)).toEqual(xs);
  expect(xs[3]! - xs[0]!).toBeLessThan(400); // 4 degrees apart, not 356
  expect(text).toMatch(/>180°</);
  expect(text).toContain('<path class="land" d="M'); // Fiji
});

describe("profiles", () => {
  test("the axes span the plotted profiles' pressures, temperatures and salinities (pressure increasing downwards)", async () => {
    const text = await svg("5900865", "profiles", "?n=10");
    const r = (await duckRows(duck, `
      WITH latest AS (SELECT cycle_number FROM profiles WHERE float_id = '5900865' AND profile_index = 0 ORDER BY cycle_number DESC LIMIT 10)
      SELECT min(pres) AS p0, max(pres) AS p1,
             min(CASE WHEN ${GOOD("temp")} THEN temp END) AS t0, max(CASE WHEN ${GOOD("temp")} THEN temp END) AS t1,
             min(CASE WHEN ${GOOD("psal")} THEN psal END) AS s0, max(CASE WHEN ${GOOD("psal")} THEN psal END) AS s1
        FROM measurements WHERE float_id = '5900865' AND profile_index = 0 AND ${GOOD("pres")}
         AND cycle_number IN (SELECT cycle_number FROM latest)`))[0]! as Record<string, number>;
    expect(all(text, /<path class="profile" data-cycle="(\d+)"/g).length).toBe(20); // 10 profiles x 2 panels
    const [p0, p1] = domainOf(text, "left", "pressure");
    const [t0, t1] = domainOf(text, "top", "temperature");
    const [s0, s1] = domainOf(text, "top", "salinity");
    // Covering the data, and not much more (rounded out to ticks).
    expect(p0).toBeLessThanOrEqual(r.p0!);
    expect(p1).toBeGreaterThanOrEqual(r.p1! - 1e-3);
    expect(p1 - p0).toBeLessThan((r.p1! - r.p0!) * 1.3);
    expect(t0).toBeLessThanOrEqual(r.t0! + 1e-4);
    expect(t1).toBeGreaterThanOrEqual(r.t1! - 1e-4);
    expect(t1 - t0).toBeLessThan((r.t1! - r.t0!) * 1.5);
    expect(s0).toBeLessThanOrEqual(r.s0! + 1e-4);
    expect(s1).toBeGreaterThanOrEqual(r.s1! - 1e-4);
    // Pressure increases downwards: the tick of the larger pressure is lower on the page.
    const ticks = all(text, /<text class="tick" x="72" y="([\d.]+)" text-anchor="end" font-size="11">([\d,]+)<\/text>/g)
      .map((m) => [Number(m[1]), Number(m[2]!.replace(/,/g, ""))] as const);
    expect(ticks.length).toBeGreaterThan(3);
    for (let i = 1; i < ticks.length; i++) expect(Math.sign(ticks[i]![0] - ticks[0]![0])).toBe(Math.sign(ticks[i]![1] - ticks[0]![1]));
    for (const label of ["Float 5900865: latest profiles", "Temperature (°C, ITS-90)", "Practical salinity (PSS-78)", "Pressure (dbar)"]) expect(text).toContain(label);
    // 13857 has no PSAL: its salinity panel says so instead of drawing an empty axis.
    expect(await svg("13857", "profiles")).toContain("no salinity data");
  });
});

describe("section", () => {
  test("one column per profile with a time, covering the float's cycles and times", async () => {
    const text = await svg("5900865", "section");
    const expected = await duckRows(duck, `SELECT cycle_number, epoch_ms(min(time)) AS t FROM measurements WHERE float_id = '5900865' AND profile_index = 0 AND time IS NOT NULL AND ${GOOD("pres")} AND ${GOOD("temp")} GROUP BY cycle_number, direction ORDER BY t`);
    const cols = all(text, /<g class="column" data-cycle="(\d+)" data-direction="\w" data-time="(\d+)">/g);
    expect(cols.length).toBe(expected.length);
    expect(cols.map((c) => Number(c[1]))).toEqual(expected.map((r) => r.cycle_number));
    const cycles = expected.map((r) => r.cycle_number as number);
    expect(text).toContain(`data-cycles="${Math.min(...cycles)},${Math.max(...cycles)}"`);
    const [x0, x1] = domainOf(text, "bottom", "time");
    expect(x0).toBeLessThan(Number(expected[0]!.t));
    expect(x1).toBeGreaterThan(Number(expected.at(-1)!.t));
    const [c0, c1] = (/<g class="colour-bar" data-domain="([^"]+)"/.exec(text)![1]!).split(",").map(Number) as [number, number];
    const t = (await duckRows(duck, `SELECT min(temp) AS lo, max(temp) AS hi FROM measurements WHERE float_id = '5900865' AND profile_index = 0 AND time IS NOT NULL AND ${GOOD("pres")} AND ${GOOD("temp")}`))[0]!;
    expect(c0).toBeLessThanOrEqual(t.lo as number);
    expect(c1).toBeGreaterThanOrEqual(t.hi as number);
    for (const label of ["Float 5900865: temperature section", "Profile time (UTC)", "Pressure (dbar)", "Temperature (°C, ITS-90)"]) expect(text).toContain(label);
  });

  test("a float the lake does not hold is a 404, not an empty picture", async () => {
    const r = await fetch(`${url}/plots/floats/1234567/section.svg`);
    expect(r.status).toBe(404);
    expect(await r.json()).toMatchObject({ error: "float not found", detail: { wmo: "1234567" } });
  });
});

describe("deno task plot / npm run plot, from the lake alone", () => {
  /** Width and height from a PNG's IHDR chunk. */
  const pngSize = (b: Buffer) => [b.readUInt32BE(16), b.readUInt32BE(20)];

  test.each(["node", "deno"] as const)("under %s: SVG and PNG files, no Redis or Postgres", async (runtime) => {
    const env = { LAKE_URL: bed.lake.path, LOG_FORMAT: "json" };
    const svgOut = join(bed.lake.path, `..`, `${runtime}-traj-${process.pid}.svg`);
    const pngOut = join(bed.lake.path, `..`, `${runtime}-section-${process.pid}.png`);
    const a = await runJobProcess("plot", ["5900865", "--kind", "trajectory", "--out", svgOut], { env, runtime, timeoutMs: 60_000 });
    expect(a.code, a.stderr).toBe(0);
    const text = await readFile(svgOut, "utf8");
    expect(text).toMatch(/^<svg /);
    expect(all(text, /<circle class="position"/g).length).toBe(80);
    const b = await runJobProcess("plot", ["5900865", "--kind", "section", "--out", pngOut], { env, runtime, timeoutMs: 60_000 });
    expect(b.code, b.stderr).toBe(0);
    const png = await readFile(pngOut);
    expect(png.subarray(0, 8)).toEqual(Buffer.from([0x89, 0x50, 0x4e, 0x47, 0x0d, 0x0a, 0x1a, 0x0a]));
    expect(pngSize(png)).toEqual([1800, 1120]);
    expect(png.length).toBeGreaterThan(20_000);
  }, 120_000);

  test("bad arguments exit 2 naming them; a float the lake does not hold exits 1", async () => {
    const env = { LAKE_URL: bed.lake.path };
    const out = join(bed.lake.path, "..", "x.svg");
    for (const [args, msg] of [
      [["12345678", "--kind", "trajectory", "--out", out], "5 or 7 digits"],
      [["5900865", "--kind", "map", "--out", out], "expected trajectory, profiles or section"],
      [["5900865", "--kind", "section", "--out", "x.pdf"], "ending in .svg or .png"],
    ] as const) {
      const r = await runJobProcess("plot", [...args], { env });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toContain(msg);
    }
    const r = await runJobProcess("plot", ["1234567", "--kind", "section", "--out", out], { env });
    expect(r.code).toBe(1);
    expect(r.stderr).toContain("float 1234567 has no profile in the lake");
  }, 120_000);
});

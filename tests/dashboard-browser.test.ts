/**
 * The dashboard in a real browser: Debian's chromium driven by
 * playwright-core opens `/` on a server over a fixture lake filled by
 * run-float, sees every fixture float with a position on the map, clicks
 * one, and sees its summary and its three plots loaded. Screenshots go to
 * test-artifacts/ (git-ignored). Skipped, saying so, when chromium is not
 * installed (.ci/run installs it).
 */
import { existsSync } from "node:fs";
import { mkdir } from "node:fs/promises";
import { join } from "node:path";
import { type Browser, chromium } from "playwright-core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { repoRoot } from "./support/fixtures.ts";
import { SERVE_FLOATS, type ServeBed, serveBed } from "./serve-support.ts";

const CHROMIUM = "/usr/bin/chromium";
const ARTIFACTS = join(repoRoot, "test-artifacts");
const have = existsSync(CHROMIUM);
if (!have) console.warn(`dashboard-browser: ${CHROMIUM} not found (apt-get install chromium); the browser test is skipped`);

let bed: ServeBed;
let url: string;
let browser: Browser;

beforeAll(async () => {
  if (!have) return;
  bed = await serveBed("dashboard");
  url = (await bed.start({ RATE_LIMIT_RATE: "0" })).url;
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking", "--no-first-run"],
  });
  await mkdir(ARTIFACTS, { recursive: true });
}, 180_000);

afterAll(async () => {
  await browser?.close();
  await bed?.cleanup();
});

describe.skipIf(!have)("the dashboard in headless Chromium", () => {
  test("shows the fixture floats on the map; a click shows the float's summary and its three plots", async () => {
    const page = await browser.newPage({ viewport: { width: 1280, height: 1800 } });
    const failed: string[] = [];
    page.on("requestfailed", (r) => failed.push(r.url()));
    page.on("pageerror", (e) => failed.push(`page error: ${e.message}`));
    page.on("request", (r) => {
      if (!r.url().startsWith(url)) failed.push(`request outside the server: ${r.url()}`);
    });
    await page.goto(url + "/");
    const withPosition = (await bed.db.pool.query("SELECT float_id FROM floats WHERE last_latitude IS NOT NULL ORDER BY 1")).rows.map((r) => r.float_id);
    expect(withPosition.length).toBe(SERVE_FLOATS.length);
    await page.waitForSelector("#status[data-count]");
    const marks = await page.locator("#floats circle.float").all();
    const onMap = (await Promise.all(marks.map((m) => m.getAttribute("data-wmo")))).sort();
    expect(onMap).toEqual(withPosition);
    expect(await page.textContent("#status")).toBe(`${withPosition.length} floats`);
    // A float is drawn where its latest position is: x from longitude, y from latitude (equirectangular 1000x500).
    const s = (await bed.db.pool.query("SELECT last_latitude, last_longitude FROM floats WHERE float_id = '5900865'")).rows[0];
    const cx = Number(await page.getAttribute('circle.float[data-wmo="5900865"]', "cx"));
    const cy = Number(await page.getAttribute('circle.float[data-wmo="5900865"]', "cy"));
    expect(cx).toBeCloseTo(((s.last_longitude + 180) / 360) * 1000, 0);
    expect(cy).toBeCloseTo(((90 - s.last_latitude) / 180) * 500, 0);
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-map.png"), fullPage: true });

    await page.click('circle.float[data-wmo="5900865"]');
    await page.waitForSelector('#summary[data-wmo="5900865"]');
    expect(await page.textContent("#title")).toBe("Float 5900865");
    const summary = await page.textContent("#summary");
    expect(summary).toContain("csiro");
    expect(summary).toContain("profiles80");
    for (const kind of ["trajectory", "profiles", "section"]) {
      const img = `#plot-${kind}`;
      // The page's own DOM, as strings (this project type-checks without the DOM library).
      await page.waitForFunction(`(() => { const el = document.querySelector("${img}"); return !!el && el.complete && el.naturalWidth > 0; })()`);
      expect(await page.getAttribute(img, "src")).toBe(`/plots/floats/5900865/${kind}.svg`);
      expect(await page.evaluate(`document.querySelector("${img}").naturalWidth`)).toBe(900);
    }
    expect(await page.isVisible("#details")).toBe(true);
    await page.screenshot({ path: join(ARTIFACTS, "dashboard-float-5900865.png"), fullPage: true });
    expect(failed).toEqual([]);
    await page.close();
  });
});

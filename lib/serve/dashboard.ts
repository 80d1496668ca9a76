/**
 * The dashboard page: plain HTML and a little script (lib/serve/dashboard.html),
 * served by the API itself. The world map is drawn here once (Natural Earth
 * 1:110m land, equirectangular, 1000x500) and inlined; the page's script adds
 * the floats from /api/floats at their latest positions, and a click shows the
 * float's summary and its three plots. No CDN, no build step.
 */
import { readFileSync } from "node:fs";
import { geoEquirectangular, geoPath } from "d3-geo";
import { land } from "../plot/world.ts";

/** The map's size; the page's script uses the same equirectangular formula. */
export const MAP_WIDTH = 1000;
export const MAP_HEIGHT = 500;

let page: string | null = null;

/** The page's HTML (made once per process). */
export function dashboardHtml(): string {
  if (page === null) {
    const projection = geoEquirectangular().scale(MAP_WIDTH / (2 * Math.PI)).translate([MAP_WIDTH / 2, MAP_HEIGHT / 2]).precision(0.5);
    const d = geoPath(projection).digits(1)(land("110m")) ?? "";
    const template = readFileSync(new URL("./dashboard.html", import.meta.url), "utf8");
    page = template.replaceAll("{{map_width}}", String(MAP_WIDTH)).replaceAll("{{map_height}}", String(MAP_HEIGHT)).replace("{{land_path}}", d);
  }
  return page;
}

/**
 * The plots of a float by kind, from the lake: read the data, draw the SVG;
 * and SVG to PNG through resvg (a Rust SVG renderer shipped as a prebuilt
 * Node-API module in its npm package, fonts from the system).
 */
import { z } from "zod";
import { floatInLake, profilesData, sectionData, trajectoryData } from "./data.ts";
import { profilesSvg } from "./profiles.ts";
import { sectionSvg } from "./section.ts";
import { trajectorySvg } from "./trajectory.ts";
import type { LakeQuery } from "../serve/backends.ts";

/** The kinds of plot. */
export const PlotKindSchema = z.enum(["trajectory", "profiles", "section"], { error: "expected trajectory, profiles or section" });
export type PlotKind = z.infer<typeof PlotKindSchema>;

/** Profiles drawn by the profiles plot unless asked otherwise. */
export const DEFAULT_PROFILES = 10;

/** A plot's SVG, or null when the lake has no profile of the float. */
export async function renderPlot(lake: LakeQuery, wmo: string, kind: PlotKind, opts: { profiles?: number } = {}): Promise<string | null> {
  if (!(await floatInLake(lake, wmo))) return null;
  switch (kind) {
    case "trajectory":
      return trajectorySvg(wmo, await trajectoryData(lake, wmo));
    case "profiles":
      return profilesSvg(wmo, await profilesData(lake, wmo, opts.profiles ?? DEFAULT_PROFILES));
    case "section":
      return sectionSvg(wmo, await sectionData(lake, wmo));
  }
}

/** Renders an SVG to PNG bytes (`scale` 2 gives a 1800 px wide image for the 900 px plots). */
export async function svgToPng(svg: string, scale = 1): Promise<Uint8Array> {
  const { Resvg } = await import("@resvg/resvg-js");
  const r = new Resvg(svg, { fitTo: { mode: "zoom", value: scale }, font: { loadSystemFonts: true, defaultFontFamily: "DejaVu Sans" } });
  return r.render().asPng();
}

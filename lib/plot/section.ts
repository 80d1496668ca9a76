/**
 * A float's time-pressure section of temperature: one column per profile at
 * its time (as wide as halfway to its neighbours, at most three typical
 * spacings, so a long gap stays blank), each level a cell down to halfway to
 * the next, coloured by temperature. Neighbouring levels of the same colour
 * step are drawn as one cell, which keeps a 300-profile section small.
 * Pure: data in, SVG out.
 */
import { scaleLinear, scaleUtc } from "d3-scale";
import { interpolateRdYlBu } from "d3-scale-chromatic";
import type { SectionColumn } from "./data.ts";
import { axis, type Box, colourBar, document, emptyPlot, HEIGHT, isoDay, n, WIDTH } from "./svg.ts";

/** Colour steps of the temperature scale. */
const STEPS = 32;

/** The section plot of a float's profiles (from sectionData). */
export function sectionSvg(wmo: string, columns: SectionColumn[]): string {
  const title = `Float ${wmo}: temperature section`;
  const cols = columns.filter((c) => c.pres.length > 0);
  if (cols.length === 0) return emptyPlot(title, "no profile of this float has a time and good temperatures");
  const box: Box = { x0: 78, y0: 58, x1: WIDTH - 140, y1: HEIGHT - 58 };
  let tLo = Infinity, tHi = -Infinity, pHi = -Infinity, pLo = Infinity;
  for (const c of cols) {
    for (const t of c.temp) {
      if (t < tLo) tLo = t;
      if (t > tHi) tHi = t;
    }
    pLo = Math.min(pLo, c.pres[0]!);
    pHi = Math.max(pHi, c.pres[c.pres.length - 1]!);
  }
  const times = cols.map((c) => c.time_ms);
  const first = times[0]!, last = times[times.length - 1]!;
  const gaps = times.slice(1).map((t, i) => t - times[i]!).sort((a, b) => a - b);
  const typical = gaps.length ? gaps[Math.floor(gaps.length / 2)]! || 86_400_000 : 10 * 86_400_000;
  const half = typical / 2;
  const x = scaleUtc().domain([new Date(first - half), new Date(last + half)]).range([box.x0, box.x1]);
  const y = scaleLinear().domain([Math.min(0, pLo), pHi]).nice(8).range([box.y0, box.y1]);
  const temp = scaleLinear().domain([tLo, tHi === tLo ? tLo + 1 : tHi]).nice(6);
  const [dLo, dHi] = temp.domain() as [number, number];
  const step = (v: number) => Math.min(STEPS - 1, Math.max(0, Math.floor(((v - dLo) / (dHi - dLo)) * STEPS)));
  const stepColour = Array.from({ length: STEPS }, (_, i) => interpolateRdYlBu(1 - (i + 0.5) / STEPS));
  const colour = (v: number) => stepColour[step(v)]!;

  const parts: string[] = [];
  for (let i = 0; i < cols.length; i++) {
    const c = cols[i]!;
    const t = c.time_ms;
    const before = i > 0 ? Math.min((t - cols[i - 1]!.time_ms) / 2, 3 * typical) : half;
    const after = i < cols.length - 1 ? Math.min((cols[i + 1]!.time_ms - t) / 2, 3 * typical) : half;
    const xa = x(new Date(t - before)), xb = x(new Date(t + after));
    const w = Math.max(0.8, xb - xa);
    const cells: string[] = [];
    let k = 0;
    while (k < c.pres.length) {
      const s = step(c.temp[k]!);
      let j = k;
      while (j + 1 < c.pres.length && step(c.temp[j + 1]!) === s) j++;
      const top = k === 0 ? c.pres[0]! : (c.pres[k - 1]! + c.pres[k]!) / 2;
      const bottom = j === c.pres.length - 1 ? c.pres[j]! : (c.pres[j]! + c.pres[j + 1]!) / 2;
      const ya = y(top), yb = y(bottom);
      cells.push(`<rect x="${n(xa)}" y="${n(ya)}" width="${n(w + 0.3)}" height="${n(Math.max(0.6, yb - ya))}" fill="${stepColour[s]}"/>`);
      k = j + 1;
    }
    parts.push(`<g class="column" data-cycle="${c.cycle_number}" data-direction="${c.direction}" data-time="${t}">${cells.join("")}</g>`);
  }
  const body = `<rect x="${box.x0}" y="${box.y0}" width="${box.x1 - box.x0}" height="${box.y1 - box.y0}" fill="#f2f2f2"/>` +
    `<g class="cells" shape-rendering="crispEdges">${parts.join("")}</g>` +
    axis(x, "bottom", box, "Profile time (UTC)", { quantity: "time", ticks: 7, grid: false }) +
    axis(y, "left", box, "Pressure (dbar)", { quantity: "pressure", ticks: 8, grid: false }) +
    `<rect x="${box.x0}" y="${box.y0}" width="${box.x1 - box.x0}" height="${box.y1 - box.y0}" fill="none" stroke="#000"/>` +
    colourBar(temp, colour, box, "Temperature (°C, ITS-90)", (v) => String(Math.round(v * 100) / 100));
  const cycles = cols.map((c) => c.cycle_number);
  return document(title, `${cols.length} profiles, cycles ${Math.min(...cycles)} to ${Math.max(...cycles)}, ${isoDay(first)} to ${isoDay(last)}`, body, {
    "data-kind": "section",
    "data-float": wmo,
    "data-cycles": `${Math.min(...cycles)},${Math.max(...cycles)}`,
  });
}

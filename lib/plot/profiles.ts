/**
 * A float's latest profiles: temperature and salinity against pressure, side
 * by side, pressure increasing downwards, one colour per cycle. The axes span
 * the data drawn (rounded out to whole ticks). Pure: data in, SVG out.
 */
import { scaleLinear } from "d3-scale";
import { interpolateViridis } from "d3-scale-chromatic";
import type { ProfileCurve } from "./data.ts";
import { axis, type Box, document, emptyPlot, esc, HEIGHT, isoDay, n, WIDTH } from "./svg.ts";

/** min and max of the non-null values, or null. */
function extent(values: Iterable<number | null>): [number, number] | null {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) {
    if (v === null) continue;
    if (v < lo) lo = v;
    if (v > hi) hi = v;
  }
  return lo <= hi ? [lo, hi] : null;
}

/** One panel: a quantity against pressure, a line per profile. */
function panel(
  curves: ProfileCurve[],
  pick: (c: ProfileCurve) => (number | null)[],
  box: Box,
  presDomain: [number, number],
  label: string,
  quantity: string,
  colours: string[],
): string {
  const ext = extent(curves.flatMap(pick));
  if (!ext) {
    return `<g class="panel" data-quantity="${quantity}"><rect x="${box.x0}" y="${box.y0}" width="${box.x1 - box.x0}" height="${box.y1 - box.y0}" fill="#f6f6f6" stroke="#000"/>` +
      `<text x="${(box.x0 + box.x1) / 2}" y="${(box.y0 + box.y1) / 2}" text-anchor="middle" font-size="13" fill="#666">no ${esc(quantity)} data</text></g>`;
  }
  const x = scaleLinear().domain(ext[0] === ext[1] ? [ext[0] - 0.5, ext[1] + 0.5] : ext).nice(6).range([box.x0, box.x1]);
  const y = scaleLinear().domain(presDomain).nice(6).range([box.y0, box.y1]);
  const lines = curves.map((c, i) => {
    const v = pick(c);
    let d = "";
    let pen = false;
    for (let k = 0; k < c.pres.length; k++) {
      const val = v[k];
      if (val === null || val === undefined) {
        pen = false;
        continue;
      }
      d += `${pen ? "L" : "M"}${n(x(val))},${n(y(c.pres[k]!))}`;
      pen = true;
    }
    return `<path class="profile" data-cycle="${c.cycle_number}" d="${d}" fill="none" stroke="${colours[i]}" stroke-width="1.4"/>`;
  }).join("");
  return `<g class="panel" data-quantity="${quantity}">` +
    axis(x, "top", box, label, { quantity, ticks: 6 }) +
    axis(y, "left", box, "Pressure (dbar)", { quantity: "pressure", ticks: 8 }) +
    `<rect x="${box.x0}" y="${box.y0}" width="${box.x1 - box.x0}" height="${box.y1 - box.y0}" fill="none" stroke="#000"/>` +
    lines + `</g>`;
}

/** The profiles plot of a float's latest profiles (from profilesData). */
export function profilesSvg(wmo: string, curves: ProfileCurve[]): string {
  const title = `Float ${wmo}: latest profiles`;
  const withData = curves.filter((c) => c.pres.length > 0);
  if (withData.length === 0) return emptyPlot(title, "no profile of this float has good pressure levels");
  const pres = extent(withData.flatMap((c) => c.pres))!;
  const presDomain: [number, number] = pres[0] === pres[1] ? [pres[0], pres[0] + 1] : pres;
  const colours = withData.map((_, i) => interpolateViridis(withData.length === 1 ? 0.2 : (i / (withData.length - 1)) * 0.9));
  const top = 95, bottom = HEIGHT - 28;
  const left: Box = { x0: 80, y0: top, x1: 380, y1: bottom };
  const right: Box = { x0: 450, y0: top, x1: 750, y1: bottom };
  const legend = withData.map((c, i) => {
    const y = top + 8 + i * 17;
    const when = c.time_ms === null ? "" : ` ${isoDay(c.time_ms)}`;
    return `<g class="legend-item" data-cycle="${c.cycle_number}"><line x1="${WIDTH - 118}" y1="${y}" x2="${WIDTH - 100}" y2="${y}" stroke="${colours[i]}" stroke-width="2.5"/>` +
      `<text x="${WIDTH - 95}" y="${y + 4}" font-size="10">${c.cycle_number}${c.direction === "D" ? "D" : ""}${when}</text></g>`;
  }).join("");
  const body = panel(withData, (c) => c.temp, left, presDomain, "Temperature (°C, ITS-90)", "temperature", colours) +
    panel(withData, (c) => c.psal, right, presDomain, "Practical salinity (PSS-78)", "salinity", colours) +
    `<text x="${WIDTH - 118}" y="${top - 8}" font-size="11" font-weight="bold">cycle</text>${legend}`;
  const cycles = withData.map((c) => c.cycle_number);
  return document(title, `${withData.length} profiles, cycles ${Math.min(...cycles)} to ${Math.max(...cycles)}; best values, levels flagged bad left out`, body, {
    "data-kind": "profiles",
    "data-float": wmo,
  });
}

/**
 * A float's trajectory: its positions on a map of its region (equirectangular,
 * Natural Earth coastlines, projected with d3-geo), joined in time order,
 * coloured by time, the latest position circled. Pure: data in, SVG out.
 */
import { geoEquirectangular, geoPath } from "d3-geo";
import { scaleLinear, scaleUtc } from "d3-scale";
import { interpolateViridis } from "d3-scale-chromatic";
import type { Position } from "./data.ts";
import { axis, type Box, colourBar, document, emptyPlot, esc, HEIGHT, isoDay, n, WIDTH } from "./svg.ts";
import { landWithin } from "./world.ts";

/** "170°E", "10°W", "0°" */
export function lonLabel(v: number): string {
  const x = ((((v + 180) % 360) + 360) % 360) - 180;
  const r = Math.round(x * 100) / 100;
  return r === 0 || Math.abs(r) === 180 ? `${Math.abs(r)}°` : `${Math.abs(r)}°${r > 0 ? "E" : "W"}`;
}

/** "20°N", "5°S", "0°" */
export function latLabel(v: number): string {
  const r = Math.round(v * 100) / 100;
  return r === 0 ? "0°" : `${Math.abs(r)}°${r > 0 ? "N" : "S"}`;
}

/** The mean direction of longitudes (so a float that crosses the antimeridian is centred on it). */
function centreLongitude(lons: number[]): number {
  let x = 0, y = 0;
  for (const l of lons) {
    x += Math.cos((l * Math.PI) / 180);
    y += Math.sin((l * Math.PI) / 180);
  }
  return (Math.atan2(y, x) * 180) / Math.PI;
}

/** The trajectory plot of a float's positions (from trajectoryData). */
export function trajectorySvg(wmo: string, positions: Position[]): string {
  const title = `Float ${wmo}: trajectory`;
  if (positions.length === 0) return emptyPlot(title, "no profile of this float has a position");
  const box: Box = { x0: 78, y0: 58, x1: WIDTH - 140, y1: HEIGHT - 58 };
  const c = centreLongitude(positions.map((p) => p.longitude));
  const unwrap = (lon: number) => c + ((((lon - c + 540) % 360) + 360) % 360) - 180;
  const us = positions.map((p) => unwrap(p.longitude));
  const lats = positions.map((p) => p.latitude);
  let [w, e] = [Math.min(...us), Math.max(...us)];
  let [s, nn] = [Math.min(...lats), Math.max(...lats)];
  const pad = Math.max(2, 0.15 * Math.max(e - w, nn - s));
  const widen = (lo: number, hi: number, min: number) => {
    const extra = Math.max(0, min - (hi - lo)) / 2;
    return [lo - extra - pad, hi + extra + pad];
  };
  [w, e] = widen(w, e, 8);
  [s, nn] = widen(s, nn, 6);
  if (e - w > 360) [w, e] = [c - 180, c + 180];
  s = Math.max(-90, s);
  nn = Math.min(90, nn);

  const projection = geoEquirectangular().rotate([-c, 0]).fitExtent(
    [[box.x0, box.y0], [box.x1, box.y1]],
    { type: "MultiPoint", coordinates: [[w, s], [e, nn], [w, nn], [e, s]] },
  ).clipExtent([[box.x0, box.y0], [box.x1, box.y1]]);
  // Equirectangular: x is linear in longitude, y in latitude; the box edges give the axes' ranges.
  const [lonL, latT] = projection.invert!([box.x0, box.y0])!;
  const [lonR, latB] = projection.invert!([box.x1, box.y1])!;
  const left = unwrap(lonL!);
  const lonWidth = (((lonR! - lonL!) % 360) + 360) % 360 || 360;
  const lonScale = scaleLinear().domain([left, left + lonWidth]).range([box.x0, box.x1]);
  const latScale = scaleLinear().domain([latB!, latT!]).range([box.y1, box.y0]);

  const timed = positions.filter((p) => p.time_ms !== null).map((p) => p.time_ms!);
  const t0 = timed.length ? Math.min(...timed) : 0, t1 = timed.length ? Math.max(...timed) : 0;
  const timeScale = scaleUtc().domain([new Date(t0), new Date(t1 === t0 ? t0 + 86_400_000 : t1)]);
  const colour = (t: number) => interpolateViridis(t1 === t0 ? 1 : (t - t0) / (t1 - t0));

  const pts = positions.map((p) => projection([p.longitude, p.latitude])!);
  // A degree of margin: a polygon whose box misses the window by less still has its outline drawn to the edge.
  const landPath = geoPath(projection)(landWithin("50m", left - 1, latB! - 1, left + lonWidth + 1, latT! + 1)) ?? "";
  const track = pts.map(([x, y], i) => `${i ? "L" : "M"}${n(x)},${n(y)}`).join("");
  const marks = positions.map((p, i) => {
    const [x, y] = pts[i]!;
    const fill = p.time_ms === null ? "#bbbbbb" : colour(p.time_ms);
    const when = p.time_ms === null ? "no time" : isoDay(p.time_ms);
    return `<circle class="position" data-cycle="${p.cycle_number}" data-direction="${esc(p.direction)}" cx="${n(x)}" cy="${n(y)}" r="3.6" fill="${fill}" stroke="#222" stroke-width="0.5"><title>cycle ${p.cycle_number}${p.direction === "D" ? " (descending)" : ""}, ${when}, ${latLabel(p.latitude)} ${lonLabel(p.longitude)}</title></circle>`;
  }).join("");
  // The latest position: the last one in time order (positions without a time sort last, so prefer a timed one).
  const li = timed.length ? positions.map((p) => p.time_ms !== null).lastIndexOf(true) : positions.length - 1;
  const latest = positions[li]!;
  const [lx, ly] = pts[li]!;
  const latestMark = `<g class="latest" data-cycle="${latest.cycle_number}"><circle cx="${n(lx)}" cy="${n(ly)}" r="8" fill="none" stroke="#d7191c" stroke-width="2.2"/>` +
    `<text x="${n(lx + 11)}" y="${n(ly - 9)}" font-size="11" fill="#d7191c" font-weight="bold">latest: cycle ${latest.cycle_number}</text></g>`;

  const body = `<defs><clipPath id="map"><rect x="${box.x0}" y="${box.y0}" width="${box.x1 - box.x0}" height="${box.y1 - box.y0}"/></clipPath></defs>` +
    `<rect x="${box.x0}" y="${box.y0}" width="${box.x1 - box.x0}" height="${box.y1 - box.y0}" fill="#dfeaf3"/>` +
    axis(lonScale, "bottom", box, "Longitude (°E)", { quantity: "longitude", format: lonLabel, ticks: 7 }) +
    axis(latScale, "left", box, "Latitude (°N)", { quantity: "latitude", format: latLabel, ticks: 6 }) +
    `<g clip-path="url(#map)"><path class="land" d="${landPath}" fill="#efe9d9" stroke="#7a7a6e" stroke-width="0.6"/>` +
    `<path class="track" d="${track}" fill="none" stroke="#555" stroke-width="0.9" stroke-opacity="0.8"/>${marks}${latestMark}</g>` +
    `<rect x="${box.x0}" y="${box.y0}" width="${box.x1 - box.x0}" height="${box.y1 - box.y0}" fill="none" stroke="#000"/>` +
    (timed.length ? colourBar(timeScale, (t) => colour(t), box, "Profile time (UTC)", isoDay) : "");
  const span = timed.length ? `${isoDay(t0)} to ${isoDay(t1)}` : "no profile times";
  return document(title, `${positions.length} positions, ${span}; coastlines: Natural Earth 1:50m`, body, { "data-kind": "trajectory", "data-float": wmo });
}

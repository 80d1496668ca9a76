/**
 * What every plot shares: the SVG frame with the float id in the title,
 * axes with ticks, labels and units, a colour bar, and text escaping. The
 * scales and tick choices are d3-scale's; colour ramps d3-scale-chromatic's.
 */
import type { ScaleLinear, ScaleTime } from "d3-scale";

/** Plot size in px (the PNG is rendered at this size times its scale). */
export const WIDTH = 900;
export const HEIGHT = 560;
/** A font resvg finds on Debian (fonts-dejavu) and browsers everywhere. */
export const FONT = "DejaVu Sans, Verdana, sans-serif";

/** Escapes text for SVG content and attribute values. */
export const esc = (s: string): string =>
  s.replace(/&/g, "&amp;").replace(/</g, "&lt;").replace(/>/g, "&gt;").replace(/"/g, "&quot;");

/** A number with at most `d` decimals, for coordinates (smaller files, same picture). */
export const n = (v: number, d = 1): string => String(Math.round(v * 10 ** d) / 10 ** d);

/** The plot area inside the margins. */
export interface Box {
  x0: number;
  y0: number;
  x1: number;
  y1: number;
}

/** The whole document: a white background, the title (float id first) and a subtitle. */
export function document(title: string, subtitle: string, body: string, attrs: Record<string, string | number> = {}): string {
  const extra = Object.entries(attrs).map(([k, v]) => ` ${k}="${esc(String(v))}"`).join("");
  return `<svg xmlns="http://www.w3.org/2000/svg" width="${WIDTH}" height="${HEIGHT}" viewBox="0 0 ${WIDTH} ${HEIGHT}" font-family="${FONT}"${extra}>` +
    `<rect width="${WIDTH}" height="${HEIGHT}" fill="#ffffff"/>` +
    `<text class="title" x="${WIDTH / 2}" y="24" text-anchor="middle" font-size="17" font-weight="bold">${esc(title)}</text>` +
    `<text class="subtitle" x="${WIDTH / 2}" y="43" text-anchor="middle" font-size="12" fill="#444">${esc(subtitle)}</text>` +
    body + `</svg>`;
}

type AnyScale = ScaleLinear<number, number> | ScaleTime<number, number>;

/**
 * An axis along one side of a box: its line, ticks with labels, grid lines
 * across the box, and its title with the unit. `data-domain` holds the
 * axis's data range (numbers, or epoch ms for time) for readers and tests.
 */
export function axis(
  scale: AnyScale,
  side: "bottom" | "left" | "top",
  box: Box,
  label: string,
  opts: { quantity: string; ticks?: number; format?: (v: number) => string; grid?: boolean } = { quantity: "" },
): string {
  const ticks = (scale.ticks(opts.ticks ?? 6) as (number | Date)[]).map(Number);
  const format = opts.format ?? ((scale as ScaleLinear<number, number>).tickFormat?.(opts.ticks ?? 6) as (v: number) => string) ?? String;
  const domain = (scale.domain() as (number | Date)[]).map(Number);
  const parts: string[] = [];
  const horizontal = side !== "left";
  const at = side === "bottom" ? box.y1 : side === "top" ? box.y0 : box.x0;
  parts.push(horizontal
    ? `<line x1="${box.x0}" y1="${at}" x2="${box.x1}" y2="${at}" stroke="#000"/>`
    : `<line x1="${at}" y1="${box.y0}" x2="${at}" y2="${box.y1}" stroke="#000"/>`);
  for (const t of ticks) {
    const p = scale(t as never) as number;
    const text = esc(format(t));
    if (horizontal) {
      const dir = side === "bottom" ? 1 : -1;
      if (opts.grid !== false) parts.push(`<line x1="${n(p)}" y1="${box.y0}" x2="${n(p)}" y2="${box.y1}" stroke="#ddd" stroke-width="0.6"/>`);
      parts.push(`<line x1="${n(p)}" y1="${at}" x2="${n(p)}" y2="${at + 5 * dir}" stroke="#000"/>`);
      parts.push(`<text class="tick" x="${n(p)}" y="${at + (dir > 0 ? 18 : -9)}" text-anchor="middle" font-size="11">${text}</text>`);
    } else {
      if (opts.grid !== false) parts.push(`<line x1="${box.x0}" y1="${n(p)}" x2="${box.x1}" y2="${n(p)}" stroke="#ddd" stroke-width="0.6"/>`);
      parts.push(`<line x1="${at - 5}" y1="${n(p)}" x2="${at}" y2="${n(p)}" stroke="#000"/>`);
      parts.push(`<text class="tick" x="${at - 8}" y="${n(p + 4)}" text-anchor="end" font-size="11">${text}</text>`);
    }
  }
  const mid = horizontal ? (box.x0 + box.x1) / 2 : (box.y0 + box.y1) / 2;
  parts.push(horizontal
    ? `<text class="axis-label" x="${mid}" y="${side === "bottom" ? at + 36 : at - 26}" text-anchor="middle" font-size="13">${esc(label)}</text>`
    : `<text class="axis-label" transform="translate(${at - 48},${mid}) rotate(-90)" text-anchor="middle" font-size="13">${esc(label)}</text>`);
  return `<g class="axis ${side}" data-quantity="${esc(opts.quantity)}" data-domain="${domain.join(",")}">${parts.join("")}</g>`;
}

/**
 * A vertical colour bar at the right of a box for a continuous quantity
 * (time or a measured value), with ticks and its label.
 */
export function colourBar(
  scale: AnyScale,
  colour: (v: number) => string,
  box: Box,
  label: string,
  format: (v: number) => string,
): string {
  const [a, b] = (scale.domain() as (number | Date)[]).map(Number) as [number, number];
  const x = box.x1 + 22, w = 14, steps = 48;
  const h = box.y1 - box.y0;
  const parts: string[] = [];
  for (let i = 0; i < steps; i++) {
    const v = a + ((b - a) * (i + 0.5)) / steps;
    parts.push(`<rect x="${x}" y="${n(box.y1 - (h * (i + 1)) / steps)}" width="${w}" height="${n(h / steps + 0.5)}" fill="${colour(v)}"/>`);
  }
  parts.push(`<rect x="${x}" y="${box.y0}" width="${w}" height="${h}" fill="none" stroke="#000" stroke-width="0.6"/>`);
  const ticks = (scale.ticks(5) as (number | Date)[]).map(Number).filter((t) => t >= Math.min(a, b) && t <= Math.max(a, b));
  for (const t of ticks) {
    const y = b === a ? box.y1 : box.y1 - (h * (t - a)) / (b - a);
    parts.push(`<line x1="${x + w}" y1="${n(y)}" x2="${x + w + 4}" y2="${n(y)}" stroke="#000"/>`);
    parts.push(`<text x="${x + w + 7}" y="${n(y + 4)}" font-size="10">${esc(format(t))}</text>`);
  }
  parts.push(`<text class="axis-label" transform="translate(${x + w + 80},${(box.y0 + box.y1) / 2}) rotate(-90)" text-anchor="middle" font-size="12">${esc(label)}</text>`);
  return `<g class="colour-bar" data-domain="${a},${b}">${parts.join("")}</g>`;
}

/** A plot with no data to draw: the frame, the title and a sentence saying why. */
export function emptyPlot(title: string, why: string): string {
  return document(title, why, `<text x="${WIDTH / 2}" y="${HEIGHT / 2}" text-anchor="middle" font-size="14" fill="#666">${esc(why)}</text>`);
}

/** "2021-03-04" for a time axis. */
export const isoDay = (ms: number): string => new Date(ms).toISOString().slice(0, 10);

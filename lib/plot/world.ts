/**
 * Coastlines: Natural Earth's land polygons as packaged by world-atlas
 * (TopoJSON), turned into GeoJSON by topojson-client once per process.
 * Nothing is fetched at render time.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import { geoBounds } from "d3-geo";
import type { Feature, FeatureCollection, MultiPolygon, Polygon } from "geojson";
import { feature } from "topojson-client";
import type { GeometryCollection, Topology } from "topojson-specification";

/** Natural Earth scales: 1:50m for a float's region, 1:110m for the whole world. */
export type LandScale = "50m" | "110m";

/** One land polygon with its bounding box ([west, south], [east, north]; west > east across the antimeridian). */
interface Piece {
  feature: Feature<Polygon>;
  bounds: [[number, number], [number, number]];
}

const cache = new Map<LandScale, { all: FeatureCollection<Polygon | MultiPolygon>; pieces: Piece[] }>();

function load(scale: LandScale) {
  let c = cache.get(scale);
  if (!c) {
    const path = createRequire(import.meta.url).resolve(`world-atlas/land-${scale}.json`);
    const topo = JSON.parse(readFileSync(path, "utf8")) as Topology<{ land: GeometryCollection }>;
    const all = feature(topo, topo.objects.land) as FeatureCollection<Polygon | MultiPolygon>;
    const pieces: Piece[] = [];
    for (const f of all.features) {
      const polys = f.geometry.type === "Polygon" ? [f.geometry.coordinates] : f.geometry.coordinates;
      for (const coordinates of polys) {
        const piece: Feature<Polygon> = { type: "Feature", properties: {}, geometry: { type: "Polygon", coordinates } };
        pieces.push({ feature: piece, bounds: geoBounds(piece) as Piece["bounds"] });
      }
    }
    c = { all, pieces };
    cache.set(scale, c);
  }
  return c;
}

/** The land polygons at a scale. */
export function land(scale: LandScale): FeatureCollection<Polygon | MultiPolygon> {
  return load(scale).all;
}

/** Whether two longitude ranges overlap on the circle (a range with west > east crosses the antimeridian). */
function lonOverlap(w1: number, e1: number, w2: number, e2: number): boolean {
  const span = (w: number, e: number) => (e >= w ? e - w : e + 360 - w);
  const s1 = span(w1, e1), s2 = span(w2, e2);
  if (s1 >= 360 || s2 >= 360) return true;
  const off = (((w2 - w1) % 360) + 360) % 360;
  return off <= s1 || off + s2 >= 360;
}

/**
 * The land polygons that can show in a longitude/latitude window (the
 * others are left out before projecting, which keeps a regional map fast).
 */
export function landWithin(scale: LandScale, west: number, south: number, east: number, north: number): FeatureCollection<Polygon> {
  const norm = (l: number) => ((((l + 180) % 360) + 360) % 360) - 180;
  const wide = east - west >= 360;
  const features = load(scale).pieces.filter(({ bounds: [[w, s], [e, n]] }) =>
    n >= south && s <= north && (wide || lonOverlap(w, e, norm(west), norm(east)))
  ).map((p) => p.feature);
  return { type: "FeatureCollection", features };
}

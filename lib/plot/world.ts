/**
 * Coastlines: Natural Earth's land polygons as packaged by world-atlas
 * (TopoJSON), turned into GeoJSON by topojson-client once per process.
 * Nothing is fetched at render time.
 */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { FeatureCollection, MultiPolygon, Polygon } from "geojson";
import { feature } from "topojson-client";
import type { GeometryCollection, Topology } from "topojson-specification";

/** Natural Earth scales: 1:50m for a float's region, 1:110m for the whole world. */
export type LandScale = "50m" | "110m";

const cache = new Map<LandScale, FeatureCollection<Polygon | MultiPolygon>>();

/** The land polygons at a scale. */
export function land(scale: LandScale): FeatureCollection<Polygon | MultiPolygon> {
  let f = cache.get(scale);
  if (!f) {
    const path = createRequire(import.meta.url).resolve(`world-atlas/land-${scale}.json`);
    const topo = JSON.parse(readFileSync(path, "utf8")) as Topology<{ land: GeometryCollection }>;
    f = feature(topo, topo.objects.land) as FeatureCollection<Polygon | MultiPolygon>;
    cache.set(scale, f);
  }
  return f;
}

/**
 * The OpenAPI document: valid OpenAPI 3.1 by a maintained validator
 * (@seriousme/openapi-schema-validator, offline), made from the route table,
 * and every endpoint it lists answers 200 with the media type it declares,
 * its JSON body valid against the schema it declares (checked with the
 * validator's own JSON Schema 2020-12 engine through the document).
 */
import { Validator } from "@seriousme/openapi-schema-validator";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import type { RunningServer } from "../lib/serve/server.ts";
import { ROUTES } from "../lib/serve/routes.ts";
import { type ServeBed, serveBed } from "./serve-support.ts";

let bed: ServeBed;
let api: RunningServer;
let doc: { openapi: string; paths: Record<string, { get: { parameters: { name: string; in: string; required: boolean; example?: string }[]; responses: Record<string, { content?: Record<string, unknown> }> } }> };

beforeAll(async () => {
  bed = await serveBed("serveoas", ["2902269"]);
  api = await bed.start({ RATE_LIMIT_RATE: "0" });
  doc = await (await fetch(`${api.url}/openapi.json`)).json() as typeof doc;
}, 120_000);

afterAll(async () => {
  await bed?.cleanup();
});

describe("the OpenAPI document", () => {
  test("is valid OpenAPI 3.1", async () => {
    const validator = new Validator();
    const res = await validator.validate(structuredClone(doc) as never);
    expect(res.errors ?? [], JSON.stringify(res.errors, null, 1)?.slice(0, 2000)).toEqual([]);
    expect(res.valid).toBe(true);
    expect(validator.version).toBe("3.1");
  });

  test("lists every route of the table, with its parameters from the zod schemas", () => {
    expect(Object.keys(doc.paths).sort()).toEqual([...ROUTES.map((r) => r.path), "/openapi.json"].sort());
    const floats = doc.paths["/api/floats"]!.get.parameters.map((p) => p.name);
    expect(floats).toEqual(["near", "radius_km", "bbox", "updated_since", "limit", "cursor"]);
    const wmo = doc.paths["/api/floats/{wmo}"]!.get.parameters[0]!;
    expect(wmo).toMatchObject({ name: "wmo", in: "path", required: true, schema: { type: "string", pattern: "^[0-9]{5}([0-9]{2})?$" } });
    const clim = doc.paths["/api/climatology"]!.get.parameters;
    expect(clim.filter((p) => p.required).map((p) => p.name)).toEqual(["lon", "lat", "month", "pressure_band"]);
    expect(doc.paths["/api/floats/{wmo}"]!.get.responses["400"]).toBeDefined();
    expect(doc.paths["/api/floats/{wmo}"]!.get.responses["503"]).toBeDefined();
  });

  test("every endpoint in it answers 200 with the declared media type", async () => {
    let answered = 0;
    for (const [path, item] of Object.entries(doc.paths)) {
      const url = path.replace("{wmo}", "2902269").replace("{cycle}", "1");
      // Required query parameters are filled from the examples the document gives.
      const query = (item.get.parameters ?? []).filter((p) => p.in === "query" && p.required).map((p) => `${p.name}=${encodeURIComponent(String(p.example))}`);
      const q = query.length ? `?${query.join("&")}` : "";
      const r = await fetch(api.url + url + q);
      expect(r.status, url + q).toBe(200);
      const declared = Object.keys(item.get.responses["200"]!.content ?? {});
      const type = r.headers.get("content-type")!.split(";")[0]!;
      expect(declared, url).toContain(type);
      await r.arrayBuffer();
      answered++;
    }
    expect(answered).toBe(ROUTES.length + 1);
  });
});

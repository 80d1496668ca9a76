/**
 * The OpenAPI 3.1 document of the API, made from the route table
 * (lib/serve/routes.ts) and the same zod schemas that validate requests:
 * parameters from the path and query schemas (as the strings a client
 * sends), responses from the response schemas (as JSON Schema 2020-12, the
 * dialect of OpenAPI 3.1), errors as the Error schema.
 */
import { z } from "zod";
import type { Route } from "./routes.ts";
import { ErrorBody } from "./schemas.ts";

/** The document's own path. */
export const OPENAPI_PATH = "/openapi.json";

const jsonSchema = (s: z.ZodType, io: "input" | "output") => {
  const out = z.toJSONSchema(s, { target: "draft-2020-12", io, unrepresentable: "any" }) as Record<string, unknown>;
  delete out.$schema;
  return out;
};

/** The response schemas, each once under components/schemas, by their meta id. */
function components(routes: Route[]): Record<string, unknown> {
  const registry = z.registry<{ id: string }>();
  const add = (s: z.ZodType) => {
    const id = (z.globalRegistry.get(s) as { id?: string } | undefined)?.id;
    if (id && !registry.has(s)) registry.add(s, { id });
  };
  add(ErrorBody);
  for (const r of routes) if (typeof r.response !== "string") add(r.response);
  const { schemas } = z.toJSONSchema(registry, {
    target: "draft-2020-12",
    io: "output",
    unrepresentable: "any",
    metadata: z.globalRegistry,
    uri: (id) => `#/components/schemas/${id}`,
  }) as { schemas: Record<string, Record<string, unknown>> };
  for (const s of Object.values(schemas)) {
    delete s.$schema;
    delete s.$id;
  }
  return schemas;
}

/** The parameters of a path or query schema. */
function parameters(where: "path" | "query", schema: z.ZodObject | undefined): unknown[] {
  if (!schema) return [];
  return Object.entries(schema.shape).map(([name, field]) => {
    const f = field as z.ZodType;
    const meta = (f.meta() ?? {}) as { description?: string; example?: unknown };
    const s = jsonSchema(f, "input");
    delete s.description;
    delete s.example;
    return {
      name,
      in: where,
      required: where === "path" || !(f instanceof z.ZodOptional),
      ...(meta.description ? { description: meta.description } : {}),
      ...(meta.example !== undefined ? { example: meta.example } : {}),
      schema: s,
    };
  });
}

const errorResponse = (description: string, retry = false) => ({
  description,
  ...(retry ? { headers: { "Retry-After": { description: "seconds to wait", schema: { type: "integer" } } } } : {}),
  content: { "application/json": { schema: { $ref: "#/components/schemas/Error" } } },
});

/** Builds the document. */
export function openApiDocument(routes: Route[], version: string): Record<string, unknown> {
  const paths: Record<string, unknown> = {};
  const ref = (s: z.ZodType) => {
    const id = (z.globalRegistry.get(s) as { id?: string } | undefined)?.id;
    return id ? { $ref: `#/components/schemas/${id}` } : jsonSchema(s, "output");
  };
  for (const r of routes) {
    const ok = typeof r.response === "string"
      ? { description: "OK", content: { [r.response]: { schema: r.response === "image/png" ? { type: "string", contentMediaType: "image/png" } : { type: "string" } } } }
      : { description: "OK", content: { "application/json": { schema: ref(r.response) } } };
    const responses: Record<string, unknown> = {
      "200": { ...ok, headers: { ETag: { schema: { type: "string" } }, "Cache-Control": { schema: { type: "string" } } } },
      "304": { description: "Not modified (If-None-Match matched the ETag)" },
    };
    if (r.params || r.query) responses["400"] = errorResponse("A parameter is invalid: detail names it, what was expected and what was given");
    if (r.params) responses["404"] = errorResponse("No such float (or cycle)");
    if (r.rateLimited) responses["429"] = errorResponse("Too many requests from this client: wait Retry-After seconds", true);
    if (r.needs.length || r.path === "/healthz") responses["503"] = errorResponse(`A backend this endpoint needs is down (${r.needs.join(", ") || "any"})`, true);
    paths[r.path] = {
      get: {
        operationId: r.path.replace(/[{}]/g, "").replace(/[^a-zA-Z0-9]+/g, "_").replace(/^_|_$/g, "") || "dashboard",
        summary: r.summary,
        ...(r.description ? { description: r.description } : {}),
        tags: [r.tag],
        parameters: [...parameters("path", r.params), ...parameters("query", r.query)],
        responses,
      },
    };
  }
  paths[OPENAPI_PATH] = {
    get: {
      operationId: "openapi",
      summary: "This document",
      tags: ["service"],
      responses: { "200": { description: "OK", content: { "application/json": { schema: { type: "object" } } } } },
    },
  };
  return {
    openapi: "3.1.0",
    info: {
      title: "argo-lake API",
      version,
      description: "Argo floats from the argo-lake hot layer (Redis), serving tables (Postgres) and lake (Parquet through DuckDB). " +
        "Every GET answers with an ETag and Cache-Control, honours If-None-Match, allows any origin (CORS), and is rate limited per client.",
      license: { name: "Argo data: CC-BY 4.0 (Argo, https://doi.org/10.17882/42182)", identifier: "CC-BY-4.0" },
    },
    servers: [{ url: "/" }],
    tags: [
      { name: "floats", description: "the Redis hot layer" },
      { name: "profiles", description: "Postgres profiles and lake levels" },
      { name: "climatology", description: "the Postgres climatology" },
      { name: "plots", description: "SVG and PNG plots from the lake" },
      { name: "service", description: "health, dashboard, this document" },
    ],
    paths,
    components: { schemas: components(routes) },
  };
}

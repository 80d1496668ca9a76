/**
 * The API as a standard fetch handler: a Hono app over the route table
 * (lib/serve/routes.ts). Every GET gets Cache-Control and an ETag (Hono's
 * etag middleware answers 304 to a matching If-None-Match), CORS allows any
 * origin to GET, requests to rate-limited endpoints take a token from the
 * client's bucket in Redis (429 with Retry-After when empty; when Redis is
 * down the limit is not enforced rather than failing endpoints that do not
 * need Redis), and errors leave as {"error", "detail"}.
 */
import { createHash } from "node:crypto";
import { Hono, type Context } from "hono";
import { cors } from "hono/cors";
import { etag } from "hono/etag";
import { hotKeys } from "../db/redis.ts";
import type { Logger } from "../log.ts";
import type { Backends } from "./backends.ts";
import { errorResponse, HttpError, queryObject, validate } from "./http.ts";
import { OPENAPI_PATH, openApiDocument } from "./openapi.ts";
import { RateLimiter } from "./ratelimit.ts";
import { type Answer, ROUTES } from "./routes.ts";

/** The API's version, in the OpenAPI document. */
export const API_VERSION = "1.0.0";

/** The client a request comes from, for its token bucket: the peer address (proxies' headers are not trusted). */
function clientOf(c: Context): string {
  const env = c.env as { incoming?: { socket?: { remoteAddress?: string } }; remoteAddr?: { hostname?: string } } | undefined;
  return env?.incoming?.socket?.remoteAddress ?? env?.remoteAddr?.hostname ?? "unknown";
}

const contentTypes = {
  json: "application/json; charset=utf-8",
  "json-text": "application/json; charset=utf-8",
  svg: "image/svg+xml; charset=utf-8",
  png: "image/png",
  html: "text/html; charset=utf-8",
} as const;

/** A strong ETag: the SHA-1 of the body (as Hono's etag middleware makes it, without re-reading the body as a stream). */
const etagOf = (body: string | Uint8Array) => `"${createHash("sha1").update(body).digest("hex")}"`;

function toResponse(a: Answer, cacheControl: string, extra: Record<string, string>): Response {
  const headers: Record<string, string> = { "content-type": contentTypes[a.kind], "cache-control": cacheControl, ...extra };
  const body = a.kind === "json" ? JSON.stringify(a.body) : a.kind === "png" ? a.bytes : a.text;
  headers.etag = etagOf(body);
  if (a.kind === "json" && a.retryAfter !== undefined) headers["retry-after"] = String(a.retryAfter);
  return new Response(body as string | Uint8Array<ArrayBuffer>, { status: a.kind === "json" ? a.status ?? 200 : 200, headers });
}

/** Builds the API over its backends. `log` hears about unexpected errors (with the request path). */
export function createApp(backends: Backends, log?: Logger): Hono {
  const app = new Hono();
  const { config } = backends;
  const limiter = backends.redis && config.RATE_LIMIT_RATE > 0
    ? new RateLimiter(backends.redis, hotKeys(config.REDIS_PREFIX).rateLimit, config.RATE_LIMIT_RATE, config.RATE_LIMIT_BURST)
    : null;

  app.use("*", cors({
    origin: "*",
    allowMethods: ["GET", "HEAD", "OPTIONS"],
    exposeHeaders: ["ETag", "Retry-After", "RateLimit-Limit", "RateLimit-Remaining"],
    maxAge: 86_400,
  }));
  // 304 for a matching If-None-Match; the routes set the ETag themselves (from the body they already hold).
  app.use("*", etag());

  app.onError((err, c) => {
    if (err instanceof HttpError) return errorResponse(err);
    log?.error("request failed", { path: c.req.path, error: (err as Error).message });
    return errorResponse(new HttpError(500, "internal error", { path: c.req.path }));
  });
  app.notFound((c) => errorResponse(new HttpError(404, "no such endpoint", { path: c.req.path, see: OPENAPI_PATH })));

  for (const route of ROUTES) {
    const honoPath = route.path.replace(/\{(\w+)\}/g, ":$1");
    app.get(honoPath, async (c) => {
      // The token is asked for first; a route that only reads the hot layer runs at the same time (a
      // refused request then costs one Redis read), the others only once the token is granted.
      const decision = limiter && route.rateLimited ? limiter.take(clientOf(c)).catch(() => null) : null;
      const params = route.params ? validate(route.params, c.req.param() as Record<string, string>) : {};
      const query = route.query ? validate(route.query, queryObject(new URL(c.req.url))) : {};
      const run = () => route.handler({ params, query, backends });
      const early = route.needs.length === 1 && route.needs[0] === "redis" ? run() : null;
      early?.catch(() => {});
      const d = await decision;
      if (d && !d.allowed) {
        throw new HttpError(429, "too many requests", {
          limit: `${config.RATE_LIMIT_BURST} requests, refilled at ${config.RATE_LIMIT_RATE} per second`,
          retry_after_s: d.retryAfter,
        }, d.retryAfter);
      }
      const extra: Record<string, string> = d ? { "ratelimit-limit": String(config.RATE_LIMIT_BURST), "ratelimit-remaining": String(d.remaining) } : {};
      return toResponse(await (early ?? run()), route.cacheControl, extra);
    });
  }

  const doc = JSON.stringify(openApiDocument(ROUTES, API_VERSION));
  const docTag = etagOf(doc);
  app.get(OPENAPI_PATH, (c) => {
    c.header("cache-control", "public, max-age=3600");
    c.header("content-type", "application/json; charset=utf-8");
    c.header("etag", docTag);
    return c.body(doc);
  });
  return app;
}

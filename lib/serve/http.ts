/**
 * HTTP errors of the API and request validation: every error leaves as
 * {"error", "detail"} JSON with its status; a 400 names the parameter, what
 * was expected and what was given; a 503 says which service is down and
 * when to retry.
 */
import type { z } from "zod";
import { ArgoLakeError } from "../errors.ts";

/** An error with an HTTP status, raised on purpose. */
export class HttpError extends ArgoLakeError {
  constructor(
    readonly status: 400 | 404 | 429 | 500 | 503,
    readonly error: string,
    readonly detail: unknown = null,
    /** Seconds, for Retry-After (429, 503). */
    readonly retryAfter?: number,
  ) {
    super(`${status} ${error}`, { stage: "run" });
  }
}

/** The backends the API reads. */
export type Service = "redis" | "postgres" | "lake";

/** Seconds a client is told to wait before retrying when a backend is down. */
export const RETRY_AFTER_S = 5;

/** A 503 for a backend that is down or not configured. */
export function unavailable(service: Service, reason: string): HttpError {
  return new HttpError(503, `${service} unavailable`, { service, reason }, RETRY_AFTER_S);
}

/**
 * Validates a request's path or query values against a schema; a failure is a
 * 400 naming the first bad parameter, what it expected and the value given.
 */
export function validate<S extends z.ZodType>(schema: S, input: Record<string, string | undefined>): z.infer<S> {
  const r = schema.safeParse(input);
  if (r.success) return r.data;
  const issue = r.error.issues[0]!;
  const parameter = String(issue.path[0] ?? "");
  const given = input[parameter];
  throw new HttpError(400, `invalid ${parameter || "request"}`, {
    parameter,
    expected: issue.message,
    ...(given === undefined ? {} : { given }),
  });
}

/** The query string as a plain object (the first value of a repeated name). */
export function queryObject(url: URL): Record<string, string> {
  const out: Record<string, string> = {};
  for (const [k, v] of url.searchParams) if (!(k in out)) out[k] = v;
  return out;
}

/** A JSON error response. */
export function errorResponse(err: HttpError): Response {
  const headers: Record<string, string> = { "content-type": "application/json; charset=utf-8", "cache-control": "no-store" };
  if (err.retryAfter !== undefined) headers["retry-after"] = String(err.retryAfter);
  return new Response(JSON.stringify({ error: err.error, detail: err.detail }), { status: err.status, headers });
}

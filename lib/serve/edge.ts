/**
 * The API for runtimes that bring their own server: `deno serve lib/serve/edge.ts`,
 * or an edge runtime that imports a module's default `{ fetch }`. Settings come
 * from the environment (PORT is the runtime's business: `deno serve --port`);
 * the backends are opened on the first request.
 */
import process from "node:process";
import type { Hono } from "hono";
import { loadConfig, secretsOf } from "../config.ts";
import { createLogger } from "../log.ts";
import { createApp } from "./app.ts";
import { openBackends } from "./backends.ts";

let app: Promise<Hono> | null = null;

/** The app, made on first use; the first requests wait (at most 2 s) for Redis to connect. */
function appFromEnv(): Promise<Hono> {
  app ??= (async () => {
    const config = loadConfig({ env: process.env });
    const backends = openBackends(config);
    await backends.ready();
    return createApp(backends, createLogger({ level: config.LOG_LEVEL, format: config.LOG_FORMAT, secrets: secretsOf(config, process.env) }));
  })();
  return app;
}

export default {
  async fetch(request: Request, env?: unknown, ctx?: unknown): Promise<Response> {
    return (await appFromEnv()).fetch(request, env, ctx as never);
  },
};

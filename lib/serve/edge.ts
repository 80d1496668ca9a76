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

let app: Hono | null = null;

function appFromEnv(): Hono {
  if (!app) {
    const config = loadConfig({ env: process.env });
    app = createApp(openBackends(config), createLogger({ level: config.LOG_LEVEL, format: config.LOG_FORMAT, secrets: secretsOf(config, process.env) }));
  }
  return app;
}

export default {
  fetch(request: Request, env?: unknown, ctx?: unknown): Response | Promise<Response> {
    return appFromEnv().fetch(request, env, ctx as never);
  },
};

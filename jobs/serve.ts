/**
 * deno task serve: the HTTP API, the plots and the dashboard (lib/serve/).
 */
import process from "node:process";
import { OPTION_HELP, runJob } from "../lib/cli.ts";

const usage = `Usage: deno task serve [options]
       npm run serve -- [options]

Serves the API over Redis (REDIS_URL), Postgres (DATABASE_URL) and the lake
(LAKE_URL) until SIGTERM or SIGINT: /api/floats..., /api/climatology, the
plots under /plots/floats/{wmo}/, the dashboard at /, /openapi.json and
/healthz. It only reads (its rate-limit buckets are its only Redis keys).

Options:
  --port N           port (PORT, default 8080; 0 takes a free one)
  --host ADDR        address to listen on (HOST, default 0.0.0.0)
${OPTION_HELP.lake}
  --redis-url URL    the Redis hot layer (REDIS_URL)
  --database-url URL Postgres (DATABASE_URL)
${OPTION_HELP.dotenv}
${OPTION_HELP.help}

Exit codes: 0 stopped by a signal; 1 could not listen; 2 bad arguments or settings.
`;

await runJob({ name: "serve", usage, flags: { port: { type: "string", config: "PORT" }, host: { type: "string", config: "HOST" } } }, async (ctx) => {
  const { startServer } = await import("../lib/serve/server.ts");
  const server = await startServer(ctx.config, ctx.log);
  ctx.log.info("serve: listening", { url: server.url, port: server.port });
  await new Promise<void>((resolve) => {
    process.once("SIGTERM", resolve);
    process.once("SIGINT", resolve);
  });
  ctx.log.info("serve: stopping");
  await server.close();
  return 0;
});

/**
 * Running the API on Node's HTTP server through Hono's adapter
 * (@hono/node-server), under Node or Deno. A client gets
 * SERVE_REQUEST_TIMEOUT seconds to send its request (headers and body) and
 * idle keep-alive connections close after 5 s, so slow or idle clients
 * cannot hold the server; each connection is served on its own, so one slow
 * reader does not delay the others.
 */
import type { AddressInfo } from "node:net";
import type { Server } from "node:http";
import { createAdaptorServer } from "@hono/node-server";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import { createApp } from "./app.ts";
import { openBackends } from "./backends.ts";

/** A listening API server. */
export interface RunningServer {
  port: number;
  url: string;
  /** Stops accepting, ends open connections, releases the backends. */
  close(): Promise<void>;
}

/** Starts the API on HOST:PORT. */
export async function startServer(config: Config, log?: Logger): Promise<RunningServer> {
  const backends = openBackends(config);
  const app = createApp(backends, log);
  const timeoutMs = Math.round(config.SERVE_REQUEST_TIMEOUT * 1000);
  const server = createAdaptorServer({
    fetch: app.fetch,
    serverOptions: { headersTimeout: timeoutMs, requestTimeout: timeoutMs, keepAliveTimeout: 5_000 },
  }) as Server;
  // Node checks the two timeouts on this interval (30 s by default): check often enough to honour short ones.
  (server as Server & { connectionsCheckingInterval?: number }).connectionsCheckingInterval = Math.min(1_000, timeoutMs);
  server.on("clientError", (_err, socket) => socket.destroy());
  try {
    await new Promise<void>((resolve, reject) => {
      server.once("error", reject);
      server.listen(config.PORT, config.HOST, () => resolve());
    });
  } catch (err) {
    await backends.close();
    throw err;
  }
  await backends.ready();
  const port = (server.address() as AddressInfo).port;
  const host = config.HOST === "0.0.0.0" || config.HOST === "::" ? "127.0.0.1" : config.HOST;
  return {
    port,
    url: `http://${host.includes(":") ? `[${host}]` : host}:${port}`,
    async close() {
      const closed = new Promise<void>((resolve) => server.close(() => resolve()));
      server.closeAllConnections();
      await closed;
      await backends.close();
    },
  };
}

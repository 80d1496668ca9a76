/**
 * Postgres for tests: a fresh database per test file on the machine's
 * cluster (127.0.0.1:5432, user postgres, trust auth), dropped afterwards;
 * and a loopback TCP proxy that can be cut to simulate an outage of
 * Postgres or Redis without stopping the shared server other test files use.
 */
import { randomBytes } from "node:crypto";
import { createServer, connect, type AddressInfo, type Server, type Socket } from "node:net";
import process from "node:process";
import pg from "pg";

export const PG_HOST = "127.0.0.1";
export const PG_PORT = 5432;

/** A connection URL for a database on the test cluster (or on a proxy's `port`). */
export function pgUrl(database: string, port: number = PG_PORT): string {
  return `postgres://postgres@${PG_HOST}:${port}/${encodeURIComponent(database)}`;
}

/** A database that exists for one test file. */
export interface TestDatabase {
  name: string;
  /** postgres://postgres@127.0.0.1:5432/<name>, for DATABASE_URL. */
  url: string;
  /** A pool on the database, for setup and assertions. */
  pool: pg.Pool;
  /** The same database's URL through another port, e.g. a TcpProxy's. */
  urlVia(port: number): string;
  /** Ends the pool and drops the database, closing any connection still open on it. */
  drop(): Promise<void>;
}

async function admin<T>(run: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: pgUrl("postgres") });
  await client.connect();
  try {
    return await run(client);
  } finally {
    await client.end();
  }
}

/**
 * Creates an empty database named `argo_test_<name>_<pid>_<random>`, unique
 * across parallel test files and runs.
 */
export async function createTestDatabase(name = "db"): Promise<TestDatabase> {
  const tag = name.toLowerCase().replace(/[^a-z0-9]+/g, "_").slice(0, 24);
  const db = `argo_test_${tag}_${process.pid}_${randomBytes(4).toString("hex")}`;
  await admin((c) => c.query(`CREATE DATABASE "${db}"`));
  const url = pgUrl(db);
  const pool = new pg.Pool({ connectionString: url, max: 4 });
  // DROP ... WITH (FORCE) ends idle clients with a fatal error; without a listener
  // that error would be thrown as uncaught in whichever test is running then.
  pool.on("connect", (client) => client.on("error", () => {}));
  pool.on("error", () => {});
  return {
    name: db,
    url,
    pool,
    urlVia: (port) => pgUrl(db, port),
    async drop() {
      await pool.end();
      await admin((c) => c.query(`DROP DATABASE IF EXISTS "${db}" WITH (FORCE)`));
    },
  };
}

/** A loopback TCP proxy to one port, which a test can cut and restore. */
export interface TcpProxy {
  host: string;
  port: number;
  /** Connections currently open through the proxy. */
  readonly openConnections: number;
  /** Connections accepted since start. */
  readonly accepted: number;
  /**
   * An outage: live connections are reset and new ones refused
   * (ECONNREFUSED) until restore().
   */
  cut(): Promise<void>;
  /**
   * A hung server: the port still accepts connections, but nothing is
   * forwarded either way (new or live), so clients wait for their timeouts.
   */
  stall(): void;
  /** Back to forwarding, on the same port. */
  restore(): Promise<void>;
  /** Stops the proxy for good. */
  close(): Promise<void>;
}

/** Starts a TCP proxy on 127.0.0.1 (free port) forwarding to `targetHost:targetPort`. */
export async function startTcpProxy(targetPort: number, targetHost = "127.0.0.1"): Promise<TcpProxy> {
  const pairs = new Set<[Socket, Socket]>();
  let accepted = 0;
  let stalled = false;
  let server: Server | null = null;
  let port = 0;

  const forward = ([down, up]: [Socket, Socket]): void => {
    down.pipe(up);
    up.pipe(down);
  };
  // Unpiped and paused, bytes wait in the kernel buffers: neither side hears from the other.
  const hold = ([down, up]: [Socket, Socket]): void => {
    down.unpipe(up);
    up.unpipe(down);
    down.pause();
    up.pause();
  };

  const onConnection = (downstream: Socket): void => {
    accepted++;
    const upstream = connect(targetPort, targetHost);
    const pair: [Socket, Socket] = [downstream, upstream];
    pairs.add(pair);
    const end = () => {
      pairs.delete(pair);
      downstream.destroy();
      upstream.destroy();
    };
    downstream.on("error", end).on("close", end);
    upstream.on("error", end).on("close", end);
    if (stalled) hold(pair);
    else forward(pair);
  };

  const listen = async (): Promise<void> => {
    const s = createServer(onConnection);
    await new Promise<void>((resolve, reject) => {
      s.once("error", reject);
      s.listen(port, "127.0.0.1", () => resolve());
    });
    port = (s.address() as AddressInfo).port;
    server = s;
  };

  const stopListening = (): Promise<void> =>
    new Promise((resolve) => {
      const s = server;
      server = null;
      if (!s) return resolve();
      s.close(() => resolve());
    });

  const resetAll = () => {
    for (const [down, up] of pairs) {
      down.resetAndDestroy();
      up.destroy();
    }
    pairs.clear();
  };

  await listen();
  return {
    host: "127.0.0.1",
    get port() {
      return port;
    },
    get openConnections() {
      return pairs.size;
    },
    get accepted() {
      return accepted;
    },
    async cut() {
      stalled = false;
      const closed = stopListening();
      resetAll();
      await closed;
    },
    stall() {
      if (!stalled) for (const pair of pairs) hold(pair);
      stalled = true;
    },
    async restore() {
      if (stalled) for (const pair of pairs) forward(pair);
      stalled = false;
      if (!server) await listen();
    },
    async close() {
      const closed = stopListening();
      resetAll();
      await closed;
    },
  };
}

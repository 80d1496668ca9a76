/**
 * The Postgres test bed: a fresh database per caller, dropped even with
 * connections open; and the TCP proxy's outage modes as a pg client sees
 * them (reset and refused while cut, hanging while stalled, back after
 * restore on the same port).
 */
import pg from "pg";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestDatabase, pgUrl, startTcpProxy, type TcpProxy, type TestDatabase } from "./postgres.ts";

async function databaseExists(name: string): Promise<boolean> {
  const c = new pg.Client({ connectionString: pgUrl("postgres") });
  await c.connect();
  try {
    return (await c.query("SELECT 1 FROM pg_database WHERE datname = $1", [name])).rowCount === 1;
  } finally {
    await c.end();
  }
}

describe("createTestDatabase", () => {
  it("creates a unique, empty, usable database and drops it even while connected", async () => {
    const a = await createTestDatabase("Support Test!");
    const b = await createTestDatabase("Support Test!");
    const straggler = new pg.Client({ connectionString: a.url });
    straggler.on("error", () => {}); // the forced drop terminates it
    try {
      expect(a.name).toMatch(/^argo_test_support_test__\d+_[0-9a-f]{8}$/);
      expect(a.name).not.toBe(b.name);
      expect(a.url).toBe(`postgres://postgres@127.0.0.1:5432/${a.name}`);
      expect(a.urlVia(6543)).toBe(`postgres://postgres@127.0.0.1:6543/${a.name}`);
      const tables = await a.pool.query("SELECT count(*)::int AS n FROM pg_tables WHERE schemaname = 'public'");
      expect(tables.rows[0].n).toBe(0);
      await a.pool.query("CREATE TABLE t (x int)");
      expect((await b.pool.query("SELECT to_regclass('public.t') AS t")).rows[0].t).toBeNull();
      await straggler.connect();
    } finally {
      await a.drop();
      await b.drop();
    }
    expect(await databaseExists(a.name)).toBe(false);
    expect(await databaseExists(b.name)).toBe(false);
  });
});

describe("startTcpProxy in front of Postgres", () => {
  let db: TestDatabase;
  let proxy: TcpProxy;
  beforeAll(async () => {
    db = await createTestDatabase("tcp_proxy");
    proxy = await startTcpProxy(5432);
  });
  afterAll(async () => {
    await proxy?.close();
    await db?.drop();
  });

  const client = (opts: pg.ClientConfig = {}) => {
    const c = new pg.Client({ connectionString: db.urlVia(proxy.port), ...opts });
    c.on("error", () => {}); // errors are asserted on the queries
    return c;
  };

  it("forwards a session", async () => {
    const c = client();
    await c.connect();
    expect((await c.query("SELECT current_database() AS d")).rows[0].d).toBe(db.name);
    expect(proxy.openConnections).toBe(1);
    await c.end();
  });

  it("cut() breaks live sessions and refuses new ones; restore() serves again on the same port", async () => {
    const live = client();
    await live.connect();
    const port = proxy.port;
    await proxy.cut();
    await expect(live.query("SELECT 1")).rejects.toThrow();
    await expect(client().connect()).rejects.toMatchObject({ code: "ECONNREFUSED" });
    await proxy.restore();
    expect(proxy.port).toBe(port);
    const again = client();
    await again.connect();
    expect((await again.query("SELECT 2 AS v")).rows[0].v).toBe(2);
    await again.end();
  });

  it("stall() makes sessions hang until the client's own timeout; restore() lets them finish", async () => {
    const live = client();
    await live.connect();
    proxy.stall();
    const pending = live.query("SELECT 'late' AS v");
    await expect(client({ connectionTimeoutMillis: 300 }).connect()).rejects.toThrow(/timeout/i);
    await proxy.restore();
    expect((await pending).rows[0].v).toBe("late");
    await live.end();
  });
});

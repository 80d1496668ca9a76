/**
 * N workers starting at once on a fresh database: each connects and migrates
 * the schema (the load does, and so does every run record written to
 * job_runs). The migration lock makes them take turns: one applies every
 * migration, the others find nothing left to do, and none fails.
 */
import { afterEach, describe, expect, it } from "vitest";
import { connectPostgres, listMigrations, migrate, recordJobRunAt } from "../lib/db/postgres.ts";
import { createTestDatabase, type TestDatabase } from "./support/postgres.ts";

const N = 8;
let db: TestDatabase | null = null;

afterEach(async () => {
  await db?.drop();
  db = null;
});

describe("migrations started by N workers at once", () => {
  it(`${N} concurrent migrate calls on a fresh database: one applies each migration, all succeed`, async () => {
    db = await createTestDatabase("scale_migrate");
    const clients = await Promise.all(Array.from({ length: N }, () => connectPostgres(db!.url)));
    try {
      const applied = await Promise.all(clients.map((c) => migrate(c)));
      const versions = listMigrations().map((m) => m.version);
      expect(versions.length).toBeGreaterThan(0);
      // Every version applied exactly once, by whichever client came first.
      expect(applied.flat().sort((a, b) => a - b)).toEqual(versions);
      expect(applied.filter((a) => a.length > 0)).toHaveLength(1);
      const rows = (await db.pool.query("SELECT version FROM schema_migrations ORDER BY version")).rows.map((r) => r.version);
      expect(rows).toEqual(versions);
      for (const t of ["floats", "profiles", "climatology", "climatology_contrib", "climatology_dirty", "pressure_bands", "job_runs"]) {
        expect((await db.pool.query("SELECT to_regclass($1) AS t", [t])).rows[0].t, t).toBe(t);
      }
      // And again, all at once on the migrated schema: nothing to do, nothing fails.
      expect((await Promise.all(clients.map((c) => migrate(c)))).flat()).toEqual([]);
    } finally {
      await Promise.all(clients.map((c) => c.end()));
    }
  });

  it(`${N} workers recording their run start at once on a fresh database all land in job_runs`, async () => {
    db = await createTestDatabase("scale_jobruns");
    const started = new Date();
    await Promise.all(Array.from({ length: N }, (_, i) =>
      recordJobRunAt(db!.url, { run_id: `run-${i}`, job: "cycle", status: "running", started_at: started })
    ));
    const rows = (await db.pool.query("SELECT run_id, status FROM job_runs ORDER BY run_id")).rows;
    expect(rows).toEqual(Array.from({ length: N }, (_, i) => ({ run_id: `run-${i}`, status: "running" })));
  });
});

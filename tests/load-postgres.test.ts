/**
 * lib/db against the machine's Postgres: migrations (versioned, idempotent,
 * one applier at a time), job_runs, and the per-float transaction (upserts
 * that leave equal rows alone, deletion of vanished profiles, climatology
 * cells kept exact across floats), with rows written by hand.
 */
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { LoadError } from "../lib/errors.ts";
import { CLIMATOLOGY_LOCK_KEY, flushClimatology, loadFloatPostgres, loadFloatsPostgres, removeFloatPostgres } from "../lib/db/loader.ts";
import { connectPostgres, listMigrations, migrate, type PgClient, recordJobRun } from "../lib/db/postgres.ts";
import type { ContribRow, FloatLoad, ProfileRow } from "../lib/db/rows.ts";
import { createTestDatabase, type TestDatabase } from "./support/postgres.ts";

let db: TestDatabase;
let client: PgClient;

beforeAll(async () => {
  db = await createTestDatabase("loadpg");
  client = await connectPostgres(db.url);
  await migrate(client);
});

afterAll(async () => {
  await client?.end();
  await db?.drop();
});

function profile(floatId: string, cycle: number, over: Partial<ProfileRow> = {}): ProfileRow {
  return {
    float_id: floatId, cycle_number: cycle, direction: "A", profile_index: 0, dac: "aoml", data_mode: "D",
    quality_status: "DELAYED", time: `2020-01-${String(cycle).padStart(2, "0")}T12:00:00.123456Z`, juld_qc: 1,
    latitude: 10.5, longitude: -30.25, position_qc: 1, positioning_system: "GPS", vertical_sampling_scheme: "Primary sampling",
    data_centre: "AO", platform_type: "APEX", n_levels: 3, max_pres: 1000.5, parameters: ["pres", "temp"],
    parameter_data_mode: "DD", parameter_stats: JSON.stringify([{ parameter: "temp", n: 3, min: 4.5, max: 20.25, mean: 10 }]),
    source_file: `D${floatId}_${cycle}.nc`, bgc_source_file: null, date_update: "2021-02-03T04:05:06.000000Z", ...over,
  };
}

/** A float's contribution to one cell, from its values, as the lake SQL computes it. */
function contrib(cell: [string, number, number, number, number], values: number[]): ContribRow {
  const n = values.length;
  const sum = values.reduce((a, v) => a + v, 0);
  const mean = sum / n;
  return {
    parameter: cell[0], lat_bin: cell[1], lon_bin: cell[2], month: cell[3], band: cell[4], n, sum,
    sum_sq: values.reduce((a, v) => a + v * v, 0), m2: values.reduce((a, v) => a + (v - mean) ** 2, 0),
  };
}

function floatLoad(floatId: string, profiles: ProfileRow[], contributions: ContribRow[]): FloatLoad {
  return {
    float: {
      float_id: floatId, dac: "aoml", meta: JSON.stringify({ float_id: floatId, pi_name: "O'Brien" }), n_profiles: profiles.length,
      n_cycles: profiles.length, first_profile_time: profiles[0]?.time ?? null, last_profile_time: profiles.at(-1)?.time ?? null,
      last_cycle_number: profiles.at(-1)?.cycle_number ?? null, last_latitude: 10.5, last_longitude: -30.25,
      last_position_time: profiles.at(-1)?.time ?? null, n_profiles_r: 0, n_profiles_a: 0, n_profiles_d: profiles.length,
      parameters: ["pres", "temp"],
    },
    profiles,
    contributions,
    latest: null,
  };
}

const count = async (sql: string, params: unknown[] = []) => (await client.query(sql, params)).rows[0].n as number;

describe("migrations", () => {
  test("apply once under a lock: two migrators at once, then again, apply each version exactly once", async () => {
    const fresh = await createTestDatabase("migrate");
    const [a, b] = await Promise.all([connectPostgres(fresh.url), connectPostgres(fresh.url)]);
    try {
      const versions = listMigrations().map((m) => m.version);
      expect(versions[0]).toBe(1);
      const results = await Promise.all([migrate(a), migrate(b)]);
      expect(results.flat().sort()).toEqual(versions);
      expect(await migrate(a)).toEqual([]);
      const rows = (await a.query("SELECT version FROM schema_migrations ORDER BY version")).rows.map((r) => r.version);
      expect(rows).toEqual(versions);
      const tables = (await a.query("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1")).rows.map((r) => r.tablename);
      expect(tables).toEqual(["climatology", "climatology_contrib", "climatology_dirty", "floats", "job_runs", "load_cursors", "pressure_bands", "profiles", "schema_migrations"]);
    } finally {
      await a.end();
      await b.end();
      await fresh.drop();
    }
  });

  test("a schema migrated by other content, or by a newer version, is refused", async () => {
    const fresh = await createTestDatabase("migrate2");
    const c = await connectPostgres(fresh.url);
    try {
      await migrate(c);
      await c.query("UPDATE schema_migrations SET checksum = 'edited' WHERE version = 1");
      await expect(migrate(c)).rejects.toThrow(/migration 1 \(init\) was applied with different content/);
      await c.query("UPDATE schema_migrations SET checksum = $1 WHERE version = 1", [listMigrations()[0].checksum]);
      await c.query("INSERT INTO schema_migrations (version, name, checksum) VALUES (9999, 'future', 'x')");
      const err = await migrate(c).catch((e) => e);
      expect(err).toBeInstanceOf(LoadError);
      expect(err.message).toMatch(/migrations this code does not know \(9999\)/);
    } finally {
      await c.end();
      await fresh.drop();
    }
  });

  test("a server that is not there is a LoadError naming it, without the password", async () => {
    const err = await connectPostgres("postgres://argo:s3cret@127.0.0.1:1/argo", { connectTimeoutMs: 2000 }).catch((e) => e);
    expect(err).toBeInstanceOf(LoadError);
    expect(err.message).toMatch(/^cannot connect to Postgres at 127\.0\.0\.1:1\/argo: .*ECONNREFUSED/);
    expect(err.message).not.toContain("s3cret");
  });
});

describe("job_runs", () => {
  test("recordJobRun inserts, then updates the same run", async () => {
    const started = new Date("2025-01-01T00:00:00Z");
    await recordJobRun(client, { run_id: "r-1", job: "load", status: "running", started_at: started });
    await recordJobRun(client, {
      run_id: "r-1", job: "load", status: "failed", started_at: started, ended_at: new Date("2025-01-01T00:01:00Z"),
      stats: { floats_loaded: 3, note: "it's \"quoted\"" }, error: "boom'); DROP TABLE job_runs; --",
    });
    const rows = (await client.query("SELECT run_id, job, status, started_at, ended_at, stats, error FROM job_runs")).rows;
    expect(rows).toEqual([{
      run_id: "r-1", job: "load", status: "failed", started_at: started, ended_at: new Date("2025-01-01T00:01:00Z"),
      stats: { floats_loaded: 3, note: "it's \"quoted\"" }, error: "boom'); DROP TABLE job_runs; --",
    }]);
  });
});

describe("loading a float", () => {
  const cellA: [string, number, number, number, number] = ["temp", 10, -31, 1, 0];
  const cellB: [string, number, number, number, number] = ["psal", 10, -31, 1, 0];

  test("upserts on the natural key, leaves equal rows alone, deletes what left the lake, in one transaction", async () => {
    const hostile = "x'); DROP TABLE profiles; --";
    const p = [1, 2, 3].map((c) => profile("1900001", c, c === 2 ? { vertical_sampling_scheme: hostile, parameters: ["pres", "te\"mp", "{a,b}"] } : {}));
    const first = await loadFloatPostgres(client, floatLoad("1900001", p, [contrib(cellA, [20, 21.5, 19.25])]));
    expect(first).toMatchObject({ float: "inserted", profiles_inserted: 3, profiles_updated: 0, profiles_deleted: 0, contributions_changed: 1 });
    expect(await flushClimatology(client)).toBe(1);
    const ctids = (await client.query("SELECT ctid::text FROM profiles ORDER BY cycle_number")).rows;

    const again = await loadFloatPostgres(client, floatLoad("1900001", p, [contrib(cellA, [20, 21.5, 19.25])]));
    expect(again).toEqual({
      float: "unchanged", profiles_inserted: 0, profiles_updated: 0, profiles_unchanged: 3, profiles_deleted: 0, contributions_changed: 0,
    });
    expect(await flushClimatology(client)).toBe(0);
    expect((await client.query("SELECT ctid::text FROM profiles ORDER BY cycle_number")).rows).toEqual(ctids);

    // Values are data, never SQL: the hostile text and odd parameter names come back as they went in.
    const stored = (await client.query("SELECT vertical_sampling_scheme, parameters, (extract(epoch FROM time) * 1e6)::bigint::text AS us FROM profiles WHERE cycle_number = 2")).rows[0];
    expect(stored).toEqual({ vertical_sampling_scheme: hostile, parameters: ["pres", "te\"mp", "{a,b}"], us: String(Date.UTC(2020, 0, 2, 12) * 1000 + 123456) });

    // Cycle 3 left the lake, cycle 1 changed.
    const changed = [profile("1900001", 1, { max_pres: 999 }), p[1]];
    const third = await loadFloatPostgres(client, floatLoad("1900001", changed, [contrib(cellA, [20, 21.5])]));
    expect(third).toMatchObject({ float: "updated", profiles_inserted: 0, profiles_updated: 1, profiles_unchanged: 1, profiles_deleted: 1, contributions_changed: 1 });
    expect(await flushClimatology(client)).toBe(1);
    expect((await client.query("SELECT cycle_number, max_pres FROM profiles WHERE float_id = '1900001' ORDER BY 1")).rows)
      .toEqual([{ cycle_number: 1, max_pres: 999 }, { cycle_number: 2, max_pres: 1000.5 }]);
  });

  test("several floats in one transaction: the same rows and per-float counts as one at a time; one bad float rolls back the call", async () => {
    const loads = ["1900011", "1900012", "1900013"].map((id, i) =>
      floatLoad(id, [1, 2].map((c) => profile(id, c)), [contrib(cellA, [10 + i, 11 + i]), contrib(cellB, [34.5])]));
    const many = await loadFloatsPostgres(client, loads);
    expect([...many.keys()]).toEqual(["1900011", "1900012", "1900013"]);
    for (const r of many.values()) expect(r).toEqual({ float: "inserted", profiles_inserted: 2, profiles_updated: 0, profiles_unchanged: 0, profiles_deleted: 0, contributions_changed: 2 });
    await flushClimatology(client);
    // One float changed, the others not: the counts land on the float they belong to.
    loads[1]!.profiles = [loads[1]!.profiles[0]!];
    loads[1]!.contributions = [contrib(cellA, [11])];
    const again = await loadFloatsPostgres(client, loads);
    expect(again.get("1900011")).toEqual({ float: "unchanged", profiles_inserted: 0, profiles_updated: 0, profiles_unchanged: 2, profiles_deleted: 0, contributions_changed: 0 });
    expect(again.get("1900012")).toEqual({ float: "unchanged", profiles_inserted: 0, profiles_updated: 0, profiles_unchanged: 1, profiles_deleted: 1, contributions_changed: 2 });
    await flushClimatology(client);
    const before = (await client.query("SELECT to_jsonb(p)::text AS r FROM profiles p WHERE float_id LIKE '190001_' ORDER BY 1")).rows;
    const bad = floatLoad("1900014", [profile("1900014", 1), profile("1900014", 1)], []);
    const changed = floatLoad("1900011", [profile("1900011", 1, { max_pres: 5 })], []);
    await expect(loadFloatsPostgres(client, [changed, bad])).rejects.toThrow(/Postgres load of floats 1900011, 1900014 failed: .*affect row a second time/);
    expect((await client.query("SELECT to_jsonb(p)::text AS r FROM profiles p WHERE float_id LIKE '190001_' ORDER BY 1")).rows).toEqual(before);
    for (const id of ["1900011", "1900012", "1900013"]) await removeFloatPostgres(client, id);
    await flushClimatology(client);
  });

  test("a float whose load fails leaves its previous state whole", async () => {
    const before = (await client.query("SELECT to_jsonb(p)::text AS r FROM profiles p WHERE float_id = '1900001' ORDER BY cycle_number")).rows;
    // Two rows with one key make the upsert fail after the float row was written in the same transaction.
    const dup = [profile("1900001", 1, { max_pres: 1 }), profile("1900001", 1, { max_pres: 2 })];
    const bad = floatLoad("1900001", dup, []);
    bad.float.n_profiles = 42;
    await expect(loadFloatPostgres(client, bad)).rejects.toThrow(/Postgres load of float 1900001 failed: .*affect row a second time/);
    expect((await client.query("SELECT to_jsonb(p)::text AS r FROM profiles p WHERE float_id = '1900001' ORDER BY cycle_number")).rows).toEqual(before);
    expect(await count("SELECT n_profiles AS n FROM floats WHERE float_id = '1900001'")).toBe(2);
  });

  test("climatology cells sum every float's contribution exactly, and lose a float's share when it goes", async () => {
    const valuesA = [20, 21.5];
    const valuesB = [18.125, 19, 22.75];
    const valuesPsal = [35.1, 35.1000001, 35.1];
    await loadFloatPostgres(client, floatLoad("1900002", [profile("1900002", 1)], [contrib(cellA, valuesB), contrib(cellB, valuesPsal)]));
    // Until the flush, the cells are marked but not yet recomputed (a load that died here leaves the marks for the next).
    expect(await count("SELECT count(*)::int AS n FROM climatology_dirty")).toBe(2);
    expect(await count("SELECT n::int AS n FROM climatology WHERE parameter = 'temp'")).toBe(2);
    expect(await flushClimatology(client)).toBe(2);
    expect(await count("SELECT count(*)::int AS n FROM climatology_dirty")).toBe(0);
    const cell = async (c: typeof cellA) =>
      (await client.query("SELECT n::int, n_floats, sum, sum_sq, mean, stddev FROM climatology WHERE (parameter, lat_bin, lon_bin, month, band) = ($1, $2, $3, $4, $5)", c)).rows[0];
    const all = [...valuesA, ...valuesB];
    const mean = all.reduce((a, v) => a + v, 0) / all.length;
    const sd = Math.sqrt(all.reduce((a, v) => a + (v - mean) ** 2, 0) / (all.length - 1));
    const a = await cell(cellA);
    expect(a).toMatchObject({ n: 5, n_floats: 2, sum: all.reduce((x, v) => x + v, 0) });
    expect(a.mean).toBeCloseTo(mean, 12);
    expect(a.stddev).toBeCloseTo(sd, 12);
    // Near-equal values: sum_sq - sum^2/n would cancel to noise; the combined m2 does not.
    const p = await cell(cellB);
    const pm = valuesPsal.reduce((x, v) => x + v, 0) / 3;
    expect(p.stddev).toBeCloseTo(Math.sqrt(valuesPsal.reduce((x, v) => x + (v - pm) ** 2, 0) / 2), 14);

    const removed = await removeFloatPostgres(client, "1900002");
    expect(removed).toEqual({ profiles_deleted: 1, contributions_changed: 2 });
    expect(await flushClimatology(client)).toBe(2);
    expect(await cell(cellB)).toBeUndefined();
    const only = await cell(cellA);
    expect(only).toMatchObject({ n: 2, n_floats: 1, sum: 41.5, mean: 20.75 });
    expect(only.stddev).toBeCloseTo(Math.sqrt(((20 - 20.75) ** 2 + (21.5 - 20.75) ** 2) / 1), 14);
    expect(await count("SELECT count(*)::int AS n FROM floats WHERE float_id = '1900002'")).toBe(0);
  });

  test("two loaders writing and recomputing the same cells at once both count", async () => {
    const other = await connectPostgres(db.url);
    try {
      const cell: [string, number, number, number, number] = ["doxy", -5, 100, 7, 3];
      const loads = Array.from({ length: 6 }, (_, i) => floatLoad(`390000${i}`, [profile(`390000${i}`, 1)], [contrib(cell, [200 + i, 201 + i])]));
      // Two connections, each loading its floats one after the other and recomputing after each, so their transactions overlap.
      const chain = async (c: PgClient, mine: FloatLoad[]) => {
        for (const l of mine) {
          await loadFloatPostgres(c, l);
          await flushClimatology(c);
        }
      };
      await Promise.all([chain(client, loads.filter((_, i) => i % 2 === 0)), chain(other, loads.filter((_, i) => i % 2 === 1))]);
      const row = (await client.query("SELECT n::int, n_floats, sum FROM climatology WHERE parameter = 'doxy' AND lat_bin = -5")).rows[0];
      expect(row).toEqual({ n: 12, n_floats: 6, sum: loads.reduce((a, l) => a + l.contributions[0].sum, 0) });
    } finally {
      await other.end();
    }
  });

  test("recomputations take turns: one waits while another holds the climatology lock", async () => {
    const holder = await connectPostgres(db.url);
    try {
      await loadFloatPostgres(client, floatLoad("3900100", [profile("3900100", 1)], [contrib(["temp", 1, 1, 1, 1], [5])]));
      await holder.query("BEGIN");
      await holder.query("SELECT pg_advisory_xact_lock($1)", [CLIMATOLOGY_LOCK_KEY]);
      let done = false;
      const flushed = flushClimatology(client).then((n) => {
        done = true;
        return n;
      });
      // While the lock is held elsewhere, the flush waits in Postgres.
      await new Promise((r) => setTimeout(r, 300));
      expect(done).toBe(false);
      const waiting = (await holder.query("SELECT count(*)::int AS n FROM pg_locks WHERE locktype = 'advisory' AND NOT granted AND database = (SELECT oid FROM pg_database WHERE datname = current_database())")).rows[0].n;
      expect(waiting).toBe(1);
      await holder.query("COMMIT");
      expect(await flushed).toBe(1);
    } finally {
      await holder.end();
    }
  });
});

/**
 * Secrets never printed: run-float is run with a Postgres password (a role
 * made for the test), a Redis ACL user's password and S3 secret keys (lake on
 * s3rver), once successfully with debug logging and several times failing
 * (wrong ports, a malformed URL) so that error messages are covered too.
 * Every byte of stdout and stderr, and every job_runs row, is searched for
 * each secret as given, URL-encoded and JSON-escaped; none is found.
 */
import { mkdir } from "node:fs/promises";
import { randomBytes } from "node:crypto";
import pg from "pg";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { type TempDir, tempDir } from "./support/fixtures.ts";
import { type JobResult, spawnJobProcess } from "./support/jobs.ts";
import { createTestDatabase, PG_HOST, PG_PORT, pgUrl, startTcpProxy, type TestDatabase } from "./support/postgres.ts";
import { type TestRedis, testRedis } from "./support/redis.ts";
import { startS3, type TestS3 } from "./support/s3.ts";
import { fixturesDir } from "./support/fixtures.ts";

const WMO = "6903247";
const tag = randomBytes(4).toString("hex");
/** Passwords with characters that URL-encoding and JSON-escaping change. */
const PG_PASSWORD = `Pg-${randomBytes(6).toString("hex")}@:/?#%"`;
const REDIS_PASSWORD = `Rd-${randomBytes(6).toString("hex")}@:%`;
const S3_SECRET = `S3secret/${randomBytes(9).toString("base64url")}+=`;
const S3_TOKEN = `S3token-${randomBytes(12).toString("hex")}`;
const PG_ROLE = `argo_secret_${tag}`;
const REDIS_USER = `argo_secret_${tag}`;

let db: TestDatabase;
let redis: TestRedis;
let s3: TestS3;
let tmp: TempDir;
let admin: pg.Client;
/** A port nothing listens on (a proxy started and cut). */
let deadPort: number;
const outputs: { name: string; result: JobResult }[] = [];

const pgSecretUrl = (port = PG_PORT) => `postgres://${PG_ROLE}:${encodeURIComponent(PG_PASSWORD)}@${PG_HOST}:${port}/${db.name}`;
const redisSecretUrl = (port = 6379) => `redis://${REDIS_USER}:${encodeURIComponent(REDIS_PASSWORD)}@127.0.0.1:${port}`;

beforeAll(async () => {
  [db, redis, s3, tmp] = await Promise.all([createTestDatabase("secrets"), testRedis("secrets"), startS3(), tempDir("secrets")]);
  admin = new pg.Client({ connectionString: pgUrl("postgres") });
  await admin.connect();
  await admin.query(`CREATE ROLE ${PG_ROLE} LOGIN PASSWORD ${admin.escapeLiteral(PG_PASSWORD)}`);
  await admin.query(`ALTER DATABASE "${db.name}" OWNER TO ${PG_ROLE}`);
  await db.pool.query(`GRANT ALL ON SCHEMA public TO ${PG_ROLE}`);
  // A Redis user that may touch only this file's keys.
  await redis.client.call("ACL", "SETUSER", REDIS_USER, "on", `>${REDIS_PASSWORD}`, `~${redis.prefix}*`, "+@all");
  const dead = await startTcpProxy(PG_PORT);
  deadPort = dead.port;
  await dead.close();
});

afterAll(async () => {
  await redis?.client.call("ACL", "DELUSER", REDIS_USER).catch(() => {});
  await redis?.cleanup();
  await db?.drop();
  await admin?.query(`DROP ROLE IF EXISTS ${PG_ROLE}`).catch(() => {});
  await admin?.end();
  await s3?.stop();
  await tmp?.cleanup();
});

/** The S3 settings of a job whose lake is on s3rver, with our secret key and token. */
const s3Env = (endpoint = s3.endpoint) => ({
  ...s3.env,
  S3_ENDPOINT: endpoint,
  AWS_SECRET_ACCESS_KEY: S3_SECRET,
  AWS_SESSION_TOKEN: S3_TOKEN,
  LAKE_URL: s3.url(`lake-${tag}`),
});

async function run(name: string, args: string[], env: Record<string, string>): Promise<JobResult> {
  const result = await spawnJobProcess("run-float", args, {
    env: { GDAC_BASE_URL: fixturesDir, TMPDIR: tmp.path, LOG_LEVEL: "debug", ...env },
  }).done;
  outputs.push({ name, result });
  return result;
}

/** Each secret and the forms it could be printed in. */
function forms(): { secret: string; form: string }[] {
  const out: { secret: string; form: string }[] = [];
  for (const s of [PG_PASSWORD, REDIS_PASSWORD, S3_SECRET, S3_TOKEN]) {
    for (const f of new Set([s, encodeURIComponent(s), JSON.stringify(s).slice(1, -1), encodeURI(s), s.replace(/[^A-Za-z0-9]/g, "")])) {
      out.push({ secret: s.slice(0, 3), form: f });
    }
  }
  return out;
}

function leaks(text: string): string[] {
  return forms().filter(({ form }) => text.includes(form)).map(({ secret, form }) => `${secret}...: ${form}`);
}

describe("secrets in a full run and in failing runs", () => {
  test("a successful run with debug logs: Postgres role password, Redis ACL password, S3 secret key and token", async () => {
    const r = await run("success", [WMO, "--json"], {
      ...s3Env(),
      DATABASE_URL: pgSecretUrl(),
      REDIS_URL: redisSecretUrl(),
      REDIS_PREFIX: redis.prefix,
    });
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    // The credentials were really used: the role owns the tables, the Redis user wrote the keys.
    expect((await db.pool.query("SELECT tableowner FROM pg_tables WHERE tablename = 'profiles'")).rows[0].tableowner).toBe(PG_ROLE);
    expect((await redis.keys()).length).toBeGreaterThan(0);
    expect(leaks(r.stdout + r.stderr)).toEqual([]);
    const runs = await db.pool.query("SELECT stats::text AS s, coalesce(error, '') AS e FROM job_runs");
    expect(runs.rows.length).toBe(1);
    expect(leaks(runs.rows.map((x) => x.s + x.e).join("\n"))).toEqual([]);
  });

  test("failing runs: Postgres and Redis on dead ports, S3 endpoint dead, in JSON and in text logs", async () => {
    const local = `${tmp.path}/lake-fail`;
    await mkdir(local, { recursive: true }); // a lake named by LAKE_URL must exist
    const cases: [string, Record<string, string>, RegExp][] = [
      ["postgres down", { LAKE_URL: local, DATABASE_URL: pgSecretUrl(deadPort), LOG_FORMAT: "json" }, /load stage failed.*Postgres/],
      ["postgres down, text", { LAKE_URL: local, DATABASE_URL: pgSecretUrl(deadPort), LOG_FORMAT: "text" }, /load stage failed.*Postgres/],
      ["redis down", { LAKE_URL: local, REDIS_URL: redisSecretUrl(deadPort), REDIS_PREFIX: redis.prefix }, /load stage failed.*Redis/],
      ["redis wrong password", { LAKE_URL: local, REDIS_URL: redisSecretUrl().replace(encodeURIComponent(REDIS_PASSWORD), "wrong"), REDIS_PREFIX: redis.prefix }, /load stage failed.*Redis/],
      ["s3 down", { ...s3Env(`http://127.0.0.1:${deadPort}`), HTTP_MAX_RETRIES: "0" }, /sync stage failed/],
    ];
    for (const [name, env, expected] of cases) {
      const r = await run(name, [WMO], env);
      expect(r.code, `${name}: ${r.stderr.slice(-2000)}`).toBe(1);
      expect(r.stderr, name).toMatch(expected);
      expect(leaks(r.stdout + r.stderr), name).toEqual([]);
    }
  });

  test("settings refused before any work (exit 2) do not echo a password either, even one typed without URL-encoding", async () => {
    const raw = PG_PASSWORD.replace(/[@:/?#%"]/g, "") + "/x";
    const cases = [
      `postgres://${PG_ROLE}:${encodeURIComponent(PG_PASSWORD)}@${PG_HOST}:notaport/db`,
      `mysql://${PG_ROLE}:${encodeURIComponent(PG_PASSWORD)}@${PG_HOST}/db`,
      `postgres://${PG_ROLE}:${raw}@${PG_HOST}:${PG_PORT}/db`,
    ];
    for (const url of cases) {
      const r = await run(`config ${url.slice(0, 12)}`, [WMO], { LAKE_URL: `${tmp.path}/lake-config`, DATABASE_URL: url });
      expect(r.code, r.stderr).toBe(2);
      expect(r.stderr).toMatch(/DATABASE_URL=/);
      const secret = url.includes(raw) ? raw : encodeURIComponent(PG_PASSWORD);
      expect(r.stderr.includes(secret) || r.stderr.includes(decodeURIComponent(secret)), `${url}:\n${r.stderr}`).toBe(false);
    }
  });
});

/**
 * Secrets nowhere: a private GDAC mirror whose URL carries a user, a
 * password and a query-string token (our HTTPS server refuses any request
 * without them, so they were really used), and a Postgres URL with a
 * password. run-float, a scheduled cycle (`schedule --once`, which writes
 * run records and a lock object in the lake) and a failing sync (a file that
 * always answers 503, so error messages name its URL) run as processes; a
 * bad GDAC_BASE_URL is refused before any work. Then every byte of their
 * output, every object of the lake (index sidecars, manifests, run records,
 * quarantine records, the lock) and every job_runs row is searched for each
 * secret as given, percent-encoded, JSON-escaped and as the Basic
 * authorization value: none is found, and the URLs that are printed name
 * the mirror without them.
 */
import { randomBytes } from "node:crypto";
import { copyFile, mkdir, readdir, readFile, symlink, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { fixturesDir, type TempDir, tempDir } from "./support/fixtures.ts";
import { INDEX_FILES, startHttpsServer, type TestHttpsServer } from "./support/https-server.ts";
import { type JobResult, runJobProcess } from "./support/jobs.ts";
import { createTestDatabase, PG_HOST, PG_PORT, type TestDatabase } from "./support/postgres.ts";

const WMO = "13857";
const USER = `argo-${randomBytes(3).toString("hex")}`;
/** Characters that percent-encoding and JSON-escaping change. */
const PASSWORD = `Gd-${randomBytes(6).toString("hex")}@:/?#%"`;
const TOKEN = `tk-${randomBytes(9).toString("base64url")}+/=`;
const PG_PASSWORD = `Pg-${randomBytes(6).toString("hex")}@:%`;

let srv: TestHttpsServer;
let mirror: TempDir;
let tmp: TempDir;
let db: TestDatabase;
const outputs: { name: string; result: JobResult }[] = [];

const gdacUrl = () => `https://${USER}:${encodeURIComponent(PASSWORD)}@127.0.0.1:${srv.port}/?token=${encodeURIComponent(TOKEN)}`;
const pgSecretUrl = () => `postgres://postgres:${encodeURIComponent(PG_PASSWORD)}@${PG_HOST}:${PG_PORT}/${db.name}`;

/** Each secret in every form it could be written in. */
function forms(): string[] {
  const out = new Set<string>();
  for (const s of [PASSWORD, TOKEN, PG_PASSWORD]) {
    for (const f of [s, encodeURIComponent(s), JSON.stringify(s).slice(1, -1), encodeURI(s), s.replace(/[^A-Za-z0-9]/g, "")]) out.add(f);
  }
  out.add(Buffer.from(`${USER}:${PASSWORD}`).toString("base64"));
  return [...out];
}

const leaks = (text: string): string[] => forms().filter((f) => text.includes(f));

/** Every file of a directory tree, with its text. */
async function allFiles(dir: string): Promise<{ path: string; text: string }[]> {
  const out: { path: string; text: string }[] = [];
  for (const e of await readdir(dir, { recursive: true, withFileTypes: true })) {
    if (!e.isFile()) continue;
    const path = join(e.parentPath, e.name);
    out.push({ path: path.slice(dir.length + 1), text: (await readFile(path)).toString("latin1") });
  }
  return out;
}

/**
 * A served mirror: the fixture index files, dac/ linked in place, except
 * float 13857 whose folder is copied with one profile file cut to 1500
 * bytes (still NetCDF-signed, so it syncs, then fails to parse and is
 * quarantined: its quarantine record is among the lake objects searched).
 */
async function mirrorWithADamagedFile(): Promise<TempDir> {
  const dir = await tempDir("secrets-mirror");
  for (const name of INDEX_FILES) await copyFile(join(fixturesDir, name), join(dir.path, name));
  for (const dac of await readdir(join(fixturesDir, "dac"))) {
    if (dac !== "aoml") {
      await symlink(join(fixturesDir, "dac", dac), join(dir.path, "dac", dac), "dir").catch(async () => {
        await mkdir(join(dir.path, "dac"), { recursive: true });
        await symlink(join(fixturesDir, "dac", dac), join(dir.path, "dac", dac), "dir");
      });
      continue;
    }
    for (const wmo of await readdir(join(fixturesDir, "dac", "aoml"))) {
      const from = join(fixturesDir, "dac", "aoml", wmo);
      const to = join(dir.path, "dac", "aoml", wmo);
      if (wmo !== WMO) {
        await mkdir(join(dir.path, "dac", "aoml"), { recursive: true });
        await symlink(from, to, "dir");
        continue;
      }
      await mkdir(join(to, "profiles"), { recursive: true });
      await copyFile(join(from, `${WMO}_meta.nc`), join(to, `${WMO}_meta.nc`));
      for (const f of await readdir(join(from, "profiles"))) {
        const body = await readFile(join(from, "profiles", f));
        await writeFile(join(to, "profiles", f), f === "R13857_003.nc" ? body.subarray(0, 1500) : body);
      }
    }
  }
  return dir;
}

async function run(name: string, job: string, args: string[], env: Record<string, string>): Promise<JobResult> {
  const result = await runJobProcess(job, args, {
    env: { GDAC_CA_FILE: srv.caFile, TMPDIR: tmp.path, LOG_LEVEL: "debug", HTTP_RETRY_DELAY: "0.05", ...env },
    timeoutMs: 90_000,
  });
  outputs.push({ name, result });
  return result;
}

beforeAll(async () => {
  [mirror, tmp, db] = await Promise.all([mirrorWithADamagedFile(), tempDir("secrets"), createTestDatabase("blast_secrets")]);
  srv = await startHttpsServer({ root: mirror.path, auth: { user: USER, password: PASSWORD, token: TOKEN } });
});

afterAll(async () => {
  await srv?.stop();
  await db?.drop();
  await mirror?.cleanup();
  await tmp?.cleanup();
});

describe("no credential of the GDAC URL (user:password@, ?token=, percent-encoded) or of Postgres appears anywhere", { timeout: 180_000 }, () => {
  test("run-float and a scheduled cycle with debug logs, a failing sync, a refused setting: output, lake objects and job_runs hold no secret", async () => {
    const lake = join(tmp.path, "lake");
    // A lake named by LAKE_URL must exist (README "Runs, verdicts and health").
    await mkdir(lake, { recursive: true });
    await mkdir(join(tmp.path, "lake-refused"), { recursive: true });
    // Without the credentials the mirror refuses: they are what lets the runs below in.
    const refused = await run("no credentials", "sync", ["--float", WMO], { GDAC_BASE_URL: srv.url, LAKE_URL: join(tmp.path, "lake-refused") });
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(/HTTP 401/);

    const rf = await run("run-float", "run-float", [WMO, "--json"], { GDAC_BASE_URL: gdacUrl(), LAKE_URL: lake, DATABASE_URL: pgSecretUrl() });
    expect(rf.stderr).toMatch(/"msg":"sync started",.*"source":"https:\/\/127\.0\.0\.1:\d+\/\?token=\*\*\*"/);
    expect(srv.counts.byOutcome.ok).toBeGreaterThan(0);
    expect((await db.pool.query("SELECT count(*)::int AS n FROM job_runs")).rows[0].n).toBe(1);

    const cycle = await run("schedule --once", "schedule", ["--once", "--float", WMO], { GDAC_BASE_URL: gdacUrl(), LAKE_URL: lake });
    expect(cycle.code, cycle.stderr.slice(-2000)).toBeLessThanOrEqual(1);

    srv.setFaults({ rules: [{ path: "/dac/aoml/13857/profiles/R13857_002.nc", fault: { kind: "status", status: 503 } }] });
    const failing = await run("failing sync", "sync", ["--float", WMO, "--json", "--enable-incremental-sync", "false"], {
      GDAC_BASE_URL: gdacUrl(),
      LAKE_URL: lake,
      HTTP_MAX_RETRIES: "1",
      LOG_FORMAT: "text",
    });
    srv.setFaults({ rules: [] });
    expect(failing.code).toBe(1);
    expect(failing.stdout).toMatch(new RegExp(`HTTP 503 for https://127\\.0\\.0\\.1:${srv.port}/dac/aoml/13857/profiles/R13857_002\\.nc\\?token=\\*\\*\\*`));

    const badSetting = await run("refused setting", "sync", [], {
      GDAC_BASE_URL: `http://${USER}:${encodeURIComponent(PASSWORD)}@127.0.0.1:${srv.port}/?token=${encodeURIComponent(TOKEN)}`,
      LAKE_URL: lake,
    });
    expect(badSetting.code).toBe(2);
    expect(badSetting.stderr).toMatch(/GDAC_BASE_URL="http:\/\/.*token=\*\*\*": expected an https:\/\/ URL/);

    for (const { name, result } of outputs) expect(leaks(result.stdout + result.stderr), name).toEqual([]);
    const objects = await allFiles(lake);
    // The kinds of objects the issue names are all there to be searched.
    for (const kind of [/^raw\/_index\/.*\.json$/, /^raw\/_manifest\//, /^runs\/.*\.json$/, /^quarantine\//]) {
      expect(objects.some((o) => kind.test(o.path)), String(kind)).toBe(true);
    }
    expect(objects.filter((o) => leaks(o.text).length > 0).map((o) => o.path)).toEqual([]);
    const sidecar = JSON.parse(objects.find((o) => o.path === "raw/_index/ar_index_global_prof.txt.json")!.text);
    expect(sidecar.source).toBe(`https://127.0.0.1:${srv.port}/?token=***`);
    const rows = await db.pool.query("SELECT row_to_json(j)::text AS r FROM job_runs j");
    expect(leaks(rows.rows.map((r) => r.r).join("\n"))).toEqual([]);
  });
});

/**
 * Least privilege under Deno. `deno task sync` (the real task of deno.json,
 * through the jobs/deno.ts launcher) syncs from an HTTPS GDAC with no -A:
 * read and write limited to the lake and the temporary folder, network to
 * the GDAC's host and port only, no FFI; it lands exactly what a sync under
 * Node lands. Under those same permissions the runtime itself refuses a
 * write outside the lake and a connection to a host that is not configured
 * (NotCapable), while a write inside the lake succeeds. `deno task
 * run-float` (DuckDB through FFI, parse workers, Postgres) runs under its
 * own narrowed set, and no task of deno.json says -A.
 */
import { spawn } from "node:child_process";
import { existsSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { loadConfig } from "../lib/config.ts";
import { denoPermissions } from "../lib/permissions.ts";
import { lakeDir, rawByFloat, runSync, servedMirror, type ServedMirror } from "./support/blast-radius.ts";
import { fixturesDir, repoRoot, type TempDir } from "./support/fixtures.ts";
import { baseEnv, jsonLines } from "./support/jobs.ts";
import { createTestDatabase, type TestDatabase } from "./support/postgres.ts";

const WMO = "13857";
let m: ServedMirror;
let db: TestDatabase;
const temps: TempDir[] = [];

async function temp(name: string): Promise<string> {
  const t = await lakeDir(name);
  temps.push(t);
  return t.path;
}

/** Runs a command in the repository with a clean environment; resolves with its exit code and output. */
function run(command: string, args: string[], env: Record<string, string>): Promise<{ code: number | null; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(command, args, { cwd: repoRoot, env: { ...baseEnv(), ...env }, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "", stderr = "";
    child.stdout.setEncoding("utf8").on("data", (d) => (stdout += d));
    child.stderr.setEncoding("utf8").on("data", (d) => (stderr += d));
    const timer = setTimeout(() => child.kill("SIGKILL"), 90_000);
    child.on("error", reject);
    child.on("close", (code) => {
      clearTimeout(timer);
      resolve({ code, stdout, stderr });
    });
  });
}

/** The permission flags the launcher logged (LOG_LEVEL=debug). */
const loggedFlags = (stderr: string): string[] => (jsonLines(stderr).find((l) => l.msg === "deno permissions")?.flags as string[]) ?? [];
const flagValues = (flags: string[], name: string): string[] | null => {
  const f = flags.find((x) => x === name || x.startsWith(`${name}=`));
  return f === undefined ? null : f.includes("=") ? f.slice(name.length + 1).split(",") : [];
};

beforeAll(async () => {
  [m, db] = await Promise.all([servedMirror(), createTestDatabase("blast_perms")]);
});

afterAll(async () => {
  await m?.stop();
  await db?.drop();
  for (const t of temps) await t.cleanup();
});

describe("no deno task runs with -A", { timeout: 180_000 }, () => {
  test("deno.json: every job task goes through the launcher, none says -A or --allow-all", () => {
    const tasks: Record<string, string> = JSON.parse(readFileSync(join(repoRoot, "deno.json"), "utf8")).tasks;
    const jobs = Object.entries(tasks).filter(([, cmd]) => cmd.startsWith("deno run"));
    expect(jobs.length).toBeGreaterThanOrEqual(8);
    for (const [name, cmd] of jobs) {
      expect(cmd, name).not.toMatch(/(^|\s)(-A|--allow-all)(\s|$)/);
      expect(cmd, name).toBe(`deno run --allow-read --allow-env --allow-run=deno jobs/deno.ts ${name}`);
    }
  });

  test("deno task sync runs under its narrowed permissions (lake, temp folder, the GDAC's host:port, no FFI) and lands what a Node sync lands", async () => {
    const [lake, tmp, nodeLake] = await Promise.all([temp("perm-lake"), temp("perm-tmp"), temp("perm-node-lake")]);
    const env = { GDAC_BASE_URL: m.srv.url, GDAC_CA_FILE: m.srv.caFile, LAKE_URL: lake, TMPDIR: tmp, LOG_LEVEL: "debug" };
    const r = await run("deno", ["task", "sync", "--float", WMO, "--json"], env);
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    const flags = loggedFlags(r.stderr);
    expect(flagValues(flags, "--allow-write")?.sort()).toEqual([lake, tmp].sort());
    expect(flagValues(flags, "--allow-net")).toEqual([`127.0.0.1:${m.srv.port}`]);
    expect(flagValues(flags, "--allow-read")?.sort()).toEqual([repoRoot, tmp, join(repoRoot, ".env"), lake, m.srv.caFile].sort());
    expect(flagValues(flags, "--allow-ffi")).toBeNull();
    expect(flagValues(flags, "--allow-run")).toBeNull();
    expect(JSON.parse(r.stdout)).toMatchObject({ errors: 0, files_downloaded: 5 });
    expect((await runSync(m.srv, nodeLake, {}, ["--float", WMO])).code).toBe(0);
    expect((await rawByFloat(lake)).get(WMO)).toEqual((await rawByFloat(nodeLake)).get(WMO));
  });

  test("under sync's permissions the runtime itself denies a write outside the lake and a connection to an unconfigured host (NotCapable)", async () => {
    const [lake, tmp, outside] = await Promise.all([temp("probe-lake"), temp("probe-tmp"), temp("probe-outside")]);
    const config = loadConfig({ env: { GDAC_BASE_URL: m.srv.url, GDAC_CA_FILE: m.srv.caFile, LAKE_URL: lake }, envFile: join(repoRoot, ".env") });
    const flags = denoPermissions({ job: "sync", config, envFile: ".env" }).map((f) => f.replace(/(?<=[=,])\/tmp(?=,|$)/, tmp));
    const r = await run("deno", [
      "run",
      "--no-prompt",
      ...flags,
      "tests/support/permission-probe.ts",
      "--write",
      join(lake, "inside.txt"),
      "--write",
      join(outside, "outside.txt"),
      "--write",
      join(repoRoot, "lib", "planted.ts"),
      "--connect",
      `127.0.0.1:${m.srv.port}`,
      "--connect",
      "127.0.0.1:5432",
    ], { TMPDIR: tmp });
    expect(r.code, r.stderr).toBe(0);
    expect(jsonLines(r.stdout)).toEqual([
      { what: `write ${join(lake, "inside.txt")}`, ok: true, error: null },
      { what: `write ${join(outside, "outside.txt")}`, ok: false, error: "NotCapable" },
      { what: `write ${join(repoRoot, "lib", "planted.ts")}`, ok: false, error: "NotCapable" },
      { what: `connect 127.0.0.1:${m.srv.port}`, ok: true, error: null },
      { what: "connect 127.0.0.1:5432", ok: false, error: "NotCapable" },
    ]);
    expect(existsSync(join(outside, "outside.txt"))).toBe(false);
    expect(existsSync(join(repoRoot, "lib", "planted.ts"))).toBe(false);
  });

  test("deno task run-float (DuckDB through FFI, parse workers, Postgres) runs under its own narrowed set", async () => {
    const [lake, tmp] = await Promise.all([temp("perm-rf-lake"), temp("perm-rf-tmp")]);
    const r = await run("deno", ["task", "run-float", WMO, "--json"], {
      GDAC_BASE_URL: fixturesDir,
      LAKE_URL: lake,
      TMPDIR: tmp,
      DATABASE_URL: db.url,
      LOG_LEVEL: "debug",
    });
    expect(r.code, r.stderr.slice(-3000)).toBe(0);
    const flags = loggedFlags(r.stderr);
    expect(flagValues(flags, "--allow-net")).toEqual(["127.0.0.1:5432"]);
    expect(flagValues(flags, "--allow-ffi")).toEqual([join(repoRoot, "node_modules", "@duckdb")]);
    expect(flagValues(flags, "--allow-write")?.sort()).toEqual([lake, tmp].sort());
    expect((await db.pool.query("SELECT count(*)::int AS n FROM profiles WHERE float_id = $1", [WMO])).rows[0].n).toBe(4);
  });

  test("deno task schedule passes SIGTERM through the launcher: the scheduler stops and the task exits 0", async () => {
    const [lake, tmp] = await Promise.all([temp("perm-sched-lake"), temp("perm-sched-tmp")]);
    const child = spawn("deno", ["task", "schedule"], {
      cwd: repoRoot,
      env: { ...baseEnv(), SCHEDULE_CRON: "0 0 1 1 *", LAKE_URL: lake, TMPDIR: tmp, GDAC_BASE_URL: fixturesDir },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let stderr = "";
    child.stderr.setEncoding("utf8").on("data", (d) => (stderr += d));
    const code = new Promise<number | null>((resolve) => child.on("close", (c) => resolve(c)));
    const deadline = Date.now() + 60_000;
    while (!stderr.includes(`"msg":"scheduled"`) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 100));
    child.kill("SIGTERM");
    expect(await code, stderr.slice(-2000)).toBe(0);
    expect(stderr).toMatch(/"msg":"stopped"/);
  });
});

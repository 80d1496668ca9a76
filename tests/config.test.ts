/**
 * lib/config.ts and its use by every job (lib/cli.ts runJob):
 * - each bad value is refused with one line naming the variable, the value
 *   given and what is expected, both from loadConfig and from a job process
 *   (exit 2, that line alone on stderr, nothing on stdout, no work done);
 * - values come from flags, then the environment, then .env, then defaults.
 * The job processes run tests/support/probe-job.ts, whose only work is to
 * create its local lake directory.
 */
import { readdir, writeFile } from "node:fs/promises";
import { availableParallelism } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type Config, loadConfig, parseDotEnv } from "../lib/config.ts";
import { ConfigError } from "../lib/errors.ts";
import { tempDir, type TempDir } from "./support/fixtures.ts";
import { runJobProcess, type Runtime } from "./support/jobs.ts";

const noEnvFile = "/nonexistent/argo-lake/.env";
const PROBE = "tests/support/probe-job.ts";

/** The message loadConfig throws for an environment, or fails the test if it does not throw. */
function configError(env: Record<string, string>): ConfigError {
  try {
    loadConfig({ env, envFile: noEnvFile });
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`loadConfig accepted ${JSON.stringify(env)}`);
}

interface BadValue {
  name: string;
  value: string;
  expected: RegExp;
  /** Also checked through a job process (the path is the same for every value, so not all are spawned). */
  spawn?: true;
}

const badValues: BadValue[] = [
  { name: "HTTP_TIMEOUT", value: "abc", expected: /^expected a number of seconds > 0$/, spawn: true },
  { name: "LAKE_URL", value: "ftp://x", expected: /^expected a local directory, a file:\/\/ URL or s3:\/\/bucket\/prefix$/, spawn: true },
  { name: "FLOAT_IDS", value: "12ab", expected: /^expected WMO float ids \(5 or 7 digits\)/, spawn: true },
  { name: "FLOAT_IDS", value: "1900857,123456", expected: /^expected WMO float ids/ },
  { name: "MAX_WORKERS", value: "0", expected: /^expected a whole number of workers >= 1$/, spawn: true },
  { name: "MAX_WORKERS", value: "2.5", expected: /^expected a whole number of workers >= 1$/ },
  { name: "GDAC_BASE_URL", value: "http://data-argo.ifremer.fr", expected: /^expected an https:\/\/ URL.*HTTPS only\)$/, spawn: true },
  { name: "GDAC_BASE_URL", value: "ftp://ftp.ifremer.fr/ifremer/argo", expected: /^expected an https:\/\/ URL.*HTTPS only\)$/, spawn: true },
  { name: "ARGO_DAC", value: "xyz", expected: /^expected DAC names separated by commas, among: aoml, bodc, coriolis,/, spawn: true },
  { name: "ARGO_DAC", value: "aoml,AOML", expected: /^expected DAC names/ },
  { name: "LOG_FORMAT", value: "xml", expected: /^expected json or text$/, spawn: true },
  { name: "LOG_LEVEL", value: "verbose", expected: /^expected debug, info, warn or error$/ },
  { name: "SYNC_CRON", value: "61 * * * *", expected: /^expected a cron expression/, spawn: true },
  { name: "LOAD_CRON", value: "every day", expected: /^expected a cron expression/ },
  { name: "S3_FORCE_PATH_STYLE", value: "maybe", expected: /^expected true or false$/, spawn: true },
  { name: "HTTP_MAX_RETRIES", value: "-1", expected: /^expected a whole number of retries >= 0$/ },
  { name: "SYNC_BBOX", value: "10,0,0,10", expected: /^expected lon_min,lon_max,lat_min,lat_max in degrees$/ },
  { name: "REDIS_URL", value: "http://127.0.0.1:6379", expected: /^expected a URL starting with redis:\/\/ or rediss:\/\/$/ },
];

const label = (b: BadValue) => `${b.name}=${JSON.stringify(b.value)}`;

describe("loadConfig refuses each bad value with one line", () => {
  for (const bad of badValues) {
    it(label(bad), () => {
      const err = configError({ [bad.name]: bad.value });
      expect(err.exitCode).toBe(2);
      expect(err.context).toMatchObject({ stage: "config", variable: bad.name });
      expect(err.message).not.toContain("\n");
      const prefix = `${bad.name}=${JSON.stringify(bad.value)}: `;
      expect(err.message.startsWith(prefix)).toBe(true);
      expect(err.message.slice(prefix.length)).toMatch(bad.expected);
    });
  }

  it("masks the password of a refused connection URL", () => {
    expect(configError({ DATABASE_URL: "mysql://argo:hunter22@db/argo" }).message)
      .toBe('DATABASE_URL="mysql://argo:***@db/argo": expected a URL starting with postgres:// or postgresql://');
  });

  it("accepts the defaults and good values, converting them", () => {
    const c = loadConfig({
      env: {
        HTTP_TIMEOUT: " 2.5 ",
        FLOAT_IDS: "13857, 1900857",
        ARGO_DAC: "aoml coriolis",
        MAX_WORKERS: "3",
        S3_FORCE_PATH_STYLE: "YES",
        GDAC_BASE_URL: "https://data-argo.ifremer.fr/",
        SYNC_BBOX: "-180,180,-90,90",
        DATABASE_URL: "",
        LOG_FORMAT: "TEXT",
      },
      envFile: noEnvFile,
    });
    expect(c).toMatchObject({
      HTTP_TIMEOUT: 2.5,
      FLOAT_IDS: ["13857", "1900857"],
      ARGO_DAC: ["aoml", "coriolis"],
      MAX_WORKERS: 3,
      S3_FORCE_PATH_STYLE: true,
      GDAC_BASE_URL: "https://data-argo.ifremer.fr",
      SYNC_BBOX: { lonMin: -180, lonMax: 180, latMin: -90, latMax: 90 },
      LOG_FORMAT: "text",
      HTTP_MAX_RETRIES: 3,
    });
    expect(c.DATABASE_URL).toBeUndefined();
  });
});

describe("a job given a bad value", () => {
  let dirs: TempDir[] = [];
  const workDir = async () => {
    const d = await tempDir("config-job");
    dirs.push(d);
    return d.path;
  };
  afterAll(async () => {
    await Promise.all(dirs.map((d) => d.cleanup()));
    dirs = [];
  });

  /** Runs the probe in an empty working directory with its lake inside it, and returns what it left there. */
  async function probe(env: Record<string, string>, args: string[] = [], runtime: Runtime = "node", files: Record<string, string> = {}) {
    const cwd = await workDir();
    for (const [name, text] of Object.entries(files)) await writeFile(join(cwd, name), text);
    const r = await runJobProcess(PROBE, args, { env: { LAKE_URL: join(cwd, "lake"), ...env }, runtime, cwd });
    const created = (await readdir(cwd)).filter((f) => !(f in files));
    return { ...r, created };
  }

  /** Exit 2, the loadConfig message alone on stderr, nothing on stdout, nothing created. */
  function expectRefused(r: Awaited<ReturnType<typeof probe>>, message: string) {
    expect({ code: r.code, stdout: r.stdout, stderr: r.stderr, created: r.created })
      .toEqual({ code: 2, stdout: "", stderr: `probe: ${message}\n`, created: [] });
  }

  it("works when the values are good (the control for 'no work done')", async () => {
    const r = await probe({ HTTP_TIMEOUT: "5" });
    expect(r.code).toBe(0);
    expect(r.created).toEqual(["lake"]);
    expect((JSON.parse(r.stdout).config as Config).HTTP_TIMEOUT).toBe(5);
  });

  for (const bad of badValues.filter((b) => b.spawn)) {
    it.concurrent(`from the environment: ${label(bad)}`, async () => {
      expectRefused(await probe({ [bad.name]: bad.value }), configError({ [bad.name]: bad.value }).message);
    });
  }

  it.concurrent("from a flag: --http-timeout abc and --max-workers=0", async () => {
    expectRefused(await probe({}, ["--http-timeout", "abc"]), 'HTTP_TIMEOUT="abc": expected a number of seconds > 0');
    expectRefused(await probe({ MAX_WORKERS: "2" }, ["--max-workers=0"]), 'MAX_WORKERS="0": expected a whole number of workers >= 1');
  });

  it.concurrent("from .env in the working directory", async () => {
    expectRefused(
      await probe({}, [], "node", { ".env": "# settings\nFLOAT_IDS=12ab\n" }),
      'FLOAT_IDS="12ab": expected WMO float ids (5 or 7 digits) separated by commas',
    );
  });

  it.concurrent("under Deno too", async () => {
    expectRefused(await probe({ HTTP_TIMEOUT: "abc" }, [], "deno"), 'HTTP_TIMEOUT="abc": expected a number of seconds > 0');
    expectRefused(await probe({}, ["--gdac", "ftp://ftp.ifremer.fr/ifremer/argo"], "deno"), configError({ GDAC_BASE_URL: "ftp://ftp.ifremer.fr/ifremer/argo" }).message);
    const ok = await probe({ MAX_WORKERS: "7" }, [], "deno");
    expect(ok.code).toBe(0);
    expect(ok.created).toEqual(["lake"]);
    expect(JSON.parse(ok.stdout).config.MAX_WORKERS).toBe(7);
  });

  it.concurrent("--dotenv naming a missing file", async () => {
    expectRefused(await probe({}, ["--dotenv", "/nonexistent/prod.env"], "deno"), '--dotenv "/nonexistent/prod.env": no such file');
    expectRefused(await probe({}, ["--dotenv", "/nonexistent/prod.env"], "node"), '--dotenv "/nonexistent/prod.env": no such file');
  });
});

describe("precedence: flag > environment > .env > default", () => {
  let dir: TempDir;
  let envFile: string;
  beforeAll(async () => {
    dir = await tempDir("config-precedence");
    envFile = join(dir.path, ".env");
    await writeFile(
      envFile,
      [
        "# every source sets HTTP_TIMEOUT; .env and the environment set MAX_WORKERS; only .env sets BATCH_SIZE",
        "HTTP_TIMEOUT=7",
        "MAX_WORKERS=3",
        "export BATCH_SIZE = 5",
        'LOG_LEVEL="warn"  # quoted, then a comment',
        "HTTP_MAX_RETRIES=not-a-number",
        "",
      ].join("\r\n"),
    );
  });
  afterAll(async () => {
    await dir.cleanup();
  });

  const env = { HTTP_TIMEOUT: "8", MAX_WORKERS: "6", HTTP_MAX_RETRIES: "2" };
  const expected = {
    HTTP_TIMEOUT: 9, // flag
    MAX_WORKERS: 6, // environment over .env
    HTTP_MAX_RETRIES: 2, // a bad .env value the environment replaces is never validated
    BATCH_SIZE: 5, // .env
    LOG_LEVEL: "warn", // .env, quoted with a trailing comment
    HTTP_CONCURRENCY: 8, // default
  };

  it("in loadConfig", () => {
    const c = loadConfig({ env, envFile, overrides: { HTTP_TIMEOUT: "9" } });
    expect(c).toMatchObject(expected);
    expect(loadConfig({ env: {}, envFile: noEnvFile }).HTTP_TIMEOUT).toBe(30);
    expect(loadConfig({ env: { HTTP_MAX_RETRIES: "2" }, envFile, overrides: {} }).HTTP_TIMEOUT).toBe(7);
    expect(() => loadConfig({ env: {}, envFile })).toThrow('HTTP_MAX_RETRIES="not-a-number": expected a whole number of retries >= 0');
  });

  it("in a job: .env from the working directory, or the one --dotenv names", async () => {
    const lake = join(dir.path, "lake");
    const fromCwd = await runJobProcess(PROBE, ["--http-timeout", "9", "--lake", lake], { env, cwd: dir.path });
    expect(fromCwd.code).toBe(0);
    expect(JSON.parse(fromCwd.stdout).config).toMatchObject(expected);

    const other = await tempDir("config-cwd");
    try {
      const named = await runJobProcess(PROBE, ["--dotenv", envFile, "--lake", lake], { env: { MAX_WORKERS: "6", HTTP_MAX_RETRIES: "2" }, cwd: other.path });
      expect(named.code).toBe(0);
      expect(JSON.parse(named.stdout).config).toMatchObject({ ...expected, HTTP_TIMEOUT: 7 });
      // Without .env in the working directory and without --dotenv, the defaults apply.
      const none = await runJobProcess(PROBE, ["--lake", lake], { cwd: other.path });
      expect(JSON.parse(none.stdout).config).toMatchObject({ HTTP_TIMEOUT: 30, MAX_WORKERS: availableParallelism(), BATCH_SIZE: 10, LOG_LEVEL: "info" });
    } finally {
      await other.cleanup();
    }
  });
});

describe("parseDotEnv", () => {
  it("reads KEY=VALUE lines, export, quotes, comments and CRLF", () => {
    expect(parseDotEnv([
      "# a comment",
      "",
      "export A=1",
      "B = two words ",
      "C='single # not a comment'",
      'D="double"  # a comment',
      "E=value # a comment",
      "F=val#ue",
      "G=postgres://u:p#w@h/db\r",
      'H=""',
      "not a setting",
    ].join("\n"))).toEqual({
      A: "1",
      B: "two words",
      C: "single # not a comment",
      D: "double",
      E: "value",
      F: "val#ue",
      G: "postgres://u:p#w@h/db",
      H: "",
    });
  });
});

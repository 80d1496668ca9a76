/**
 * lib/log.ts: JSON and text lines, level filtering, one run id on every line
 * of a run, and secrets (passwords in DATABASE_URL / REDIS_URL, S3 keys)
 * never printed, in any encoding, wherever they hide: message, fields,
 * nested objects, Error objects, and the error a failing job reports.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig, secretsOf } from "../lib/config.ts";
import { createLogger, type LoggerOptions, makeRedactor } from "../lib/log.ts";
import { tempDir, type TempDir } from "./support/fixtures.ts";
import { jsonLines, runJobProcess } from "./support/jobs.ts";

/** A logger whose lines are collected. */
function capture(opts: LoggerOptions = {}) {
  const lines: string[] = [];
  const log = createLogger({ ...opts, write: (l) => lines.push(l) });
  return { log, lines };
}

const uuid = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe("line formats", () => {
  it("json: one JSON object per line with time, level, run_id, msg and the fields", () => {
    const { log, lines } = capture({ format: "json" });
    log.info("synced float", { float: "13857", files: 4, took_ms: 12.5, big: 2n ** 40n });
    expect(lines).toHaveLength(1);
    expect(lines[0]).not.toContain("\n");
    const rec = JSON.parse(lines[0]);
    expect(rec).toEqual({
      time: expect.stringMatching(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/),
      level: "info",
      run_id: log.runId,
      msg: "synced float",
      float: "13857",
      files: 4,
      took_ms: 12.5,
      big: 2 ** 40,
    });
    expect(log.runId).toMatch(uuid);
  });

  it("text: time, padded level, short run id, message, then key=value pairs", () => {
    const { log, lines } = capture({ format: "text", runId: "0123456789abcdef" });
    log.warn("retrying", { url: "https://example.org/x", attempt: 2, ok: false, detail: { a: 1 } });
    log.error("gave up");
    expect(lines).toEqual([
      expect.stringMatching(/^\d{4}-\d\d-\d\dT\S+Z WARN {2}\[89abcdef\] retrying url=https:\/\/example\.org\/x attempt=2 ok=false detail=\{"a":1\}$/),
      expect.stringMatching(/^\S+ ERROR \[89abcdef\] gave up$/),
    ]);
  });

  it("writes to stderr by default, keeping stdout for --json results", async () => {
    const dir = await tempDir("log-stderr");
    try {
      const r = await runJobProcess("tests/support/probe-job.ts", ["--lake", `${dir.path}/lake`]);
      expect(r.code).toBe(0);
      expect(jsonLines(r.stderr).map((l) => l.msg)).toEqual(["probe started"]);
      expect(r.stdout.trim().split("\n")).toHaveLength(1);
      expect(JSON.parse(r.stdout)).toHaveProperty("config");
    } finally {
      await dir.cleanup();
    }
  });
});

describe("levels", () => {
  const all = (level: LoggerOptions["level"]) => {
    const { log, lines } = capture({ level });
    log.debug("d");
    log.info("i");
    log.warn("w");
    log.error("e");
    return lines.map((l) => JSON.parse(l).msg);
  };

  it("drops lines below the configured level", () => {
    expect(all("debug")).toEqual(["d", "i", "w", "e"]);
    expect(all("info")).toEqual(["i", "w", "e"]);
    expect(all("warn")).toEqual(["w", "e"]);
    expect(all("error")).toEqual(["e"]);
    expect(all(undefined)).toEqual(["i", "w", "e"]);
  });

  it("child loggers keep the parent's level and run id and add their fields", () => {
    const { log, lines } = capture({ level: "warn" });
    const child = log.child({ stage: "sync", float: "13857" });
    const grandchild = child.child({ file: "R13857_001.nc" });
    child.info("hidden");
    grandchild.warn("shown", { status: 503 });
    log.error("parent");
    const recs = lines.map((l) => JSON.parse(l));
    expect(recs.map((r) => r.msg)).toEqual(["shown", "parent"]);
    expect(recs[0]).toMatchObject({ stage: "sync", float: "13857", file: "R13857_001.nc", status: 503 });
    expect(recs[1]).not.toHaveProperty("stage");
    expect(new Set(recs.map((r) => r.run_id))).toEqual(new Set([log.runId]));
    expect(child.runId).toBe(log.runId);
  });

  it("gives each run its own id", () => {
    expect(createLogger().runId).not.toBe(createLogger().runId);
  });
});

describe("secret redaction", () => {
  // Passwords with characters that URLs percent-encode and JSON escapes.
  const dbPassword = 'pg-p@ss:w/rd%"\\1';
  const redisPassword = "redis secret+42";
  const accessKey = "AKIAEXAMPLEKEY123456";
  const secretKey = "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY";
  const env = {
    DATABASE_URL: `postgresql://argo:${encodeURIComponent(dbPassword)}@127.0.0.1:5432/argo`,
    REDIS_URL: `redis://:${encodeURIComponent(redisPassword)}@127.0.0.1:6379/0`,
    AWS_ACCESS_KEY_ID: accessKey,
    AWS_SECRET_ACCESS_KEY: secretKey,
  };
  const forms = (s: string) => [s, encodeURIComponent(s), JSON.stringify(s).slice(1, -1), encodeURIComponent(encodeURIComponent(s))];
  const leaks = (text: string) =>
    [dbPassword, redisPassword, accessKey, secretKey].flatMap(forms).filter((f) => text.includes(f));

  it("secretsOf finds the passwords of both URLs and the S3 keys", () => {
    const config = loadConfig({ env, envFile: "/nonexistent/.env" });
    const secrets = secretsOf(config, env);
    for (const s of [dbPassword, redisPassword, accessKey, secretKey]) expect(secrets).toContain(s);
  });

  for (const format of ["json", "text"] as const) {
    it(`${format}: hides secrets in messages, fields, nested objects and errors`, () => {
      const config = loadConfig({ env, envFile: "/nonexistent/.env" });
      const { log, lines } = capture({ format, level: "debug", secrets: secretsOf(config, env) });
      log.info(`connecting to ${config.DATABASE_URL} and ${config.REDIS_URL}`);
      log.debug("settings", { database_url: config.DATABASE_URL, nested: { redis: config.REDIS_URL, keys: [accessKey, secretKey] } });
      log.error("load failed", { error: new Error(`password authentication failed: ${dbPassword} / ${encodeURIComponent(redisPassword)}`) });
      log.child({ creds: `${accessKey}:${secretKey}` }).warn(`retry with ${encodeURIComponent(secretKey)}`);
      expect(lines).toHaveLength(4);
      const text = lines.join("\n");
      expect(leaks(text)).toEqual([]);
      expect(text).toContain("postgresql://argo:***@127.0.0.1:5432/argo");
      expect(text).toContain("redis://:***@127.0.0.1:6379/0");
      if (format === "json") for (const l of lines) expect(() => JSON.parse(l)).not.toThrow();
    });
  }

  it("masks credentials in any URL even when the secret is not known", () => {
    const redact = makeRedactor([]);
    expect(redact("could not reach postgres://someone:hunter2@db.example:5432/x or rediss://:pw-9@cache:6380"))
      .toBe("could not reach postgres://someone:***@db.example:5432/x or rediss://:***@cache:6380");
  });

  describe("in a job process", () => {
    let dir: TempDir;
    beforeAll(async () => {
      dir = await tempDir("log-secrets");
    });
    afterAll(async () => {
      await dir.cleanup();
    });

    for (const format of ["json", "text"] as const) {
      it.concurrent(`${format}: the logged settings, the failure message and stdout carry no secret`, async () => {
        const failure = `cannot connect with ${env.DATABASE_URL} (password ${dbPassword}), key ${secretKey}, redis ${redisPassword}`;
        const r = await runJobProcess(
          "tests/support/probe-job.ts",
          ["--lake", `${dir.path}/lake-${format}`, "--fail", failure],
          { env: { ...env, LOG_LEVEL: "debug", LOG_FORMAT: format } },
        );
        expect(r.code).toBe(1);
        expect(r.stdout).toBe("");
        // The settings line, the start line, the logged error and the final one-line summary.
        expect(r.stderr).toContain("connections");
        expect(r.stderr).toContain("cannot connect with postgresql://argo:***@127.0.0.1:5432/argo (password ***), key ***, redis ***");
        expect(r.stderr.trimEnd().split("\n").at(-1)).toMatch(/^probe: Error: cannot connect with /);
        expect(leaks(r.stderr)).toEqual([]);
        if (format === "json") {
          const recs = jsonLines(r.stderr);
          expect(recs.map((x) => x.level)).toEqual(["debug", "info", "error"]);
          expect(new Set(recs.map((x) => x.run_id)).size).toBe(1);
          expect(recs[0].run_id).toMatch(uuid);
        }
      });
    }

    it.concurrent("the config a job prints has its passwords masked", async () => {
      const r = await runJobProcess("tests/support/probe-job.ts", ["--lake", `${dir.path}/lake-print`], { env });
      expect(r.code).toBe(0);
      expect(leaks(r.stdout + r.stderr)).toEqual([]);
      expect(JSON.parse(r.stdout).config.DATABASE_URL).toBe("postgresql://argo:***@127.0.0.1:5432/argo");
    });
  });
});

/**
 * lib/cli.ts: flag parsing shared by every job (unknown flags, values,
 * repeatable flags, --kebab-case config flags, --), and --help / bad flags
 * through a real job process.
 */
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type JobSpec, parseFlags } from "../lib/cli.ts";
import { configKeys } from "../lib/config.ts";
import { ConfigError } from "../lib/errors.ts";
import { tempDir, type TempDir } from "./support/fixtures.ts";
import { jsonLines, runJobProcess, spawnJobProcess } from "./support/jobs.ts";

const spec: JobSpec = {
  name: "sync",
  usage: "Usage: sync [flags]",
  flags: {
    "dry-run": { type: "boolean" },
    since: { type: "string" },
    file: { type: "string", config: "SYNC_FILES", repeatable: true },
  },
};

function refused(argv: string[]): ConfigError {
  try {
    parseFlags(argv, spec);
  } catch (err) {
    if (err instanceof ConfigError) return err;
    throw err;
  }
  throw new Error(`parseFlags accepted ${JSON.stringify(argv)}`);
}

describe("parseFlags", () => {
  it("refuses an unknown flag with exit code 2 and a pointer to --help", () => {
    const err = refused(["--dac", "aoml", "--dacs", "bodc"]);
    expect(err.exitCode).toBe(2);
    expect(err.message).toBe("unknown flag --dacs for sync; see --help");
    expect(refused(["--Lake=/x"]).message).toBe("unknown flag --Lake for sync; see --help");
    expect(refused(["--http_timeout=5"]).message).toBe("unknown flag --http_timeout for sync; see --help");
  });

  it("refuses single-dash words rather than taking them as positionals", () => {
    expect(refused(["-h"]).message).toBe("unknown flag -h for sync; flags start with --, see --help");
    expect(refused(["-float", "13857"]).exitCode).toBe(2);
    // A lone "-" and negative numbers are values, not flags.
    expect(parseFlags(["-", "-5", "-0.5"], spec).positionals).toEqual(["-", "-5", "-0.5"]);
  });

  it("refuses a string flag without its value", () => {
    expect(refused(["--lake"]).message).toBe("flag --lake expects a value; see --help");
  });

  it("takes values after a space or an =, and routes config flags into overrides", () => {
    const r = parseFlags(["--lake", "/data/lake", "--gdac=https://example.org/argo", "--since", "2024-01-01", "extra"], spec);
    expect(r.flags).toEqual({ lake: "/data/lake", gdac: "https://example.org/argo", since: "2024-01-01" });
    expect(r.overrides).toEqual({ LAKE_URL: "/data/lake", GDAC_BASE_URL: "https://example.org/argo" });
    expect(r.positionals).toEqual(["extra"]);
    // A value may itself look like a flag or contain "=".
    expect(parseFlags(["--since", "--x", "--lake=/a=b"], spec).flags).toEqual({ since: "--x", lake: "/a=b" });
  });

  it("collects repeatable flags into a comma-separated list", () => {
    const r = parseFlags(["--dac", "aoml", "--float", "13857", "--dac=bodc", "--float=1900857", "--file", "prof", "--file", "Sprof"], spec);
    expect(r.flags).toMatchObject({ dac: "aoml,bodc", float: "13857,1900857", file: "prof,Sprof" });
    expect(r.overrides).toEqual({ ARGO_DAC: "aoml,bodc", FLOAT_IDS: "13857,1900857", SYNC_FILES: "prof,Sprof" });
  });

  it("offers every config variable as a --kebab-case flag", () => {
    for (const key of configKeys) {
      const flag = `--${key.toLowerCase().replace(/_/g, "-")}`;
      expect(parseFlags([flag, "v"], spec).overrides).toEqual({ [key]: "v" });
    }
    expect(parseFlags(["--http-timeout", "5", "--max-workers=3"], spec).overrides).toEqual({ HTTP_TIMEOUT: "5", MAX_WORKERS: "3" });
  });

  it("reads booleans as present, or as =false / =0 / =no", () => {
    expect(parseFlags(["--json", "--dry-run"], spec).flags).toEqual({ json: true, "dry-run": true });
    expect(parseFlags(["--json=false", "--dry-run=0", "--help=no"], spec).flags).toEqual({ json: false, "dry-run": false, help: false });
    // A boolean does not take the next word: it stays a positional.
    expect(parseFlags(["--json", "false"], spec)).toMatchObject({ flags: { json: true }, positionals: ["false"] });
  });

  it("stops at --: the rest is positional", () => {
    expect(parseFlags(["--json", "--", "--lake", "-h"], spec)).toEqual({ flags: { json: true }, overrides: {}, positionals: ["--lake", "-h"] });
  });
});

describe("through a job process", () => {
  let dir: TempDir;
  beforeAll(async () => {
    dir = await tempDir("cli");
  });
  afterAll(async () => {
    await dir.cleanup();
  });

  it.concurrent("--help prints the usage on stdout and exits 0 without doing anything, even with bad config", async () => {
    const lake = join(dir.path, "help-lake");
    for (const runtime of ["node", "deno"] as const) {
      const r = await runJobProcess("tests/support/probe-job.ts", ["--lake", lake, "--help"], { env: { HTTP_TIMEOUT: "abc" }, runtime });
      expect({ code: r.code, stderr: r.stderr }).toEqual({ code: 0, stderr: "" });
      expect(r.stdout).toMatch(/^Usage: probe \[--fail MESSAGE\]/);
      expect(r.stdout.endsWith("\n")).toBe(true);
    }
    expect(await readdir(dir.path)).not.toContain("help-lake");
  });

  it.concurrent("an unknown flag exits 2 with one line on stderr and does nothing", async () => {
    const lake = join(dir.path, "unknown-lake");
    const r = await runJobProcess("tests/support/probe-job.ts", ["--lake", lake, "--flaot", "13857"]);
    expect({ code: r.code, stdout: r.stdout, stderr: r.stderr }).toEqual({
      code: 2,
      stdout: "",
      stderr: "probe: unknown flag --flaot for probe; see --help\n",
    });
    expect(await readdir(dir.path)).not.toContain("unknown-lake");
  });

  it.concurrent("passes job flags, repeatable flags and positionals to the job", async () => {
    const lake = join(dir.path, "ok-lake");
    const r = await runJobProcess("tests/support/probe-job.ts", ["--lake", lake, "--tag", "a", "--tag=b", "--verbose", "--dac", "aoml", "pos"]);
    expect(r.code).toBe(0);
    const out = JSON.parse(r.stdout);
    expect(out.flags).toEqual({ lake, tag: "a,b", verbose: true, dac: "aoml" });
    expect(out.positionals).toEqual(["pos"]);
    expect(out.config).toMatchObject({ LAKE_URL: lake, ARGO_DAC: ["aoml"] });
    expect(await readdir(dir.path)).toContain("ok-lake");
  });

  it.concurrent("runs the job in the spawned process itself, so SIGKILL stops it at once", async () => {
    for (const runtime of ["node", "deno"] as const) {
      const job = spawnJobProcess("tests/support/probe-job.ts", ["--lake", join(dir.path, `kill-${runtime}`), "--hold-ms", "30000"], { runtime });
      await job.waitFor(/probe started/);
      expect(jsonLines(job.stderr())[0].pid).toBe(job.child.pid);
      job.kill();
      const r = await job.done;
      expect({ code: r.code, signal: r.signal, stdout: r.stdout }).toEqual({ code: null, signal: "SIGKILL", stdout: "" });
      expect(r.durationMs).toBeLessThan(30_000);
    }
  });
});

/**
 * The Deno launcher behind every `deno task <job>`: reads the job's
 * configuration (environment, .env, flags) the way the job will, computes
 * the permissions it needs (lib/permissions.ts: the lake, the temporary
 * folder, the configured hosts, FFI only for DuckDB jobs) and runs
 * `deno run <those permissions> jobs/<job>.ts <args>`, never -A. Signals are
 * passed on; the job's exit code is ours. A configuration the job will
 * refuse gets only the permissions needed to say so (exit 2 from the job).
 *
 * Usage: deno run --allow-read --allow-env --allow-run=deno jobs/deno.ts <job> [args...]
 */
import { existsSync } from "node:fs";
import { resolve } from "node:path";
import process from "node:process";
import { loadConfig, repoRoot } from "../lib/config.ts";
import { denoPermissions, launchInputs } from "../lib/permissions.ts";

/** The part of Deno's API the launcher uses (it only ever runs under Deno; tsc checks it without Deno's types). */
declare const Deno: {
  Command: new (cmd: string, o: { args: string[]; stdin: "inherit"; stdout: "inherit"; stderr: "inherit" }) => {
    spawn(): { kill(signal: "SIGINT" | "SIGTERM"): void; status: Promise<{ code: number }> };
  };
};

const [job, ...args] = process.argv.slice(2);
const script = resolve(repoRoot, "jobs", `${job}.ts`);
if (!job || !/^[a-z][a-z0-9-]*$/.test(job) || job === "deno" || !existsSync(script)) {
  process.stderr.write(`deno.ts: expected a job name (a file jobs/<job>.ts), got ${JSON.stringify(job ?? "")}\n`);
  process.exit(2);
}
const { overrides, envFile, outputs } = launchInputs(args);
let flags: string[];
try {
  const config = loadConfig({ env: process.env, overrides, envFile });
  flags = denoPermissions({ job, config, envFile: envFile ?? ".env", outputs });
  if (config.LOG_LEVEL === "debug") {
    process.stderr.write(JSON.stringify({ time: new Date().toISOString(), level: "debug", msg: "deno permissions", job, flags }) + "\n");
  }
} catch {
  // The job will refuse this configuration itself, with its own message and exit code 2.
  flags = [`--allow-read=${repoRoot}`, "--allow-env"];
}
// Deno's own process API: node:child_process under Deno reports a child that was sent a signal as
// killed by it even when the job caught it and exited 0, and the job's exit code must come through.
const child = new Deno.Command("deno", { args: ["run", "--no-prompt", ...flags, script, ...args], stdin: "inherit", stdout: "inherit", stderr: "inherit" })
  .spawn();
for (const signal of ["SIGINT", "SIGTERM"] as const) process.on(signal, () => child.kill(signal));
const status = await child.status;
process.exit(status.code);

/**
 * Runs a job as its own process, the way an operator or the scheduler does,
 * under Node (through tsx) or Deno, and collects its exit code and output.
 *
 * Under Node the job runs as `node --import <tsx loader> jobs/<job>.ts`: one
 * process, so SIGKILL really kills the job (the `tsx` command runs the script
 * in a child process that would survive its parent).
 *
 * The job gets a clean environment (PATH, HOME, TMPDIR, LANG and what the
 * test passes) so that nothing from the developer's shell leaks in. It runs
 * in the repository root unless `cwd` says otherwise; note that the config
 * reads `.env` from the working directory.
 */
import { spawn, type ChildProcess } from "node:child_process";
import { resolve } from "node:path";
import process from "node:process";
import { pathToFileURL } from "node:url";
import { repoRoot } from "./fixtures.ts";

export type Runtime = "node" | "deno";

export interface JobRunOptions {
  /** Variables added to the clean environment. */
  env?: Record<string, string | undefined>;
  /** "node" (default) or "deno". */
  runtime?: Runtime;
  /** Killed with SIGKILL after this long, and the run rejects with the output so far; 50 s by default (under vitest's 60 s). */
  timeoutMs?: number;
  /** Working directory; the repository root by default. */
  cwd?: string;
  /** Written to the job's stdin, which is then closed. */
  stdin?: string;
}

/** How a job process ended. */
export interface JobResult {
  /** Exit code, or null when a signal ended the process. */
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
  durationMs: number;
}

/** A running job process. */
export interface JobHandle {
  child: ChildProcess;
  /** Settles when the process has exited and its output is read. */
  done: Promise<JobResult>;
  /** Output so far. */
  stdout(): string;
  stderr(): string;
  /** Resolves with the first match of `pattern` in the chosen output (stderr by default). */
  waitFor(pattern: RegExp, stream?: "stdout" | "stderr", timeoutMs?: number): Promise<RegExpMatchArray>;
  /** Sends a signal (SIGKILL by default). */
  kill(signal?: NodeJS.Signals): void;
}

const tsxLoader = pathToFileURL(resolve(repoRoot, "node_modules", "tsx", "dist", "loader.mjs")).href;

/** The script for a job name ("sync" -> jobs/sync.ts) or a path relative to the repository root. */
export function jobScript(job: string): string {
  return job.includes("/") || job.endsWith(".ts") ? resolve(repoRoot, job) : resolve(repoRoot, "jobs", `${job}.ts`);
}

/** The command line that runs a job under a runtime. */
export function jobCommand(job: string, args: string[], runtime: Runtime = "node"): { command: string; args: string[] } {
  const script = jobScript(job);
  return runtime === "deno"
    ? { command: "deno", args: ["run", "-A", script, ...args] }
    : { command: process.execPath, args: ["--import", tsxLoader, script, ...args] };
}

/** The environment a job starts from: enough to run, nothing from the test's own settings. */
export function baseEnv(): Record<string, string> {
  const out: Record<string, string> = { NO_COLOR: "1" };
  for (const k of ["PATH", "HOME", "TMPDIR", "LANG", "DENO_DIR"]) {
    const v = process.env[k];
    if (v !== undefined) out[k] = v;
  }
  return out;
}

/** Starts a job process; use `done` for its result, `kill` to stop it. */
export function spawnJobProcess(job: string, args: string[] = [], opts: JobRunOptions = {}): JobHandle {
  const { command, args: argv } = jobCommand(job, args, opts.runtime);
  const env: Record<string, string> = baseEnv();
  for (const [k, v] of Object.entries(opts.env ?? {})) if (v !== undefined) env[k] = v;
  const started = Date.now();
  const child = spawn(command, argv, { cwd: opts.cwd ?? repoRoot, env, stdio: ["pipe", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  let closed = false;
  const waiters = new Set<() => void>();
  child.stdout!.setEncoding("utf8").on("data", (d: string) => {
    stdout += d;
    for (const w of waiters) w();
  });
  child.stderr!.setEncoding("utf8").on("data", (d: string) => {
    stderr += d;
    for (const w of waiters) w();
  });
  child.stdin!.on("error", () => {}); // the job may exit without reading its stdin
  child.stdin!.end(opts.stdin ?? "");

  const timeoutMs = opts.timeoutMs ?? 50_000;
  let timedOut = false;
  const timer = setTimeout(() => {
    timedOut = true;
    child.kill("SIGKILL");
  }, timeoutMs);
  const done = new Promise<JobResult>((resolvePromise, reject) => {
    child.on("error", (err) => {
      clearTimeout(timer);
      reject(err);
    });
    child.on("close", (code, signal) => {
      clearTimeout(timer);
      closed = true;
      for (const w of waiters) w();
      const result = { code, signal, stdout, stderr, durationMs: Date.now() - started };
      if (timedOut) {
        reject(new Error(`${command} ${argv.join(" ")} did not finish within ${timeoutMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
      } else resolvePromise(result);
    });
  });

  return {
    child,
    done,
    stdout: () => stdout,
    stderr: () => stderr,
    waitFor(pattern, stream = "stderr", waitMs = timeoutMs) {
      return new Promise((resolveMatch, reject) => {
        const check = () => {
          const m = (stream === "stdout" ? stdout : stderr).match(pattern);
          if (m) {
            cleanup();
            resolveMatch(m);
          } else if (closed) {
            cleanup();
            reject(new Error(`job exited before ${pattern} appeared on ${stream}\nstdout:\n${stdout}\nstderr:\n${stderr}`));
          }
        };
        const timer = setTimeout(() => {
          cleanup();
          reject(new Error(`${pattern} did not appear on ${stream} within ${waitMs} ms\nstdout:\n${stdout}\nstderr:\n${stderr}`));
        }, waitMs);
        const cleanup = () => {
          clearTimeout(timer);
          waiters.delete(check);
        };
        waiters.add(check);
        check();
      });
    },
    kill(signal = "SIGKILL") {
      child.kill(signal);
    },
  };
}

/** Runs a job to its end and returns its exit code and output. */
export function runJobProcess(job: string, args: string[] = [], opts: JobRunOptions = {}): Promise<JobResult> {
  return spawnJobProcess(job, args, opts).done;
}

/** The JSON log lines in some output (other lines are skipped), parsed. */
export function jsonLines(text: string): Record<string, unknown>[] {
  const out: Record<string, unknown>[] = [];
  for (const line of text.split("\n")) {
    if (!line.startsWith("{")) continue;
    try {
      out.push(JSON.parse(line) as Record<string, unknown>);
    } catch { /* not a log line */ }
  }
  return out;
}

/**
 * What every job entry point shares: flag parsing, configuration, a logger
 * with a run id, and the mapping from errors to exit codes (0 ok, 1 a stage
 * failed, 2 bad input). Jobs in jobs/ stay thin by calling `runJob`.
 */
import { type Config, type ConfigKey, configKeys, loadConfig, secretsOf } from "./config.ts";
import { ArgoLakeError, ConfigError, exitCodeOf } from "./errors.ts";
import { createLogger, type Logger, makeRedactor } from "./log.ts";
import { existsSync } from "node:fs";
import process from "node:process";
import { exitProcess, processEnv, scriptArgs } from "./runtime.ts";
import { RUNS_PREFIX } from "./lake/layout.ts";
import { Terminal } from "./terminal.ts";

/** A job-specific flag. `config` routes its value into that config variable. */
export interface FlagSpec {
  type: "boolean" | "string";
  config?: ConfigKey;
  /** Several uses collect into a comma-separated list (e.g. --dac aoml --dac bodc). */
  repeatable?: boolean;
}

export interface JobSpec {
  /** The job's name, as in `deno task <name>`. */
  name: string;
  /** Help text printed by --help. */
  usage: string;
  flags?: Record<string, FlagSpec>;
}

/** What a job's main function receives. */
export interface JobContext {
  config: Config;
  log: Logger;
  flags: Record<string, string | boolean>;
  positionals: string[];
  env: Record<string, string | undefined>;
  /** stderr: log lines, and on a TTY the progress bar below them. */
  terminal: Terminal;
}

/** Help lines for the flags `runJob` handles for every job, so each job's usage shows them alike. */
export const OPTION_HELP = {
  gdac: "  --gdac SOURCE      where to sync from: https://host, s3://bucket/prefix or a\n                     local GDAC directory (GDAC_BASE_URL)",
  lake: "  --lake URL         the lake: a local directory or s3://bucket/prefix (LAKE_URL)",
  dotenv: "  --dotenv PATH      read settings from PATH instead of ./.env",
  help: "  --help             print this help and exit",
} as const;

/** The exit codes of every job that runs stages (one rule: lib/stages.ts, README "Runs, verdicts and health"). */
export const EXIT_CODES_HELP = `Exit codes: 0 succeeded, or skipped (nothing to do); 1 partial (some floats or
files failed, the others landed; the run record names them) or failed (nothing
usable, interrupted, or the lake does not exist); 2 bad arguments or settings
(nothing was done). Every run is recorded in the lake's ${RUNS_PREFIX} (and job_runs).`;

/** Flags every job understands; config variables are also settable as --kebab-case flags. */
export const commonFlags: Record<string, FlagSpec> = {
  help: { type: "boolean" },
  json: { type: "boolean" },
  "dotenv": { type: "string" },
  gdac: { type: "string", config: "GDAC_BASE_URL" },
  lake: { type: "string", config: "LAKE_URL" },
  dac: { type: "string", config: "ARGO_DAC", repeatable: true },
  float: { type: "string", config: "FLOAT_IDS", repeatable: true },
};

/** Turns argv into flags and positionals against the job's flag table. */
export function parseFlags(argv: string[], spec: JobSpec): {
  flags: Record<string, string | boolean>;
  overrides: Partial<Record<ConfigKey, string>>;
  positionals: string[];
} {
  const table: Record<string, FlagSpec> = { ...commonFlags, ...spec.flags };
  for (const key of configKeys) table[key.toLowerCase().replace(/_/g, "-")] ??= { type: "string", config: key };
  const flags: Record<string, string | boolean> = {};
  const overrides: Partial<Record<ConfigKey, string>> = {};
  const positionals: string[] = [];
  for (let i = 0; i < argv.length; i++) {
    const arg = argv[i];
    if (arg === "--") {
      positionals.push(...argv.slice(i + 1));
      break;
    }
    if (!arg.startsWith("--")) {
      // A single-dash word is a mistyped flag (-h, -float): refusing it beats running with it ignored.
      if (/^-[^\d.]/.test(arg)) throw new ConfigError(`unknown flag ${arg} for ${spec.name}; flags start with --, see --help`);
      positionals.push(arg);
      continue;
    }
    const eq = arg.indexOf("=");
    const name = arg.slice(2, eq < 0 ? undefined : eq);
    const f = table[name];
    if (!f) throw new ConfigError(`unknown flag --${name} for ${spec.name}; see --help`);
    let value: string | boolean;
    if (f.type === "boolean") {
      value = eq < 0 ? true : !/^(false|0|no)$/i.test(arg.slice(eq + 1));
    } else if (eq >= 0) {
      value = arg.slice(eq + 1);
    } else {
      if (i + 1 >= argv.length) throw new ConfigError(`flag --${name} expects a value; see --help`);
      value = argv[++i];
    }
    if (f.repeatable && typeof value === "string" && typeof flags[name] === "string") value = `${flags[name]},${value}`;
    flags[name] = value;
    if (f.config) overrides[f.config] = String(value);
  }
  return { flags, overrides, positionals };
}

/**
 * Runs a job: parses flags, loads config, logs start and end, maps errors to
 * exit codes. `main` returns its exit code (0 or 1). The process exits here.
 */
export async function runJob(spec: JobSpec, main: (ctx: JobContext) => Promise<0 | 1>): Promise<never> {
  const env = processEnv();
  let redact = makeRedactor([]);
  let log: Logger | undefined;
  try {
    const { flags, overrides, positionals } = parseFlags(scriptArgs(), spec);
    if (flags.help) {
      process.stdout.write(spec.usage.trimEnd() + "\n");
      return await exitProcess(0);
    }
    const envFile = typeof flags["dotenv"] === "string" ? flags["dotenv"] : undefined;
    // The default .env may be absent; a file named on the command line must be there.
    if (envFile !== undefined && !existsSync(envFile)) throw new ConfigError(`--dotenv ${JSON.stringify(envFile)}: no such file`);
    const config = loadConfig({ env, overrides, envFile });
    const terminal = new Terminal(process.stderr);
    // A person at a terminal reads text; anything else (a container, a pipe) gets JSON lines.
    const format = config.LOG_FORMAT ?? (terminal.isTTY ? "text" : "json");
    log = createLogger({ level: config.LOG_LEVEL, format, secrets: secretsOf(config, env), write: (line) => terminal.line(line) });
    redact = log.redact;
    const code = await main({ config, log, flags, positionals, env, terminal });
    return await exitProcess(code);
  } catch (err) {
    const code = exitCodeOf(err);
    const message = redact(describeError(err));
    if (log) log.error(message, { exit_code: code, ...(err instanceof ArgoLakeError ? err.context : {}) });
    process.stderr.write(`${spec.name}: ${message}\n`);
    return await exitProcess(code);
  }
}

/** One line for an error: its message, with stage and float when known. */
export function describeError(err: unknown): string {
  if (err instanceof ArgoLakeError) {
    const where = [err.context.stage, err.context.floatId && `float ${err.context.floatId}`, err.context.file]
      .filter(Boolean).join(", ");
    return err instanceof ConfigError ? err.message : `${err.message}${where ? ` (${where})` : ""}`;
  }
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

/** Prints a job's final stats: JSON on stdout with --json, a log line otherwise. */
export function printStats(ctx: JobContext, stats: unknown, summary: string): void {
  if (ctx.flags.json) process.stdout.write(JSON.stringify(stats, null, 2) + "\n");
  else ctx.log.info(summary, { stats });
}

/**
 * The job configuration: one zod schema over environment variables, an
 * optional `.env` file and command-line flags (flags win over the
 * environment, the environment over `.env`, `.env` over defaults).
 * A bad value stops the job before any work with a ConfigError (exit 2)
 * naming the variable, the value given and what was expected.
 */
import { existsSync, readFileSync } from "node:fs";
import { availableParallelism } from "node:os";
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { Cron } from "croner";
import { z } from "zod";
import { ConfigError } from "./errors.ts";
import { DACS, isDac, isWmo } from "./argo/ids.ts";
import { CREDENTIAL_PARAM } from "./log.ts";

/** The repository root (lib/ is one level below it). */
export const repoRoot: string = fileURLToPath(new URL("..", import.meta.url));

/** Where the lake lives when LAKE_URL is not set: the repo's git-ignored data folder. */
export const defaultLakeUrl: string = resolve(repoRoot, "data", "lake");

const bool = (name: string) =>
  z.string().trim().toLowerCase().pipe(
    z.enum(["true", "false", "1", "0", "yes", "no"], { error: `${name}: expected true or false` }),
  ).transform((v) => v === "true" || v === "1" || v === "yes");

const number = (what: string, min: number, int = false) =>
  z.string().trim().refine(
    (v) => v !== "" && Number.isFinite(Number(v)) && Number(v) >= min && (!int || Number.isInteger(Number(v))),
    { error: `expected ${what}` },
  ).transform(Number);

const list = (v: string) => v.split(/[\s,]+/).map((s) => s.trim()).filter(Boolean);

const cron = z.string().trim().refine((v) => {
  try {
    new Cron(v, { paused: true, timezone: "UTC" }).stop();
    return true;
  } catch {
    return false;
  }
}, { error: "expected a cron expression (5 or 6 fields, UTC), e.g. \"0 */6 * * *\"" });

/** Tells whether a GDAC source string is one we accept, and which kind. */
function gdacKind(v: string): "https" | "s3" | "local" | null {
  if (/^https:\/\/[^/\s]+/i.test(v)) return "https";
  if (/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/.test(v)) return "s3";
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v) && !/^file:\/\//i.test(v)) return null;
  return "local";
}

/** Tells whether a lake location is a local directory or an S3 prefix. */
function lakeKind(v: string): "local" | "s3" | null {
  if (/^s3:\/\/[a-z0-9][a-z0-9.-]{1,61}[a-z0-9](\/.*)?$/.test(v)) return "s3";
  if (/^file:\/\//i.test(v)) return "local";
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) return null;
  return v.trim() ? "local" : null;
}

const optionalUrl = (schemes: string[]) =>
  z.string().trim().refine((v) => schemes.some((s) => v.startsWith(s + "://")) && URL.canParse(v), {
    error: `expected a URL starting with ${schemes.map((s) => s + "://").join(" or ")}`,
  }).optional();

/** Every setting, by its environment variable name. */
export const ConfigSchema = z.object({
  GDAC_BASE_URL: z.string().trim().default("https://data-argo.ifremer.fr")
    .refine((v) => gdacKind(v) !== null, {
      error: "expected an https:// URL, s3://bucket/prefix or a local directory (http:// and ftp:// are refused: HTTPS only)",
    }).transform((v) => v.replace(/\/+$/, "")),
  GDAC_CA_FILE: z.string().trim().optional().refine((v) => v === undefined || existsSync(v), {
    error: "expected a readable PEM file of CA certificates",
  }),
  HTTP_TIMEOUT: number("a number of seconds > 0", 0.001).default(30),
  HTTP_MAX_RETRIES: number("a whole number of retries >= 0", 0, true).default(3),
  HTTP_RETRY_DELAY: number("a number of seconds >= 0 (first backoff delay)", 0).default(1),
  HTTP_CONCURRENCY: number("a whole number of requests in flight >= 1", 1, true).default(8),
  /** Ceiling on one response body, so a hostile server cannot fill memory or disk. */
  HTTP_MAX_BYTES: number("a whole number of bytes >= 1", 1, true).default(2 * 1024 ** 3),
  ARGO_DAC: z.string().trim().default("").transform(list).refine((v) => v.every(isDac), {
    error: `expected DAC names separated by commas, among: ${DACS.join(", ")}`,
  }),
  FLOAT_IDS: z.string().trim().default("").transform(list).refine((v) => v.every(isWmo), {
    error: "expected WMO float ids (5 or 7 digits) separated by commas",
  }),
  /** Extra per-float files to sync besides meta and single-profile files. */
  SYNC_FILES: z.string().trim().default("").transform(list).refine((v) => v.every((f) => f === "prof" || f === "Sprof"), {
    error: "expected a comma-separated list of prof, Sprof",
  }),
  SYNC_DATE_FROM: z.string().trim().optional().refine((v) => v === undefined || !Number.isNaN(Date.parse(v)), {
    error: "expected a date such as 2024-01-01",
  }),
  SYNC_DATE_TO: z.string().trim().optional().refine((v) => v === undefined || !Number.isNaN(Date.parse(v)), {
    error: "expected a date such as 2024-12-31",
  }),
  /** lon_min,lon_max,lat_min,lat_max */
  SYNC_BBOX: z.string().trim().optional().refine((v) => {
    if (v === undefined) return true;
    const n = v.split(",").map(Number);
    return n.length === 4 && n.every(Number.isFinite) && n[0] >= -180 && n[1] <= 180 && n[0] <= n[1] &&
      n[2] >= -90 && n[3] <= 90 && n[2] <= n[3];
  }, { error: "expected lon_min,lon_max,lat_min,lat_max in degrees" }).transform((v) => {
    if (v === undefined) return undefined;
    const [lonMin, lonMax, latMin, latMax] = v.split(",").map(Number);
    return { lonMin, lonMax, latMin, latMax };
  }),
  LAKE_URL: z.string().trim().default(defaultLakeUrl).refine((v) => lakeKind(v) !== null, {
    error: "expected a local directory, a file:// URL or s3://bucket/prefix",
  }),
  S3_ENDPOINT: optionalUrl(["http", "https"]),
  S3_REGION: z.string().trim().default("us-east-1"),
  S3_FORCE_PATH_STYLE: bool("S3_FORCE_PATH_STYLE").default(false),
  DATABASE_URL: optionalUrl(["postgres", "postgresql"]),
  REDIS_URL: optionalUrl(["redis", "rediss"]),
  REDIS_PREFIX: z.string().default("argo:"),
  /** Seconds a hot-layer key lives; 0 keeps keys until the next load replaces them. */
  REDIS_TTL: number("a whole number of seconds >= 0", 0, true).default(7 * 24 * 3600),
  BATCH_SIZE: number("a whole number >= 1", 1, true).default(10),
  /** Parse workers: one per core by default (more only queue for the same cores; see bench/parse-float.ts). */
  MAX_WORKERS: number("a whole number of workers >= 1", 1, true).default(availableParallelism()),
  PROFILE_BATCH_LIMIT: z.string().trim().default("None").refine(
    (v) => /^(none|)$/i.test(v) || (/^\d+$/.test(v) && Number(v) >= 1),
    { error: "expected None or a whole number of profiles >= 1" },
  ).transform((v) => (/^(none|)$/i.test(v) ? null : Number(v))),
  // Compaction (lib/lake/compact.ts, README "Compaction").
  /** Rows a compacted segment holds at most (split at float boundaries; one float larger than this gets a segment of its own). */
  COMPACT_TARGET_ROWS: number("a whole number of rows >= 1", 1, true).default(16_000_000),
  /** Rows per Parquet row group in a segment (DuckDB rounds it up to a multiple of 2,048). */
  COMPACT_ROW_GROUP_ROWS: number("a whole number of rows >= 1", 1, true).default(262_144),
  /** A partition is compacted once its staged bytes (plus its hidden segment rows' share) reach this share of its segment bytes. */
  COMPACT_MIN_SHARE: number("a share >= 0", 0).default(0.1),
  /** Seconds a folded staging file or a retired segment stays readable after its commit (running readers finish), before GC deletes it. */
  COMPACT_GRACE: number("a number of seconds >= 0", 0).default(600),
  ARROW_COMPRESSION: z.string().trim().toLowerCase().default("zstd").pipe(
    z.enum(["zstd", "snappy", "gzip", "lz4", "uncompressed"], { error: "expected zstd, snappy, gzip, lz4 or uncompressed" }),
  ),
  ENABLE_INCREMENTAL_SYNC: bool("ENABLE_INCREMENTAL_SYNC").default(true),
  /**
   * Hours between full checks (each stage counts from its own last one): a sync that lists every float's raw
   * folder and reads every manifest, a journal parse that lists the whole raw zone, a load of every float;
   * 0: only when asked. Help: {@link fullCheckHelp}.
   */
  FULL_CHECK_EVERY: number("a number of hours >= 0 (0: only with FULL_CHECK)", 0).default(168),
  /** This run is a full check (--full-check of sync, load and run-batch), whatever FULL_CHECK_EVERY says. */
  FULL_CHECK: bool("FULL_CHECK").default(false),
  LOG_LEVEL: z.string().trim().toLowerCase().default("info").pipe(
    z.enum(["debug", "info", "warn", "error"], { error: "expected debug, info, warn or error" }),
  ),
  /** json or text; unset: text on a terminal, json lines otherwise (lib/cli.ts). */
  LOG_FORMAT: z.string().trim().toLowerCase().pipe(
    z.enum(["json", "text"], { error: "expected json or text" }),
  ).optional(),
  ENVIRONMENT: z.string().trim().default("development"),
  SYNC_CRON: cron.default("0 */6 * * *"),
  PARSE_CRON: cron.default("30 */6 * * *"),
  COMPACT_CRON: cron.default("40 */6 * * *"),
  LOAD_CRON: cron.default("45 */6 * * *"),
  /** One schedule for a whole cycle (sync, parse, then load: JOB_STAGES.cycle); when set it replaces SYNC_CRON, PARSE_CRON and LOAD_CRON, and compaction keeps its own COMPACT_CRON beside it. */
  SCHEDULE_CRON: cron.optional(),
  /** Seconds a stopping scheduler waits for its in-flight run before it exits anyway. */
  SHUTDOWN_TIMEOUT: number("a number of seconds >= 0", 0).default(30),
  // The runner, status and the scheduler's health (README "Runs, verdicts and health").
  /** Port of the scheduler's GET /healthz and GET /metrics; unset serves nothing. */
  METRICS_PORT: number("a port number from 0 to 65535", 0, true).refine((v) => v <= 65535, { error: "expected a port number from 0 to 65535" }).optional(),
  /** Hours a DAC (or the cached index) may lag before status calls the lake stale. */
  STATUS_MAX_LAG: number("a number of hours > 0", 0.001).default(24),
  /** This process's share of the floats, "i/n" (0 <= i < n); "auto/n" takes i from JOB_COMPLETION_INDEX or AWS_BATCH_JOB_ARRAY_INDEX. */
  SHARD: z.string().trim().regex(/^(\d+|auto)\/[1-9]\d*$/, { error: "expected i/n with 0 <= i < n (e.g. 0/4), or auto/n" }).optional(),
  // Blast-radius guards of the input side (README "Guarantees").
  /** Seconds one request may take from start to the last body byte, whatever trickles in between. */
  HTTP_DEADLINE: number("a number of seconds > 0", 0.001).default(900),
  /** Ceiling on what one gzip body may decompress to (an index .gz), so a decompression bomb is refused. */
  MAX_DECOMPRESSED_BYTES: number("a whole number of bytes >= 1", 1, true).default(4 * 1024 ** 3),
  /** Largest share of rows a fresh index may lose against the cached copy (and of its rows that may be refused). */
  INDEX_MAX_SHRINK: number("a share between 0 and 1", 0).refine((v) => v <= 1, { error: "expected a share between 0 and 1" }).default(0.1),
  /** A sync that would move more files than this to removed/ stops before moving any. */
  REMOVAL_MAX_FILES: number("a whole number of files >= 0", 0, true).default(1000),
  /** ... or more than this share of the files it holds for the floats it syncs (from REMOVAL_SHARE_FLOOR files up). */
  REMOVAL_MAX_SHARE: number("a share between 0 and 1", 0).refine((v) => v <= 1, { error: "expected a share between 0 and 1" }).default(0.1),
  /** Lets one run go past REMOVAL_MAX_FILES / REMOVAL_MAX_SHARE (the operator has checked the withdrawal). */
  ALLOW_REMOVALS: bool("ALLOW_REMOVALS").default(false),
  /** Seconds another process may hold the scheduler's lock before a tick that finds it held reports it as stuck. */
  LOCK_STUCK_AFTER: number("a number of seconds > 0", 0.001).default(24 * 3600),
  /** A parse or load that would remove more floats than this (tables, or rows and keys) stops before removing any. */
  REMOVAL_MAX_FLOATS: number("a whole number of floats >= 0", 0, true).default(100),
  // The API (deno task serve).
  /** The API's port (deno task serve); 0 takes a free one. */
  PORT: number("a port number from 0 to 65535", 0, true).refine((v) => v <= 65535, { error: "expected a port number from 0 to 65535" }).default(8080),
  /** The address the API listens on: every interface by default (a container), 127.0.0.1 for this machine only. */
  HOST: z.string().trim().min(1).default("0.0.0.0"),
  /** Seconds a client has to send a whole request before its connection is closed, so a slow client cannot hold the server. */
  SERVE_REQUEST_TIMEOUT: number("a number of seconds > 0", 0.001).default(10),
  /** The API's token bucket per client: refill rate (requests per second; 0 turns the limit off) and size. */
  RATE_LIMIT_RATE: number("a number of requests per second >= 0 (0: no limit)", 0).default(20),
  RATE_LIMIT_BURST: number("a whole number of requests >= 1", 1, true).default(100),
});

/** The validated configuration a job runs with. */
export type Config = z.infer<typeof ConfigSchema>;
/** The environment-variable names the configuration understands. */
export type ConfigKey = keyof z.input<typeof ConfigSchema>;
export const configKeys = Object.keys(ConfigSchema.shape) as ConfigKey[];

/**
 * The usage lines of --full-check (FULL_CHECK), one text for every job that
 * takes the flag; `column` is where the job's usage starts its descriptions.
 */
export function fullCheckHelp(column: number): string {
  const lines = [
    "a full check now, not only what changed: sync lists",
    "every float's raw folder and reads every manifest",
    "(repairs raw files damaged or deleted behind its back),",
    "the scheduler's and run-batch's parse lists the whole",
    "raw zone, load loads every selected float (repairs what",
    "landed without a change-journal entry); FULL_CHECK=true,",
    "and every FULL_CHECK_EVERY hours after the last one",
  ];
  return lines.map((l, i) => (i === 0 ? "  --full-check".padEnd(column) : " ".repeat(column)) + l).join("\n");
}

/**
 * Values that must never reach a log line: passwords of connection URLs
 * (the GDAC's too), credential-like query parameters of the GDAC URL
 * (token=, key=, signature=, ...), and S3 keys.
 */
export function secretsOf(config: Config, env: Record<string, string | undefined>): string[] {
  const out: string[] = [];
  for (const u of [config.DATABASE_URL, config.REDIS_URL, /^https:/i.test(config.GDAC_BASE_URL) ? config.GDAC_BASE_URL : undefined]) {
    if (!u) continue;
    try {
      const parsed = new URL(u);
      if (parsed.password) out.push(decodeURIComponent(parsed.password), parsed.password);
      for (const [k, v] of parsed.searchParams) if (CREDENTIAL_PARAM.test(k) && v) out.push(v, encodeURIComponent(v));
    } catch { /* validated already */ }
  }
  for (const k of ["AWS_SECRET_ACCESS_KEY", "AWS_ACCESS_KEY_ID", "AWS_SESSION_TOKEN", "PGPASSWORD"]) {
    const v = env[k];
    if (v) out.push(v);
  }
  return out;
}

/** Parses a `.env` file: KEY=VALUE lines, # comments, optional quotes. */
export function parseDotEnv(text: string): Record<string, string> {
  const out: Record<string, string> = {};
  for (const raw of text.split(/\r?\n/)) {
    const line = raw.trim();
    if (!line || line.startsWith("#")) continue;
    const m = /^(?:export\s+)?([A-Za-z_][A-Za-z0-9_]*)\s*=\s*(.*)$/.exec(line);
    if (!m) continue;
    let v = m[2];
    // A quoted value may be followed by a comment: KEY="a # b"  # note
    const quoted = /^(['"])(.*?)\1(?:\s+#.*)?$/.exec(v);
    if (quoted) v = quoted[2];
    else v = v.replace(/\s+#.*$/, "");
    out[m[1]] = v;
  }
  return out;
}

export interface LoadConfigOptions {
  /** The process environment. */
  env: Record<string, string | undefined>;
  /** Values from command-line flags, by variable name; they win. */
  overrides?: Partial<Record<ConfigKey, string>>;
  /** Path of the optional .env file; `.env` in the working directory by default. */
  envFile?: string;
}

/**
 * Builds the configuration. Throws ConfigError on the first bad value with
 * one line: `VARIABLE="value": expected ...`. Secrets are not echoed back.
 */
export function loadConfig(opts: LoadConfigOptions): Config {
  const envFile = opts.envFile ?? resolve(".env");
  const fromFile = existsSync(envFile) ? parseDotEnv(readFileSync(envFile, "utf8")) : {};
  const raw: Record<string, string> = {};
  for (const key of configKeys) {
    const v = opts.overrides?.[key] ?? opts.env[key] ?? fromFile[key];
    if (v !== undefined) raw[key] = v;
  }
  // An empty optional URL means "not set", as in most .env files.
  for (const k of ["DATABASE_URL", "REDIS_URL", "S3_ENDPOINT", "GDAC_CA_FILE", "SYNC_DATE_FROM", "SYNC_DATE_TO", "SYNC_BBOX", "SCHEDULE_CRON", "SHARD"]) {
    if (raw[k] === "") delete raw[k];
  }
  const result = ConfigSchema.safeParse(raw);
  if (!result.success) {
    const issue = result.error.issues[0];
    const key = String(issue.path[0]);
    const given = raw[key];
    // A refused URL is echoed with its password and every query value masked (the user name stays, to recognise it).
    const shown = /URL$/.test(key) && given ? given.replace(/(:\/\/[^:/@]*:).*@/, "$1***@").replace(/([?&][^=&#]*=)[^&#]*/g, "$1***") : given;
    const expected = issue.message.replace(/^[A-Z0-9_]+: /, "");
    throw new ConfigError(`${key}=${JSON.stringify(shown ?? "")}: ${expected}`, { variable: key });
  }
  return result.data;
}

/**
 * Least privilege under Deno: the permission flags a job needs, computed
 * from its configuration, so that no `deno task` runs with -A.
 *
 * - read: the repository (sources, node_modules), the lake and the GDAC when
 *   they are local directories, the temporary folder, GDAC_CA_FILE, the
 *   `.env` file read, and files named by --out / --cache-dir;
 * - write: the lake (local), the temporary folder, and --out / --cache-dir;
 * - net: exactly the hosts and ports configured (the GDAC, S3, Postgres,
 *   Redis, and the address a server listens on);
 * - env, and sys for the host name (run records, lock owners), the CPU count
 *   and the system CA store (TLS);
 * - ffi only for jobs that load DuckDB (every job but sync), limited to
 *   DuckDB's native binding (and resvg's, for serve and plot, which render PNGs). Note that native code loaded through FFI is not
 *   bound by Deno's permissions: the boundary holds for the JavaScript side.
 *
 * jobs/deno.ts is the launcher that turns these into a `deno run` line.
 */
import { dirname, resolve } from "node:path";
import { tmpdir } from "node:os";
import { fileURLToPath } from "node:url";
import { commonFlags } from "./cli.ts";
import { type Config, type ConfigKey, configKeys, repoRoot } from "./config.ts";
import { parseS3Url } from "./s3.ts";

/** Jobs that never load DuckDB (so get no FFI at all). */
const WITHOUT_FFI = new Set(["sync"]);
/** Jobs that render PNGs (resvg, a native module). */
const PNG_JOBS = new Set(["serve", "plot"]);

/** The AWS Open Data copy of the GDAC (its region, as in lib/gdac/sources.ts). */
const OPEN_DATA = { bucket: "argo-gdac-sandbox", region: "eu-west-3" };

/** `host:port` of a URL, with the scheme's default port made explicit. */
function hostPort(url: string, defaultPort: number): string {
  const u = new URL(url);
  return `${u.hostname.replace(/^\[|\]$/g, "")}:${u.port || defaultPort}`;
}

/** A local directory named by a lake or GDAC setting (a path or file:// URL); null for a remote one. */
function localDir(v: string): string | null {
  if (/^file:\/\//i.test(v)) return fileURLToPath(v);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(v)) return null;
  return resolve(v);
}

/** Hosts an S3 client reaches for a bucket: the endpoint given, or AWS's virtual-host and path-style names. */
function s3Hosts(bucket: string, region: string, endpoint: string | undefined): string[] {
  if (endpoint) return [hostPort(endpoint, endpoint.startsWith("https") ? 443 : 80)];
  return [`${bucket}.s3.${region}.amazonaws.com:443`, `s3.${region}.amazonaws.com:443`];
}

export interface PermissionInputs {
  /** The job's name, e.g. "sync". */
  job: string;
  config: Config;
  /** The `.env` file the job will read (it may not exist). */
  envFile: string;
  /** Paths given with --out / --cache-dir. */
  outputs?: string[];
}

/** The `deno run` permission flags for a job under a configuration. */
export function denoPermissions({ job, config, envFile, outputs = [] }: PermissionInputs): string[] {
  const tmp = resolve(tmpdir());
  const read = new Set([repoRoot.replace(/\/+$/, ""), tmp, resolve(envFile)]);
  const write = new Set([tmp]);
  const net = new Set<string>();

  const lake = localDir(config.LAKE_URL);
  if (lake) {
    read.add(lake);
    write.add(lake);
  } else {
    const { bucket } = parseS3Url(config.LAKE_URL);
    for (const h of s3Hosts(bucket, config.S3_REGION, config.S3_ENDPOINT)) net.add(h);
  }
  const gdac = config.GDAC_BASE_URL;
  if (/^https:\/\//i.test(gdac)) net.add(hostPort(gdac, 443));
  else if (/^s3:\/\//i.test(gdac)) {
    const { bucket } = parseS3Url(gdac);
    const region = bucket === OPEN_DATA.bucket && !config.S3_ENDPOINT ? OPEN_DATA.region : config.S3_REGION;
    for (const h of s3Hosts(bucket, region, config.S3_ENDPOINT)) net.add(h);
  } else read.add(localDir(gdac)!);
  if (config.GDAC_CA_FILE) read.add(resolve(config.GDAC_CA_FILE));
  if (config.DATABASE_URL) net.add(hostPort(config.DATABASE_URL, 5432));
  if (config.REDIS_URL) net.add(hostPort(config.REDIS_URL, 6379));
  if (job === "serve") net.add(`${config.HOST}:${config.PORT}`);
  for (const o of outputs) {
    const p = resolve(o);
    read.add(p);
    write.add(p);
    write.add(dirname(p)); // written as a temporary file beside it, then renamed
  }

  const flags = [
    `--allow-read=${[...read].join(",")}`,
    `--allow-write=${[...write].join(",")}`,
    "--allow-env",
    // Read-only system facts: the host name (run records, lock owners), CPU count, and the system
    // CA store that node:tls asks for as sys "ca", which Deno 2.9 cannot name in --allow-sys=.
    "--allow-sys",
  ];
  if (net.size > 0) flags.push(`--allow-net=${[...net].join(",")}`);
  const ffi = WITHOUT_FFI.has(job) ? [] : [resolve(repoRoot, "node_modules", "@duckdb")];
  // The plots' PNGs come from resvg's Node-API module.
  if (PNG_JOBS.has(job)) ffi.push(resolve(repoRoot, "node_modules", "@resvg"));
  if (ffi.length) flags.push(`--allow-ffi=${ffi.join(",")}`);
  return flags;
}

/** Flags whose value is a path the job writes. */
const OUTPUT_FLAGS = new Set(["out", "cache-dir"]);

/**
 * What the launcher needs from a job's command line, read leniently (the
 * job itself checks its flags): config overrides from the flags every job
 * shares and the --kebab-case config flags, the --dotenv file, and --out /
 * --cache-dir paths. Unknown flags are left to the job.
 */
export function launchInputs(argv: string[]): { overrides: Partial<Record<ConfigKey, string>>; envFile: string | undefined; outputs: string[] } {
  const table = new Map<string, ConfigKey>();
  for (const [name, f] of Object.entries(commonFlags)) if (f.config) table.set(name, f.config);
  for (const key of configKeys) if (!table.has(key.toLowerCase().replace(/_/g, "-"))) table.set(key.toLowerCase().replace(/_/g, "-"), key);
  const overrides: Partial<Record<ConfigKey, string>> = {};
  const outputs: string[] = [];
  let envFile: string | undefined;
  for (let i = 0; i < argv.length; i++) {
    const m = /^--([a-z0-9-]+)(?:=(.*))?$/.exec(argv[i]);
    if (!m) continue;
    const [, name, inline] = m;
    const key = table.get(name);
    const takesValue = (key !== undefined && commonFlags[name]?.type !== "boolean") || name === "dotenv" || OUTPUT_FLAGS.has(name);
    if (!takesValue) continue;
    // A flag given without its value (a boolean job flag such as --allow-removals) takes none.
    const value = inline ?? (argv[i + 1] === undefined || argv[i + 1].startsWith("--") ? undefined : argv[++i]);
    if (value === undefined) continue;
    if (name === "dotenv") envFile = value;
    else if (OUTPUT_FLAGS.has(name)) outputs.push(value);
    else if (commonFlags[name]?.repeatable && overrides[key!]) overrides[key!] += `,${value}`;
    else overrides[key!] = value;
  }
  return { overrides, envFile, outputs };
}

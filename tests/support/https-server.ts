/**
 * A local HTTPS server that serves a GDAC-shaped directory, for the sync's
 * tests and benchmarks. Its certificate is signed by a throw-away CA made with
 * the `openssl` CLI at start; clients trust it through GDAC_CA_FILE (never by
 * turning verification off).
 *
 * Faults can be injected at start and changed at run time: latency, 5xx,
 * 429 with Retry-After, connection resets, truncated bodies (Content-Length
 * larger than what is sent, then close), stalled bodies (part sent, then
 * nothing), redirects; at random with a seeded generator, or by per-path rule.
 * Every request is counted, in total and per path, by outcome.
 */
import { execFileSync } from "node:child_process";
import { createReadStream } from "node:fs";
import { copyFile, mkdtemp, readFile, rm, stat, symlink, writeFile } from "node:fs/promises";
import { createServer, type Server } from "node:https";
import type { IncomingMessage, ServerResponse } from "node:http";
import type { Socket } from "node:net";
import { tmpdir } from "node:os";
import { join, resolve, sep } from "node:path";
import { fixturesDir, tempDir, type TempDir } from "./fixtures.ts";
import { seededRandom } from "./random.ts";

/** One injected fault. */
export type Fault =
  | { kind: "status"; status: number } // e.g. 500, 502, 503, or 403/404 for "always fails"
  | { kind: "429"; retryAfter?: string } // Retry-After value; the server's default when absent
  | { kind: "reset" } // the connection is reset before any response byte
  | { kind: "truncate"; fraction?: number } // full Content-Length, `fraction` of the body, then close
  | { kind: "stall"; fraction?: number } // full Content-Length, `fraction` of the body, then silence
  | { kind: "hang" } // no answer at all: the request is read, nothing is sent
  | { kind: "trickle"; intervalMs?: number } // full Content-Length, then one body byte every intervalMs (1000 by default)
  | { kind: "redirect"; location: string; status?: 301 | 302 | 307 | 308 };

/** Applies `fault` to requests whose path matches; `times` limits how often (unlimited by default). */
export interface FaultRule {
  path: string | RegExp;
  fault: Fault;
  times?: number;
}

export interface FaultSettings {
  /** Milliseconds added before every response. */
  latencyMs: number;
  /** Share of requests (0..1) that get a random fault from `randomFaults`. */
  failureRate: number;
  /** The faults random failures are drawn from (uniformly). */
  randomFaults: Fault[];
  /** Per-path rules, checked before random failures; the first that matches wins. */
  rules: FaultRule[];
  /** Retry-After sent with 429 when the fault does not say. */
  retryAfter: string;
  /** Seed of the random generator (same seed, same request order: same faults). */
  seed: number;
  /** Serve `<name>.gz` files when they exist on disk (a 404 otherwise, as the GDAC would). */
  serveGz: boolean;
  /** Send bodies without Content-Length (chunked), as some servers and proxies do. */
  chunked: boolean;
}

/** How a request ended, as counted. */
export type Outcome =
  | "ok"
  | "head"
  | "not_modified"
  | "not_found"
  | "status"
  | "429"
  | "reset"
  | "truncate"
  | "stall"
  | "hang"
  | "trickle"
  | "redirect"
  | "unauthorized"
  | "bad_method";

export interface RequestCounts {
  total: number;
  byOutcome: Partial<Record<Outcome, number>>;
  /** Per URL path (without query), by outcome. */
  byPath: Map<string, Partial<Record<Outcome, number>>>;
}

export interface TestHttpsServer {
  /** Base URL, https://127.0.0.1:<port> (no trailing slash). */
  url: string;
  port: number;
  /** PEM file of the CA that signed the server certificate: give it as GDAC_CA_FILE. */
  caFile: string;
  /** The directory served. */
  root: string;
  /** Current fault settings (a copy). */
  readonly settings: FaultSettings;
  /** Changes fault settings from now on; a new seed restarts the random sequence. */
  setFaults(patch: Partial<FaultSettings>): void;
  readonly counts: RequestCounts;
  /** Requests for one path, all outcomes added. */
  countFor(path: string, outcome?: Outcome): number;
  resetCounts(): void;
  /** Closes the server and every open connection, removes the certificate directory. */
  stop(): Promise<void>;
}

export interface StartOptions extends Partial<FaultSettings> {
  /** Directory to serve; the fixture mirror (../shared/fixtures/gdac) by default. */
  root?: string;
  /** Credentials every request must carry (HTTP Basic and/or a `token` query parameter), else 401. */
  auth?: { user?: string; password?: string; token?: string };
}

/** Files up to this size are served from memory after their first read. */
const CACHE_FILE_MAX = 8 * 1024 * 1024;

const defaults: FaultSettings = {
  latencyMs: 0,
  failureRate: 0,
  randomFaults: [{ kind: "status", status: 503 }, { kind: "429" }, { kind: "reset" }, { kind: "truncate" }],
  rules: [],
  retryAfter: "1",
  seed: 1,
  serveGz: true,
  chunked: false,
};


/** A CA and a server certificate for 127.0.0.1 and localhost, made with openssl in `dir`. */
export async function makeCertificates(dir: string): Promise<{ caFile: string; key: string; cert: string }> {
  const p = (name: string) => join(dir, name);
  const ossl = (args: string[]) => execFileSync("openssl", args, { stdio: ["ignore", "ignore", "pipe"] });
  const ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:prime256v1", "-nodes"];
  ossl(["req", "-x509", ...ec, "-keyout", p("ca.key"), "-out", p("ca.pem"), "-days", "2", "-subj", "/CN=argo-lake test CA",
    "-addext", "basicConstraints=critical,CA:TRUE", "-addext", "keyUsage=critical,keyCertSign,cRLSign"]);
  ossl(["req", ...ec, "-keyout", p("server.key"), "-out", p("server.csr"), "-subj", "/CN=localhost"]);
  await writeFile(p("server.ext"), [
    "subjectAltName=IP:127.0.0.1,DNS:localhost",
    "basicConstraints=CA:FALSE",
    "keyUsage=critical,digitalSignature,keyEncipherment",
    "extendedKeyUsage=serverAuth",
  ].join("\n") + "\n");
  ossl(["x509", "-req", "-in", p("server.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"), "-CAcreateserial",
    "-out", p("server.pem"), "-days", "2", "-extfile", p("server.ext")]);
  return { caFile: p("ca.pem"), key: await readFile(p("server.key"), "utf8"), cert: await readFile(p("server.pem"), "utf8") };
}

/** The strong ETag the server gives a file: size and mtime, as many servers do. */
export function etagOf(size: number, mtimeMs: number): string {
  return `"${size.toString(16)}-${Math.floor(mtimeMs).toString(16)}"`;
}

/** Starts the server on 127.0.0.1 and a free port. */
export async function startHttpsServer(opts: StartOptions = {}): Promise<TestHttpsServer> {
  const root = resolve(opts.root ?? fixturesDir);
  const auth = opts.auth;
  const basic = auth?.user !== undefined ? `Basic ${Buffer.from(`${auth.user}:${auth.password ?? ""}`).toString("base64")}` : null;
  const certDir = await mkdtemp(join(tmpdir(), "argo-https-"));
  const { caFile, key, cert } = await makeCertificates(certDir);
  let settings: FaultSettings = { ...defaults, ...stripRoot(opts) };
  let random = seededRandom(settings.seed);
  const ruleUses = new Map<FaultRule, number>();
  const counts: RequestCounts = { total: 0, byOutcome: {}, byPath: new Map() };
  const sockets = new Set<Socket>();
  const timers = new Set<ReturnType<typeof setTimeout>>();

  const count = (path: string, outcome: Outcome) => {
    counts.total++;
    counts.byOutcome[outcome] = (counts.byOutcome[outcome] ?? 0) + 1;
    const per = counts.byPath.get(path) ?? {};
    per[outcome] = (per[outcome] ?? 0) + 1;
    counts.byPath.set(path, per);
  };

  const pickFault = (path: string): Fault | null => {
    for (const rule of settings.rules) {
      const hit = typeof rule.path === "string" ? rule.path === path : rule.path.exec(path) !== null;
      if (!hit) continue;
      const used = ruleUses.get(rule) ?? 0;
      if (rule.times !== undefined && used >= rule.times) continue;
      ruleUses.set(rule, used + 1);
      return rule.fault;
    }
    if (settings.failureRate > 0 && settings.randomFaults.length > 0 && random() < settings.failureRate) {
      return settings.randomFaults[Math.floor(random() * settings.randomFaults.length)];
    }
    return null;
  };

  const bodies = new Map<string, { etag: string; body: Buffer }>();
  const cachedBody = async (file: string, etag: string): Promise<Buffer> => {
    const hit = bodies.get(file);
    if (hit?.etag === etag) return hit.body;
    const body = await readFile(file);
    bodies.set(file, { etag, body });
    return body;
  };

  const handle = async (req: IncomingMessage, res: ServerResponse) => {
    const reqUrl = new URL(req.url ?? "/", "https://x");
    const path = decodeURIComponent(reqUrl.pathname);
    if ((basic !== null && req.headers.authorization !== basic) || (auth?.token !== undefined && reqUrl.searchParams.get("token") !== auth.token)) {
      count(path, "unauthorized");
      res.writeHead(401, { "Content-Type": "text/plain", "WWW-Authenticate": 'Basic realm="gdac"' }).end("unauthorized\n");
      return;
    }
    // Decide the fault on arrival, so the seeded sequence follows request order.
    const fault = pickFault(path);
    if (settings.latencyMs > 0) {
      await new Promise<void>((r) => {
        const t = setTimeout(() => (timers.delete(t), r()), settings.latencyMs);
        timers.add(t);
      });
    }
    if (req.method !== "GET" && req.method !== "HEAD") {
      count(path, "bad_method");
      res.writeHead(405, { Allow: "GET, HEAD" }).end();
      return;
    }
    if (fault?.kind === "reset") {
      count(path, "reset");
      // A TCP RST on the socket under TLS, so the client sees ECONNRESET (not a polite close).
      const tlsSocket = req.socket as Socket & { _parent?: Socket | null };
      const tcp = tlsSocket._parent ?? null;
      try {
        (tcp ?? tlsSocket).resetAndDestroy();
      } catch {
        tlsSocket.destroy();
      }
      return;
    }
    if (fault?.kind === "hang") {
      count(path, "hang");
      return;
    }
    if (fault?.kind === "status") {
      count(path, "status");
      res.writeHead(fault.status, { "Content-Type": "text/plain" }).end(`injected ${fault.status}\n`);
      return;
    }
    if (fault?.kind === "429") {
      count(path, "429");
      res.writeHead(429, { "Retry-After": fault.retryAfter ?? settings.retryAfter, "Content-Type": "text/plain" })
        .end("slow down\n");
      return;
    }
    if (fault?.kind === "redirect") {
      count(path, "redirect");
      res.writeHead(fault.status ?? 302, { Location: fault.location }).end();
      return;
    }
    // A path outside the root, a folder, a missing file, or a .gz we are told to hide: 404.
    const file = resolve(root, "." + path);
    const inside = file === root || file.startsWith(root + sep);
    const st = inside && (settings.serveGz || !file.endsWith(".gz")) ? await stat(file).catch(() => null) : null;
    if (!st || !st.isFile()) {
      count(path, "not_found");
      res.writeHead(404, { "Content-Type": "text/plain" }).end("not found\n");
      return;
    }
    const etag = etagOf(st.size, st.mtimeMs);
    const lastModified = new Date(Math.floor(st.mtimeMs / 1000) * 1000).toUTCString();
    const inm = req.headers["if-none-match"];
    const ims = req.headers["if-modified-since"];
    const notModified = inm !== undefined
      ? inm.split(",").map((s) => s.trim()).includes(etag) || inm.trim() === "*"
      : ims !== undefined && !Number.isNaN(Date.parse(ims)) && Math.floor(st.mtimeMs / 1000) * 1000 <= Date.parse(ims);
    const headers: Record<string, string> = {
      "Content-Type": file.endsWith(".gz") ? "application/gzip" : file.endsWith(".txt") ? "text/plain" : "application/x-netcdf",
      ETag: etag,
      "Last-Modified": lastModified,
    };
    if (!settings.chunked) headers["Content-Length"] = String(st.size);
    if (notModified) {
      count(path, "not_modified");
      res.writeHead(304, { ETag: etag, "Last-Modified": lastModified }).end();
      return;
    }
    if (req.method === "HEAD") {
      count(path, "head");
      res.writeHead(200, headers).end();
      return;
    }
    if (fault?.kind === "truncate" || fault?.kind === "stall") {
      count(path, fault.kind);
      const body = await readFile(file);
      const part = body.subarray(0, Math.floor(body.length * (fault.fraction ?? 0.5)));
      res.writeHead(200, { ...headers, "Content-Length": String(st.size) });
      res.write(part);
      // Truncate: close the connection with bytes still owed. Stall: owe them forever.
      if (fault.kind === "truncate") res.socket?.end();
      return;
    }
    if (fault?.kind === "trickle") {
      count(path, "trickle");
      const body = await readFile(file);
      res.writeHead(200, { ...headers, "Content-Length": String(st.size) });
      let at = 0;
      const next = () => {
        if (res.destroyed || at >= body.length) {
          res.end();
          return;
        }
        res.write(body.subarray(at, ++at));
        const t = setTimeout(() => (timers.delete(t), next()), fault.intervalMs ?? 1000);
        timers.add(t);
      };
      next();
      return;
    }
    count(path, "ok");
    res.writeHead(200, headers);
    // Small files are kept in memory (keyed by their validators) so disk reads do not pace benchmarks.
    if (st.size <= CACHE_FILE_MAX) res.end(await cachedBody(file, etag));
    else createReadStream(file).pipe(res);
  };

  const server: Server = createServer({ key, cert }, (req, res) => {
    handle(req, res).catch((err) => {
      if (!res.headersSent) res.writeHead(500).end(String(err));
      else res.destroy();
    });
  });
  server.keepAliveTimeout = 30_000;
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  server.on("secureConnection", (s: Socket) => {
    // No Nagle: a small response must not wait for the client's delayed ACK (40 ms on Linux).
    s.setNoDelay(true);
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  // A client that gives up on a TLS handshake (e.g. it does not trust our CA) is not our error.
  server.on("tlsClientError", () => {});
  await new Promise<void>((r) => server.listen(0, "127.0.0.1", r));
  const port = (server.address() as { port: number }).port;

  return {
    url: `https://127.0.0.1:${port}`,
    port,
    caFile,
    root,
    get settings() {
      return { ...settings, rules: [...settings.rules], randomFaults: [...settings.randomFaults] };
    },
    setFaults(patch) {
      settings = { ...settings, ...patch };
      if (patch.seed !== undefined) random = seededRandom(patch.seed);
      if (patch.rules !== undefined) ruleUses.clear();
    },
    counts,
    countFor(path, outcome) {
      const per = counts.byPath.get(path) ?? {};
      return outcome ? per[outcome] ?? 0 : Object.values(per).reduce((a, b) => a + (b ?? 0), 0);
    },
    resetCounts() {
      counts.total = 0;
      counts.byOutcome = {};
      counts.byPath.clear();
    },
    async stop() {
      for (const t of timers) clearTimeout(t);
      const closed = new Promise<void>((r) => server.close(() => r()));
      for (const s of sockets) s.destroy();
      await closed;
      await rm(certDir, { recursive: true, force: true });
    },
  };
}

function stripRoot(opts: StartOptions): Partial<FaultSettings> {
  const { root: _root, auth: _auth, ...rest } = opts;
  return Object.fromEntries(Object.entries(rest).filter(([, v]) => v !== undefined));
}

/** The index files of the fixture mirror. */
export const INDEX_FILES = [
  "ar_index_global_prof.txt",
  "argo_bio-profile_index.txt",
  "argo_synthetic-profile_index.txt",
  "ar_index_global_meta.txt",
] as const;

/**
 * A served directory whose index files can be edited: copies of the fixture
 * index files, and `dac/` as a symbolic link to the fixtures' (read in place).
 */
export async function editableMirror(): Promise<TempDir> {
  const dir = await tempDir("mirror");
  for (const name of INDEX_FILES) await copyFile(join(fixturesDir, name), join(dir.path, name));
  await symlink(join(fixturesDir, "dac"), join(dir.path, "dac"), "dir");
  return dir;
}

/** Edits one index file of an editable mirror in place; throws when the edit changes nothing (a pattern that no longer matches). */
export async function editIndex(root: string, name: string, edit: (text: string) => string): Promise<void> {
  const file = join(root, name);
  const before = await readFile(file, "utf8");
  const after = edit(before);
  if (after === before) throw new Error(`editing ${name} changed nothing: the pattern no longer matches the fixture index`);
  await writeFile(file, after);
}

/** Puts the fixture index files back into an editable mirror (after tests that edited them). */
export async function restoreIndexes(root: string): Promise<void> {
  for (const name of INDEX_FILES) await writeFile(join(root, name), await readFile(join(fixturesDir, name)));
}

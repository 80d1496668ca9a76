/**
 * HTTPS GETs for the sync, through undici: one keep-alive pool, a bound on
 * requests in flight, a timeout per request, retries with exponential backoff
 * and jitter on what is worth retrying, and every body checked before anyone
 * sees it (length, size ceiling, an optional content check).
 *
 * TLS verification is always on. A private mirror's CA is added to Node's
 * default roots (never replaces them, never turns checking off).
 */
import { readFileSync } from "node:fs";
import { createSecureContext, rootCertificates, type SecureContext } from "node:tls";
import { Agent, type Dispatcher, request } from "undici";
import { SyncError } from "./errors.ts";
import { redactUrl } from "./log.ts";

/** Longest we wait when a server says Retry-After, so a hostile value cannot park the job. */
export const RETRY_AFTER_CAP_MS = 60_000;
/** Longest single backoff delay. */
const BACKOFF_CAP_MS = 60_000;

/** Validators of a copy we already hold, sent as If-None-Match / If-Modified-Since. */
export interface Conditional {
  etag?: string | null;
  lastModified?: string | null;
}

/** The outcome of a GET that did not fail. */
export type GetResult =
  | { status: "ok"; body: Uint8Array; etag: string | null; lastModified: string | null }
  | { status: "not_modified" }
  | { status: "not_found"; httpStatus: number };

/** What a HEAD tells about a file; null when there is none. */
export interface RemoteStat {
  size: number | null;
  etag: string | null;
  lastModified: string | null;
}

/**
 * A request that failed. `retryable` says whether another attempt could
 * succeed (timeouts, resets, 5xx, 429, short or bad bodies) or not (403, a
 * refused redirect, a body over the size ceiling, an untrusted certificate).
 */
export class HttpError extends SyncError {
  readonly retryable: boolean;
  readonly httpStatus?: number;
  /** Milliseconds the server asked us to wait (Retry-After), already capped. */
  readonly retryAfterMs?: number;
  constructor(
    message: string,
    opts: { retryable: boolean; httpStatus?: number; retryAfterMs?: number; file?: string; cause?: unknown },
  ) {
    super(message, { file: opts.file }, { cause: opts.cause });
    this.retryable = opts.retryable;
    this.httpStatus = opts.httpStatus;
    this.retryAfterMs = opts.retryAfterMs;
  }
}

/** The job was asked to stop while waiting or fetching. */
export class AbortedError extends SyncError {
  constructor(what = "interrupted") {
    super(what);
  }
}

export interface RetryOptions {
  maxRetries: number;
  /** First backoff delay; each retry doubles it, then jitter takes up to half away. */
  retryDelayMs: number;
  signal?: AbortSignal;
  /** Source of randomness for jitter (tests and benches may seed it). */
  random?: () => number;
  /** Called before each retry with the error that caused it and the wait chosen. */
  onRetry?: (err: HttpError, attempt: number, waitMs: number) => void;
}

/** Backoff before retry number `attempt` (1-based): base * 2^(attempt-1), jittered into [50%, 100%]. */
export function backoffMs(attempt: number, baseMs: number, random: () => number = Math.random): number {
  const full = Math.min(BACKOFF_CAP_MS, baseMs * 2 ** (attempt - 1));
  return full / 2 + random() * (full / 2);
}

/** Parses Retry-After (seconds or an HTTP date) into capped milliseconds; undefined when absent or bad. */
export function parseRetryAfter(value: string | undefined, now: number = Date.now()): number | undefined {
  if (value === undefined) return undefined;
  const v = value.trim();
  let ms: number;
  if (/^\d+$/.test(v)) ms = Number(v) * 1000;
  else if (/^[A-Za-z]{3},/.test(v) && !Number.isNaN(Date.parse(v))) ms = Math.max(0, Date.parse(v) - now);
  else return undefined;
  return Math.min(ms, RETRY_AFTER_CAP_MS);
}

/** Waits, or rejects with AbortedError as soon as the signal fires. */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(new AbortedError());
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(t);
      reject(new AbortedError());
    };
    const t = setTimeout(() => {
      signal?.removeEventListener("abort", onAbort);
      resolve();
    }, ms);
    signal?.addEventListener("abort", onAbort, { once: true });
  });
}

/**
 * Runs `attempt` until it succeeds, fails for good, or retries run out.
 * Retryable HttpErrors wait (Retry-After when the server gave one, else
 * backoff) and go again; anything else is thrown at once.
 */
export async function withRetries<T>(attempt: (n: number) => Promise<T>, opts: RetryOptions): Promise<T> {
  for (let n = 0;; n++) {
    if (opts.signal?.aborted) throw new AbortedError();
    try {
      return await attempt(n);
    } catch (err) {
      if (!(err instanceof HttpError) || !err.retryable || n >= opts.maxRetries || opts.signal?.aborted) throw err;
      const wait = err.retryAfterMs ?? backoffMs(n + 1, opts.retryDelayMs, opts.random);
      opts.onRetry?.(err, n + 1, wait);
      await sleep(wait, opts.signal);
    }
  }
}

/** A counting semaphore: at most `limit` calls of `run` in progress. */
export class Limiter {
  private active = 0;
  private readonly waiting: (() => void)[] = [];
  constructor(readonly limit: number) {}

  async run<T>(fn: () => Promise<T>): Promise<T> {
    if (this.active >= this.limit) await new Promise<void>((r) => this.waiting.push(r));
    else this.active++;
    try {
      return await fn();
    } finally {
      const next = this.waiting.shift();
      if (next) next();
      else this.active--;
    }
  }
}

export interface HttpClientOptions {
  /** Milliseconds: to connect, to receive the response headers, and the longest silence while reading the body. */
  timeoutMs: number;
  /** Milliseconds one attempt may take from its start to the last body byte (redirects included), however the bytes trickle. */
  deadlineMs: number;
  maxRetries: number;
  retryDelayMs: number;
  /** Requests in flight at once (and keep-alive connections per host). */
  concurrency: number;
  /** A body larger than this is cut off and the request fails (not retried). */
  maxBytes: number;
  /** PEM file with extra CA certificates (a private mirror), added to the default roots. */
  caFile?: string;
  /** Same-host https redirects followed at most (3 by default). */
  maxRedirects?: number;
  /** Headers sent with every request (e.g. a private mirror's authorization). */
  headers?: Record<string, string>;
  random?: () => number;
}

export interface GetOptions {
  conditional?: Conditional;
  signal?: AbortSignal;
  /** Checks a complete body; returns why it is unacceptable, or null. A failed check is a failed attempt. */
  check?: (body: Uint8Array) => string | null;
}

const retryableCodes = new Set([
  "UND_ERR_HEADERS_TIMEOUT",
  "UND_ERR_BODY_TIMEOUT",
  "UND_ERR_CONNECT_TIMEOUT",
  "UND_ERR_SOCKET",
  "UND_ERR_CLOSED",
  "UND_ERR_RES_CONTENT_LENGTH_MISMATCH",
  "ECONNRESET",
  "ECONNREFUSED",
  "ECONNABORTED",
  "EPIPE",
  "ETIMEDOUT",
  "EAI_AGAIN",
  "ENETUNREACH",
  "EHOSTUNREACH",
]);

/** Error codes Node and OpenSSL give when a certificate is not trusted or does not match. */
const tlsCode = /CERT|SELF_SIGNED|UNABLE_TO_VERIFY|ERR_TLS|ERR_SSL|DEPTH_ZERO/;

const contexts = new Map<string, SecureContext>();

/**
 * The TLS context trusting Node's roots plus a CA file, built once per file:
 * parsing ~150 root certificates costs milliseconds, too much per connection.
 */
function secureContextFor(caFile: string): SecureContext {
  let ctx = contexts.get(caFile);
  if (!ctx) {
    ctx = createSecureContext({ ca: [...rootCertificates, readFileSync(caFile, "utf8")] });
    contexts.set(caFile, ctx);
  }
  return ctx;
}

/** An HTTPS client for one GDAC. Construct once per run; `close()` at the end. */
export class HttpClient {
  /** Retries made so far, all requests added. */
  retries = 0;
  private readonly agent: Agent;
  private readonly limiter: Limiter;
  private readonly maxRedirects: number;

  constructor(private readonly opts: HttpClientOptions) {
    this.agent = new Agent({
      connections: opts.concurrency,
      pipelining: 1,
      keepAliveTimeout: 30_000,
      headersTimeout: opts.timeoutMs,
      bodyTimeout: opts.timeoutMs,
      connect: { timeout: opts.timeoutMs, ...(opts.caFile ? { secureContext: secureContextFor(opts.caFile) } : {}) },
    });
    this.limiter = new Limiter(opts.concurrency);
    this.maxRedirects = opts.maxRedirects ?? 3;
  }

  /** GET with retries. 404 and 410 come back as not_found; other failures throw HttpError. */
  get(url: string, o: GetOptions = {}): Promise<GetResult> {
    return withRetries(() => this.limiter.run(() => this.once("GET", url, o)) as Promise<GetResult>, this.retryOpts(url, o.signal));
  }

  /** HEAD with retries: size, ETag and Last-Modified, or null on 404/410. */
  async stat(url: string, signal?: AbortSignal): Promise<RemoteStat | null> {
    const r = await withRetries(() => this.limiter.run(() => this.once("HEAD", url, { signal })), this.retryOpts(url, signal));
    return r.status === "head" ? r.stat : null;
  }

  async close(): Promise<void> {
    await this.agent.close();
  }

  private retryOpts(_url: string, signal?: AbortSignal): RetryOptions {
    return {
      maxRetries: this.opts.maxRetries,
      retryDelayMs: this.opts.retryDelayMs,
      signal,
      random: this.opts.random,
      onRetry: () => this.retries++,
    };
  }

  /** One attempt, redirects included. */
  private async once(
    method: "GET" | "HEAD",
    realUrl: string,
    o: GetOptions,
  ): Promise<GetResult | { status: "head"; stat: RemoteStat }> {
    const origin = new URL(realUrl);
    // Errors and logs name the URL without credentials (query values, user, password).
    const url = redactUrl(realUrl);
    let current = origin;
    // The whole exchange has a deadline: a body that trickles a byte at a time never trips the silence timeout.
    const deadline = AbortSignal.timeout(this.opts.deadlineMs);
    const signal = o.signal ? AbortSignal.any([o.signal, deadline]) : deadline;
    const classify = (err: unknown) =>
      deadline.aborted && !o.signal?.aborted
        ? new HttpError(`${url}: expected a complete answer within HTTP_DEADLINE=${this.opts.deadlineMs / 1000} s, found the exchange still going: abandoned`, {
          retryable: true,
          file: url,
          cause: err,
        })
        : this.classify(err, url, o.signal);
    for (let hop = 0;; hop++) {
      const headers: Record<string, string> = { "user-agent": "argo-lake-sync", ...this.opts.headers };
      if (o.conditional?.etag) headers["if-none-match"] = o.conditional.etag;
      if (o.conditional?.lastModified) headers["if-modified-since"] = o.conditional.lastModified;
      let res: Dispatcher.ResponseData;
      try {
        res = await request(current, { method, headers, dispatcher: this.agent, signal });
      } catch (err) {
        throw classify(err);
      }
      const status = res.statusCode;
      const header = (name: string) => {
        const v = res.headers[name];
        return Array.isArray(v) ? v[0] : v;
      };
      if (status >= 300 && status < 400 && status !== 304 && header("location") !== undefined) {
        await res.body.dump().catch(() => {});
        const next = new URL(header("location")!, current);
        if (next.protocol !== "https:") {
          throw new HttpError(`refused redirect from ${url} to ${redactUrl(next.href)}: only https:// is allowed`, { retryable: false, file: url });
        }
        if (next.host !== origin.host) {
          throw new HttpError(`refused redirect from ${url} to another host (${next.host})`, { retryable: false, file: url });
        }
        if (hop >= this.maxRedirects) {
          throw new HttpError(`too many redirects (more than ${this.maxRedirects}) from ${url}`, { retryable: false, file: url });
        }
        current = next;
        continue;
      }
      if (status === 304) {
        await res.body.dump().catch(() => {});
        return { status: "not_modified" };
      }
      if (status === 404 || status === 410) {
        await res.body.dump().catch(() => {});
        return { status: "not_found", httpStatus: status };
      }
      if (status !== 200) {
        await res.body.dump().catch(() => {});
        const retryable = status === 429 || status >= 500;
        throw new HttpError(`HTTP ${status} for ${url}`, {
          retryable,
          httpStatus: status,
          retryAfterMs: status === 429 || status === 503 ? parseRetryAfter(header("retry-after")) : undefined,
          file: url,
        });
      }
      const lengthHeader = header("content-length");
      const declared = lengthHeader !== undefined && /^\d+$/.test(lengthHeader) ? Number(lengthHeader) : null;
      const etag = header("etag") ?? null;
      const lastModified = header("last-modified") ?? null;
      if (method === "HEAD") {
        await res.body.dump().catch(() => {});
        return { status: "head", stat: { size: declared, etag, lastModified } };
      }
      if (declared !== null && declared > this.opts.maxBytes) {
        res.body.destroy();
        throw tooLarge(url, this.opts.maxBytes, declared);
      }
      const body = await this.readBody(res, url, declared, classify);
      if (declared !== null && body.byteLength !== declared) {
        throw new HttpError(`body of ${url} is ${body.byteLength} bytes, Content-Length said ${declared}`, { retryable: true, file: url });
      }
      const bad = o.check?.(body);
      if (bad) throw new HttpError(`${url}: ${bad}`, { retryable: true, file: url });
      return { status: "ok", body, etag, lastModified };
    }
  }

  /** Reads a body whole; with a Content-Length it goes straight into one buffer of that size. */
  private async readBody(res: Dispatcher.ResponseData, url: string, declared: number | null, classify: (err: unknown) => Error): Promise<Uint8Array> {
    const chunks: Uint8Array[] = [];
    const out = declared !== null ? new Uint8Array(declared) : null;
    let total = 0;
    try {
      for await (const chunk of res.body) {
        const c = chunk as Uint8Array;
        if (total + c.byteLength > this.opts.maxBytes) {
          res.body.destroy();
          throw tooLarge(url, this.opts.maxBytes);
        }
        if (out) {
          if (total + c.byteLength > out.byteLength) {
            res.body.destroy();
            throw new HttpError(`body of ${url} is longer than its Content-Length (${declared})`, { retryable: true, file: url });
          }
          out.set(c, total);
        } else chunks.push(c);
        total += c.byteLength;
      }
    } catch (err) {
      if (err instanceof HttpError) throw err;
      throw classify(err);
    }
    // A short body keeps its real length here; the caller compares it with Content-Length.
    if (out) return total === out.byteLength ? out : out.subarray(0, total);
    if (chunks.length === 1) return chunks[0];
    const joined = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      joined.set(c, at);
      at += c.byteLength;
    }
    return joined;
  }

  /** Turns a thrown network error into an HttpError that says whether to retry. */
  private classify(err: unknown, url: string, signal?: AbortSignal): Error {
    if (signal?.aborted) return new AbortedError();
    const e = err as { code?: string; message?: string; cause?: { code?: string; message?: string } };
    const code = e?.code ?? e?.cause?.code ?? "";
    const message = e?.cause?.message && e.cause.message !== e.message ? `${e.message}: ${e.cause.message}` : e?.message;
    if (tlsCode.test(code)) {
      return new HttpError(
        `TLS certificate of ${new URL(url).host} not accepted (${code}: ${message}); a private mirror's CA can be given in GDAC_CA_FILE`,
        { retryable: false, file: url, cause: err },
      );
    }
    return new HttpError(`${url}: ${code || "error"}: ${message ?? String(err)}`, {
      retryable: retryableCodes.has(code),
      file: url,
      cause: err,
    });
  }
}

function tooLarge(url: string, max: number, declared?: number): HttpError {
  const size = declared !== undefined ? ` (Content-Length ${declared})` : "";
  return new HttpError(`response from ${url} is larger than HTTP_MAX_BYTES=${max}${size}: cut off`, { retryable: false, file: url });
}

/**
 * A GDAC copy on S3, such as the AWS Open Data bucket
 * s3://argo-gdac-sandbox/pub: data under `<prefix>/dac/`, index files under
 * `<prefix>/idx/`. Read anonymously. Retries are ours (the SDK's are turned
 * off) so that every source retries, times out and checks bodies the same way.
 */
import { GetObjectCommand, HeadObjectCommand, type S3Client } from "@aws-sdk/client-s3";
import { AbortedError, type Conditional, type GetResult, HttpError, Limiter, type RemoteStat, withRetries } from "../http.ts";
import { checkGdacPath } from "./paths.ts";
import { checkIndexName, type FetchOptions, type GdacSource, gzipProblem, netcdfProblem } from "./source.ts";

export interface S3SourceOptions {
  timeoutMs: number;
  /** One attempt's whole exchange, headers to last body byte (HTTP_DEADLINE). */
  deadlineMs: number;
  maxRetries: number;
  retryDelayMs: number;
  concurrency: number;
  maxBytes: number;
}

export class S3GdacSource implements GdacSource {
  readonly description: string;
  private retryCount = 0;
  private readonly limiter: Limiter;

  constructor(private readonly client: S3Client, private readonly bucket: string, private readonly prefix: string, private readonly opts: S3SourceOptions) {
    this.description = `s3://${bucket}/${prefix}`;
    this.limiter = new Limiter(opts.concurrency);
  }

  private key(rel: string): string {
    return this.prefix ? `${this.prefix}/${rel}` : rel;
  }

  async fetchIndex(name: string, o: FetchOptions = {}): Promise<GetResult> {
    const { gz } = checkIndexName(name);
    return this.get(this.key(`idx/${name}`), o, gz ? gzipProblem : null);
  }

  async fetchFile(path: string, o: FetchOptions = {}): Promise<GetResult> {
    checkGdacPath(path);
    return this.get(this.key(`dac/${path}`), o, netcdfProblem);
  }

  async stat(path: string, signal?: AbortSignal): Promise<RemoteStat | null> {
    checkGdacPath(path);
    const key = this.key(`dac/${path}`);
    return withRetries(() =>
      this.limiter.run(async () => {
        try {
          const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: key }), { abortSignal: this.deadline(signal) });
          return { size: res.ContentLength ?? null, etag: res.ETag ?? null, lastModified: res.LastModified?.toUTCString() ?? null };
        } catch (err) {
          if (statusOf(err) === 404 || nameOf(err) === "NotFound") return null;
          throw this.classify(err, key);
        }
      }), this.retryOpts(signal));
  }

  retries(): number {
    return this.retryCount;
  }

  async close(): Promise<void> {
    this.client.destroy();
  }

  private retryOpts(signal?: AbortSignal) {
    return { maxRetries: this.opts.maxRetries, retryDelayMs: this.opts.retryDelayMs, signal, onRetry: () => this.retryCount++ };
  }

  /** The caller's signal plus our per-request timeout (for the response headers). */
  private deadline(signal?: AbortSignal): AbortSignal {
    const t = AbortSignal.timeout(this.opts.timeoutMs);
    return signal ? AbortSignal.any([signal, t]) : t;
  }

  private get(key: string, o: FetchOptions, check: ((b: Uint8Array) => string | null) | null): Promise<GetResult> {
    return withRetries(() => this.limiter.run(() => this.once(key, o.conditional, o.signal, check)), this.retryOpts(o.signal));
  }

  private async once(key: string, cond: Conditional | undefined, signal: AbortSignal | undefined, check: ((b: Uint8Array) => string | null) | null): Promise<GetResult> {
    const url = `s3://${this.bucket}/${key}`;
    const started = Date.now();
    let res;
    try {
      res = await this.client.send(new GetObjectCommand({
        Bucket: this.bucket,
        Key: key,
        IfNoneMatch: cond?.etag ?? undefined,
        IfModifiedSince: !cond?.etag && cond?.lastModified ? new Date(cond.lastModified) : undefined,
      }), { abortSignal: this.deadline(signal) });
    } catch (err) {
      const status = statusOf(err);
      if (status === 304) return { status: "not_modified" };
      if (status === 404 || nameOf(err) === "NoSuchKey") return { status: "not_found", httpStatus: 404 };
      throw this.classify(err, key, signal);
    }
    const declared = res.ContentLength ?? null;
    const stream = res.Body as AsyncIterable<Uint8Array> & { destroy?: () => void };
    if (declared !== null && declared > this.opts.maxBytes) {
      stream.destroy?.();
      throw new HttpError(`${url} is larger than HTTP_MAX_BYTES=${this.opts.maxBytes} (${declared} bytes)`, { retryable: false, file: url });
    }
    const body = await this.collect(stream, url, signal, started);
    if (declared !== null && body.byteLength !== declared) {
      throw new HttpError(`body of ${url} is ${body.byteLength} bytes, Content-Length said ${declared}`, { retryable: true, file: url });
    }
    const bad = check?.(body);
    if (bad) throw new HttpError(`${url}: ${bad}`, { retryable: true, file: url });
    return { status: "ok", body, etag: res.ETag ?? null, lastModified: res.LastModified?.toUTCString() ?? null };
  }

  /** Reads a body whole, with the size ceiling and an idle timeout between chunks. */
  private async collect(stream: AsyncIterable<Uint8Array> & { destroy?: () => void }, url: string, signal: AbortSignal | undefined, started: number): Promise<Uint8Array> {
    const chunks: Uint8Array[] = [];
    let total = 0;
    let idle = false;
    let late = false;
    let timer = setTimeout(() => ((idle = true), stream.destroy?.()), this.opts.timeoutMs);
    // The whole exchange, not only the silences, is bounded: a trickling body is abandoned at the deadline.
    const deadline = setTimeout(() => ((late = true), stream.destroy?.()), Math.max(0, started + this.opts.deadlineMs - Date.now()));
    try {
      for await (const c of stream) {
        clearTimeout(timer);
        timer = setTimeout(() => ((idle = true), stream.destroy?.()), this.opts.timeoutMs);
        total += c.byteLength;
        if (total > this.opts.maxBytes) {
          stream.destroy?.();
          throw new HttpError(`${url} is larger than HTTP_MAX_BYTES=${this.opts.maxBytes}: cut off`, { retryable: false, file: url });
        }
        chunks.push(c);
      }
    } catch (err) {
      if (err instanceof HttpError) throw err;
      if (late) {
        throw new HttpError(`${url}: expected a complete answer within HTTP_DEADLINE=${this.opts.deadlineMs / 1000} s, found the exchange still going: abandoned`, {
          retryable: true,
          file: url,
          cause: err,
        });
      }
      if (idle) throw new HttpError(`${url}: no data for ${this.opts.timeoutMs} ms`, { retryable: true, file: url, cause: err });
      throw this.classify(err, url, signal);
    } finally {
      clearTimeout(timer);
      clearTimeout(deadline);
    }
    const out = new Uint8Array(total);
    let at = 0;
    for (const c of chunks) {
      out.set(c, at);
      at += c.byteLength;
    }
    return out;
  }

  private classify(err: unknown, what: string, signal?: AbortSignal): Error {
    const status = statusOf(err);
    const name = nameOf(err);
    const message = `${what}: ${name}: ${(err as Error)?.message ?? String(err)}`;
    if (signal?.aborted) return new AbortedError();
    // 403 and other 4xx will not change by asking again; throttling, 5xx and network errors may.
    const retryable = status === undefined ? true : status === 429 || status >= 500 || name === "SlowDown";
    return new HttpError(message, { retryable, httpStatus: status, file: what, cause: err });
  }
}

function statusOf(err: unknown): number | undefined {
  return (err as { $metadata?: { httpStatusCode?: number } })?.$metadata?.httpStatusCode;
}

function nameOf(err: unknown): string {
  return (err as { name?: string })?.name ?? "Error";
}

/**
 * S3 for tests: an in-process s3rver on a free loopback port, one bucket,
 * the environment a job needs to reach it, and an optional fault-injecting
 * HTTP proxy in front of it (500 InternalError, 503 SlowDown, dropped
 * connections) for outage tests.
 *
 * s3rver 3.7.1 differs from S3 in two ways that matter to us, both corrected
 * here so tests see S3's behaviour:
 * - it ignores Content-MD5; S3 refuses a body that does not match it with
 *   400 BadDigest (our lake relies on that check);
 * - it decodes x-amz-copy-source with decodeURI, so a URL-encoded "=" (as in
 *   dac=aoml/wmo=...) is not decoded and CopyObject fails with NoSuchKey.
 */
import { createHash, randomBytes } from "node:crypto";
import { createServer, request, type IncomingMessage, type Server, type ServerResponse } from "node:http";
import type { AddressInfo, Socket } from "node:net";
import { createRequire } from "node:module";
import process from "node:process";
import { Readable } from "node:stream";
import type { S3Client } from "@aws-sdk/client-s3";
import { loadConfig } from "../../lib/config.ts";
import { makeS3Client } from "../../lib/s3.ts";
import { tempDir } from "./fixtures.ts";

/** The access key pair s3rver accepts. */
export const S3RVER_KEY = "S3RVER";

/** What the fault proxy answers instead of forwarding a request. */
export type S3Fault =
  /** 500 InternalError. */
  | "InternalError"
  /** 503 SlowDown (throttling). */
  | "SlowDown"
  /** 503 ServiceUnavailable. */
  | "ServiceUnavailable"
  /** The connection is destroyed without an answer. */
  | "reset";

/** One request seen by the fault proxy. */
export interface ProxiedRequest {
  method: string;
  url: string;
  /** The fault answered, or null when the request went through to s3rver. */
  fault: S3Fault | null;
}

/** Controls the fault proxy. Faults apply to requests that arrive after the call. */
export interface FaultController {
  /** The next `count` requests get `fault`. */
  failNext(count: number, fault?: S3Fault): void;
  /** Every request in the next `ms` milliseconds gets `fault` (Infinity: until clear()). */
  failFor(ms: number, fault?: S3Fault): void;
  /** Stops injecting faults. */
  clear(): void;
  /** Every request seen so far, oldest first. */
  readonly requests: ProxiedRequest[];
}

export interface StartS3Options {
  /** Bucket created at start; "argo-lake-test" by default. */
  bucket?: string;
  /** Put the fault proxy in front: `endpoint` then goes through it. */
  faults?: boolean;
}

/** A running s3rver. */
export interface TestS3 {
  /** The endpoint clients should use (the fault proxy when there is one). */
  endpoint: string;
  /** s3rver itself, bypassing any fault proxy. */
  directEndpoint: string;
  bucket: string;
  /** Environment for a job: S3_ENDPOINT, S3_FORCE_PATH_STYLE, S3_REGION and the access keys. */
  env: Record<string, string>;
  /** A client built by lib/s3.ts's makeS3Client from `env`, i.e. with the jobs' settings. */
  client: S3Client;
  /** The fault proxy's controls, or null when started without `faults`. */
  faults: FaultController | null;
  /** `s3://<bucket>/<prefix>`, for LAKE_URL. */
  url(prefix?: string): string;
  /** Closes the client, the proxy and s3rver, and removes s3rver's directory. */
  stop(): Promise<void>;
}

interface S3rverInstance {
  middleware: Array<(ctx: KoaContext, next: () => Promise<void>) => Promise<void>>;
  run(): Promise<AddressInfo>;
  close(): Promise<void>;
  httpServer: Server;
}
interface KoaContext {
  method: string;
  req: IncomingMessage | Readable;
  headers: Record<string, string | string[] | undefined>;
  get(name: string): string;
}
type S3ErrorClass = new (code: string, message: string, detail?: Record<string, string>) => Error;

// s3rver is CommonJS without type declarations.
const require = createRequire(import.meta.url);
const S3rver = require("s3rver") as new (opts: Record<string, unknown>) => S3rverInstance;
const S3Error = require("s3rver/lib/models/error") as S3ErrorClass;

/** Starts s3rver with one bucket; with `faults: true` the returned `faults` is set. */
export async function startS3(opts: StartS3Options & { faults: true }): Promise<TestS3 & { faults: FaultController }>;
export async function startS3(opts?: StartS3Options): Promise<TestS3>;
export async function startS3(opts: StartS3Options = {}): Promise<TestS3> {
  const bucket = opts.bucket ?? "argo-lake-test";
  const dir = await tempDir("s3rver");
  const server = new S3rver({
    address: "127.0.0.1",
    port: 0,
    silent: true,
    directory: dir.path,
    configureBuckets: [{ name: bucket }],
  });
  server.middleware.unshift(checkContentMd5, decodeCopySource);
  const { port } = await server.run();
  const directEndpoint = `http://127.0.0.1:${port}`;
  const proxy = opts.faults ? await startFaultProxy(port) : null;
  const endpoint = proxy ? `http://127.0.0.1:${proxy.port}` : directEndpoint;
  const env = {
    S3_ENDPOINT: endpoint,
    S3_FORCE_PATH_STYLE: "true",
    S3_REGION: "us-east-1",
    AWS_ACCESS_KEY_ID: S3RVER_KEY,
    AWS_SECRET_ACCESS_KEY: S3RVER_KEY,
  };
  // makeS3Client takes its keys from the process environment (the SDK's
  // default chain), so in-process code under test needs s3rver's there too,
  // whatever keys the developer's shell holds.
  process.env.AWS_ACCESS_KEY_ID = S3RVER_KEY;
  process.env.AWS_SECRET_ACCESS_KEY = S3RVER_KEY;
  delete process.env.AWS_SESSION_TOKEN;
  const client = makeS3Client(loadConfig({ env, envFile: `${dir.path}/none.env` }));
  return {
    endpoint,
    directEndpoint,
    bucket,
    env,
    client,
    faults: proxy?.controller ?? null,
    url: (prefix = "") => `s3://${bucket}/${prefix}`.replace(/\/$/, ""),
    async stop() {
      client.destroy();
      if (proxy) await proxy.close();
      server.httpServer.closeAllConnections();
      await server.close();
      await dir.cleanup();
    },
  };
}

/** Refuses a PUT whose body does not match its Content-MD5, as S3 does (400 BadDigest). */
async function checkContentMd5(ctx: KoaContext, next: () => Promise<void>): Promise<void> {
  const given = ctx.get("content-md5");
  if (ctx.method !== "PUT" || !given || ctx.get("x-amz-copy-source")) return next();
  const chunks: Buffer[] = [];
  for await (const chunk of ctx.req as IncomingMessage) chunks.push(chunk as Buffer);
  const body = Buffer.concat(chunks);
  if (Buffer.from(given, "base64").length !== 16) {
    throw new S3Error("InvalidDigest", "The Content-MD5 you specified was invalid.", { "Content-MD5": given });
  }
  const actual = createHash("md5").update(body).digest("base64");
  if (actual !== given) {
    throw new S3Error("BadDigest", "The Content-MD5 you specified did not match what we received.", {
      ExpectedDigest: given,
      CalculatedDigest: actual,
    });
  }
  // s3rver's PUT handler streams ctx.req to disk: hand it the body we consumed.
  ctx.req = Readable.from([body]);
  return next();
}

/** Rewrites x-amz-copy-source so that s3rver's decodeURI yields the key S3 would decode. */
function decodeCopySource(ctx: KoaContext, next: () => Promise<void>): Promise<void> {
  const source = ctx.headers["x-amz-copy-source"];
  if (typeof source === "string") ctx.headers["x-amz-copy-source"] = encodeURI(decodeURIComponent(source));
  return next();
}

const faultStatus: Record<Exclude<S3Fault, "reset">, { status: number; message: string }> = {
  InternalError: { status: 500, message: "We encountered an internal error. Please try again." },
  SlowDown: { status: 503, message: "Please reduce your request rate." },
  ServiceUnavailable: { status: 503, message: "Service is unable to handle request." },
};

/** A loopback HTTP proxy to s3rver that can answer faults instead of forwarding. */
async function startFaultProxy(targetPort: number): Promise<{ port: number; controller: FaultController; close(): Promise<void> }> {
  const requests: ProxiedRequest[] = [];
  let remaining = 0;
  let until = 0;
  let fault: S3Fault = "InternalError";
  const sockets = new Set<Socket>();

  const pick = (): S3Fault | null => {
    if (remaining > 0) {
      remaining--;
      return fault;
    }
    return Date.now() < until ? fault : null;
  };

  const handle = (req: IncomingMessage, res: ServerResponse): void => {
    const chosen = pick();
    requests.push({ method: req.method ?? "", url: req.url ?? "", fault: chosen });
    if (chosen === "reset") {
      req.socket.destroy();
      return;
    }
    if (chosen) {
      // Read the whole request first, as a server would, so the client sees the answer rather than EPIPE.
      req.resume();
      req.on("end", () => {
        const { status, message } = faultStatus[chosen];
        const id = randomBytes(8).toString("hex").toUpperCase();
        res.writeHead(status, { "content-type": "application/xml", "x-amz-request-id": id });
        res.end(`<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>${chosen}</Code><Message>${message}</Message><RequestId>${id}</RequestId></Error>`);
      });
      return;
    }
    const upstream = request(
      { host: "127.0.0.1", port: targetPort, method: req.method, path: req.url, headers: req.headers },
      (up) => {
        res.writeHead(up.statusCode ?? 502, up.headers);
        up.pipe(res);
      },
    );
    upstream.on("error", () => res.destroy());
    req.pipe(upstream);
  };

  const server = createServer(handle);
  server.on("connection", (s: Socket) => {
    sockets.add(s);
    s.on("close", () => sockets.delete(s));
  });
  await new Promise<void>((resolve, reject) => {
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => resolve());
  });
  return {
    port: (server.address() as AddressInfo).port,
    controller: {
      failNext(count, f = "InternalError") {
        remaining = count;
        fault = f;
      },
      failFor(ms, f = "InternalError") {
        until = Date.now() + ms;
        fault = f;
      },
      clear() {
        remaining = 0;
        until = 0;
      },
      requests,
    },
    close: () =>
      new Promise<void>((resolve) => {
        for (const s of sockets) s.destroy();
        server.close(() => resolve());
      }),
  };
}

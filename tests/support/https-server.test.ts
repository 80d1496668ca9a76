/**
 * The test HTTPS server does what the sync's tests rely on: each fault knob
 * really produces its fault as a real client (undici) sees it, conditional
 * requests answer 304, and a client that does not trust the test CA is
 * refused with a certificate error.
 */
import { createHash } from "node:crypto";
import { copyFile, mkdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { rootCertificates } from "node:tls";
import { gzipSync } from "node:zlib";
import { Agent, request } from "undici";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { fixturesDir, readManifest, tempDir, type TempDir } from "./fixtures.ts";
import { type Outcome, startHttpsServer, type TestHttpsServer } from "./https-server.ts";

const FILE = "/dac/aoml/13857/profiles/R13857_001.nc";

let srv: TestHttpsServer;
let agent: Agent;

beforeAll(async () => {
  srv = await startHttpsServer();
  agent = new Agent({
    connect: { ca: [...rootCertificates, await readFile(srv.caFile, "utf8")] },
    headersTimeout: 2000,
    bodyTimeout: 300,
  });
});

afterAll(async () => {
  await agent?.close();
  await srv?.stop();
});

/** A GET whose body is read whole; returns the status, headers and body (or the error thrown). */
async function get(path: string, headers: Record<string, string> = {}, method: "GET" | "HEAD" = "GET") {
  const res = await request(srv.url + path, { dispatcher: agent, headers, method });
  const body = new Uint8Array(await res.body.arrayBuffer());
  return { status: res.statusCode, headers: res.headers, body };
}

function sha256(b: Uint8Array): string {
  return createHash("sha256").update(b).digest("hex");
}

describe("serving", () => {
  it("serves a fixture byte for byte, with ETag and Last-Modified, and HEAD", async () => {
    srv.setFaults({ failureRate: 0, rules: [], latencyMs: 0 });
    const row = readManifest().find((r) => "/" + r.path === FILE)!;
    const r = await get(FILE);
    expect(r.status).toBe(200);
    expect(r.body.byteLength).toBe(row.size);
    expect(sha256(r.body)).toBe(row.sha256);
    expect(r.headers.etag).toMatch(/^"[0-9a-f]+-[0-9a-f]+"$/);
    expect(Date.parse(String(r.headers["last-modified"]))).not.toBeNaN();
    const h = await get(FILE, {}, "HEAD");
    expect(h.status).toBe(200);
    expect(h.headers["content-length"]).toBe(String(row.size));
    expect(h.body.byteLength).toBe(0);
  });

  it("answers 304 to If-None-Match and If-Modified-Since, 200 when they do not match", async () => {
    const first = await get(FILE);
    const etag = String(first.headers.etag);
    const lastModified = String(first.headers["last-modified"]);
    expect((await get(FILE, { "if-none-match": etag })).status).toBe(304);
    expect((await get(FILE, { "if-modified-since": lastModified })).status).toBe(304);
    expect((await get(FILE, { "if-none-match": '"other"' })).status).toBe(200);
    expect((await get(FILE, { "if-modified-since": new Date(0).toUTCString() })).status).toBe(200);
  });

  it("answers 404 for missing files and for paths that climb out of the root", async () => {
    expect((await get("/dac/aoml/99999/nothing.nc")).status).toBe(404);
    expect((await get("/dac/../../../etc/passwd")).status).toBe(404);
    expect((await get("/%2e%2e/%2e%2e/etc/passwd")).status).toBe(404);
    expect((await get("/ar_index_global_prof.txt.gz")).status).toBe(404); // the fixtures have no .gz
  });

  it("serves .gz variants when they exist, and hides them when told to", async () => {
    const dir: TempDir = await tempDir("https-gz");
    try {
      const text = await readFile(join(fixturesDir, "ar_index_global_meta.txt"));
      await writeFile(join(dir.path, "ar_index_global_meta.txt.gz"), gzipSync(text));
      await copyFile(join(fixturesDir, "ar_index_global_meta.txt"), join(dir.path, "ar_index_global_meta.txt"));
      const other = await startHttpsServer({ root: dir.path });
      const a = new Agent({ connect: { ca: [...rootCertificates, await readFile(other.caFile, "utf8")] } });
      try {
        const gz = await request(`${other.url}/ar_index_global_meta.txt.gz`, { dispatcher: a });
        expect(gz.statusCode).toBe(200);
        expect(gz.headers["content-type"]).toBe("application/gzip");
        expect(Buffer.from(await gz.body.arrayBuffer()).subarray(0, 2)).toEqual(Buffer.from([0x1f, 0x8b]));
        other.setFaults({ serveGz: false });
        const hidden = await request(`${other.url}/ar_index_global_meta.txt.gz`, { dispatcher: a });
        await hidden.body.dump();
        expect(hidden.statusCode).toBe(404);
      } finally {
        await a.close();
        await other.stop();
      }
    } finally {
      await dir.cleanup();
    }
  });

  it("refuses a client that does not trust the test CA (certificate error)", async () => {
    const untrusting = new Agent(); // Node's default roots only
    try {
      const err = await request(srv.url + FILE, { dispatcher: untrusting }).then(() => null, (e: Error) => e);
      expect(err).not.toBeNull();
      const code = (err as { code?: string }).code ?? "";
      expect(code).toMatch(/UNABLE_TO_VERIFY|SELF_SIGNED|CERT/);
    } finally {
      await untrusting.close();
    }
  });
});

describe("fault knobs", () => {
  it("latency delays every response by at least latencyMs", async () => {
    srv.setFaults({ latencyMs: 150 });
    const t = performance.now();
    expect((await get(FILE)).status).toBe(200);
    expect(performance.now() - t).toBeGreaterThanOrEqual(145);
    srv.setFaults({ latencyMs: 0 });
  });

  it("a status rule answers that status, `times` limits it, and setFaults changes it at run time", async () => {
    srv.setFaults({ rules: [{ path: FILE, fault: { kind: "status", status: 503 }, times: 2 }] });
    expect((await get(FILE)).status).toBe(503);
    expect((await get(FILE)).status).toBe(503);
    expect((await get(FILE)).status).toBe(200);
    srv.setFaults({ rules: [{ path: /R13857_00\d\.nc$/, fault: { kind: "status", status: 500 } }] });
    expect((await get(FILE)).status).toBe(500);
    expect((await get("/dac/aoml/13857/profiles/R13857_002.nc")).status).toBe(500);
    srv.setFaults({ rules: [] });
    expect((await get(FILE)).status).toBe(200);
  });

  it("429 comes with Retry-After", async () => {
    srv.setFaults({ rules: [{ path: FILE, fault: { kind: "429", retryAfter: "7" }, times: 1 }, { path: FILE, fault: { kind: "429" }, times: 1 }] });
    const a = await get(FILE);
    expect(a.status).toBe(429);
    expect(a.headers["retry-after"]).toBe("7");
    const b = await get(FILE);
    expect(b.status).toBe(429);
    expect(b.headers["retry-after"]).toBe(srv.settings.retryAfter);
    srv.setFaults({ rules: [] });
  });

  it("a reset closes the connection before any response", async () => {
    srv.setFaults({ rules: [{ path: FILE, fault: { kind: "reset" }, times: 1 }] });
    // A fresh connection: on a reused keep-alive one, undici itself replays an idempotent request.
    const fresh = new Agent({ connect: { ca: [...rootCertificates, await readFile(srv.caFile, "utf8")] } });
    try {
      const err = await request(srv.url + FILE, { dispatcher: fresh }).then(() => null, (e: Error) => e);
      expect(err).not.toBeNull();
      expect((err as { code?: string }).code).toMatch(/ECONNRESET|UND_ERR_SOCKET/);
    } finally {
      await fresh.close();
    }
    expect(srv.countFor(FILE, "reset")).toBeGreaterThanOrEqual(1);
    expect((await get(FILE)).status).toBe(200);
  });

  it("a truncated body sends less than its Content-Length, then closes", async () => {
    srv.setFaults({ rules: [{ path: FILE, fault: { kind: "truncate", fraction: 0.3 }, times: 1 }] });
    const res = await request(srv.url + FILE, { dispatcher: agent });
    expect(res.statusCode).toBe(200);
    const declared = Number(res.headers["content-length"]);
    let received = 0;
    const err = await (async () => {
      for await (const c of res.body) received += (c as Uint8Array).byteLength;
    })().then(() => null, (e: Error) => e);
    expect(err).not.toBeNull();
    expect(received).toBeLessThan(declared);
    expect(received).toBeGreaterThan(0);
  });

  it("a stalled body sends part, then nothing: the client's body timeout fires", async () => {
    srv.setFaults({ rules: [{ path: FILE, fault: { kind: "stall", fraction: 0.5 }, times: 1 }] });
    const res = await request(srv.url + FILE, { dispatcher: agent });
    expect(res.statusCode).toBe(200);
    let received = 0;
    const err = await (async () => {
      for await (const c of res.body) received += (c as Uint8Array).byteLength;
    })().then(() => null, (e: Error) => e);
    expect((err as { code?: string }).code).toBe("UND_ERR_BODY_TIMEOUT");
    expect(received).toBeGreaterThan(0);
    expect(received).toBeLessThan(Number(res.headers["content-length"]));
  });

  it("a hang answers nothing at all: the client's headers timeout fires", async () => {
    srv.setFaults({ rules: [{ path: FILE, fault: { kind: "hang" }, times: 1 }] });
    const err = await request(srv.url + FILE, { dispatcher: agent, headersTimeout: 300 }).then(() => null, (e: Error) => e);
    expect((err as { code?: string }).code).toBe("UND_ERR_HEADERS_TIMEOUT");
    expect(srv.countFor(FILE, "hang")).toBeGreaterThanOrEqual(1);
  });

  it("chunked mode sends bodies without Content-Length", async () => {
    srv.setFaults({ rules: [], chunked: true });
    const r = await get(FILE);
    srv.setFaults({ chunked: false });
    expect(r.status).toBe(200);
    expect(r.headers["content-length"]).toBeUndefined();
    expect(r.headers["transfer-encoding"]).toBe("chunked");
    expect(r.body.byteLength).toBe(readManifest().find((x) => "/" + x.path === FILE)!.size);
  });

  it("a redirect rule answers with its Location", async () => {
    srv.setFaults({ rules: [{ path: FILE, fault: { kind: "redirect", location: "http://127.0.0.1:9/x", status: 301 }, times: 1 }] });
    const r = await get(FILE);
    expect(r.status).toBe(301);
    expect(r.headers.location).toBe("http://127.0.0.1:9/x");
  });

  it("random failures follow the seed and the rate, and are counted per path and outcome", async () => {
    const run = async (seed: number) => {
      srv.setFaults({ rules: [], failureRate: 0.5, seed, randomFaults: [{ kind: "status", status: 503 }, { kind: "429", retryAfter: "0" }] });
      srv.resetCounts();
      const seen: number[] = [];
      for (let i = 0; i < 40; i++) seen.push((await get(FILE)).status);
      return seen;
    };
    const a = await run(42);
    const countsA = { ...srv.counts.byOutcome };
    const b = await run(42);
    const c = await run(7);
    srv.setFaults({ failureRate: 0 });
    expect(a).toEqual(b);
    expect(a).not.toEqual(c);
    const failed = a.filter((s) => s !== 200).length;
    expect(failed).toBeGreaterThan(8);
    expect(failed).toBeLessThan(32);
    expect(countsA.ok).toBe(40 - failed);
    expect((countsA.status ?? 0) + (countsA["429"] ?? 0)).toBe(failed);
    expect(srv.counts.total).toBe(40);
    expect(srv.countFor(FILE)).toBe(40);
    const outcomes = Object.keys(srv.counts.byPath.get(FILE) ?? {}) as Outcome[];
    expect(outcomes).toEqual(expect.arrayContaining(["ok"]));
  });
});

it("a directory with its own index copy can be served (the tests edit such copies)", async () => {
  const dir = await tempDir("https-copy");
  try {
    await mkdir(join(dir.path, "dac"), { recursive: true });
    await writeFile(join(dir.path, "ar_index_global_meta.txt"), "# only a header\nfile,profiler_type,institution,date_update\n");
    const other = await startHttpsServer({ root: dir.path });
    const a = new Agent({ connect: { ca: [...rootCertificates, await readFile(other.caFile, "utf8")] } });
    try {
      const r = await request(`${other.url}/ar_index_global_meta.txt`, { dispatcher: a });
      expect(await r.body.text()).toContain("# only a header");
      const missing = await request(`${other.url}${FILE}`, { dispatcher: a });
      await missing.body.dump();
      expect(missing.statusCode).toBe(404);
    } finally {
      await a.close();
      await other.stop();
    }
  } finally {
    await dir.cleanup();
  }
});

/**
 * The HTTP building blocks of the sync: backoff with jitter, Retry-After
 * parsing and its cap, which failures are retried, the in-flight bound, the
 * TLS trust (our CA accepted through caFile, refused without it) and the
 * conditional GET against the local HTTPS server.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { backoffMs, HttpClient, HttpError, Limiter, parseRetryAfter, RETRY_AFTER_CAP_MS, withRetries } from "../lib/http.ts";
import { netcdfProblem } from "../lib/gdac/source.ts";
import { startHttpsServer, type TestHttpsServer } from "./support/https-server.ts";

describe("retry policy", () => {
  it("backs off exponentially from the base, with jitter taking at most half away", () => {
    for (let attempt = 1; attempt <= 5; attempt++) {
      const full = 100 * 2 ** (attempt - 1);
      expect(backoffMs(attempt, 100, () => 0)).toBe(full / 2);
      expect(backoffMs(attempt, 100, () => 0.999999)).toBeCloseTo(full, 0);
    }
    expect(backoffMs(30, 1000, () => 1)).toBe(60_000); // capped
  });

  it("reads Retry-After as seconds or an HTTP date, caps it, and ignores junk", () => {
    const now = Date.parse("2025-01-01T00:00:00Z");
    expect(parseRetryAfter("3", now)).toBe(3000);
    expect(parseRetryAfter("0", now)).toBe(0);
    expect(parseRetryAfter(new Date(now + 5000).toUTCString(), now)).toBe(5000);
    expect(parseRetryAfter("999999", now)).toBe(RETRY_AFTER_CAP_MS);
    expect(parseRetryAfter("soon", now)).toBeUndefined();
    expect(parseRetryAfter("-5", now)).toBeUndefined();
    expect(parseRetryAfter(undefined, now)).toBeUndefined();
  });

  it("retries only retryable HttpErrors, up to the limit, waiting as told", async () => {
    const waits: number[] = [];
    let calls = 0;
    const flaky = () => {
      calls++;
      if (calls < 3) throw new HttpError("503", { retryable: true, retryAfterMs: 5 });
      return Promise.resolve("ok");
    };
    expect(await withRetries(flaky, { maxRetries: 3, retryDelayMs: 1, onRetry: (_e, _n, w) => waits.push(w) })).toBe("ok");
    expect(waits).toEqual([5, 5]);
    calls = 0;
    await expect(withRetries(() => {
      calls++;
      throw new HttpError("403", { retryable: false });
    }, { maxRetries: 5, retryDelayMs: 1 })).rejects.toThrow("403");
    expect(calls).toBe(1);
    calls = 0;
    await expect(withRetries(() => {
      calls++;
      throw new HttpError("503", { retryable: true });
    }, { maxRetries: 2, retryDelayMs: 1 })).rejects.toThrow("503");
    expect(calls).toBe(3);
  });

  it("a limiter never runs more than its limit at once", async () => {
    const limiter = new Limiter(3);
    let active = 0, peak = 0;
    await Promise.all(Array.from({ length: 20 }, () =>
      limiter.run(async () => {
        peak = Math.max(peak, ++active);
        await new Promise((r) => setTimeout(r, 2));
        active--;
      })
    ));
    expect(peak).toBe(3);
  });

  it("knows NetCDF-3, 64-bit offset and HDF5 signatures, and nothing else", () => {
    expect(netcdfProblem(new Uint8Array([0x43, 0x44, 0x46, 0x01, 0]))).toBeNull();
    expect(netcdfProblem(new Uint8Array([0x43, 0x44, 0x46, 0x02, 0]))).toBeNull();
    expect(netcdfProblem(new Uint8Array([0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a]))).toBeNull();
    expect(netcdfProblem(new TextEncoder().encode("<html>"))).toMatch(/not a NetCDF\/HDF5 file \(6 bytes starting 3c 68 74 6d 6c 3e\)/);
    expect(netcdfProblem(new Uint8Array([0x43, 0x44, 0x46]))).toMatch(/not a NetCDF/);
  });
});

describe("the client against the local HTTPS server", () => {
  let srv: TestHttpsServer;
  const FILE = "/dac/aoml/13857/profiles/R13857_001.nc";
  const opts = { timeoutMs: 2000, deadlineMs: 60_000, maxRetries: 1, retryDelayMs: 1, concurrency: 2, maxBytes: 10_000_000 };

  beforeAll(async () => {
    srv = await startHttpsServer();
  });

  afterAll(async () => {
    await srv?.stop();
  });

  it("trusts the server through caFile and answers 304 to its own validators", async () => {
    const http = new HttpClient({ ...opts, caFile: srv.caFile });
    try {
      const r = await http.get(srv.url + FILE, { check: netcdfProblem });
      expect(r.status).toBe("ok");
      if (r.status !== "ok") return;
      expect(r.body.byteLength).toBe(18212);
      const again = await http.get(srv.url + FILE, { conditional: { etag: r.etag, lastModified: r.lastModified } });
      expect(again.status).toBe("not_modified");
      const byDate = await http.get(srv.url + FILE, { conditional: { lastModified: r.lastModified } });
      expect(byDate.status).toBe("not_modified");
      expect((await http.get(srv.url + "/dac/nothing.nc")).status).toBe("not_found");
    } finally {
      await http.close();
    }
  });

  it("without the CA, the certificate is refused with a clear, non-retried error", async () => {
    const http = new HttpClient(opts);
    try {
      srv.resetCounts();
      const err = await http.get(srv.url + FILE).then(() => null, (e) => e);
      expect(err).toBeInstanceOf(HttpError);
      expect(err.retryable).toBe(false);
      expect(err.message).toMatch(/TLS certificate of 127\.0\.0\.1:\d+ not accepted .*GDAC_CA_FILE/);
      expect(http.retries).toBe(0);
      expect(srv.counts.total).toBe(0);
    } finally {
      await http.close();
    }
  });
});

/**
 * The serve job as a process, the way an operator runs it: `jobs/serve.ts`
 * under Node (tsx) and Deno listens on PORT, answers, and exits 0 on SIGTERM;
 * `deno serve lib/serve/edge.ts` runs the same fetch handler on Deno's own
 * server; a bad PORT stops it before listening with exit 2.
 */
import { createServer, type AddressInfo } from "node:net";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { baseEnv, spawnJobProcess } from "./support/jobs.ts";
import { repoRoot } from "./support/fixtures.ts";
import { spawn } from "node:child_process";
import { type ServeBed, serveBed } from "./serve-support.ts";

let bed: ServeBed;

beforeAll(async () => {
  bed = await serveBed("servejob", ["2902269"]);
}, 120_000);

afterAll(async () => {
  await bed?.cleanup();
});

const env = () => ({
  LAKE_URL: bed.lake.path,
  DATABASE_URL: bed.db.url,
  REDIS_URL: bed.redis.url,
  REDIS_PREFIX: bed.redis.prefix,
  HOST: "127.0.0.1",
  PORT: "0",
  LOG_FORMAT: "json",
});

/** A free loopback port (for deno serve, which needs one given). */
async function freePort(): Promise<number> {
  const s = createServer();
  await new Promise<void>((r) => s.listen(0, "127.0.0.1", () => r()));
  const port = (s.address() as AddressInfo).port;
  await new Promise<void>((r) => s.close(() => r()));
  return port;
}

describe("the serve job", () => {
  test.each(["node", "deno"] as const)("under %s: listens, answers the API and plots, exits 0 on SIGTERM", async (runtime) => {
    const job = spawnJobProcess("serve", [], { env: env(), runtime, timeoutMs: 60_000 });
    const m = await job.waitFor(/"msg":"serve: listening".*"port":(\d+)/, "stderr", 40_000);
    const url = `http://127.0.0.1:${m[1]}`;
    expect(await (await fetch(`${url}/healthz`)).json()).toMatchObject({ status: "ok" });
    expect(await (await fetch(`${url}/api/floats/2902269`)).json()).toMatchObject({ float_id: "2902269", dac: "incois" });
    const png = await fetch(`${url}/plots/floats/2902269/profiles.png`);
    expect(png.status).toBe(200);
    expect(png.headers.get("content-type")).toBe("image/png");
    job.kill("SIGTERM");
    const r = await job.done;
    expect(r.code, r.stderr).toBe(0);
    expect(r.stderr).toContain("serve: stopping");
  }, 90_000);

  test("deno serve lib/serve/edge.ts runs the same fetch handler", async () => {
    const port = await freePort();
    const child = spawn("deno", ["serve", "-A", "--host", "127.0.0.1", "--port", String(port), "lib/serve/edge.ts"], {
      cwd: repoRoot,
      env: { ...baseEnv(), ...env() },
      stdio: ["ignore", "pipe", "pipe"],
    });
    let out = "";
    child.stdout!.on("data", (d) => (out += d));
    child.stderr!.on("data", (d) => (out += d));
    const closed = new Promise((r) => child.once("close", r));
    try {
      let res: Response | null = null;
      for (let i = 0; i < 100 && !res && child.exitCode === null; i++) {
        res = await fetch(`http://127.0.0.1:${port}/api/floats/2902269/latest`, { signal: AbortSignal.timeout(10_000) }).catch((e) => {
          out += `\n[fetch: ${(e as Error).message}]`;
          return null;
        });
        if (!res) await new Promise((r) => setTimeout(r, 200));
      }
      expect(res, out).not.toBeNull();
      expect(res!.status, out).toBe(200);
      expect(await res!.json()).toMatchObject({ float_id: "2902269", cycle_number: 56 });
      const bad = await fetch(`http://127.0.0.1:${port}/api/floats/12345678`);
      expect(bad.status).toBe(400);
    } finally {
      // deno serve drains open keep-alive connections on SIGTERM (this test's fetch keeps one): end it.
      child.kill("SIGKILL");
      await closed;
    }
  }, 90_000);

  test("a bad PORT stops it before listening, exit 2 naming PORT", async () => {
    const r = await spawnJobProcess("serve", [], { env: { ...env(), PORT: "70000" } }).done;
    expect(r.code).toBe(2);
    expect(r.stderr).toContain('PORT="70000": expected a port number from 0 to 65535');
  });
});

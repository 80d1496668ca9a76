/**
 * Redis for tests: the machine's server (127.0.0.1:6379), shared by test
 * files running in parallel, so each test file works under its own key
 * prefix and deletes its keys afterwards. For outages, put a TcpProxy
 * (re-exported here) between the code under test and Redis.
 */
import { randomBytes } from "node:crypto";
import process from "node:process";
import { Redis } from "ioredis";

export { startTcpProxy, type TcpProxy } from "./postgres.ts";

export const REDIS_HOST = "127.0.0.1";
export const REDIS_PORT = 6379;

/** redis://127.0.0.1:<port> (pass a TcpProxy's port to go through it). */
export function redisUrl(port: number = REDIS_PORT): string {
  return `redis://${REDIS_HOST}:${port}`;
}

/** A key prefix on the shared Redis, owned by one test file. */
export interface TestRedis {
  /** redis://127.0.0.1:6379, for REDIS_URL. */
  url: string;
  /** A connected client, for setup and assertions. */
  client: Redis;
  /** `test:<name>:<pid>:<random>:`, for REDIS_PREFIX; no other test uses it. */
  prefix: string;
  /** Every key under the prefix, sorted. */
  keys(): Promise<string[]>;
  /** Deletes every key under the prefix and disconnects the client; later calls do nothing. */
  cleanup(): Promise<void>;
}

/** Redis glob characters are escaped so the prefix matches only itself. */
const globEscape = (s: string) => s.replace(/[*?[\]\\]/g, "\\$&");

/** Connects to the test Redis and reserves a unique key prefix. */
export async function testRedis(name = "t"): Promise<TestRedis> {
  const prefix = `test:${name}:${process.pid}:${randomBytes(4).toString("hex")}:`;
  const url = redisUrl();
  const client = new Redis(url, { lazyConnect: true, maxRetriesPerRequest: 1 });
  await client.connect();
  const keys = async (): Promise<string[]> => {
    const out: string[] = [];
    let cursor = "0";
    do {
      const [next, batch] = await client.scan(cursor, "MATCH", `${globEscape(prefix)}*`, "COUNT", 1000);
      out.push(...batch);
      cursor = next;
    } while (cursor !== "0");
    return [...new Set(out)].sort();
  };
  let cleaned = false;
  return {
    url,
    client,
    prefix,
    keys,
    async cleanup() {
      if (cleaned) return;
      cleaned = true;
      const all = await keys();
      for (let i = 0; i < all.length; i += 500) await client.unlink(...all.slice(i, i + 500));
      await client.quit();
    },
  };
}

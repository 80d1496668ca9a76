/**
 * The Redis test bed: unique prefixes, cleanup that removes exactly the
 * prefix's keys (even with glob characters in the name), and an outage
 * through the TCP proxy as ioredis sees it.
 */
import { Redis } from "ioredis";
import { describe, expect, it } from "vitest";
import { redisUrl, startTcpProxy, testRedis } from "./redis.ts";

describe("testRedis", () => {
  it("gives each caller its own prefix and cleans up only that prefix", async () => {
    const a = await testRedis("sup*port");
    const b = await testRedis("sup*port");
    try {
      expect(a.url).toBe("redis://127.0.0.1:6379");
      expect(a.prefix).toMatch(/^test:sup\*port:\d+:[0-9a-f]{8}:$/);
      expect(a.prefix).not.toBe(b.prefix);
      // 1200 keys: more than one SCAN page and more than one UNLINK batch.
      const pipe = a.client.pipeline();
      for (let i = 0; i < 1200; i++) pipe.set(`${a.prefix}k${i}`, "v");
      await pipe.exec();
      await b.client.set(`${b.prefix}keep`, "v");
      // A key that the unescaped glob "test:sup*port:..." would also match.
      const lookalike = a.prefix.replace("sup*port", "sup-and-more-port");
      await b.client.set(lookalike, "v");
      expect((await a.keys()).length).toBe(1200);
      await a.cleanup();
      expect(await b.keys()).toEqual([`${b.prefix}keep`]);
      expect(await b.client.exists(lookalike)).toBe(1);
      expect(await b.client.exists(`${a.prefix}k0`, `${a.prefix}k1199`)).toBe(0);
      await b.client.del(lookalike);
    } finally {
      await a.cleanup();
      await b.cleanup();
    }
  });
});

describe("startTcpProxy in front of Redis", () => {
  it("makes commands fail while cut, and lets the client reconnect after restore", async () => {
    const r = await testRedis("proxy");
    const proxy = await startTcpProxy(6379);
    const client = new Redis(redisUrl(proxy.port), {
      maxRetriesPerRequest: 0,
      retryStrategy: () => 50,
      enableOfflineQueue: false,
    });
    client.on("error", () => {}); // asserted on the commands
    const ready = () => new Promise<void>((resolve) => (client.status === "ready" ? resolve() : client.once("ready", () => resolve())));
    try {
      await ready();
      await client.set(`${r.prefix}a`, "1");
      expect(await r.client.get(`${r.prefix}a`)).toBe("1");
      await proxy.cut();
      await expect(client.get(`${r.prefix}a`)).rejects.toThrow();
      await proxy.restore();
      await ready();
      expect(await client.get(`${r.prefix}a`)).toBe("1");
    } finally {
      client.disconnect();
      await proxy.close();
      await r.cleanup();
    }
  });
});

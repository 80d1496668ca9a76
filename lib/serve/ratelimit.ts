/**
 * A per-client token bucket kept in Redis, as Argovis does: each client
 * (its address) has RATE_LIMIT_BURST tokens that refill at RATE_LIMIT_RATE
 * per second; a request takes one, and a client with none gets 429 with
 * Retry-After. The bucket is read and updated by one Lua script, so
 * concurrent requests (and several API processes sharing a Redis) never
 * hand out the same token twice; time comes from the Redis server's clock.
 * These are the only keys the API writes, and they expire once full again.
 */
import { createHash } from "node:crypto";
import type { Redis } from "ioredis";

/** The script: KEYS[1] bucket; ARGV rate per second, burst. Returns {allowed 0/1, ms to wait, tokens left}. */
const TOKEN_BUCKET = `
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local b = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens = tonumber(b[1])
local at = tonumber(b[2])
if tokens == nil or at == nil then tokens = burst; at = now end
tokens = math.min(burst, tokens + math.max(0, now - at) * rate / 1000)
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
else
  wait = math.ceil((1 - tokens) * 1000 / rate)
end
redis.call('HSET', KEYS[1], 'tokens', tostring(tokens), 'at', tostring(now))
redis.call('PEXPIRE', KEYS[1], math.ceil(burst * 1000 / rate) + 1000)
return {allowed, wait, math.floor(tokens)}
`;
const TOKEN_BUCKET_SHA = createHash("sha1").update(TOKEN_BUCKET).digest("hex");

/** A rate-limit decision. */
export interface RateDecision {
  allowed: boolean;
  /** Seconds until a token is there (0 when allowed). */
  retryAfter: number;
  remaining: number;
}

/** The token bucket of one Redis and key prefix. */
export class RateLimiter {
  constructor(
    private readonly redis: Redis,
    private readonly keyOf: (client: string) => string,
    readonly ratePerSecond: number,
    readonly burst: number,
  ) {}

  /** Takes a token for `client`. */
  async take(client: string): Promise<RateDecision> {
    const key = this.keyOf(client);
    let reply: number[];
    try {
      reply = await this.redis.evalsha(TOKEN_BUCKET_SHA, 1, key, this.ratePerSecond, this.burst) as number[];
    } catch (err) {
      if (!/NOSCRIPT/.test((err as Error).message)) throw err;
      reply = await this.redis.eval(TOKEN_BUCKET, 1, key, this.ratePerSecond, this.burst) as number[];
    }
    const [allowed, waitMs, remaining] = reply;
    return { allowed: allowed === 1, retryAfter: allowed === 1 ? 0 : Math.max(1, Math.ceil(waitMs! / 1000)), remaining: remaining! };
  }
}

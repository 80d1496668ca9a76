/**
 * Sharding: N processes split the GDAC's floats between them with no
 * coordination, each keeping the floats whose WMO hashes to its index.
 *
 * The rule, so that any other tool can reproduce it: a float belongs to
 * shard `fnv1a32(wmo) mod n`, where `fnv1a32` is 32-bit FNV-1a over the
 * WMO's ASCII digits (offset basis 0x811c9dc5, prime 0x01000193), e.g.
 *
 *     h = 0x811c9dc5
 *     for b in wmo.encode("ascii"): h = ((h ^ b) * 0x01000193) & 0xffffffff
 *     shard = h % n
 *
 * The hash depends on the WMO only, so a float stays in the same shard from
 * run to run and on every machine, and adding files never moves a float.
 */
import { ConfigError } from "../errors.ts";

/** This process's share: index in [0, count). */
export interface Shard {
  index: number;
  count: number;
}

/** 32-bit FNV-1a of a string's UTF-16 code units (the same bytes as ASCII for a WMO). */
export function fnv1a32(text: string): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < text.length; i++) {
    h ^= text.charCodeAt(i);
    // Math.imul keeps the multiplication in 32 bits, as the C definition does.
    h = Math.imul(h, 0x01000193);
  }
  return h >>> 0;
}

/** The shard a float belongs to among `count`. */
export function shardOf(wmo: string, count: number): number {
  return fnv1a32(wmo) % count;
}

/** The predicate stages filter floats with: true for the floats this shard owns. */
export function shardPredicate(shard: Shard): (wmo: string) => boolean {
  return (wmo) => shardOf(wmo, shard.count) === shard.index;
}

/** Environment variables that carry an array index on the engines we run on, in the order tried. */
export const INDEX_VARIABLES = ["JOB_COMPLETION_INDEX", "AWS_BATCH_JOB_ARRAY_INDEX"] as const;

/**
 * Reads a shard spec: "i/n", or "auto/n" where i comes from the Kubernetes
 * Indexed Job (JOB_COMPLETION_INDEX) or AWS Batch array job
 * (AWS_BATCH_JOB_ARRAY_INDEX) environment. Undefined means "all floats".
 * A bad spec is a ConfigError (exit 2).
 */
export function parseShard(spec: string | undefined, env: Record<string, string | undefined>): Shard | null {
  if (spec === undefined || spec.trim() === "") return null;
  const m = /^\s*(\d+|auto)\/(\d+)\s*$/.exec(spec);
  if (!m) throw new ConfigError(`SHARD=${JSON.stringify(spec)}: expected i/n with 0 <= i < n (e.g. 0/4), or auto/n`, { variable: "SHARD" });
  const count = Number(m[2]);
  let indexText = m[1];
  if (indexText === "auto") {
    const from = INDEX_VARIABLES.find((k) => env[k] !== undefined && env[k]!.trim() !== "");
    if (!from) {
      throw new ConfigError(`SHARD=${JSON.stringify(spec)}: "auto" needs ${INDEX_VARIABLES.join(" or ")} in the environment`, { variable: "SHARD" });
    }
    indexText = env[from]!.trim();
    if (!/^\d+$/.test(indexText)) throw new ConfigError(`${from}=${JSON.stringify(indexText)}: expected a whole number`, { variable: from });
  }
  const index = Number(indexText);
  if (!(count >= 1 && index < count)) {
    throw new ConfigError(`SHARD=${JSON.stringify(spec)}: expected i/n with 0 <= i < n, got index ${index} of ${count}`, { variable: "SHARD" });
  }
  return { index, count };
}

/** A label for names and logs: "all" or "shard-1-of-4". */
export function shardLabel(shard: Shard | null): string {
  return shard ? `shard-${shard.index}-of-${shard.count}` : "all";
}

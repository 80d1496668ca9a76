/**
 * Parse state: per float, which raw inputs (by sha256) its lake files were
 * made from, and which lake files it wrote. Parse compares a float's current
 * inputs with this to skip unchanged floats, and uses `outputs` to remove the
 * float's files from partitions it no longer has.
 */
import { z } from "zod";
import { parseTableFileKey, stateKey } from "../lake/layout.ts";
import type { HeldSegment } from "../lake/live.ts";
import type { LakeStore } from "../lake/store.ts";

/** One raw input file as it was parsed. */
export const ParsedInputSchema = z.object({
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().nonnegative(),
  /** The object's modification time when it was read (ISO), to avoid rehashing unchanged files without a manifest. */
  modified: z.string().nullable(),
});
export type ParsedInput = z.infer<typeof ParsedInputSchema>;

/** The state object of one float. */
export const ParseStateSchema = z.object({
  dac: z.string(),
  wmo: z.string(),
  /** lake/schema.ts SCHEMA_VERSION the outputs follow: a new version reparses the float. */
  schema_version: z.number().int(),
  /** PROFILE_BATCH_LIMIT the float was parsed with: a different limit reparses it. */
  profile_batch_limit: z.number().int().nullable(),
  /** Raw files used (meta, core, B), by path below the float folder. */
  inputs: z.record(z.string(), ParsedInputSchema),
  /** Lake keys of the Parquet files written for the float. */
  outputs: z.array(z.string()),
  /** Their sizes in bytes, so a skip decision can tell a lost or damaged file from an intact one. */
  output_sizes: z.record(z.string(), z.number().int().nonnegative()).default({}),
  /** Inputs that failed to parse (their quarantine records exist). */
  quarantined: z.array(z.string()),
  /**
   * Quarantined inputs whose previous good version (raw/_previous/) was parsed
   * in their place; `inputs` names that version. While any is listed, the
   * float is parsed again on every run, so a good new version is taken up.
   */
  previous: z.array(z.string()).default([]),
  profiles: z.number().int().nonnegative(),
  measurement_rows: z.number().int().nonnegative(),
  parsed_at: z.string(),
  run_id: z.string().nullable(),
});
export type ParseState = z.infer<typeof ParseStateSchema>;

/** A float's parse state, or null when it was never parsed (or the object is unreadable: parse again). */
export async function readState(store: LakeStore, dac: string, wmo: string): Promise<ParseState | null> {
  const bytes = await store.get(stateKey(dac, wmo));
  if (!bytes) return null;
  const parsed = ParseStateSchema.safeParse(JSON.parse(new TextDecoder().decode(bytes)));
  return parsed.success ? parsed.data : null;
}

/** Writes a float's parse state whole. */
export async function writeState(store: LakeStore, state: ParseState): Promise<void> {
  await store.put(stateKey(state.dac, state.wmo), new TextEncoder().encode(JSON.stringify(state, null, 1)));
}

/**
 * Null when every output the state names is in `listed` (key to size) with
 * the size it was written with, or was folded by compaction into a live
 * segment of its table and partition that holds the float, and every live
 * segment holding the float is listed with its size; otherwise the first key
 * that is missing or differs, so the float is parsed again and its rows
 * rebuilt (a float with staging files hides its segment rows).
 */
export function damagedOutput(state: ParseState, listed: ReadonlyMap<string, number>, held: readonly HeldSegment[] = []): string | null {
  for (const h of held) if (listed.get(h.segment.key) !== h.segment.size) return h.segment.key;
  for (const key of state.outputs) {
    const size = listed.get(key);
    const want = state.output_sizes[key];
    if (size === undefined) {
      const f = parseTableFileKey(key);
      if (f && held.some((h) => h.table === f.table && h.dac === f.dac && h.year === f.year)) continue;
      return key;
    }
    if (want !== undefined && size !== want) return key;
  }
  return null;
}

/** True when the inputs are the same files with the same content. */
export function sameInputs(a: Record<string, { sha256: string }>, b: Record<string, { sha256: string }>): boolean {
  const ka = Object.keys(a);
  if (ka.length !== Object.keys(b).length) return false;
  return ka.every((k) => b[k]?.sha256 === a[k]!.sha256);
}

/**
 * What the last completed sync of a scope applied: per float, a digest of the
 * index rows its raw files were brought in line with. A sync diffs the index
 * it plans from against this and reads manifests and lists raw folders only
 * for the floats whose rows are new, changed or were not applied cleanly
 * (a fetch failed, rows were refused, removals were held back), so an
 * unchanged GDAC costs the index and nothing per float.
 *
 * The object (`raw/_applied/<scope>.json`, lib/lake/layout.ts) is written
 * whole, only after a sync finished (not interrupted, no lake failure): a
 * killed sync leaves the previous one in place, so the next run looks at the
 * floats the killed one was working on again. One per scope ("all" or
 * "shard-i-of-n"), so shards never write the same object; a sync of named
 * floats (run-float, --float) neither reads nor writes it: it checks those
 * floats whole.
 */
import { createHash } from "node:crypto";
import { Buffer } from "node:buffer";
import { z } from "zod";
import { appliedKey } from "../lake/layout.ts";
import type { LakeStore } from "../lake/store.ts";
import type { Logger } from "../log.ts";
import type { FloatPlan } from "./plan.ts";

/** The digest of one float: of its index rows, and how many distinct files they list. */
export const AppliedFloatSchema = z.tuple([z.string(), z.number().int().nonnegative()]);

export const AppliedSchema = z.object({
  format: z.literal(1),
  scope: z.string(),
  run_id: z.string(),
  /** Start of the sync that wrote it: manifests written since were written by a later (possibly killed) sync. */
  started_at: z.string(),
  written_at: z.string(),
  /** Start of the last sync that listed every float's raw folder and read every manifest (FULL_CHECK_EVERY). */
  full_check_at: z.string(),
  /** Index file name -> sha256 of the copy the plan was made from. */
  indexes: z.record(z.string(), z.string()),
  /** What was selected besides the scope (ARGO_DAC, time window, box): same indexes and selection = same plan. */
  selection: z.string(),
  /**
   * "dac/wmo" -> [rows digest, files listed], for every float applied cleanly:
   * the planned ones, and those of earlier runs this one did not plan (another
   * selection, gone from the index) whose files it did not touch.
   */
  floats: z.record(z.string(), AppliedFloatSchema),
  /** Floats and files of the plan (what a sync that finds the same indexes reports). */
  planned_floats: z.number().int().nonnegative(),
  planned_files: z.number().int().nonnegative(),
  /** Planned floats not applied cleanly (and floats refused by the plan): looked at again by the next sync whatever the index says. */
  pending: z.array(z.string()),
  /** The plan's refused rows and nulled values, reported again by a sync that finds the same indexes. */
  rows_refused: z.number().int().nonnegative(),
  values_nulled: z.number().int().nonnegative(),
});
export type Applied = z.infer<typeof AppliedSchema>;

/**
 * How long sync keeps its raw change journal entries; a consumer whose cursor
 * is older (less the journal margin) cannot trust the journal and lists the
 * whole raw zone instead.
 */
export const RAW_JOURNAL_KEEP_MS = 30 * 24 * 3600 * 1000;

/** The key a float has in the digest. */
export const appliedFloatKey = (dac: string, wmo: string): string => `${dac}/${wmo}`;

/**
 * A digest of a float's index rows (file codes and date_updates, in index
 * order, with its DAC and WMO): equal digests mean the index lists the same
 * files with the same dates for it.
 */
export function rowsDigest(fp: FloatPlan): string {
  const h = createHash("sha1").update(`${fp.dac}/${fp.wmo}/${fp.synthetic ? 1 : 0}/`);
  const { codes, updates } = fp.rows;
  for (let r = 0; r < fp.ranges.length; r += 2) {
    const a = fp.ranges[r]!, b = fp.ranges[r + 1]!;
    h.update(Buffer.from(codes.buffer, codes.byteOffset + a * 4, (b - a) * 4));
    h.update(Buffer.from(updates.buffer, updates.byteOffset + a * 8, (b - a) * 8));
    h.update("|");
  }
  return h.digest("base64url").slice(0, 22);
}

/** The scope's digest; null when there is none, or it cannot be read (logged: the sync then checks every float whole). */
export async function readApplied(store: LakeStore, scope: string, log: Logger): Promise<Applied | null> {
  const bytes = await store.get(appliedKey(scope));
  if (!bytes) return null;
  try {
    const a = AppliedSchema.parse(JSON.parse(new TextDecoder().decode(bytes)));
    if (a.scope === scope) return a;
  } catch { /* reported below */ }
  log.warn("applied-index digest unreadable: every float is checked whole this run", { key: appliedKey(scope) });
  return null;
}

/** Writes the scope's digest whole (atomic put). */
export async function writeApplied(store: LakeStore, applied: Applied): Promise<void> {
  await store.put(appliedKey(applied.scope), new TextEncoder().encode(JSON.stringify(AppliedSchema.parse(applied))));
}

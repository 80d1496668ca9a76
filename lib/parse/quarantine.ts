/**
 * Quarantine: a raw file that failed to parse is recorded under
 * `quarantine/dac=<dac>/wmo=<wmo>/<file>.json` (what, why, where in the file,
 * when, which bytes); the float's other files still land. A later successful
 * parse of that file, or its removal from the raw zone, clears the record.
 */
import { z } from "zod";
import { QUARANTINE_PREFIX, quarantineDacPrefix, quarantineFileName, quarantineFloatPrefix, quarantineKey } from "../lake/layout.ts";
import type { LakeStore } from "../lake/store.ts";

/** One quarantined raw file. */
export const QuarantineRecordSchema = z.object({
  /** Lake key of the raw file. */
  file: z.string(),
  dac: z.string(),
  float_id: z.string(),
  /** What went wrong, from the parser's ParseError. */
  reason: z.string(),
  /** The variable or header part concerned, when known. */
  where: z.string().nullable(),
  stage: z.literal("parse"),
  /** When it was quarantined (ISO 8601, UTC). */
  time: z.string(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  size: z.number().int().nonnegative(),
  run_id: z.string().nullable(),
  /**
   * True when an earlier good version of the file (raw/_previous/) is parsed
   * in its place, so the data already served stays; false when the file's
   * rows are simply missing until a good version arrives.
   */
  kept_previous: z.boolean().default(false),
});
export type QuarantineRecord = z.infer<typeof QuarantineRecordSchema>;

/** Writes a record whole. */
export async function putQuarantine(store: LakeStore, record: QuarantineRecord, fileName: string): Promise<void> {
  const key = quarantineKey(record.dac, record.float_id, fileName);
  await store.put(key, new TextEncoder().encode(JSON.stringify(record, null, 1)));
}

/** Removes a float's records except those of `keep` (file names); returns how many were removed. */
export async function clearQuarantine(store: LakeStore, dac: string, wmo: string, keep: ReadonlySet<string>): Promise<number> {
  let removed = 0;
  for (const o of await store.list(quarantineFloatPrefix(dac, wmo))) {
    const name = quarantineFileName(o.key);
    if (name !== null && keep.has(name)) continue;
    await store.delete(o.key);
    removed++;
  }
  return removed;
}

/** Every quarantine record (or one DAC's), sorted by key; an object that is not a valid record is skipped. */
export async function listQuarantine(store: LakeStore, dac?: string): Promise<QuarantineRecord[]> {
  const out: QuarantineRecord[] = [];
  for (const o of await store.list(dac ? quarantineDacPrefix(dac) : QUARANTINE_PREFIX)) {
    if (quarantineFileName(o.key) === null) continue;
    const bytes = await store.get(o.key);
    if (!bytes) continue;
    const parsed = QuarantineRecordSchema.safeParse(JSON.parse(new TextDecoder().decode(bytes)));
    if (parsed.success) out.push(parsed.data);
  }
  return out;
}

/**
 * The sync manifest: per float, what landed in the raw zone, from where and
 * when. Sync writes it only after a file has landed; parse reads it to know
 * what changed since the last parse.
 */
import { z } from "zod";
import { manifestKey } from "../lake/layout.ts";
import type { LakeStore } from "../lake/store.ts";

/** One landed (or removed) raw file. */
export const ManifestEntrySchema = z.object({
  /** GDAC path relative to `dac/`, e.g. "aoml/13857/profiles/R13857_001.nc". */
  path: z.string(),
  /** Where its bytes are in the lake (lib/lake/layout.ts rawFileKey). */
  key: z.string(),
  /** The index date_update (YYYYMMDDHHMISS, UTC) it was fetched for; null for files without an index row. */
  date_update: z.string().nullable(),
  size: z.number().int().nonnegative(),
  sha256: z.string().regex(/^[0-9a-f]{64}$/),
  etag: z.string().nullable(),
  last_modified: z.string().nullable(),
  fetched_at: z.string(),
  status: z.enum(["present", "removed"]),
  removed_at: z.string().nullable().default(null),
});
export type ManifestEntry = z.infer<typeof ManifestEntrySchema>;

/** All files of one float. */
export const FloatManifestSchema = z.object({
  dac: z.string(),
  wmo: z.string(),
  updated_at: z.string(),
  files: z.record(z.string(), ManifestEntrySchema),
});
export type FloatManifest = z.infer<typeof FloatManifestSchema>;

/** Reads a float's manifest; null when the float was never synced. */
export async function readManifest(store: LakeStore, dac: string, wmo: string): Promise<FloatManifest | null> {
  const bytes = await store.get(manifestKey(dac, wmo));
  return bytes ? FloatManifestSchema.parse(JSON.parse(new TextDecoder().decode(bytes))) : null;
}

/** Writes a float's manifest whole (the store makes it atomic). */
export async function writeManifest(store: LakeStore, manifest: FloatManifest): Promise<void> {
  await store.put(manifestKey(manifest.dac, manifest.wmo), new TextEncoder().encode(JSON.stringify(manifest, null, 1)));
}

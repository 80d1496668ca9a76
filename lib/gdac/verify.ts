/**
 * Checks that the raw zone and the sync manifests agree: every file a
 * manifest says is present exists with the recorded size and SHA-256, and
 * every raw file is recorded as present by its float's manifest. Used after a
 * crash, by tests, and by anyone who doubts the lake.
 */
import { createHash } from "node:crypto";
import { MANIFEST_PREFIX, RAW_DATA_PREFIX } from "../lake/layout.ts";
import type { LakeStore } from "../lake/store.ts";
import { FloatManifestSchema } from "./manifest.ts";

export interface RawZoneReport {
  floats: number;
  /** Present entries checked (bytes read and hashed when `hashes`). */
  files: number;
  /** One line per disagreement; empty when the zone is consistent. */
  problems: string[];
}

/** Walks raw/_manifest/ and raw/dac=...; `hashes` also reads every file to check its SHA-256. */
export async function checkRawZone(store: LakeStore, opts: { hashes?: boolean } = {}): Promise<RawZoneReport> {
  const problems: string[] = [];
  const recorded = new Set<string>();
  let floats = 0;
  let files = 0;
  const raw = new Map((await store.list(RAW_DATA_PREFIX)).map((o) => [o.key, o]));
  for (const m of await store.list(MANIFEST_PREFIX)) {
    const bytes = await store.get(m.key);
    const parsed = bytes ? FloatManifestSchema.safeParse(JSON.parse(new TextDecoder().decode(bytes))) : null;
    if (!parsed?.success) {
      problems.push(`${m.key}: not a valid manifest`);
      continue;
    }
    floats++;
    for (const e of Object.values(parsed.data.files)) {
      if (e.status !== "present") continue;
      files++;
      recorded.add(e.key);
      const obj = raw.get(e.key);
      if (!obj) {
        problems.push(`${e.key}: in the manifest of float ${parsed.data.wmo} but not in the lake`);
        continue;
      }
      if (obj.size !== e.size) problems.push(`${e.key}: ${obj.size} bytes in the lake, ${e.size} in the manifest`);
      if (opts.hashes) {
        const body = await store.get(e.key);
        const sha = body ? createHash("sha256").update(body).digest("hex") : "";
        if (sha !== e.sha256) problems.push(`${e.key}: SHA-256 differs from the manifest`);
      }
    }
  }
  for (const key of raw.keys()) if (!recorded.has(key)) problems.push(`${key}: in the lake but not recorded as present by any manifest`);
  return { floats, files, problems };
}

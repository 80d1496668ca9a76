/**
 * The previous-version zone of the raw lake (keys: lib/lake/layout.ts,
 * `raw/_previous/`): the last good copy of a raw file while a newer copy of it
 * is not yet known to be good. Sync puts the current copy there before it
 * replaces it (unless that copy is itself quarantined, so a second bad update
 * never pushes out the good one); parse reads it when the new copy fails to
 * parse or fails its checks, so the data already served stays; parse removes
 * it once the current copy parses.
 */
import { baseName } from "../argo/filename.ts";
import { parseRawKey, previousKey, quarantineKey } from "./layout.ts";
import type { LakeStore } from "./store.ts";

/**
 * Before a raw file is replaced by a new version: keeps the current copy
 * (sha256 `currentSha`) aside as the previous version, unless the parse stage
 * quarantined exactly that copy (then the previous version already there is
 * the better one). A copy, not a move: the raw file stays where its manifest
 * says until the new bytes replace it.
 */
export async function keepPrevious(store: LakeStore, rawKey: string, currentSha: string): Promise<void> {
  const k = parseRawKey(rawKey);
  if (!k) return;
  const record = await store.get(quarantineKey(k.dac, k.wmo, baseName(k.rest)));
  if (record) {
    try {
      if ((JSON.parse(new TextDecoder().decode(record)) as { sha256?: string }).sha256 === currentSha) return;
    } catch { /* an unreadable record does not stop the copy */ }
  }
  const bytes = await store.get(rawKey);
  if (bytes) await store.put(previousKey(k.dac, k.wmo, k.rest), bytes);
}

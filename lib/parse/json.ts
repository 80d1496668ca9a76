/**
 * `parse --format json`: the original system's ProfileData JSON (from the
 * parser's toProfileData) for the floats asked for, instead of Parquet.
 * Profiles come out per float, in (cycle, direction, profile index) order,
 * from the same files and rules as the Parquet tables.
 */
import type { ProfileData } from "../argo/schema.ts";
import { toProfileData } from "../argo/profile-data.ts";
import type { Config } from "../config.ts";
import type { LakeStore } from "../lake/store.ts";
import type { Logger } from "../log.ts";
import { baseName } from "../argo/filename.ts";
import { rawFileKey } from "../lake/layout.ts";
import { parseFloatFiles, roleOf } from "./float.ts";
import { discoverFloats } from "./run.ts";

/** Yields ProfileData for every profile of the selected floats; failed files are logged and skipped. */
export async function* profileDataOf(
  config: Config,
  store: LakeStore,
  log: Logger,
  opts: { floatIds?: readonly string[] } = {},
): AsyncGenerator<ProfileData> {
  const ids = opts.floatIds ?? config.FLOAT_IDS;
  const wanted = ids.length ? new Set(ids) : null;
  for (const ref of await discoverFloats(store, config.ARGO_DAC)) {
    if (wanted && !wanted.has(ref.wmo)) continue;
    const files = [];
    for (const rest of [...ref.raw.keys()].filter((r) => roleOf(r, ref.wmo) !== "other").sort()) {
      const bytes = await store.get(rawFileKey(ref.dac, ref.wmo, rest));
      if (bytes) files.push({ rest, bytes });
    }
    const { input, failures } = await parseFloatFiles({ dac: ref.dac, wmo: ref.wmo, files, profileBatchLimit: config.PROFILE_BATCH_LIMIT });
    for (const f of failures) log.warn("parse: file skipped", { float_id: ref.wmo, file: baseName(f.rest), reason: f.reason });
    const profiles = input.cycles.flatMap((c) => c.profiles).sort((a, b) =>
      a.cycleNumber - b.cycleNumber || (a.direction < b.direction ? -1 : a.direction > b.direction ? 1 : 0) || a.profileIndex - b.profileIndex
    );
    for (const p of profiles) yield toProfileData(p);
  }
}

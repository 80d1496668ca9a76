/**
 * Removal guards: a stage about to remove what an earlier run made (Parquet
 * files of floats whose raw files are gone, floats in Postgres and Redis the
 * lake no longer has) first compares the removal with what it held. Evidence
 * that looks like "everything vanished" (a lake path that does not exist, an
 * empty raw zone or Parquet tree where the state says there was data, a large
 * share gone at once) is refused before anything is removed, unless the
 * operator says so with ALLOW_REMOVALS (--allow-removals), the setting sync's
 * own removal guard (lib/gdac/sync.ts) reads.
 *
 * The rule, for `removing` floats out of `held`, the same as sync's for files:
 * refused when more than REMOVAL_MAX_FLOATS, or when at least
 * REMOVAL_SHARE_FLOOR and more than REMOVAL_MAX_SHARE of those held; and
 * refused whenever it is every float held (an empty source).
 */
import type { Config } from "./config.ts";
import { GuardError, type Stage } from "./errors.ts";
import { lakeExists } from "./lake/guard.ts";
import type { LakeStore } from "./lake/store.ts";

/** The settings the guard reads. */
export type RemovalGuardConfig = Pick<Config, "REMOVAL_MAX_SHARE" | "REMOVAL_MAX_FLOATS" | "ALLOW_REMOVALS">;

/** Below this many removals the share rule does not apply: one float of two may go. */
export const REMOVAL_SHARE_FLOOR = 10;

/** What a stage is about to remove, for {@link checkRemoval}. */
export interface PlannedRemoval {
  stage: Stage;
  /** The lake (or target) concerned, safe to print. */
  where: string;
  /** What is removed, plural: "floats' Parquet files", "floats from Postgres/Redis". */
  what: string;
  removing: number;
  held: number;
  /** Why they would go, for the message: "their raw files are gone". */
  because: string;
}

/**
 * Throws a GuardError (exit 1, one line naming the lake and the numbers) when
 * a planned removal is implausible and not allowed; returns otherwise.
 */
export function checkRemoval(config: RemovalGuardConfig, r: PlannedRemoval): void {
  if (r.removing === 0 || config.ALLOW_REMOVALS) return;
  const all = r.removing >= r.held;
  const overCount = r.removing > config.REMOVAL_MAX_FLOATS;
  const overShare = r.removing >= REMOVAL_SHARE_FLOOR && r.removing > config.REMOVAL_MAX_SHARE * r.held;
  if (!all && !overCount && !overShare) return;
  const share = r.held > 0 ? Math.round((100 * r.removing) / r.held) : 100;
  const limit = all
    ? "that is every one of them"
    : overCount
    ? `more than REMOVAL_MAX_FLOATS=${config.REMOVAL_MAX_FLOATS}`
    : `more than REMOVAL_MAX_SHARE=${config.REMOVAL_MAX_SHARE} of them`;
  throw new GuardError(
    `${r.stage} refused: it would remove ${r.removing} of ${r.held} ${r.what} (${share}%) in ${r.where} because ${r.because}; ${limit}. ` +
      `Nothing was removed; if this is intended, run again with --allow-removals (ALLOW_REMOVALS=true)`,
    { stage: r.stage, removing: r.removing, held: r.held, lake: r.where },
  );
}

/**
 * Throws a GuardError when the lake is a local directory that does not exist
 * (a mistyped path or an unmounted volume must never read as "the lake is
 * empty"). An S3 lake whose bucket is missing fails on its first listing.
 */
export function assertLakeExists(store: LakeStore, stage: Stage): void {
  if (!lakeExists(store)) {
    throw new GuardError(`${stage} refused: the lake ${store.localRoot} does not exist (LAKE_URL); nothing was read, written or removed`, { stage, lake: store.localRoot });
  }
}

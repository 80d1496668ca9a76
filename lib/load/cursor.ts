/**
 * Where a load has read the parquet change journal to (lib/lake/changes.ts),
 * kept in each target it writes: a row of `load_cursors` in Postgres, a key
 * under REDIS_PREFIX in Redis. Each target keeps its own, so a Postgres-only
 * and a Redis-only deployment of one lake never share one, and a target that
 * lost its data (a new database, a flushed or expired Redis) has no cursor
 * and gets a full load.
 *
 * A cursor belongs to a lake and a selection (its scope: the shard and the
 * DAC filter), since it says "every change of these floats of this lake
 * through here is loaded". It also carries the load's derivation (a hash of the aggregate SQL and the
 * lake schema version): when what a load computes from the lake changes, the
 * next load is full. Floats a load could not load are kept in the cursor as
 * pending and tried again by the next load, so a refusal never advances past
 * a float silently. It records when the last full pass started: every
 * FULL_CHECK_EVERY hours the load is full again (lib/lake/changes.ts
 * fullCheckDue), since floats whose tables landed without a journal entry (a
 * parse killed in between, an entry lost) are named by no entry.
 */
import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { z } from "zod";
import { SCHEMA_VERSION } from "../../lake/schema.ts";
import { ChangeSchema, type JournalCursor, JOURNAL_MARGIN_MS, journalStamp, JournalCursorSchema } from "../lake/changes.ts";
import { journalPrefix, parseJournalKey } from "../lake/layout.ts";
import type { LakeStore } from "../lake/store.ts";

/** What a target keeps between loads. */
export const LoadCursorSchema = JournalCursorSchema.extend({
  /** Floats named by the journal that the load that wrote this cursor could not load: loaded next time. */
  pending: z.array(ChangeSchema),
  /** {@link loadDerivation} of the load that wrote it. */
  derivation: z.string(),
  /** The lake it reads (LakeStore.description): pointed at another lake, a target gets a full load. */
  lake: z.string(),
  /**
   * When the last full pass of this selection started (ISO). Absent from
   * cursors written before loads recorded it: a full pass is then due.
   */
  full_at: z.string().optional(),
});
export type LoadCursor = z.infer<typeof LoadCursorSchema>;

/** The selection a cursor stands for: the run's scope ("all", "shard-i-of-n") and the DACs, if filtered. */
export function cursorScope(runScope: string, dacs: ReadonlySet<string>): string {
  return dacs.size ? `${runScope};dacs:${[...dacs].sort().join(",")}` : runScope;
}

let derivation: string | null = null;

/** A hash of what the load computes from the lake: the aggregate SQL and the lake schema version. */
export function loadDerivation(): string {
  if (derivation !== null) return derivation;
  const dir = new URL("../../lake/aggregates/", import.meta.url);
  const h = createHash("sha256").update(`schema ${SCHEMA_VERSION}\n`);
  for (const f of readdirSync(dir).filter((n) => n.endsWith(".sql")).sort()) h.update(`${f}\n`).update(readFileSync(new URL(f, dir)));
  return (derivation = h.digest("hex").slice(0, 16));
}

/** A cursor from its stored JSON; null when absent or unreadable (the load is then full, which repairs it). */
export function parseCursor(text: string | null | undefined): LoadCursor | null {
  if (!text) return null;
  try {
    return LoadCursorSchema.parse(JSON.parse(text));
  } catch {
    return null;
  }
}

/**
 * The journal entries a full pass covers, listed before the pass reads the
 * lake: each was written after its floats landed, so the pass sees them.
 * Call before listing the lake; {@link cursorAfterFullPass} then makes the
 * cursor the pass keeps.
 */
export async function journalBeforeFullPass(store: LakeStore): Promise<string[]> {
  return (await store.list(journalPrefix("parquet"))).map((o) => o.key).filter((k) => parseJournalKey(k) !== null);
}

/**
 * The cursor a full pass that started at `startedAt` keeps: read through its
 * start, with the entries listed before it read as seen (so the next load
 * does not load their floats again); entries written during the pass are
 * read next time.
 */
export function cursorAfterFullPass(lake: string, startedAt: Date, listed: readonly string[], pending: LoadCursor["pending"]): LoadCursor {
  const through = journalStamp(startedAt);
  const from = journalStamp(new Date(startedAt.getTime() - JOURNAL_MARGIN_MS));
  const seen = listed.filter((k) => {
    const stamp = parseJournalKey(k)!.stamp;
    return stamp >= from && stamp <= through;
  }).sort();
  return { through, seen, pending: [...pending], derivation: loadDerivation(), lake, full_at: startedAt.toISOString() };
}

/**
 * The cursor an incremental load keeps: read through what it read, pending
 * the floats it could not load, its last full pass the one `from` records.
 */
export function cursorAfterIncremental(lake: string, read: JournalCursor, from: LoadCursor, pending: LoadCursor["pending"]): LoadCursor {
  return { ...read, pending: [...pending], derivation: loadDerivation(), lake, ...(from.full_at === undefined ? {} : { full_at: from.full_at }) };
}

/**
 * The cursor the load reads from when targets hold different ones: the
 * oldest stamp, the entries every target has seen, every target's pending
 * floats, and the oldest full pass (none when a target records none).
 * Reading too much only loads floats again; reading too little would miss them.
 */
export function oldestCursor(cursors: readonly LoadCursor[]): LoadCursor {
  const through = cursors.map((c) => c.through).sort()[0]!;
  const seen = cursors[0]!.seen.filter((k) => cursors.every((c) => c.seen.includes(k)));
  const pending = new Map(cursors.flatMap((c) => c.pending).map((c) => [`${c.dac}/${c.wmo}`, c]));
  const fullAt = cursors.some((c) => c.full_at === undefined) ? undefined : cursors.map((c) => c.full_at!).sort()[0];
  return { through, seen, pending: [...pending.values()], derivation: cursors[0]!.derivation, lake: cursors[0]!.lake, ...(fullAt === undefined ? {} : { full_at: fullAt }) };
}

/**
 * Change journals: how a stage tells the next one which floats it changed, so
 * a daily run costs what changed rather than what the lake holds. Sync writes
 * the raw zone's journal (floats whose raw files it added, replaced or
 * removed), parse reads it and writes the parquet zone's journal (floats
 * whose tables it rewrote or removed), load reads that one.
 *
 * A journal entry is one object per run (`<zone>/_changes/<stamp>-<run_id>.json`,
 * lib/lake/layout.ts), written whole after the run's changes landed, never
 * edited, so shard workers never write the same object. A consumer keeps a
 * cursor: the stamp it has read through and the entries it has read within
 * JOURNAL_MARGIN before it. Entries are read again from that margin on (a
 * shard that started earlier may commit later, and clocks differ), and the
 * ones already seen are skipped, so none is missed and none counted twice.
 * Without a cursor (first run, or after a reset) the consumer does a full
 * pass instead: the journal is an accelerator, never the only source of truth.
 */
import { z } from "zod";
import type { Config } from "../config.ts";
import { LakeError } from "../errors.ts";
import { type JournalZone, journalKey, journalPrefix, parseJournalKey } from "./layout.ts";
import type { LakeStore } from "./store.ts";

/** One float a run changed. */
export const ChangeSchema = z.object({
  dac: z.string(),
  wmo: z.string(),
  /** "changed": its data is new or different; "removed": it is gone from the zone. */
  change: z.enum(["changed", "removed"]),
});
export type Change = z.infer<typeof ChangeSchema>;

/** One journal entry: a run's changes in one zone. */
export const JournalEntrySchema = z.object({
  format: z.literal(1),
  zone: z.enum(["raw", "parquet"]),
  run_id: z.string(),
  stage: z.string(),
  written_at: z.string(),
  changes: z.array(ChangeSchema),
});
export type JournalEntry = z.infer<typeof JournalEntrySchema>;

/** Where a consumer has read a journal to. */
export const JournalCursorSchema = z.object({
  /** The newest entry stamp read. */
  through: z.string(),
  /** Keys of the entries read whose stamp is within the margin before `through`. */
  seen: z.array(z.string()),
});
export type JournalCursor = z.infer<typeof JournalCursorSchema>;

/** How far before its cursor a consumer reads again: later commits of earlier-started runs, clock skew. */
export const JOURNAL_MARGIN_MS = 60 * 60 * 1000;

/** A journal stamp: UTC, sortable, to the millisecond (20261202T010203.456Z). */
export const journalStamp = (d: Date): string => d.toISOString().replace(/[-:]/g, "");

const stampMs = (stamp: string): number =>
  Date.parse(`${stamp.slice(0, 4)}-${stamp.slice(4, 6)}-${stamp.slice(6, 8)}T${stamp.slice(9, 11)}:${stamp.slice(11, 13)}:${stamp.slice(13)}`);

/**
 * Writes a run's journal entry; writes nothing and returns null when the run
 * changed nothing. Call it after the changes have landed: an entry names
 * floats whose new state is already readable.
 */
export async function writeJournal(
  store: LakeStore,
  zone: JournalZone,
  entry: { runId: string; stage: string; changes: readonly Change[] },
  now = new Date(),
): Promise<string | null> {
  if (entry.changes.length === 0) return null;
  const key = journalKey(zone, journalStamp(now), entry.runId);
  const body: JournalEntry = { format: 1, zone, run_id: entry.runId, stage: entry.stage, written_at: now.toISOString(), changes: [...entry.changes] };
  await store.put(key, new TextEncoder().encode(JSON.stringify(JournalEntrySchema.parse(body))));
  return key;
}

/** What a consumer reads since its cursor. */
export interface JournalRead {
  /** The floats changed, one per (dac, wmo), the latest entry's word winning; sorted by wmo. */
  changes: Change[];
  /** Entries read. */
  entries: number;
  /** The cursor to keep once the changes are applied (keeping it before would lose them on a crash). */
  cursor: JournalCursor;
}

/**
 * The changes in `zone` since `cursor`. A damaged entry is an error naming it
 * (skipping it would lose its floats); the consumer should then fall back to
 * a full pass.
 */
export async function readJournalSince(store: LakeStore, zone: JournalZone, cursor: JournalCursor, marginMs = JOURNAL_MARGIN_MS): Promise<JournalRead> {
  const from = stampMs(cursor.through) - marginMs;
  const seen = new Set(cursor.seen);
  const keys = (await store.list(journalPrefix(zone)))
    .map((o) => ({ key: o.key, parsed: parseJournalKey(o.key) }))
    .filter((k) => k.parsed !== null && stampMs(k.parsed.stamp) >= from && !seen.has(k.key))
    .sort((a, b) => (a.key < b.key ? -1 : 1));
  const byFloat = new Map<string, Change>();
  for (const { key } of keys) {
    const bytes = await store.get(key);
    if (!bytes) continue; // pruned since listing: older than any cursor can need
    let entry: JournalEntry;
    try {
      entry = JournalEntrySchema.parse(JSON.parse(new TextDecoder().decode(bytes)));
    } catch (err) {
      throw new LakeError(`change journal entry ${key} is damaged (${(err as Error).message.split("\n")[0]}): expected a journal entry; run a full pass`, { file: key });
    }
    for (const c of entry.changes) byFloat.set(`${c.dac}/${c.wmo}`, c);
  }
  const stamps = [cursor.through, ...keys.map((k) => k.parsed!.stamp)].sort();
  const through = stamps[stamps.length - 1]!;
  const keepFrom = stampMs(through) - marginMs;
  const nextSeen = [...cursor.seen, ...keys.map((k) => k.key)]
    .filter((k) => {
      const p = parseJournalKey(k);
      return p !== null && stampMs(p.stamp) >= keepFrom;
    })
    .sort();
  return {
    changes: [...byFloat.values()].sort((a, b) => (a.wmo < b.wmo ? -1 : a.wmo > b.wmo ? 1 : a.dac < b.dac ? -1 : 1)),
    entries: keys.length,
    cursor: { through, seen: nextSeen },
  };
}

/** A cursor that starts now: what a consumer keeps after a full pass (entries written during the pass are read next time). */
export function cursorAt(startedAt: Date): JournalCursor {
  return { through: journalStamp(startedAt), seen: [] };
}

/**
 * Why a stage that looks only at what changed must look at everything this
 * time, or null: FULL_CHECK (--full-check), or FULL_CHECK_EVERY hours since
 * its last full pass started (`lastFullAt`, ISO; null when none is recorded,
 * which counts as due unless FULL_CHECK_EVERY is 0). A full pass repairs what
 * no journal entry names (a run killed between landing its changes and
 * writing its entry, an entry lost, edits by hand).
 */
export function fullCheckDue(config: Pick<Config, "FULL_CHECK" | "FULL_CHECK_EVERY">, lastFullAt: string | null, now: Date): string | null {
  if (config.FULL_CHECK) return "FULL_CHECK";
  const every = config.FULL_CHECK_EVERY;
  if (every === 0) return null;
  if (lastFullAt === null) return `FULL_CHECK_EVERY=${every} hours (no full pass recorded)`;
  return now.getTime() - Date.parse(lastFullAt) >= every * 3600_000 ? `FULL_CHECK_EVERY=${every} hours` : null;
}

/** Deletes the zone's entries older than `maxAgeMs`; returns how many. */
export async function pruneJournal(store: LakeStore, zone: JournalZone, maxAgeMs: number, now = Date.now()): Promise<number> {
  let n = 0;
  for (const o of await store.list(journalPrefix(zone))) {
    const p = parseJournalKey(o.key);
    if (p && now - stampMs(p.stamp) > maxAgeMs) {
      await store.delete(o.key);
      n++;
    }
  }
  return n;
}

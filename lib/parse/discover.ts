/**
 * Which floats a parse looks at, and what it lists to find their raw files.
 *
 * - full: every raw file and parse state of the selected DACs is listed (at
 *   GDAC size, 3.3 million raw files: most of an unchanged parse's time);
 * - named (explicit float ids): only those floats' folders, under each DAC
 *   they could be in;
 * - journal (the cycle, run-batch, the scheduler's parse job: decided by
 *   lib/schedule/runs.ts parseReadsJournal): the floats the raw change journal
 *   (lib/lake/changes.ts) names since this scope's cursor, plus the floats
 *   that failed last time, and only their folders and states.
 *
 * The journal is an accelerator, never the only source of truth: without a
 * cursor, with --force, FULL_CHECK, every FULL_CHECK_EVERY hours, with a
 * cursor older than the journal keeps, or a damaged entry, the journal mode
 * falls back to a full listing. The cursor is stored only after the parse
 * finished (commit), so a parse that stops part-way reads the same entries
 * again; a full listing stores a cursor at its own start.
 */
import { z } from "zod";
import { DACS } from "../argo/ids.ts";
import type { Config } from "../config.ts";
import { RAW_JOURNAL_KEEP_MS } from "../gdac/applied.ts";
import { cursorAt, fullCheckDue, JOURNAL_MARGIN_MS, JournalCursorSchema, journalStamp, readJournalSince } from "../lake/changes.ts";
import {
  journalPrefix,
  parseJournalKey,
  parseRawKey,
  parseStateKey,
  RAW_DATA_PREFIX,
  rawCursorKey,
  rawDacPrefix,
  rawFloatPrefix,
  STATE_PREFIX,
  stateDacPrefix,
  parseTableFileKey,
  stateKey,
  tableDacPrefix,
  tombstoneKey,
} from "../lake/layout.ts";
import { readLiveList, segmentsByFloat } from "../lake/live.ts";
import { TABLES } from "../../lake/schema.ts";
import type { LakeObject, LakeStore } from "../lake/store.ts";
import type { Logger } from "../log.ts";
import { readState } from "./state.ts";

/** A float found in the lake: its raw objects by path below the float folder. */
export interface FloatRef {
  dac: string;
  wmo: string;
  raw: Map<string, LakeObject>;
}

/** A parse's place in the raw change journal, per scope. */
export const RawCursorSchema = z.object({
  format: z.literal(1),
  cursor: JournalCursorSchema,
  /** Start of the last parse of this scope that listed the whole raw zone. */
  full_at: z.string(),
  /** Floats that failed in the last parse: looked at again whatever the journal says. */
  retry: z.array(z.object({ dac: z.string(), wmo: z.string() })),
});
export type RawCursor = z.infer<typeof RawCursorSchema>;

const byWmo = (a: FloatRef, b: FloatRef) => (a.wmo < b.wmo ? -1 : a.wmo > b.wmo ? 1 : a.dac < b.dac ? -1 : 1);

/** Floats with raw files or a parse state, within the DACs asked for (all when empty), sorted by WMO. */
export async function discoverFloats(store: LakeStore, dacs: readonly string[]): Promise<FloatRef[]> {
  const floats = new Map<string, FloatRef>();
  const ref = (dac: string, wmo: string) => {
    const k = `${dac}/${wmo}`;
    let f = floats.get(k);
    if (!f) floats.set(k, f = { dac, wmo, raw: new Map() });
    return f;
  };
  for (const prefix of dacs.length ? dacs.map(rawDacPrefix) : [RAW_DATA_PREFIX]) {
    for (const o of await store.list(prefix)) {
      const r = parseRawKey(o.key);
      if (r) ref(r.dac, r.wmo).raw.set(r.rest, o);
    }
  }
  for (const prefix of dacs.length ? dacs.map(stateDacPrefix) : [STATE_PREFIX]) {
    for (const o of await store.list(prefix)) {
      const s = parseStateKey(o.key);
      if (s) ref(s.dac, s.wmo);
    }
  }
  return [...floats.values()].sort(byWmo);
}

/** The given (dac, wmo) floats that have raw files or a parse state, listing only their folders; sorted by WMO. */
export async function discoverListed(store: LakeStore, floats: readonly { dac: string; wmo: string }[], concurrency: number): Promise<FloatRef[]> {
  const seen = new Set<string>();
  const unique = floats.filter((f) => !seen.has(`${f.dac}/${f.wmo}`) && seen.add(`${f.dac}/${f.wmo}`));
  const found = await mapLimit(unique, concurrency, async ({ dac, wmo }) => {
    const raw = new Map<string, LakeObject>();
    for (const o of await store.list(rawFloatPrefix(dac, wmo))) {
      const r = parseRawKey(o.key);
      if (r && r.dac === dac && r.wmo === wmo) raw.set(r.rest, o);
    }
    if (raw.size === 0 && (await store.stat(stateKey(dac, wmo))) === null) return null;
    return { dac, wmo, raw };
  });
  return found.filter((f): f is FloatRef => f !== null).sort(byWmo);
}

/** How a parse found its floats. */
export interface Discovery {
  mode: "full" | "named" | "journal";
  /** Why a journal-mode parse listed everything, when it did. */
  reason: string | null;
  floats: FloatRef[];
  /**
   * Sizes of the Parquet outputs the floats' states name (journal mode: stat
   * of those keys only); null: the caller lists the Parquet zone.
   */
  outputs: Map<string, number> | null;
  /** Stores the scope's cursor; call once the parse finished (not when it stopped part-way). */
  commit(failed: readonly { dac: string; float_id: string }[]): Promise<void>;
}

export interface DiscoverOptions {
  /** Explicit floats (run-float, --float): named mode. */
  floatIds: readonly string[];
  shard?: (wmo: string) => boolean;
  force?: boolean;
  /** Read the raw change journal (the cycle, run-batch, the scheduler's parse job); otherwise list everything. */
  journal?: boolean;
  /** The scope whose cursor is read and stored ("all" or "shard-i-of-n"); none: no cursor is kept. */
  scope?: string;
}

/** Finds the floats a parse looks at (see the module comment). */
export async function discover(store: LakeStore, config: Config, log: Logger, opts: DiscoverOptions): Promise<Discovery> {
  const started = new Date();
  const dacs = config.ARGO_DAC;
  const selected = (f: { dac: string; wmo: string }) => (dacs.length === 0 || dacs.includes(f.dac)) && (!opts.shard || opts.shard(f.wmo));
  if (opts.floatIds.length > 0) {
    const under = dacs.length ? dacs : DACS;
    const floats = await discoverListed(store, opts.floatIds.flatMap((wmo) => under.map((dac) => ({ dac, wmo }))), config.HTTP_CONCURRENCY);
    return { mode: "named", reason: null, floats: floats.filter(selected), outputs: null, commit: async () => {} };
  }
  const scope = opts.scope;
  const previous = scope === undefined ? null : await readCursor(store, scope, dacs, log);
  const store_ = async (cursor: RawCursor["cursor"], fullAt: string, failed: readonly { dac: string; float_id: string }[]) => {
    if (scope === undefined) return;
    const retry = failed.flatMap((f) => f.dac.split(",").map((dac) => ({ dac, wmo: f.float_id })));
    const body: RawCursor = { format: 1, cursor, full_at: fullAt, retry };
    await store.put(rawCursorKey(scope, dacs), new TextEncoder().encode(JSON.stringify(RawCursorSchema.parse(body))));
  };
  const full = async (reason: string | null): Promise<Discovery> => {
    const cursor = await cursorBefore(store, started);
    const floats = (await discoverFloats(store, dacs)).filter(selected);
    return { mode: "full", reason, floats, outputs: null, commit: (failed) => store_(cursor, started.toISOString(), failed) };
  };
  if (!opts.journal) return full(null);
  const why = fullReason(config, opts, previous, started);
  if (why !== null) {
    log.info("parse: listing the whole raw zone", { reason: why });
    return full(why);
  }
  let read;
  try {
    read = await readJournalSince(store, "raw", previous!.cursor);
  } catch (err) {
    log.warn("parse: the raw change journal cannot be read: listing the whole raw zone", { error: (err as Error).message });
    return full((err as Error).message);
  }
  const named = [...read.changes, ...previous!.retry].filter(selected);
  const floats = await discoverListed(store, named, config.HTTP_CONCURRENCY);
  log.info("parse: floats from the raw change journal", { entries: read.entries, named: named.length, found: floats.length });
  return {
    mode: "journal",
    reason: null,
    floats,
    outputs: await outputsOf(store, floats, config.HTTP_CONCURRENCY),
    commit: (failed) => store_(read.cursor, previous!.full_at, failed),
  };
}

/**
 * The cursor a full listing that starts now leaves: the entries already in
 * the journal name changes that landed before it (an entry is written after
 * its changes), so they count as read; entries written from now on, even
 * with an earlier stamp, are read next time.
 */
async function cursorBefore(store: LakeStore, now: Date): Promise<RawCursor["cursor"]> {
  const cursor = cursorAt(now);
  const from = journalStamp(new Date(now.getTime() - JOURNAL_MARGIN_MS));
  for (const o of await store.list(journalPrefix("raw"))) {
    const k = parseJournalKey(o.key);
    if (k && k.stamp >= from && k.stamp <= cursor.through) cursor.seen.push(o.key);
  }
  cursor.seen.sort();
  return cursor;
}

/** Why a journal-mode parse must list everything this time; null when the journal can be trusted. */
function fullReason(config: Config, opts: DiscoverOptions, previous: RawCursor | null, now: Date): string | null {
  if (opts.scope === undefined) return "no scope to keep a cursor for";
  if (previous === null) return "no cursor yet";
  if (opts.force) return "--force";
  const due = fullCheckDue(config, previous.full_at, now);
  if (due !== null) return due;
  // Entries older than the journal keeps may be pruned already: the cursor cannot say what it missed.
  const oldest = journalStamp(new Date(now.getTime() - RAW_JOURNAL_KEEP_MS + JOURNAL_MARGIN_MS));
  if (previous.cursor.through < oldest) return "the cursor is older than the journal keeps";
  return null;
}

async function readCursor(store: LakeStore, scope: string, dacs: readonly string[], log: Logger): Promise<RawCursor | null> {
  const bytes = await store.get(rawCursorKey(scope, dacs));
  if (!bytes) return null;
  try {
    return RawCursorSchema.parse(JSON.parse(new TextDecoder().decode(bytes)));
  } catch (err) {
    log.warn("parse: journal cursor unreadable: listing the whole raw zone", { key: rawCursorKey(scope, dacs), error: (err as Error).message.split("\n")[0] });
    return null;
  }
}

/**
 * What a parse's skip check and tombstones ask of the Parquet zone, for
 * these floats only: sizes of the staging files their parse states name, of
 * the live segments that hold them, and of their tombstones (a missing
 * object is absent from the map); for a float without a state, every
 * staging file of its DAC (listed once per such DAC), as a full listing
 * would have found them.
 */
async function outputsOf(store: LakeStore, floats: readonly FloatRef[], concurrency: number): Promise<Map<string, number>> {
  const held = segmentsByFloat(await readLiveList(store));
  const keys = new Set<string>();
  const stateless = new Set<string>();
  await mapLimit(floats, concurrency, async (f) => {
    const state = await readState(store, f.dac, f.wmo).catch(() => null);
    if (!state) stateless.add(f.dac);
    for (const key of state?.outputs ?? []) keys.add(key);
    for (const h of held.get(f.wmo) ?? []) keys.add(h.segment.key);
    for (const table of TABLES) keys.add(tombstoneKey(table, f.dac, f.wmo));
  });
  const out = new Map<string, number>();
  for (const dac of stateless) {
    for (const table of TABLES) {
      for (const o of await store.list(tableDacPrefix(table, dac))) if (parseTableFileKey(o.key)) out.set(o.key, o.size);
    }
  }
  await mapLimit([...keys], concurrency, async (key) => {
    const o = await store.stat(key);
    if (o) out.set(key, o.size);
  });
  return out;
}

/** Maps with at most `limit` calls in flight; results in input order. */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T) => Promise<R>): Promise<R[]> {
  const out = new Array<R>(items.length);
  let next = 0;
  const lane = async () => {
    while (next < items.length) {
      const i = next++;
      out[i] = await fn(items[i]!);
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, lane));
  return out;
}

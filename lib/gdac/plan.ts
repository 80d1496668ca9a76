/**
 * The sync plan: which floats, and which of their files, the GDAC index files
 * list for a selection. Selection is per float: a float is in when its DAC
 * and id are selected and, if a time window or a box is given, any of its
 * profile rows falls in them; then all its files are planned (meta, core, B
 * and S profiles), whatever their own dates.
 */
import type { Dac } from "../argo/ids.ts";
import type { Config } from "../config.ts";
import type { Logger } from "../log.ts";
import {
  fileRest,
  INDEX_NAMES,
  type IndexKind,
  type IndexReadOptions,
  type IndexVisitor,
  ROW_DATE,
  ROW_LAT,
  ROW_LON,
  ROW_UPDATE,
} from "./index-file.ts";

/** What to sync. Empty lists mean "all". */
export interface Selection {
  dacs: readonly string[];
  floatIds: readonly string[];
  /** Inclusive bounds on the index `date`, as YYYYMMDDHHMISS numbers. */
  dateFrom?: number;
  dateTo?: number;
  bbox?: { lonMin: number; lonMax: number; latMin: number; latMax: number };
  /** Keeps only the floats this returns true for (the scheduler's shards). */
  shard?: (wmo: string) => boolean;
}

/**
 * Every listed file of a plan, as a file code (index-file.ts) and an index
 * date_update (YYYYMMDDHHMISS as a number), in two growing typed arrays: the
 * 3.3 million rows of a full index then cost the garbage collector nothing.
 */
export class RowStore {
  codes = new Int32Array(1 << 16);
  updates = new Float64Array(1 << 16);
  length = 0;

  /** Appends a row; returns its position. */
  add(code: number, update: number): number {
    if (this.length === this.codes.length) {
      const codes = new Int32Array(this.length * 2);
      codes.set(this.codes);
      this.codes = codes;
      const updates = new Float64Array(this.length * 2);
      updates.set(this.updates);
      this.updates = updates;
    }
    this.codes[this.length] = code;
    this.updates[this.length] = update;
    return this.length++;
  }
}

/** One selected float and its listed files. */
export interface FloatPlan {
  dac: Dac;
  wmo: string;
  /** Where its listed files are in `rows`: [start, end) pairs, in index order; see plannedFiles. */
  ranges: number[];
  rows: RowStore;
  /** How many rows list its files. */
  listed: number;
  /** A profile row matched the time window and box (always true without them). */
  matched: boolean;
  /** The float has rows in the synthetic index (so it has an Sprof file). */
  synthetic: boolean;
  /** Rows of this float that were refused: its file list may be incomplete. */
  refusedRows: number;
}

export interface Plan {
  floats: FloatPlan[];
  /** Requested float ids that no index lists. */
  unknownIds: string[];
  /** Requested float ids listed under a DAC that ARGO_DAC does not select, with that DAC. */
  otherDacIds: Map<string, string>;
  rows: number;
  refused: number;
  refusedByReason: Map<string, number>;
  /** Rows kept with an out-of-range date or position set to empty. */
  nulled: number;
  /** Selected floats left out of the plan whole, with the reason (e.g. listed under two DACs). */
  refusedFloats: { wmo: string; dacs: string[]; reason: string }[];
}

/** How many refused rows are logged one by one, per index file (the rest are counted). */
const LOGGED_REFUSALS = 20;

/** One listed file of a float. */
export interface PlannedFile {
  /** The part below the float folder (a valid name: built from an accepted row's file code). */
  rest: string;
  /** The index date_update, YYYYMMDDHHMISS as a number. */
  dateUpdate: number;
}

/**
 * A float's listed files: path below `dac/` -> its name below the float
 * folder and index date_update. A file listed twice keeps its newest
 * date_update.
 */
export function plannedFiles(fp: FloatPlan): Map<string, PlannedFile> {
  const out = new Map<string, PlannedFile>();
  const { codes, updates } = fp.rows;
  for (let r = 0; r < fp.ranges.length; r += 2) {
    for (let i = fp.ranges[r]; i < fp.ranges[r + 1]; i++) {
      const rest = fileRest(fp.wmo, codes[i]);
      const path = `${fp.dac}/${fp.wmo}/${rest}`;
      const seen = out.get(path);
      if (seen === undefined) out.set(path, { rest, dateUpdate: updates[i] });
      else if (updates[i] > seen.dateUpdate) seen.dateUpdate = updates[i];
    }
  }
  return out;
}

/** YYYYMMDDHHMISS (UTC) of a date string; `endOfDay` moves a bare date (2024-12-31) to 23:59:59. */
export function indexDate(value: string, endOfDay = false): number {
  let ms = Date.parse(value);
  if (endOfDay && /^\d{4}-\d{2}-\d{2}$/.test(value.trim())) ms += 86_399_000;
  return Number(new Date(ms).toISOString().replace(/[-:T]/g, "").slice(0, 14));
}

/** The selection a config asks for; `floatIds` and `shard` come from callers such as the scheduler. */
export function selectionFromConfig(config: Config, floatIds?: readonly string[], shard?: (wmo: string) => boolean): Selection {
  return {
    dacs: config.ARGO_DAC,
    floatIds: floatIds ?? config.FLOAT_IDS,
    dateFrom: config.SYNC_DATE_FROM ? indexDate(config.SYNC_DATE_FROM) : undefined,
    dateTo: config.SYNC_DATE_TO ? indexDate(config.SYNC_DATE_TO, true) : undefined,
    bbox: config.SYNC_BBOX,
    shard,
  };
}

/** Builds a Plan from index rows: give `visitor(kind)` to readIndex for each index file, then call finish(). */
export class Planner {
  private readonly floats = new Map<string, FloatPlan>();
  private readonly store = new RowStore();
  private readonly dacs: Set<string> | null;
  private readonly ids: Set<string> | null;
  private readonly seenIds = new Map<string, string>();
  private readonly filtered: boolean;
  /** The first DAC each WMO was listed under, over every index and whatever the selection. */
  private readonly dacOf = new Map<string, string>();
  /** WMOs listed under more than one DAC: their DACs, and where the second appeared. */
  private readonly conflicts = new Map<string, { dacs: Set<string>; index: string }>();
  /** Every WMO each index lists, selected or not (for the plausibility checks). */
  private readonly listedBy = new Map<IndexKind, Set<string>>();
  private rows = 0;
  private refused = 0;
  private nulled = 0;
  private readonly byReason = new Map<string, number>();

  constructor(private readonly sel: Selection, private readonly log?: Logger) {
    this.dacs = sel.dacs.length ? new Set(sel.dacs) : null;
    this.ids = sel.floatIds.length ? new Set(sel.floatIds) : null;
    this.filtered = sel.dateFrom !== undefined || sel.dateTo !== undefined || sel.bbox !== undefined;
  }

  /** What readIndex must parse for this selection. */
  get readOptions(): IndexReadOptions {
    return { dates: this.sel.dateFrom !== undefined || this.sel.dateTo !== undefined, positions: this.sel.bbox !== undefined };
  }

  visitor(kind: IndexKind): IndexVisitor<FloatPlan> {
    const from = this.sel.dateFrom ?? -Infinity;
    const to = this.sel.dateTo ?? Infinity;
    const hasWindow = this.sel.dateFrom !== undefined || this.sel.dateTo !== undefined;
    const box = this.sel.bbox;
    const profiles = kind !== "meta";
    const synthetic = kind === "synthetic";
    let logged = 0;
    let loggedNulls = 0;
    const listed = new Set<string>();
    this.listedBy.set(kind, listed);
    return {
      float: (dac, wmo) => {
        listed.add(wmo);
        const first = this.dacOf.get(wmo);
        if (first === undefined) this.dacOf.set(wmo, dac);
        else if (first !== dac) {
          // One WMO under two DACs: which copy is the float's is unknowable here, so neither is trusted.
          const c = this.conflicts.get(wmo) ?? { dacs: new Set([first]), index: INDEX_NAMES[kind] };
          c.dacs.add(dac);
          this.conflicts.set(wmo, c);
          return null;
        }
        if (this.ids) {
          if (!this.ids.has(wmo)) return null;
          this.seenIds.set(wmo, dac);
        }
        if (this.dacs && !this.dacs.has(dac)) return null;
        if (this.sel.shard && !this.sel.shard(wmo)) return null;
        let fp = this.floats.get(wmo);
        if (!fp) {
          fp = { dac, wmo, ranges: [], rows: this.store, listed: 0, matched: !this.filtered, synthetic: false, refusedRows: 0 };
          this.floats.set(wmo, fp);
        }
        if (synthetic) fp.synthetic = true;
        return fp;
      },
      row: (fp, code, v) => {
        this.rows++;
        const i = this.store.add(code, v[ROW_UPDATE]);
        const r = fp.ranges;
        if (r.length > 0 && r[r.length - 1] === i) r[r.length - 1] = i + 1;
        else r.push(i, i + 1);
        fp.listed++;
        if (fp.matched || !profiles) return;
        if (hasWindow && !(v[ROW_DATE] >= from && v[ROW_DATE] <= to)) return;
        const lat = v[ROW_LAT], lon = v[ROW_LON];
        if (box && !(lat >= box.latMin && lat <= box.latMax && lon >= box.lonMin && lon <= box.lonMax)) return;
        fp.matched = true;
      },
      refused: (reason, lineNo, text, fp) => {
        this.refused++;
        if (fp) fp.refusedRows++;
        const key = reason.replace(/ ".*$/, "");
        this.byReason.set(key, (this.byReason.get(key) ?? 0) + 1);
        if (logged++ < LOGGED_REFUSALS) this.log?.warn("index row refused", { index: INDEX_NAMES[kind], line: lineNo, reason, row: text });
      },
      nulled: (reason, lineNo, text) => {
        this.nulled++;
        if (loggedNulls++ < LOGGED_REFUSALS) this.log?.warn("index value out of range: set to empty", { index: INDEX_NAMES[kind], line: lineNo, reason, row: text });
      },
    };
  }

  /** Every WMO an index listed (selected or not); empty before that index is read. */
  listedIn(kind: IndexKind): ReadonlySet<string> {
    return this.listedBy.get(kind) ?? new Set();
  }

  finish(): Plan {
    const unknownIds: string[] = [];
    const otherDacIds = new Map<string, string>();
    for (const id of this.sel.floatIds) {
      const dac = this.seenIds.get(id);
      if (dac === undefined) unknownIds.push(id);
      else if (this.dacs && !this.dacs.has(dac)) otherDacIds.set(id, dac);
    }
    const refusedFloats: Plan["refusedFloats"] = [];
    for (const [wmo, c] of this.conflicts) {
      this.floats.delete(wmo);
      const dacs = [...c.dacs].sort();
      const selected = (!this.ids || this.ids.has(wmo)) && (!this.dacs || dacs.some((d) => this.dacs!.has(d))) && (!this.sel.shard || this.sel.shard(wmo));
      if (!selected) continue;
      refusedFloats.push({
        wmo,
        dacs,
        reason: `float ${wmo} refused: expected one DAC per float, found it listed under ${dacs.join(" and ")} (${c.index}); its files are not synced and none is removed until the index agrees`,
      });
    }
    const floats = [...this.floats.values()].filter((f) => f.matched);
    if (this.refused > 0) this.log?.warn("index rows refused", { refused: this.refused, by_reason: Object.fromEntries(this.byReason) });
    return {
      floats,
      unknownIds: [...new Set(unknownIds)].filter((id) => !this.conflicts.has(id)),
      otherDacIds,
      rows: this.rows,
      refused: this.refused,
      refusedByReason: this.byReason,
      nulled: this.nulled,
      refusedFloats,
    };
  }
}

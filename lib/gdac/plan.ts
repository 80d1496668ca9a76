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
}

/** How many refused rows are logged one by one, per index file (the rest are counted). */
const LOGGED_REFUSALS = 20;

/**
 * A float's listed files: path below `dac/` -> index date_update. A file
 * listed twice keeps its newest date_update.
 */
export function plannedFiles(fp: FloatPlan): Map<string, number> {
  const out = new Map<string, number>();
  const { codes, updates } = fp.rows;
  for (let r = 0; r < fp.ranges.length; r += 2) {
    for (let i = fp.ranges[r]; i < fp.ranges[r + 1]; i++) {
      const path = `${fp.dac}/${fp.wmo}/${fileRest(fp.wmo, codes[i])}`;
      out.set(path, Math.max(updates[i], out.get(path) ?? 0));
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
  private readonly conflicts = new Set<string>();
  private rows = 0;
  private refused = 0;
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
    return {
      float: (dac, wmo) => {
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
        } else if (fp.dac !== dac) {
          // One WMO under two DACs: keep the first, say so once.
          if (!this.conflicts.has(wmo)) this.log?.warn("float listed under two DACs: rows under the second are ignored", { wmo, dac: fp.dac, other_dac: dac });
          this.conflicts.add(wmo);
          return null;
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
    };
  }

  finish(): Plan {
    const unknownIds: string[] = [];
    const otherDacIds = new Map<string, string>();
    for (const id of this.sel.floatIds) {
      const dac = this.seenIds.get(id);
      if (dac === undefined) unknownIds.push(id);
      else if (this.dacs && !this.dacs.has(dac)) otherDacIds.set(id, dac);
    }
    const floats = [...this.floats.values()].filter((f) => f.matched);
    if (this.refused > 0) this.log?.warn("index rows refused", { refused: this.refused, by_reason: Object.fromEntries(this.byReason) });
    return { floats, unknownIds: [...new Set(unknownIds)], otherDacIds, rows: this.rows, refused: this.refused, refusedByReason: this.byReason };
  }
}

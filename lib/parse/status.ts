/**
 * What parse has done, for `deno task status`: each float's parse state and
 * every quarantined file. Job-run history is added by the scheduler's status.
 */
import type { LakeStore } from "../lake/store.ts";
import { listQuarantine, type QuarantineRecord } from "./quarantine.ts";
import { parseStateKey, STATE_PREFIX, stateDacPrefix } from "../lake/layout.ts";
import { type ParseState, ParseStateSchema } from "./state.ts";

/** The parse part of the lake's status. */
export interface ParseStatus {
  floats: Array<Pick<ParseState, "dac" | "wmo" | "parsed_at" | "profiles" | "measurement_rows"> & { files: number; outputs: number; quarantined: number }>;
  quarantine: QuarantineRecord[];
  totals: { floats: number; profiles: number; measurement_rows: number; parquet_files: number; quarantined: number };
}

/** Reads every parse state (or one DAC's) and every quarantine record. */
export async function parseStatus(store: LakeStore, opts: { dac?: string } = {}): Promise<ParseStatus> {
  const floats: ParseStatus["floats"] = [];
  for (const o of await store.list(opts.dac ? stateDacPrefix(opts.dac) : STATE_PREFIX)) {
    if (!parseStateKey(o.key)) continue;
    const bytes = await store.get(o.key);
    const s = bytes ? ParseStateSchema.safeParse(JSON.parse(new TextDecoder().decode(bytes))) : null;
    if (!s?.success) continue;
    const st = s.data;
    floats.push({
      dac: st.dac,
      wmo: st.wmo,
      parsed_at: st.parsed_at,
      profiles: st.profiles,
      measurement_rows: st.measurement_rows,
      files: Object.keys(st.inputs).length,
      outputs: st.outputs.length,
      quarantined: st.quarantined.length,
    });
  }
  const quarantine = await listQuarantine(store, opts.dac);
  return {
    floats,
    quarantine,
    totals: {
      floats: floats.length,
      profiles: floats.reduce((a, f) => a + f.profiles, 0),
      measurement_rows: floats.reduce((a, f) => a + f.measurement_rows, 0),
      parquet_files: floats.reduce((a, f) => a + f.outputs, 0),
      quarantined: quarantine.length,
    },
  };
}

/** The status as text lines for a terminal. */
export function formatParseStatus(s: ParseStatus): string {
  const lines = [
    `Parsed floats: ${s.totals.floats} (${s.totals.profiles} profiles, ${s.totals.measurement_rows} measurement rows, ${s.totals.parquet_files} Parquet files)`,
  ];
  if (s.floats.length) {
    lines.push("  dac       wmo      profiles      rows  files  quarantined  parsed at");
    for (const f of s.floats) {
      lines.push(
        `  ${f.dac.padEnd(9)} ${f.wmo.padEnd(7)} ${String(f.profiles).padStart(9)} ${String(f.measurement_rows).padStart(9)} ` +
          `${String(f.outputs).padStart(6)} ${String(f.quarantined).padStart(12)}  ${f.parsed_at}`,
      );
    }
  }
  lines.push(`Quarantined files: ${s.totals.quarantined}`);
  for (const q of s.quarantine) {
    lines.push(`  ${q.file}`, `    ${q.reason}${q.where ? ` (at ${q.where})` : ""}; since ${q.time}; sha256 ${q.sha256.slice(0, 12)}…, ${q.size} bytes`);
  }
  return lines.join("\n") + "\n";
}

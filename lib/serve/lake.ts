/**
 * Reads of the lake for the API: one cycle's levels through the lake's views
 * (lake/views.ts): `measurements` for expert mode, `measurements_standard`
 * and `measurements_research` for argopy's user modes.
 */
import type { LakeQuery } from "./backends.ts";
import type { MODES } from "./schemas.ts";

/** The view each user mode reads. */
export const MODE_VIEWS: Record<(typeof MODES)[number], string> = {
  expert: "measurements",
  standard: "measurements_standard",
  research: "measurements_research",
};

/**
 * A cycle's levels in a mode (every profile of the cycle, or one direction),
 * in profile and level order; null when the lake has no such cycle at all
 * (a mode may filter every level out of a cycle that exists: then []).
 */
export async function cycleLevels(
  lake: LakeQuery,
  wmo: string,
  cycle: number,
  mode: (typeof MODES)[number],
  direction?: "A" | "D",
): Promise<{ columns: string[]; levels: Record<string, unknown>[] } | null> {
  const dir = direction ? " AND direction = $3" : "";
  const params: (string | number)[] = direction ? [wmo, cycle, direction] : [wmo, cycle];
  const levels = await lake.all(
    `SELECT * FROM ${MODE_VIEWS[mode]} WHERE float_id = $1 AND cycle_number = $2${dir} ORDER BY direction, profile_index, level`,
    params,
  );
  if (levels.length === 0) {
    const known = await lake.all(`SELECT 1 FROM profiles WHERE float_id = $1 AND cycle_number = $2${dir} LIMIT 1`, params);
    if (known.length === 0) return null;
    const columns = (await lake.all(`SELECT column_name FROM (DESCRIBE ${MODE_VIEWS[mode]})`)).map((r) => String(r.column_name));
    return { columns, levels: [] };
  }
  return { columns: Object.keys(levels[0]!), levels };
}

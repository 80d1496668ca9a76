/**
 * Joining a core file with its B-file, and grouping profiles per float.
 *
 * A core file and the B-file of the same cycle share N_PROF order and PRES
 * values, so BGC parameters join the core ones at the same (profile, level).
 * When their PRES disagree the join would pair values measured at different
 * pressures: the cycle gets a ParseError instead.
 */
import { ParseError } from "../errors.ts";
import type { ParsedProfileFile, Profile } from "./schema.ts";

function sameValue(a: number, b: number): boolean {
  return a === b || (Number.isNaN(a) && Number.isNaN(b));
}

function show(v: number | undefined): string {
  return v === undefined || Number.isNaN(v) ? "fill" : String(v);
}

/**
 * First N_LEVELS index where the two profiles' raw PRES differ, or null when
 * they agree everywhere. Kept levels are those with a raw PRES, so a level
 * kept by one profile and not the other is a disagreement too.
 */
function firstPresMismatch(core: Profile, bgc: Profile): { level: number; core: number | undefined; bgc: number | undefined } | null {
  const corePres = core.parameters["PRES"]!.raw;
  const bgcPres = bgc.parameters["PRES"]!.raw;
  let i = 0;
  let j = 0;
  while (i < core.level.length || j < bgc.level.length) {
    const li = core.level[i] ?? Infinity;
    const lj = bgc.level[j] ?? Infinity;
    if (li === lj) {
      if (!sameValue(corePres[i]!, bgcPres[j]!)) return { level: li, core: corePres[i], bgc: bgcPres[j] };
      i++;
      j++;
    } else if (li < lj) {
      return { level: li, core: corePres[i], bgc: undefined };
    } else {
      return { level: lj, core: undefined, bgc: bgcPres[j] };
    }
  }
  return null;
}

/**
 * Merges a core file with the B-file of the same cycle: each core profile
 * gains the BGC parameters of the B profile at the same N_PROF index (the
 * B-file's PRES, only a copy of the core's, is dropped after checking).
 * Returns a ParseError when the files are not a core/B pair of one cycle or
 * their PRES disagree anywhere.
 */
export function mergeCoreAndBgc(core: ParsedProfileFile, bgc: ParsedProfileFile): ParsedProfileFile | ParseError {
  const file = bgc.sources[0]!.path;
  const fail = (message: string, where: string) => new ParseError(message, { file, floatId: core.floatId, where });
  if (core.fileType !== "core" || bgc.fileType !== "bgc") return fail(`expected a core and a B file, got ${core.fileType} and ${bgc.fileType}`, "file type");
  if (core.floatId !== bgc.floatId) return fail(`core file is float ${core.floatId}, B file is float ${bgc.floatId}`, "PLATFORM_NUMBER");
  if (core.profiles.length !== bgc.profiles.length) {
    return fail(`core file has ${core.profiles.length} profiles (N_PROF), B file ${bgc.profiles.length}`, "N_PROF");
  }

  const profiles: Profile[] = [];
  for (const [i, c] of core.profiles.entries()) {
    const b = bgc.profiles[i]!;
    if (c.cycleNumber !== b.cycleNumber || c.direction !== b.direction) {
      return fail(`profile ${i} is cycle ${c.cycleNumber}${c.direction} in the core file, ${b.cycleNumber}${b.direction} in the B file`, `profile ${i}`);
    }
    const mismatch = firstPresMismatch(c, b);
    if (mismatch !== null) {
      return fail(
        `PRES differs between core and B file in cycle ${c.cycleNumber}${c.direction}, profile ${i}, level ${mismatch.level}: ` +
          `core ${show(mismatch.core)} dbar, B ${show(mismatch.bgc)} dbar`,
        `PRES[${i}, ${mismatch.level}]`,
      );
    }
    const parameters = { ...c.parameters };
    for (const [name, p] of Object.entries(b.parameters)) {
      if (name === "PRES") continue;
      if (name in parameters) return fail(`parameter ${name} is in both the core and the B file`, `profile ${i}: ${name}`);
      parameters[name] = p;
    }
    profiles.push({ ...c, parameters, sources: [...c.sources, ...b.sources] });
  }

  return {
    kind: "profile",
    fileType: "core+bgc",
    floatId: core.floatId,
    sources: [...core.sources, ...bgc.sources],
    parameters: [...core.parameters, ...bgc.parameters.filter((p) => p.name !== "PRES")],
    omittedParameters: [...core.omittedParameters, ...bgc.omittedParameters],
    profiles,
  };
}

/** The (float, cycle, direction) a single-cycle file holds, or null for a multi-cycle file. */
function cycleKey(file: ParsedProfileFile): string | null {
  const first = file.profiles[0];
  if (first === undefined) return null;
  const single = file.profiles.every((p) => p.cycleNumber === first.cycleNumber && p.direction === first.direction);
  return single ? `${file.floatId}/${first.cycleNumber}/${first.direction}` : null;
}

/**
 * Pairs each core file with the B-file of the same float, cycle and direction
 * and merges them; other files (S-files, multi-cycle files, unpaired core or
 * B files) pass through unchanged. A pair that fails to merge becomes its
 * ParseError, in place of the core file.
 */
export function mergeCycleFiles(files: readonly ParsedProfileFile[]): Array<ParsedProfileFile | ParseError> {
  const bgcByCycle = new Map<string, ParsedProfileFile>();
  for (const f of files) {
    const key = cycleKey(f);
    if (f.fileType === "bgc" && key !== null) bgcByCycle.set(key, f);
  }
  const paired = new Set<ParsedProfileFile>();
  const out: Array<ParsedProfileFile | ParseError> = [];
  for (const f of files) {
    const key = cycleKey(f);
    const bgc = f.fileType === "core" && key !== null ? bgcByCycle.get(key) : undefined;
    if (bgc === undefined) continue;
    paired.add(bgc);
    paired.add(f);
    out.push(mergeCoreAndBgc(f, bgc));
  }
  return [...out, ...files.filter((f) => !paired.has(f))];
}

/** Descent comes before ascent within a cycle. */
const DIRECTION_ORDER = { D: 0, A: 1 } as const;

/** Profiles by float id, each float's sorted by cycle, direction (D first) and profile index. */
export function groupByFloat(files: readonly ParsedProfileFile[]): Map<string, Profile[]> {
  const byFloat = new Map<string, Profile[]>();
  for (const f of files) {
    for (const p of f.profiles) {
      const list = byFloat.get(p.floatId) ?? [];
      list.push(p);
      byFloat.set(p.floatId, list);
    }
  }
  for (const list of byFloat.values()) {
    list.sort((a, b) => a.cycleNumber - b.cycleNumber || DIRECTION_ORDER[a.direction] - DIRECTION_ORDER[b.direction] || a.profileIndex - b.profileIndex);
  }
  return byFloat;
}

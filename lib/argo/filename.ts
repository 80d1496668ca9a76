/**
 * The Argo file-name grammar (../shared/ARGO.md "Where the data lives"): the
 * one place that knows how GDAC files below a float folder `dac/<dac>/<wmo>/`
 * are named. The index reader, the GDAC path checks and the parse roles all
 * read names through it.
 *
 *   profiles/<R|D|BR|BD|SR|SD><wmo>_<ccc[c]>[D].nc   one cycle: core, B-file, S-file;
 *                                                    R real time, D delayed mode;
 *                                                    3 digits, 4 above 999; trailing D descending
 *   <wmo>_meta.nc, <wmo>_prof.nc, <wmo>_Sprof.nc     per float: meta-data, all core / synthetic profiles
 *   <wmo>_tech.nc, <wmo>_{R,D}traj.nc, <wmo>_{BR,BD}traj.nc   per float: technical and trajectory files
 */

/** Single-cycle profile file prefixes, in a fixed order (the index reader numbers them by it). */
export const PROFILE_PREFIXES = ["R", "D", "BR", "BD", "SR", "SD"] as const;
export type ProfilePrefix = (typeof PROFILE_PREFIXES)[number];

/** The folder below the float folder that holds the single-cycle files. */
export const PROFILES_DIR = "profiles/";

/** Cycle numbers are written with 3 digits, 4 above 999. */
export const CYCLE_WIDTHS = [3, 4] as const;

/** True when a cycle's digits ("001", "1000") have the width the GDAC writes: 3 digits below cycle 1000, 4 from 1000. */
export const cycleWidthOk = (digits: string): boolean => (digits.length === 4) === (Number(digits) >= 1000);

/** The mark before `.nc` of a descending profile. */
export const DESCENDING_MARK = "D";

/** Per-float files (outside profiles/): `<wmo>_<suffix>.nc`. */
export const FLOAT_FILE_SUFFIXES = ["meta", "prof", "Sprof", "tech", "Rtraj", "Dtraj", "BRtraj", "BDtraj"] as const;
export type FloatFileSuffix = (typeof FLOAT_FILE_SUFFIXES)[number];

/**
 * What a file is: which index lists it (core, bio, synthetic, meta) or, for
 * the files no index lists, its own kind (prof, Sprof, tech, traj).
 */
export type FileKind = "core" | "bio" | "synthetic" | "meta" | "prof" | "Sprof" | "tech" | "traj";

/** A parsed file name below a float folder. */
export interface ArgoFileName {
  kind: FileKind;
  /** The WMO the name carries (check it against the folder's). */
  wmo: string;
  /** Single-cycle files: prefix, data mode, cycle, and its key as written ("001", "001D", "1000"). */
  prefix: ProfilePrefix | null;
  mode: "R" | "D" | null;
  cycle: number | null;
  /** The cycle's digits as written ("001", "1000"). */
  cycleDigits: string | null;
  cycleKey: string | null;
  descending: boolean;
}

const profileRe = /^profiles\/([BS]?)([RD])(\d{5}|\d{7})_(\d{3,4})(D?)\.nc$/;
const floatFileRe = new RegExp(`^(\\d{5}|\\d{7})_(${FLOAT_FILE_SUFFIXES.join("|")})\\.nc$`);
const PROFILE_KIND: Record<string, FileKind> = { "": "core", B: "bio", S: "synthetic" };
const FLOAT_FILE_KIND: Record<FloatFileSuffix, FileKind> = {
  meta: "meta",
  prof: "prof",
  Sprof: "Sprof",
  tech: "tech",
  Rtraj: "traj",
  Dtraj: "traj",
  BRtraj: "traj",
  BDtraj: "traj",
};

/** The grammar in one line, for messages. */
export const FILE_NAME_GRAMMAR = "profiles/<R|D|BR|BD|SR|SD><wmo>_<ccc[c]>[D].nc or <wmo>_<meta|prof|Sprof>.nc";

/** Parses a name below a float folder (e.g. "profiles/BR6903247_001D.nc", "6903247_meta.nc"); null when it is not an Argo file name. */
export function parseFileName(rest: string): ArgoFileName | null {
  const p = profileRe.exec(rest);
  if (p) {
    const [, lead, mode, wmo, digits, desc] = p;
    return {
      kind: PROFILE_KIND[lead]!,
      wmo: wmo!,
      prefix: `${lead}${mode}` as ProfilePrefix,
      mode: mode as "R" | "D",
      cycle: parseInt(digits!, 10),
      cycleDigits: digits!,
      cycleKey: digits! + desc!,
      descending: desc === DESCENDING_MARK,
    };
  }
  const f = floatFileRe.exec(rest);
  if (!f) return null;
  return { kind: FLOAT_FILE_KIND[f[2] as FloatFileSuffix], wmo: f[1]!, prefix: null, mode: null, cycle: null, cycleDigits: null, cycleKey: null, descending: false };
}

/** The name of a single-cycle file, e.g. profileFileName("BR", "6903247", 1, 3, true) = "profiles/BR6903247_001D.nc". */
export function profileFileName(prefix: ProfilePrefix, wmo: string, cycle: number, width: number, descending: boolean): string {
  return `${PROFILES_DIR}${prefix}${wmo}_${String(cycle).padStart(width, "0")}${descending ? DESCENDING_MARK : ""}.nc`;
}

/** The name of a per-float file, e.g. floatFileName("6903247", "meta") = "6903247_meta.nc". */
export const floatFileName = (wmo: string, suffix: FloatFileSuffix): string => `${wmo}_${suffix}.nc`;

/** The tail of a per-float file name after the WMO, e.g. "_meta.nc" (for byte-level matching). */
export const floatFileTail = (suffix: FloatFileSuffix): string => `_${suffix}.nc`;

/** The file name of a name below the float folder ("profiles/R13857_001.nc" -> "R13857_001.nc"). */
export const baseName = (rest: string): string => rest.slice(rest.lastIndexOf("/") + 1);

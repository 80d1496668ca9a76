/**
 * GDAC file paths (relative to `dac/`), checked before they reach a URL or a
 * lake key. They come from index files fetched over the network, so only the
 * shapes the GDAC really uses pass:
 *
 *   <dac>/<wmo>/profiles/<R|D|BR|BD|SR|SD><wmo>_<ccc[c]>[D].nc
 *   <dac>/<wmo>/<wmo>_<meta|prof|Sprof>.nc
 *
 * with a known DAC, a 5- or 7-digit WMO, and the same WMO in folder and name
 * (the names themselves: lib/argo/filename.ts).
 * Nothing else (no "..", no "%", no absolute path) can match.
 */
import { type Dac, isDac } from "../argo/ids.ts";
import { FILE_NAME_GRAMMAR, type FileKind, parseFileName } from "../argo/filename.ts";
import { SyncError } from "../errors.ts";

/** What a valid path is made of. */
export interface GdacPath {
  dac: Dac;
  wmo: string;
  /** The part below the float folder, e.g. "profiles/R13857_001.nc" or "13857_meta.nc". */
  rest: string;
}

/** The kinds of file sync fetches (tech and trajectory files are not synced yet). */
export type SyncedKind = Exclude<FileKind, "tech" | "traj">;
const SYNCED_KINDS: ReadonlySet<FileKind> = new Set<SyncedKind>(["core", "bio", "synthetic", "meta", "prof", "Sprof"]);

/** Parses a GDAC path; null when it is not one of the accepted shapes. */
export function parseGdacPath(path: string): GdacPath | null {
  const m = /^([a-z]{3,8})\/(\d{5}|\d{7})\/(.+)$/.exec(path);
  if (!m) return null;
  const [, dac, wmo, rest] = m;
  const name = parseFileName(rest);
  if (!isDac(dac) || !name || !SYNCED_KINDS.has(name.kind) || name.wmo !== wmo) return null;
  return { dac, wmo, rest };
}

/** Like parseGdacPath, but throws a SyncError that says what is wrong. */
export function checkGdacPath(path: string): GdacPath {
  const p = parseGdacPath(path);
  if (!p) throw new SyncError(`refused GDAC path ${JSON.stringify(path.slice(0, 200))}: ${whyBadPath(path)}`, { file: path.slice(0, 200) });
  return p;
}

/** The kind of file a (valid) path names. */
export function fileKindOf(rest: string): SyncedKind {
  return parseFileName(rest)!.kind as SyncedKind;
}

/** A one-line reason why a path is refused, for logs (only called on refused paths). */
export function whyBadPath(path: string): string {
  if (path === "") return "empty path";
  if (path.startsWith("/") || /^[a-z]:[\\/]/i.test(path)) return "absolute path";
  if (/%[0-9a-f]{2}/i.test(path)) return "percent-encoded characters (possible encoded traversal)";
  if (path.includes("\\")) return "backslash in path";
  if (path.split("/").some((s) => s === ".." || s === ".")) return "path traversal ('..' or '.' segment)";
  if ([...path].some((c) => c.charCodeAt(0) < 32 || c.charCodeAt(0) === 127)) return "control character in path";
  const [dac, wmo] = path.split("/");
  if (!isDac(dac ?? "")) return `unknown DAC ${JSON.stringify((dac ?? "").slice(0, 40))}`;
  if (!/^(\d{5}|\d{7})$/.test(wmo ?? "")) return `malformed WMO ${JSON.stringify((wmo ?? "").slice(0, 40))} (expected 5 or 7 digits)`;
  return `file name does not match ${FILE_NAME_GRAMMAR} for that float`;
}

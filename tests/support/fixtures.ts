/**
 * Where the shared GDAC fixtures are, what their MANIFEST.tsv says about each
 * file, and throw-away temporary directories. Fixtures are read in place,
 * never copied into the repository.
 */
import { mkdtemp, rm } from "node:fs/promises";
import { readdirSync, readFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, relative, resolve, sep } from "node:path";
import { fileURLToPath } from "node:url";

/** The repository root (tests/support is two levels below it). */
export const repoRoot: string = fileURLToPath(new URL("../..", import.meta.url)).replace(/\/$/, "");

/** The small GDAC mirror whose files all have rows in its index excerpts. */
export const fixturesDir: string = resolve(repoRoot, "..", "shared", "fixtures", "gdac");

/** More real files, in the same dac/<dac>/<wmo>/profiles layout, that no index lists. */
export const extraFixturesDir: string = resolve(repoRoot, "..", "shared", "fixtures", "gdac_extra");

/** One row of a fixtures MANIFEST.tsv ("-" columns become null). */
export interface ManifestRow {
  /** Path below the fixtures directory, "/"-separated, e.g. dac/aoml/13857/13857_meta.nc. */
  path: string;
  /** Absolute path of the file. */
  file: string;
  size: number;
  sha256: string;
  /** owner/repo@commit:path it was copied from. */
  source: string;
  /** DAC folder name for files under dac/, null for index excerpts. */
  dac: string | null;
  wmo: string | null;
  /** As written, e.g. "1", "1-140 (140 distinct)". */
  cycles: string | null;
  /** As written, e.g. "DATA_MODE=R" or "PARAMETER_DATA_MODE=DDDR". */
  dataMode: string | null;
  parameters: string[];
  /** NETCDF3_CLASSIC, NETCDF4_CLASSIC or a text description for index excerpts. */
  netcdfFormat: string;
  /** "Argo profile", "Argo meta-data", ... */
  dataType: string | null;
  formatVersion: string | null;
  nProf: number | null;
  nLevels: number | null;
  /** A (ascending) or D (descending). */
  direction: string | null;
  /** DATE_UPDATE as YYYYMMDDHHMISS. */
  dateUpdate: string | null;
}

const columns = [
  "path", "bytes", "sha256", "source", "wmo", "cycles", "data_mode", "parameters", "netcdf_format",
  "data_type", "format_version", "n_prof", "n_levels", "direction", "date_update",
] as const;

/** Reads `<dir>/MANIFEST.tsv`; throws if its header is not the one this reader knows. */
export function readManifest(dir: string = fixturesDir): ManifestRow[] {
  const lines = readFileSync(join(dir, "MANIFEST.tsv"), "utf8").split("\n").filter((l) => l.trim() !== "");
  const header = lines[0].split("\t");
  if (header.join("\t") !== columns.join("\t")) {
    throw new Error(`unexpected MANIFEST.tsv header in ${dir}: ${header.join(", ")}`);
  }
  return lines.slice(1).map((line) => {
    const cells = line.split("\t");
    const v = (name: (typeof columns)[number]): string | null => {
      const c = cells[columns.indexOf(name)];
      return c === undefined || c === "-" || c === "" ? null : c;
    };
    const num = (name: (typeof columns)[number]): number | null => {
      const c = v(name);
      return c === null ? null : Number(c);
    };
    const path = cells[0];
    return {
      path,
      file: join(dir, ...path.split("/")),
      size: Number(v("bytes")),
      sha256: v("sha256")!,
      source: v("source")!,
      dac: /^dac\/([^/]+)\//.exec(path)?.[1] ?? null,
      wmo: v("wmo"),
      cycles: v("cycles"),
      dataMode: v("data_mode"),
      parameters: v("parameters")?.split(" ") ?? [],
      netcdfFormat: v("netcdf_format")!,
      dataType: v("data_type"),
      formatVersion: v("format_version"),
      nProf: num("n_prof"),
      nLevels: num("n_levels"),
      direction: v("direction"),
      dateUpdate: v("date_update"),
    };
  });
}

/** Every `.nc` file below `dir`, as sorted "/"-separated paths relative to `dir`. */
export function listNcFiles(dir: string = fixturesDir): string[] {
  return (readdirSync(dir, { recursive: true, withFileTypes: true }))
    .filter((e) => e.isFile() && e.name.endsWith(".nc"))
    .map((e) => relative(dir, join(e.parentPath, e.name)).split(sep).join("/"))
    .sort();
}

/** A fresh temporary directory and the function that removes it. */
export interface TempDir {
  path: string;
  cleanup(): Promise<void>;
}

/** Creates an empty directory under the OS temp dir, named `argo-lake-<prefix>-XXXXXX`. */
export async function tempDir(prefix = "test"): Promise<TempDir> {
  const path = await mkdtemp(join(tmpdir(), `argo-lake-${prefix}-`));
  return { path, cleanup: () => rm(path, { recursive: true, force: true }) };
}

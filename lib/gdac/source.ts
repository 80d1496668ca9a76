/**
 * Where GDAC files come from. One interface (as argopy's data fetchers have
 * one prototype) with three implementations: HTTPS (source-https.ts), a local
 * directory holding a GDAC copy (source-local.ts), and an S3 copy such as
 * s3://argo-gdac-sandbox/pub (source-s3.ts). `openGdacSource` in sources.ts
 * picks one from GDAC_BASE_URL.
 */
import type { Conditional, GetResult, RemoteStat } from "../http.ts";
import { SyncError } from "../errors.ts";
import { INDEX_NAMES } from "./index-file.ts";

export interface FetchOptions {
  /** Validators of the copy we hold: the answer may be not_modified. */
  conditional?: Conditional;
  signal?: AbortSignal;
}

export interface GdacSource {
  /** Where files come from, safe to print. */
  readonly description: string;
  /**
   * Fetches an index file by name (e.g. "ar_index_global_prof.txt.gz"). A
   * `.gz` body must start with the gzip magic.
   */
  fetchIndex(name: string, opts?: FetchOptions): Promise<GetResult>;
  /**
   * Fetches a data file by its path below `dac/` (checked first). The body is
   * complete and starts with a NetCDF or HDF5 signature, or this fails.
   */
  fetchFile(path: string, opts?: FetchOptions): Promise<GetResult>;
  /** Size, ETag and Last-Modified of a data file; null when there is none. */
  stat(path: string, signal?: AbortSignal): Promise<RemoteStat | null>;
  /** Retries made so far. */
  retries(): number;
  close(): Promise<void>;
}

const signatures: { name: string; bytes: number[] }[] = [
  { name: "NetCDF classic", bytes: [0x43, 0x44, 0x46, 0x01] },
  { name: "NetCDF 64-bit offset", bytes: [0x43, 0x44, 0x46, 0x02] },
  { name: "HDF5 (NetCDF-4)", bytes: [0x89, 0x48, 0x44, 0x46, 0x0d, 0x0a, 0x1a, 0x0a] },
];

/** Why a body is not a NetCDF file (null when it starts with CDF\x01, CDF\x02 or the HDF5 signature). */
export function netcdfProblem(body: Uint8Array): string | null {
  if (signatures.some((s) => s.bytes.every((b, i) => body[i] === b))) return null;
  const head = Array.from(body.subarray(0, 8), (b) => b.toString(16).padStart(2, "0")).join(" ");
  return `not a NetCDF/HDF5 file (${body.byteLength} bytes starting ${head || "with nothing"})`;
}

/** Why a body is not gzip data (null when it starts with 1f 8b). */
export function gzipProblem(body: Uint8Array): string | null {
  return body[0] === 0x1f && body[1] === 0x8b ? null : "not gzip data";
}

/** Checks an index file name (one of the four, optionally .gz) before it reaches a URL or key. */
export function checkIndexName(name: string): { gz: boolean } {
  const gz = name.endsWith(".gz");
  const base = gz ? name.slice(0, -3) : name;
  if (!(Object.values(INDEX_NAMES) as string[]).includes(base)) throw new SyncError(`unknown index file ${JSON.stringify(name)}`);
  return { gz };
}

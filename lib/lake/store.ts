/**
 * The lake's storage: one small interface, implemented for a local directory
 * and for an S3 prefix. Every job reads and writes the lake through it.
 * Writes are whole and atomic: a reader sees the old object or the new one,
 * never a part.
 */
import { LakeError } from "../errors.ts";

/** One stored object. */
export interface LakeObject {
  /** Key relative to the lake root, with "/" separators. */
  key: string;
  size: number;
  modified: Date;
  /** The S3 ETag (the MD5 of the bytes for a single-part put); absent on a local lake. */
  etag?: string;
}

export interface LakeStore {
  /** Where the lake is, safe to print (no credentials). */
  readonly description: string;
  /** The root directory when the lake is local, so DuckDB can read files in place. */
  readonly localRoot?: string;
  /** The object's bytes, or null when there is none. */
  get(key: string): Promise<Uint8Array | null>;
  /** Stores bytes whole and atomically, replacing any object at that key. */
  put(key: string, body: Uint8Array): Promise<void>;
  /** Stores the bytes of a local file whole and atomically. */
  putFile(key: string, path: string): Promise<void>;
  /**
   * Stores a local file whole and atomically and removes it: one rename on a
   * local lake on the same file system (no copy), else putFile, then removal.
   */
  moveIn(key: string, path: string): Promise<void>;
  stat(key: string): Promise<LakeObject | null>;
  /** Every object whose key starts with `prefix` (a folder ends with "/"), sorted by key. */
  list(prefix: string): Promise<LakeObject[]>;
  /** Removes an object; removing a missing one is not an error. */
  delete(key: string): Promise<void>;
  /** Moves an object to a new key (the removed/ zone uses it). */
  move(from: string, to: string): Promise<void>;
  /** Releases connections. */
  close(): Promise<void>;
}

/**
 * Checks that a key stays inside the lake: relative, "/"-separated, with no
 * empty, "." or ".." segment, no backslash or NUL. Keys are built from index
 * rows that come from the network, so this is the last guard.
 */
export function checkKey(key: string): string {
  const bad = key === "" || key.startsWith("/") || key.includes("\\") || key.includes("\0") ||
    key.split("/").some((s) => s === "" || s === "." || s === "..");
  if (bad) throw new LakeError(`refused lake key ${JSON.stringify(key)}: expected a relative path with no empty, "." or ".." parts`, { file: key });
  return key;
}

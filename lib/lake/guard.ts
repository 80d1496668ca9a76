/**
 * Whether the lake exists: a mistyped path or an unmounted volume must never
 * read as "the lake is empty" (0 floats, exit 0), and nothing may be written
 * there (a write would make it). A local lake is a directory that exists (the
 * default lake, data/lake in the repository, is made on first use by
 * lib/lake/open.ts); an S3 lake whose bucket is missing fails on its first
 * request. Every stage refuses a missing lake through assertLakeExists
 * (lib/removal-guard.ts), status too.
 */
import { existsSync, statSync } from "node:fs";
import type { LakeStore } from "./store.ts";

/** False when the lake is a local directory that does not exist. */
export function lakeExists(store: LakeStore): boolean {
  const root = store.localRoot;
  return root === undefined || (existsSync(root) && statSync(root).isDirectory());
}

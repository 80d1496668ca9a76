/** Opens the lake named by LAKE_URL. */
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import { mkdirSync } from "node:fs";
import { type Config, defaultLakeUrl } from "../config.ts";
import { makeS3Client, parseS3Url } from "../s3.ts";
import { LocalLakeStore } from "./local.ts";
import { S3LakeStore } from "./s3.ts";
import type { LakeStore } from "./store.ts";

/** The lake store for a config: S3 for s3:// URLs, a local directory otherwise. */
export function openLake(config: Config): LakeStore {
  const url = config.LAKE_URL;
  if (url.startsWith("s3://")) {
    const { bucket, prefix } = parseS3Url(url);
    return new S3LakeStore(makeS3Client(config), bucket, prefix);
  }
  const root = resolve(url.startsWith("file://") ? fileURLToPath(url) : url);
  // The default lake (data/lake in the repository) is made on first use; a lake named by LAKE_URL must exist (lib/lake/guard.ts).
  if (url === defaultLakeUrl) mkdirSync(root, { recursive: true });
  return new LocalLakeStore(root);
}

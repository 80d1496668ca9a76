/** Picks the GDAC source named by GDAC_BASE_URL: https://, s3:// or a local directory. */
import { resolve } from "node:path";
import { fileURLToPath } from "node:url";
import type { Config } from "../config.ts";
import { ConfigError } from "../errors.ts";
import { redactUrl } from "../log.ts";
import { makeS3Client, parseS3Url } from "../s3.ts";
import type { GdacSource } from "./source.ts";
import { HttpsGdacSource } from "./source-https.ts";
import { LocalGdacSource } from "./source-local.ts";
import { S3GdacSource } from "./source-s3.ts";

/** The AWS Open Data copy of the GDAC lives in this region. */
const OPEN_DATA_BUCKET = "argo-gdac-sandbox";
const OPEN_DATA_REGION = "eu-west-3";

/**
 * Opens the configured GDAC source. http:// and ftp:// are refused (the config
 * refuses them too; this guards callers that build a Config by hand).
 */
export function openGdacSource(config: Config): GdacSource {
  const url = config.GDAC_BASE_URL;
  const common = {
    timeoutMs: config.HTTP_TIMEOUT * 1000,
    deadlineMs: config.HTTP_DEADLINE * 1000,
    maxRetries: config.HTTP_MAX_RETRIES,
    retryDelayMs: config.HTTP_RETRY_DELAY * 1000,
    concurrency: config.HTTP_CONCURRENCY,
    maxBytes: config.HTTP_MAX_BYTES,
  };
  if (/^https:\/\//i.test(url)) return new HttpsGdacSource(url, { ...common, caFile: config.GDAC_CA_FILE });
  if (/^s3:\/\//i.test(url)) {
    const { bucket, prefix } = parseS3Url(url);
    const region = bucket === OPEN_DATA_BUCKET && !config.S3_ENDPOINT ? OPEN_DATA_REGION : config.S3_REGION;
    // Our retry loop is the only one (HTTP_MAX_RETRIES), so the SDK makes one attempt per call.
    const client = makeS3Client({ ...config, HTTP_MAX_RETRIES: 0 }, { anonymous: true, region });
    return new S3GdacSource(client, bucket, prefix, common);
  }
  if (/^file:\/\//i.test(url)) return new LocalGdacSource(fileURLToPath(url), config.HTTP_MAX_BYTES);
  if (/^[a-z][a-z0-9+.-]*:\/\//i.test(url)) {
    throw new ConfigError(`GDAC_BASE_URL=${JSON.stringify(redactUrl(url))}: only https://, s3:// or a local directory are accepted (HTTPS only)`);
  }
  return new LocalGdacSource(resolve(url), config.HTTP_MAX_BYTES);
}

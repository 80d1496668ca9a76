/** One way to build an S3 client, for the lake and for the GDAC's S3 copy. */
import { S3Client, type S3ClientConfig } from "@aws-sdk/client-s3";
import process from "node:process";
import type { Config } from "./config.ts";

/** Splits s3://bucket/prefix into its bucket and key prefix (no leading or trailing "/"). */
export function parseS3Url(url: string): { bucket: string; prefix: string } {
  const m = /^s3:\/\/([^/]+)\/?(.*)$/.exec(url);
  if (!m) throw new Error(`not an s3:// URL: ${url}`);
  return { bucket: m[1], prefix: m[2].replace(/^\/+|\/+$/g, "") };
}

/**
 * An S3 client from the config. `anonymous` signs nothing (the AWS Open Data
 * GDAC copy is public). The SDK retries 5xx and SlowDown itself, with backoff.
 */
export function makeS3Client(config: Config, opts: { anonymous?: boolean; region?: string } = {}): S3Client {
  // Otherwise the SDK writes a multi-line "NodeVersionSupportWarning" (Node < 22)
  // to stderr, in the middle of the JSON log lines; Node 20 is a supported runtime here.
  process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= "true";
  return new S3Client({
    region: opts.region ?? config.S3_REGION,
    endpoint: config.S3_ENDPOINT,
    forcePathStyle: config.S3_FORCE_PATH_STYLE,
    maxAttempts: config.HTTP_MAX_RETRIES + 1,
    // Content-MD5 is the checksum every S3 implementation checks; the SDK's
    // default aws-chunked CRC trailers are not understood by all of them.
    requestChecksumCalculation: "WHEN_REQUIRED",
    responseChecksumValidation: "WHEN_REQUIRED",
    ...(opts.anonymous ? { signer: { sign: async (req: unknown) => req } } : {}),
  } as S3ClientConfig);
}

/**
 * The S3 test bed itself: s3rver speaks to @aws-sdk/client-s3 as configured
 * by lib/s3.ts (puts, gets, list, copy, delete, HEAD), refuses a body that
 * does not match its Content-MD5 as S3 does, and the fault proxy produces
 * errors the SDK sees and retries.
 */
import { createHash } from "node:crypto";
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  S3Client,
} from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { startS3, type TestS3 } from "./s3.ts";

const md5 = (b: Uint8Array | string) => createHash("md5").update(b).digest("base64");
const bytes = (s: string) => new TextEncoder().encode(s);

describe("s3rver through the SDK with the jobs' client settings", () => {
  let s3: TestS3;
  beforeAll(async () => {
    s3 = await startS3({ bucket: "s3-support-test" });
  });
  afterAll(async () => {
    await s3?.stop();
  });

  it("serves only loopback and gives a job the environment it needs", () => {
    expect(s3.endpoint).toMatch(/^http:\/\/127\.0\.0\.1:\d+$/);
    expect(s3.faults).toBeNull();
    expect(s3.env).toEqual({
      S3_ENDPOINT: s3.endpoint,
      S3_FORCE_PATH_STYLE: "true",
      S3_REGION: "us-east-1",
      AWS_ACCESS_KEY_ID: "S3RVER",
      AWS_SECRET_ACCESS_KEY: "S3RVER",
    });
    expect(s3.url("lake/x")).toBe("s3://s3-support-test/lake/x");
    expect(s3.url()).toBe("s3://s3-support-test");
  });

  it("round-trips put, get, HEAD, list, copy and delete, keys with = and spaces included", async () => {
    const { client, bucket } = s3;
    const body = bytes("profile bytes ".repeat(1000));
    const key = "raw/dac=aoml/wmo=13857/profiles/R13857_001 copy.nc";
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: body, ContentLength: body.byteLength, ContentMD5: md5(body) }));
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    expect(Buffer.from(await got.Body!.transformToByteArray()).equals(Buffer.from(body))).toBe(true);
    const head = await client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }));
    expect(head.ContentLength).toBe(body.byteLength);
    expect(head.ETag).toBe(`"${createHash("md5").update(body).digest("hex")}"`);

    const copy = "removed/dac=aoml/wmo=13857/R13857_001 copy.nc";
    await client.send(new CopyObjectCommand({
      Bucket: bucket,
      Key: copy,
      CopySource: `${bucket}/${key.split("/").map(encodeURIComponent).join("/")}`,
    }));
    const list = await client.send(new ListObjectsV2Command({ Bucket: bucket, Prefix: "re" }));
    expect(list.Contents?.map((o) => [o.Key, o.Size])).toEqual([[copy, body.byteLength]]);

    await client.send(new DeleteObjectCommand({ Bucket: bucket, Key: key }));
    await expect(client.send(new HeadObjectCommand({ Bucket: bucket, Key: key }))).rejects.toMatchObject({
      name: "NotFound",
      $metadata: { httpStatusCode: 404 },
    });
    await expect(client.send(new GetObjectCommand({ Bucket: bucket, Key: key }))).rejects.toMatchObject({ name: "NoSuchKey" });
  });

  it("refuses a body that does not match its Content-MD5 and keeps the old object", async () => {
    const { client, bucket } = s3;
    const key = "md5/object.json";
    await client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes("old"), ContentMD5: md5("old") }));
    await expect(client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes("new!"), ContentMD5: md5("other") })))
      .rejects.toMatchObject({ name: "BadDigest", $metadata: { httpStatusCode: 400 } });
    await expect(client.send(new PutObjectCommand({ Bucket: bucket, Key: key, Body: bytes("new!"), ContentMD5: "bm90LW1kNQ==" })))
      .rejects.toMatchObject({ name: "InvalidDigest", $metadata: { httpStatusCode: 400 } });
    const got = await client.send(new GetObjectCommand({ Bucket: bucket, Key: key }));
    expect(await got.Body!.transformToString()).toBe("old");
  });

  // s3rver does not check SigV4 signatures, only that the access key id is known.
  it("refuses an unknown access key id", async () => {
    const stranger = new S3Client({
      endpoint: s3.endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      maxAttempts: 1,
      credentials: { accessKeyId: "AKIDSTRANGER", secretAccessKey: "S3RVER" },
    });
    try {
      await expect(stranger.send(new GetObjectCommand({ Bucket: s3.bucket, Key: "md5/object.json" })))
        .rejects.toMatchObject({ name: "InvalidAccessKeyId", $metadata: { httpStatusCode: 403 } });
    } finally {
      stranger.destroy();
    }
  });
});

describe("the fault proxy", () => {
  let s3: TestS3 & { faults: NonNullable<TestS3["faults"]> };
  beforeAll(async () => {
    s3 = await startS3({ faults: true });
  });
  afterAll(async () => {
    await s3?.stop();
  });

  /** A client that tries `attempts` times, without the SDK's backoff slowing the test down. */
  const clientWith = (attempts: number) =>
    new S3Client({
      endpoint: s3.endpoint,
      region: "us-east-1",
      forcePathStyle: true,
      maxAttempts: attempts,
      credentials: { accessKeyId: "S3RVER", secretAccessKey: "S3RVER" },
      requestChecksumCalculation: "WHEN_REQUIRED",
    });

  it("sits between the client and s3rver", async () => {
    expect(s3.endpoint).not.toBe(s3.directEndpoint);
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "k", Body: bytes("v"), ContentMD5: md5("v") }));
    expect(s3.faults.requests.at(-1)).toEqual({ method: "PUT", url: expect.stringMatching(new RegExp(`^/${s3.bucket}/k(\\?|$)`)), fault: null });
  });

  it("answers 500 InternalError and 503 SlowDown as the SDK sees them", async () => {
    const client = clientWith(1);
    try {
      s3.faults.failNext(1, "InternalError");
      await expect(client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: "k" })))
        .rejects.toMatchObject({ name: "InternalError", $metadata: { httpStatusCode: 500, attempts: 1 } });
      s3.faults.failNext(1, "SlowDown");
      await expect(client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "k", Body: bytes("w"), ContentMD5: md5("w") })))
        .rejects.toMatchObject({ name: "SlowDown", $metadata: { httpStatusCode: 503 } });
      s3.faults.failNext(1, "reset");
      await expect(client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: "k" }))).rejects.toThrow();
      // The faults are used up: the next request goes through, and the refused PUT changed nothing.
      const got = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: "k" }));
      expect(await got.Body!.transformToString()).toBe("v");
    } finally {
      client.destroy();
    }
  });

  it("lets the SDK's retries through when faults are fewer than attempts, and not otherwise", async () => {
    const client = clientWith(3);
    try {
      const before = s3.faults.requests.length;
      s3.faults.failNext(2, "InternalError");
      const got = await client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: "k" }));
      expect(got.$metadata.attempts).toBe(3);
      expect(s3.faults.requests.slice(before).map((r) => r.fault)).toEqual(["InternalError", "InternalError", null]);

      s3.faults.failNext(3, "InternalError");
      await expect(client.send(new GetObjectCommand({ Bucket: s3.bucket, Key: "k" })))
        .rejects.toMatchObject({ name: "InternalError", $metadata: { attempts: 3 } });
    } finally {
      client.destroy();
    }
  });

  it("fails every request during a time window, then recovers", async () => {
    const client = clientWith(1);
    try {
      s3.faults.failFor(60_000, "ServiceUnavailable");
      await expect(client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: "k" })))
        .rejects.toMatchObject({ $metadata: { httpStatusCode: 503 } });
      await expect(client.send(new ListObjectsV2Command({ Bucket: s3.bucket })))
        .rejects.toMatchObject({ name: "ServiceUnavailable" });
      s3.faults.clear();
      const head = await client.send(new HeadObjectCommand({ Bucket: s3.bucket, Key: "k" }));
      expect(head.ContentLength).toBe(1);
    } finally {
      client.destroy();
    }
  });
});

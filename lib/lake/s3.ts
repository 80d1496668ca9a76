/** The lake on an S3 prefix, through @aws-sdk/client-s3. */
import { createHash } from "node:crypto";
import { readFile, rm } from "node:fs/promises";
import {
  CopyObjectCommand,
  DeleteObjectCommand,
  GetObjectCommand,
  HeadObjectCommand,
  ListObjectsV2Command,
  PutObjectCommand,
  type S3Client,
} from "@aws-sdk/client-s3";
import { LakeError } from "../errors.ts";
import { checkKey, type LakeObject, type LakeStore } from "./store.ts";

/** The object is missing. A missing bucket is also a 404, but it is a broken lake, not an empty one. */
function isNotFound(err: unknown): boolean {
  const e = err as { name?: string; $metadata?: { httpStatusCode?: number } };
  if (e?.name === "NoSuchBucket") return false;
  return e?.name === "NoSuchKey" || e?.name === "NotFound" || e?.$metadata?.httpStatusCode === 404;
}

/** A lake under s3://bucket/prefix. Objects are put whole with a Content-MD5 the server checks. */
export class S3LakeStore implements LakeStore {
  readonly description: string;
  constructor(private readonly client: S3Client, private readonly bucket: string, private readonly prefix: string) {
    this.description = `s3://${bucket}/${prefix}`;
  }

  private key(key: string): string {
    checkKey(key);
    return this.prefix ? `${this.prefix}/${key}` : key;
  }

  private fail(what: string, key: string, err: unknown): never {
    const e = err as { name?: string; message?: string };
    throw new LakeError(`cannot ${what} ${key} in ${this.description}: ${e?.name ?? "Error"}: ${e?.message ?? String(err)}`, { file: key }, { cause: err });
  }

  async get(key: string): Promise<Uint8Array | null> {
    try {
      const res = await this.client.send(new GetObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      return await res.Body!.transformToByteArray();
    } catch (err) {
      if (isNotFound(err)) return null;
      this.fail("read", key, err);
    }
  }

  async put(key: string, body: Uint8Array): Promise<void> {
    try {
      await this.client.send(new PutObjectCommand({
        Bucket: this.bucket,
        Key: this.key(key),
        Body: body,
        ContentLength: body.byteLength,
        ContentMD5: createHash("md5").update(body).digest("base64"),
      }));
    } catch (err) {
      this.fail("write", key, err);
    }
  }

  async putFile(key: string, path: string): Promise<void> {
    let body: Uint8Array;
    try {
      body = new Uint8Array(await readFile(path));
    } catch (err) {
      this.fail("write", key, err);
    }
    await this.put(key, body);
  }

  async moveIn(key: string, path: string): Promise<void> {
    await this.putFile(key, path);
    await rm(path, { force: true });
  }

  async stat(key: string): Promise<LakeObject | null> {
    try {
      const res = await this.client.send(new HeadObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
      return { key, size: res.ContentLength ?? 0, modified: res.LastModified ?? new Date(0), etag: res.ETag };
    } catch (err) {
      if (isNotFound(err)) return null;
      this.fail("stat", key, err);
    }
  }

  async list(prefix: string): Promise<LakeObject[]> {
    // Same rule as the local lake: the folder part of a prefix must be a valid key.
    if (prefix.includes("/")) checkKey(prefix.slice(0, prefix.lastIndexOf("/")));
    const full = this.prefix ? `${this.prefix}/${prefix}` : prefix;
    const out: LakeObject[] = [];
    let token: string | undefined;
    try {
      do {
        const res = await this.client.send(new ListObjectsV2Command({ Bucket: this.bucket, Prefix: full, ContinuationToken: token }));
        for (const o of res.Contents ?? []) {
          out.push({ key: o.Key!.slice(this.prefix ? this.prefix.length + 1 : 0), size: o.Size ?? 0, modified: o.LastModified ?? new Date(0), etag: o.ETag });
        }
        token = res.IsTruncated ? res.NextContinuationToken : undefined;
      } while (token);
    } catch (err) {
      this.fail("list", prefix, err);
    }
    return out.sort((a, b) => (a.key < b.key ? -1 : a.key > b.key ? 1 : 0));
  }

  async delete(key: string): Promise<void> {
    try {
      await this.client.send(new DeleteObjectCommand({ Bucket: this.bucket, Key: this.key(key) }));
    } catch (err) {
      if (!isNotFound(err)) this.fail("delete", key, err);
    }
  }

  async move(from: string, to: string): Promise<void> {
    try {
      await this.client.send(new CopyObjectCommand({
        Bucket: this.bucket,
        Key: this.key(to),
        CopySource: `${this.bucket}/${this.key(from).split("/").map(encodeURIComponent).join("/")}`,
      }));
    } catch (err) {
      this.fail("move", from, err);
    }
    await this.delete(from);
  }

  async close(): Promise<void> {
    this.client.destroy();
  }
}

/**
 * The sync with S3 on either side, and from a local directory:
 * - into a lake on S3 (s3rver, LAKE_URL=s3://bucket/prefix): every fixture
 *   file lands byte for byte, a second run fetches nothing;
 * - from an S3 copy of the GDAC laid out as s3://argo-gdac-sandbox/pub
 *   (data under pub/dac/, index files under pub/idx/), read anonymously;
 * - from a local directory holding a GDAC copy.
 */
import { createHash } from "node:crypto";
import { readFile } from "node:fs/promises";
import { PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { loadConfig } from "../lib/config.ts";
import { openGdacSource } from "../lib/gdac/sources.ts";
import { runSync } from "../lib/gdac/sync.ts";
import { checkRawZone } from "../lib/gdac/verify.ts";
import { LocalLakeStore } from "../lib/lake/local.ts";
import { openLake } from "../lib/lake/open.ts";
import type { LakeStore } from "../lib/lake/store.ts";
import { createLogger } from "../lib/log.ts";
import { fixturesDir, readManifest, tempDir, type TempDir } from "./support/fixtures.ts";
import { startHttpsServer, type TestHttpsServer } from "./support/https-server.ts";
import { startS3, type TestS3 } from "./support/s3.ts";

const fixtureFiles = readManifest().filter((r) => r.path.startsWith("dac/"));
const sha256 = (b: Uint8Array) => createHash("sha256").update(b).digest("hex");
const rawKeyOf = (path: string) => path.replace(/^dac\/([^/]+)\/([^/]+)\//, "raw/dac=$1/wmo=$2/");
const quiet = () => createLogger({ level: "error", write: () => {} });

async function expectLanded(store: LakeStore, rows: typeof fixtureFiles): Promise<void> {
  for (const row of rows) {
    const bytes = await store.get(rawKeyOf(row.path));
    expect(bytes, row.path).not.toBeNull();
    expect(sha256(bytes!), row.path).toBe(row.sha256);
  }
  expect((await checkRawZone(store, { hashes: true })).problems).toEqual([]);
}

describe("into a lake on S3", () => {
  let s3: TestS3;
  let srv: TestHttpsServer;

  beforeAll(async () => {
    [s3, srv] = await Promise.all([startS3({ bucket: "argo-lake-sync" }), startHttpsServer()]);
  });

  afterAll(async () => {
    await Promise.all([s3?.stop(), srv?.stop()]);
  });

  it("lands every fixture file byte for byte under the prefix, and a second run fetches nothing", async () => {
    const config = loadConfig({
      env: { ...s3.env, GDAC_BASE_URL: srv.url, GDAC_CA_FILE: srv.caFile, LAKE_URL: s3.url("lake/v1"), SYNC_FILES: "prof,Sprof", HTTP_RETRY_DELAY: "0.01" },
      envFile: "/nonexistent/.env",
    });
    const store = openLake(config);
    try {
      const first = await runSync(config, store, quiet());
      expect(first).toMatchObject({ total_floats: 15, files_downloaded: fixtureFiles.length, errors: 0, files_absent: 4 });
      await expectLanded(store, fixtureFiles);
      // The keys really are under the prefix in the bucket.
      const listed = await s3.client.send(new (await import("@aws-sdk/client-s3")).ListObjectsV2Command({ Bucket: s3.bucket, Prefix: "lake/v1/raw/dac=aoml/wmo=13857/" }));
      expect((listed.Contents ?? []).map((o) => o.Key).sort()).toEqual([
        "lake/v1/raw/dac=aoml/wmo=13857/13857_meta.nc",
        "lake/v1/raw/dac=aoml/wmo=13857/13857_prof.nc",
        "lake/v1/raw/dac=aoml/wmo=13857/profiles/R13857_001.nc",
        "lake/v1/raw/dac=aoml/wmo=13857/profiles/R13857_002.nc",
        "lake/v1/raw/dac=aoml/wmo=13857/profiles/R13857_003.nc",
        "lake/v1/raw/dac=aoml/wmo=13857/profiles/R13857_090.nc",
      ]);
      srv.resetCounts();
      const second = await runSync(config, store, quiet());
      expect(second).toMatchObject({ files_downloaded: 0, files_skipped: fixtureFiles.length, errors: 0 });
      expect([...srv.counts.byPath].filter(([p, o]) => p.startsWith("/dac/") && o.ok)).toEqual([]);
    } finally {
      await store.close();
    }
  });
});

describe("from other sources", () => {
  let gdac: TestS3;
  let lakeDir: TempDir;
  const floats = "13857,3902131,6903247";
  const wanted = fixtureFiles.filter((r) => ["13857", "3902131", "6903247"].includes(r.wmo ?? ""));

  beforeAll(async () => {
    gdac = await startS3({ bucket: "argo-gdac-sandbox" });
    // The AWS Open Data layout: pub/dac/... and the index files under pub/idx/.
    const index = ["ar_index_global_prof.txt", "argo_bio-profile_index.txt", "argo_synthetic-profile_index.txt", "ar_index_global_meta.txt"];
    const uploads = [
      ...index.map((name) => ({ key: `pub/idx/${name}`, file: `${fixturesDir}/${name}` })),
      ...wanted.map((r) => ({ key: `pub/${r.path}`, file: r.file })),
    ];
    for (const u of uploads) {
      await gdac.client.send(new PutObjectCommand({ Bucket: gdac.bucket, Key: u.key, Body: await readFile(u.file) }));
    }
  });

  afterAll(async () => {
    await gdac?.stop();
  });

  it("syncs from s3://argo-gdac-sandbox/pub anonymously, and conditionally the second time", async () => {
    lakeDir = await tempDir("sync-from-s3");
    try {
      const env = { GDAC_BASE_URL: "s3://argo-gdac-sandbox/pub", S3_ENDPOINT: gdac.endpoint, S3_FORCE_PATH_STYLE: "true", LAKE_URL: lakeDir.path, FLOAT_IDS: floats, SYNC_FILES: "prof,Sprof" };
      const config = loadConfig({ env, envFile: "/nonexistent/.env" });
      const store = new LocalLakeStore(lakeDir.path);
      const stats = await runSync(config, store, quiet());
      // 6903247 has no prof or Sprof in the mirror: absent, not an error
      expect(stats).toMatchObject({ total_floats: 3, files_downloaded: wanted.length, errors: 0, files_absent: 2 });
      await expectLanded(store, wanted);
      const again = await runSync(config, store, quiet());
      expect(again).toMatchObject({ files_downloaded: 0, files_skipped: wanted.length, errors: 0 });
      const source = openGdacSource(config);
      try {
        expect(await source.stat("aoml/13857/13857_meta.nc")).toMatchObject({ size: 25352, etag: expect.stringMatching(/^".+"$/) });
        expect(await source.stat("aoml/13857/profiles/R13857_999.nc")).toBeNull();
      } finally {
        await source.close();
      }
    } finally {
      await lakeDir.cleanup();
    }
  });

  it("syncs from a local directory holding a GDAC copy, and skips what it has the second time", async () => {
    lakeDir = await tempDir("sync-from-dir");
    try {
      const config = loadConfig({ env: { GDAC_BASE_URL: fixturesDir, LAKE_URL: lakeDir.path, FLOAT_IDS: floats, SYNC_FILES: "prof,Sprof" }, envFile: "/nonexistent/.env" });
      const store = new LocalLakeStore(lakeDir.path);
      const stats = await runSync(config, store, quiet());
      expect(stats).toMatchObject({ total_floats: 3, files_downloaded: wanted.length, errors: 0, files_absent: 2, retries: 0 });
      await expectLanded(store, wanted);
      const again = await runSync(config, store, quiet());
      expect(again).toMatchObject({ files_downloaded: 0, files_skipped: wanted.length, errors: 0 });
      const source = openGdacSource(config);
      expect(await source.stat("aoml/13857/13857_meta.nc")).toMatchObject({ size: 25352 });
      expect(await source.stat("aoml/13857/profiles/R13857_999.nc")).toBeNull();
    } finally {
      await lakeDir.cleanup();
    }
  });
});

/**
 * The LakeStore contract (lib/lake/store.ts), run against both
 * implementations as opened by openLake: a local directory and an S3 prefix
 * on s3rver. Then what is specific to each: hidden temporary files and
 * atomic replacement for the local lake; a missing bucket and an S3 outage
 * for the S3 lake.
 */
import { createHash } from "node:crypto";
import { execFileSync } from "node:child_process";
import { readdir, readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import process from "node:process";
import { ListObjectsV2Command, PutObjectCommand } from "@aws-sdk/client-s3";
import { afterAll, beforeAll, beforeEach, describe, expect, it } from "vitest";
import { loadConfig } from "../lib/config.ts";
import { LakeError } from "../lib/errors.ts";
import { isTempName } from "../lib/lake/local.ts";
import { openLake } from "../lib/lake/open.ts";
import { checkKey, type LakeStore } from "../lib/lake/store.ts";
import { fixturesDir, readManifest, tempDir, type TempDir } from "./support/fixtures.ts";
import { startS3, type TestS3 } from "./support/s3.ts";

const noEnvFile = "/nonexistent/argo-lake/.env";
const bytes = (s: string) => new TextEncoder().encode(s);
const text = (b: Uint8Array | null) => (b === null ? null : new TextDecoder().decode(b));

/** Expects a promise to reject with a LakeError whose message matches. */
async function expectLakeError(p: Promise<unknown>, message: RegExp): Promise<LakeError> {
  const err = await p.then(() => null, (e: unknown) => e);
  expect(err).toBeInstanceOf(LakeError);
  expect((err as LakeError).message).toMatch(message);
  expect((err as LakeError).context.stage).toBe("lake");
  return err as LakeError;
}

interface Harness {
  store: LakeStore;
  /** Every object key in the backing storage, outside the lake root included. */
  allStored(): Promise<string[]>;
}

const badKeys = ["../x", "/abs", "a//b", "a\\b", "", "a/./b", "a/../../b", "a/", "x\0y"];

function contract(kind: string, open: () => Promise<Harness>) {
  describe(`LakeStore contract: ${kind}`, () => {
    let h: Harness;
    let store: LakeStore;
    beforeEach(async () => {
      h = await open();
      store = h.store;
    });

    it("puts and gets bytes exactly; a missing key reads as null", async () => {
      const all = new Uint8Array(256).map((_, i) => i);
      await store.put("raw/bytes.bin", all);
      expect(await store.get("raw/bytes.bin")).toEqual(all);
      await store.put("raw/empty", new Uint8Array());
      expect(await store.get("raw/empty")).toEqual(new Uint8Array());
      expect(await store.get("raw/none.bin")).toBeNull();
      expect(await store.stat("raw/none.bin")).toBeNull();
    });

    it("replaces an object whole and reports its size, time and (on S3) the MD5 ETag", async () => {
      const before = Date.now() - 60_000;
      await store.put("a/obj.json", bytes("a much longer first version"));
      await store.put("a/obj.json", bytes("v2"));
      expect(text(await store.get("a/obj.json"))).toBe("v2");
      const s = await store.stat("a/obj.json");
      const etag = kind.startsWith("S3") ? `"${createHash("md5").update("v2").digest("hex")}"` : undefined;
      expect(s).toEqual({ key: "a/obj.json", size: 2, modified: expect.any(Date), etag });
      expect((await store.list("a/")).map((o) => o.etag)).toEqual([etag]);
      expect(s!.modified.getTime()).toBeGreaterThan(before);
    });

    it("stores a real NetCDF file from disk byte for byte", async () => {
      const row = readManifest(fixturesDir).find((r) => r.path === "dac/aoml/13857/13857_prof.nc")!;
      const key = "raw/dac=aoml/wmo=13857/13857_prof.nc";
      await store.putFile(key, row.file);
      const got = await store.get(key);
      expect(got!.byteLength).toBe(row.size);
      expect(createHash("sha256").update(got!).digest("hex")).toBe(row.sha256);
      expect((await store.stat(key))!.size).toBe(row.size);
    });

    it("lists by key prefix, sorted, with sizes", async () => {
      await store.put("raw/dac=coriolis/wmo=1900857/x.nc", bytes("333"));
      await store.put("raw/dac=aoml/wmo=13857/b.nc", bytes("22"));
      await store.put("raw/dac=aoml/wmo=13857/a.nc", bytes("1"));
      await store.put("raw/dac=aoml/wmo=5900446/c.nc", bytes("4444"));
      await store.put("rawish.txt", bytes("x"));
      const keys = async (p: string) => (await store.list(p)).map((o) => o.key);
      expect(await keys("raw/dac=aoml/")).toEqual([
        "raw/dac=aoml/wmo=13857/a.nc",
        "raw/dac=aoml/wmo=13857/b.nc",
        "raw/dac=aoml/wmo=5900446/c.nc",
      ]);
      expect(await keys("raw/dac=aoml/wmo=1")).toEqual(["raw/dac=aoml/wmo=13857/a.nc", "raw/dac=aoml/wmo=13857/b.nc"]);
      expect(await keys("raw")).toHaveLength(5);
      expect(await keys("raw/")).toHaveLength(4);
      expect(await keys("")).toEqual(expect.arrayContaining(["rawish.txt", "raw/dac=coriolis/wmo=1900857/x.nc"]));
      expect(await keys("parquet/")).toEqual([]);
      const listed = await store.list("raw/dac=");
      expect(listed.map((o) => o.size)).toEqual([1, 2, 4, 3]);
      expect(listed.every((o) => o.modified instanceof Date)).toBe(true);
    });

    it("deletes; deleting a missing object is not an error", async () => {
      await store.put("d/one", bytes("1"));
      await store.delete("d/one");
      await store.delete("d/one");
      await store.delete("d/never/was");
      expect(await store.get("d/one")).toBeNull();
      expect(await store.list("d/")).toEqual([]);
    });

    it("moves an object, replacing the target; moving a missing object fails", async () => {
      const from = "raw/dac=aoml/wmo=13857/profiles/R13857 001+x.nc";
      const to = "removed/2024-01-01/dac=aoml/wmo=13857/R13857 001+x.nc";
      await store.put(from, bytes("payload"));
      await store.put(to, bytes("older payload"));
      await store.move(from, to);
      expect(await store.get(from)).toBeNull();
      expect(text(await store.get(to))).toBe("payload");
      expect((await store.list("")).map((o) => o.key)).toEqual([to]);
      const err = await expectLakeError(store.move("raw/missing.nc", "removed/missing.nc"), /raw\/missing\.nc/);
      expect(err.context.file).toBe("raw/missing.nc");
      expect(await store.get("removed/missing.nc")).toBeNull();
    });

    it("moves a local file in whole, replacing the object, and the file is gone; a missing file fails", async () => {
      const scratch = await tempDir("lake-store-move-in");
      try {
        const file = join(scratch.path, "D13857_001.parquet");
        await writeFile(file, bytes("new table"));
        await store.put("parquet/t/dac=aoml/13857.parquet", bytes("old table"));
        await store.moveIn("parquet/t/dac=aoml/13857.parquet", file);
        expect(text(await store.get("parquet/t/dac=aoml/13857.parquet"))).toBe("new table");
        expect(await readdir(scratch.path)).toEqual([]);
        await expectLakeError(store.moveIn("parquet/t/dac=aoml/missing.parquet", file), /missing\.parquet/);
        expect((await store.list("")).map((o) => o.key)).toEqual(["parquet/t/dac=aoml/13857.parquet"]);
      } finally {
        await scratch.cleanup();
      }
    });

    it("leaves no temporary object behind after a burst of writes", async () => {
      await Promise.all(Array.from({ length: 20 }, (_, i) => store.put(`t/obj-${i % 5}`, bytes(`v${i}`))));
      const keys = ["t/obj-0", "t/obj-1", "t/obj-2", "t/obj-3", "t/obj-4"];
      expect((await store.list("")).map((o) => o.key)).toEqual(keys);
      expect((await h.allStored()).sort()).toEqual(keys);
    });

    it("a failed write raises a LakeError and keeps the old object", async () => {
      await store.put("keep/obj.nc", bytes("old"));
      const err = await expectLakeError(store.putFile("keep/obj.nc", "/nonexistent/source.nc"), /keep\/obj\.nc.*ENOENT/);
      expect(err.context.file).toBe("keep/obj.nc");
      expect(text(await store.get("keep/obj.nc"))).toBe("old");
      expect(await h.allStored()).toEqual([expect.stringMatching(/keep\/obj\.nc$/)]);
    });

    it("refuses keys that could leave the lake, in every operation, and writes nothing", async () => {
      await store.put("ok/obj", bytes("x"));
      for (const key of badKeys) {
        const refused = /refused lake key/;
        await expectLakeError(store.get(key), refused);
        await expectLakeError(store.put(key, bytes("evil")), refused);
        await expectLakeError(store.putFile(key, join(fixturesDir, "ar_index_global_meta.txt")), refused);
        await expectLakeError(store.stat(key), refused);
        await expectLakeError(store.delete(key), refused);
        await expectLakeError(store.move("ok/obj", key), refused);
        await expectLakeError(store.move(key, "ok/other"), refused);
      }
      await expectLakeError(store.list("../"), /refused lake key/);
      await expectLakeError(store.list("a/../../"), /refused lake key/);
      expect(await h.allStored()).toEqual([expect.stringMatching(/ok\/obj$/)]);
      expect(text(await store.get("ok/obj"))).toBe("x");
    });
  });
}

describe("checkKey", () => {
  it("accepts lake keys and refuses the rest", () => {
    for (const k of ["raw/dac=aoml/wmo=13857/13857_meta.nc", "a", "a.b/c..d/.hidden", "x y/z+1"]) expect(checkKey(k)).toBe(k);
    for (const k of badKeys) expect(() => checkKey(k)).toThrow(LakeError);
  });
});

// ---- local ---------------------------------------------------------------

const localDirs: TempDir[] = [];
afterAll(async () => {
  await Promise.all(localDirs.map((d) => d.cleanup()));
});

/** A fresh local lake in `<tmp>/lake`; the temp dir around it shows anything written outside. */
async function openLocal(): Promise<{ store: LakeStore; root: string; outer: string; allStored(): Promise<string[]> }> {
  const dir = await tempDir("lake-local");
  localDirs.push(dir);
  const root = join(dir.path, "lake");
  const store = openLake(loadConfig({ env: { LAKE_URL: root }, envFile: noEnvFile }));
  const allStored = async () =>
    (await readdir(dir.path, { recursive: true, withFileTypes: true }))
      .filter((e) => !e.isDirectory())
      .map((e) => join(e.parentPath, e.name).slice(dir.path.length + 1));
  return { store, root, outer: dir.path, allStored: async () => (await allStored()).map((k) => k.replace(/^lake\//, "")) };
}

contract("local directory", openLocal);

/** Makes a directory unwritable, even for root when possible; returns the undo, or null if this system cannot. */
function makeReadOnly(dir: string): (() => void) | null {
  if (process.getuid?.() !== 0) {
    execFileSync("chmod", ["a-w", dir]);
    return () => execFileSync("chmod", ["u+w", dir]);
  }
  try {
    execFileSync("chattr", ["+i", dir], { stdio: "ignore" });
    return () => execFileSync("chattr", ["-i", dir]);
  } catch {
    return null; // root without CAP_LINUX_IMMUTABLE (e.g. a default container)
  }
}

describe("local lake specifics", () => {
  it("opens file:// URLs and exposes its root for DuckDB", async () => {
    const dir = await tempDir("lake-url");
    localDirs.push(dir);
    const store = openLake(loadConfig({ env: { LAKE_URL: `file://${dir.path}/l` }, envFile: noEnvFile }));
    expect(store.localRoot).toBe(`${dir.path}/l`);
    expect(store.description).toBe(`${dir.path}/l`);
    await store.put("x", bytes("1"));
    expect(await readFile(`${dir.path}/l/x`, "utf8")).toBe("1");
  });

  it("never lists hidden temporary files a crashed writer left behind", async () => {
    const { store, root } = await openLocal();
    await store.put("raw/f.nc", bytes("1"));
    await writeFile(join(root, "raw", ".0a1b2c3d4e5f.tmp"), "partial");
    expect(isTempName(".0a1b2c3d4e5f.tmp")).toBe(true);
    expect((await store.list("")).map((o) => o.key)).toEqual(["raw/f.nc"]);
  });

  it("readers see the old or the new object whole, never a part", async () => {
    const { store } = await openLocal();
    const a = new Uint8Array(4 << 20).fill(97);
    const b = new Uint8Array(3 << 20).fill(98);
    await store.put("big.bin", a);
    const seen = new Set<string>();
    let writing = true;
    const writes = (async () => {
      for (let i = 0; i < 10; i++) await store.put("big.bin", i % 2 ? a : b);
      writing = false;
    })();
    while (writing) {
      const got = (await store.get("big.bin"))!;
      const whole = (got.byteLength === a.byteLength && got.every((x) => x === 97)) ||
        (got.byteLength === b.byteLength && got.every((x) => x === 98));
      seen.add(whole ? `${got.byteLength}` : `partial ${got.byteLength}`);
    }
    await writes;
    expect([...seen].filter((s) => s.startsWith("partial"))).toEqual([]);
  });

  it("a write into an unwritable directory raises a LakeError and keeps the old object", async (ctx) => {
    const { store, root } = await openLocal();
    await store.put("ro/obj", bytes("old"));
    const undo = makeReadOnly(join(root, "ro"));
    if (!undo) return ctx.skip();
    try {
      const err = await expectLakeError(store.put("ro/obj", bytes("new")), /cannot write ro\/obj to the lake at/);
      expect(err.context.file).toBe("ro/obj");
    } finally {
      undo();
    }
    expect(text(await store.get("ro/obj"))).toBe("old");
    expect((await readdir(join(root, "ro"))).filter(isTempName)).toEqual([]);
  });
});

// ---- S3 ------------------------------------------------------------------

let s3: TestS3 & { faults: NonNullable<TestS3["faults"]> };
let s3Run = 0;
beforeAll(async () => {
  s3 = await startS3({ bucket: "lake-store-test", faults: true });
});
afterAll(async () => {
  await s3?.stop();
});

/** An S3 lake on a fresh prefix; HTTP_MAX_RETRIES=2 gives the SDK 3 attempts. */
function openS3(prefix: string, env: Record<string, string> = {}): LakeStore {
  return openLake(loadConfig({ env: { ...s3.env, LAKE_URL: s3.url(prefix), HTTP_MAX_RETRIES: "2", ...env }, envFile: noEnvFile }));
}

async function bucketKeys(): Promise<string[]> {
  const res = await s3.client.send(new ListObjectsV2Command({ Bucket: s3.bucket }));
  return (res.Contents ?? []).map((o) => o.Key!);
}

contract("S3 prefix (s3rver)", async () => {
  const prefix = `lakes/run-${++s3Run}`;
  const store = openS3(prefix);
  return {
    store,
    // Everything in the bucket that is not another run's lake.
    allStored: async () =>
      (await bucketKeys()).filter((k) => !/^lakes\/run-\d+\//.test(k) || k.startsWith(`${prefix}/`)).map((k) =>
        k.startsWith(`${prefix}/`) ? k.slice(prefix.length + 1) : k
      ),
  };
});

describe("S3 lake specifics", () => {
  it("keeps to its prefix: a sibling prefix with the same start is not listed", async () => {
    const store = openS3("iso/a");
    await store.put("k", bytes("1"));
    await s3.client.send(new PutObjectCommand({ Bucket: s3.bucket, Key: "iso/ab/k", Body: bytes("2") }));
    expect((await store.list("")).map((o) => o.key)).toEqual(["k"]);
    expect((await bucketKeys()).filter((k) => k.startsWith("iso/"))).toEqual(["iso/a/k", "iso/ab/k"]);
    expect(store.description).toBe(`s3://${s3.bucket}/iso/a`);
    expect(store.localRoot).toBeUndefined();
  });

  it("a missing bucket is an error for every operation, not an empty lake", async () => {
    const store = openS3("", { LAKE_URL: "s3://no-such-bucket-here/lake" });
    const where = /no-such-bucket-here.*NoSuchBucket/;
    await expectLakeError(store.put("k", bytes("1")), where);
    await expectLakeError(store.get("k"), where);
    await expectLakeError(store.list(""), where);
    await expectLakeError(store.delete("k"), where);
    await expectLakeError(store.move("k", "l"), where);
  });

  it("rides out S3 errors with the SDK's retries, and fails clearly with the old object kept when they persist", async () => {
    const store = openS3("outage");
    await store.put("obj", bytes("old"));
    s3.faults.failNext(2, "SlowDown");
    await store.put("obj", bytes("new"));
    expect(text(await store.get("obj"))).toBe("new");

    const before = s3.faults.requests.length;
    s3.faults.failNext(3, "InternalError");
    await expectLakeError(store.put("obj", bytes("newer")), /cannot write obj in s3:\/\/lake-store-test\/outage: InternalError/);
    expect(s3.faults.requests.slice(before).map((r) => `${r.method} ${r.fault}`)).toEqual(Array(3).fill("PUT InternalError"));
    expect(text(await store.get("obj"))).toBe("new");

    s3.faults.failFor(60_000, "ServiceUnavailable");
    try {
      await expectLakeError(store.get("obj"), /ServiceUnavailable/);
      await expectLakeError(store.stat("obj"), /cannot stat obj/);
    } finally {
      s3.faults.clear();
    }
  });
});

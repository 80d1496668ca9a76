/**
 * Robustness: 1,000 corrupted variants of real files (truncated, bits flipped
 * in header and data, bytes overwritten; a seeded PRNG makes the run
 * repeatable) each give a ParseError or a valid result, quickly; and hostile
 * headers declaring enormous sizes are rejected before any large allocation.
 */
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";

import { describe, expect, it } from "vitest";

import { ParsedFileSchema } from "../lib/argo/schema.ts";
import { ParseError } from "../lib/errors.ts";
import { parseArgoFile } from "../lib/argo/file.ts";
import { argoProfileFile, writeNetcdf3 } from "./support/netcdf3-writer.ts";
import { seededRandom } from "./support/random.ts";

const DAC = fileURLToPath(new URL("../../shared/fixtures/gdac/dac/", import.meta.url));
const EXTRA = fileURLToPath(new URL("../../shared/fixtures/gdac_extra/dac/", import.meta.url));

/** Real files of every kind; each gets its share of the NetCDF-3 variants. */
const NETCDF3_SOURCES = [
  DAC + "aoml/13857/profiles/R13857_001.nc",
  DAC + "bodc/6901929/profiles/D6901929_001.nc",
  DAC + "coriolis/6903247/profiles/BR6903247_001.nc",
  DAC + "coriolis/3902131/profiles/SD3902131_001.nc",
  DAC + "kma/2901746/profiles/R2901746_001.nc",
  DAC + "coriolis/6903247/6903247_meta.nc",
  DAC + "csio/2902696/2902696_prof.nc",
  EXTRA + "coriolis/6901494/profiles/BD6901494_352.nc",
].map((path) => ({ path, bytes: new Uint8Array(readFileSync(path)) }));
const HDF5_SOURCE = { path: DAC + "coriolis/3902131/3902131_Sprof.nc", bytes: new Uint8Array(readFileSync(DAC + "coriolis/3902131/3902131_Sprof.nc")) };


type Mutation = "truncate" | "header bits" | "data bits" | "overwrite" | "bits and truncate";
const MUTATIONS: Mutation[] = ["truncate", "header bits", "data bits", "overwrite", "bits and truncate"];

/** One corrupted copy of `source`; the header is taken as the first 8 KiB, where every fixture's header lies. */
function corrupt(source: Uint8Array, mutation: Mutation, random: () => number): Uint8Array {
  const bytes = source.slice();
  const at = (limit: number) => Math.floor(random() * limit);
  const flip = (limit: number, times: number) => {
    for (let k = 0; k < times; k++) bytes[at(limit)]! ^= 1 << at(8);
  };
  switch (mutation) {
    case "truncate":
      return bytes.subarray(0, at(bytes.length));
    case "header bits":
      flip(Math.min(bytes.length, 8192), 1 + at(8));
      return bytes;
    case "data bits":
      flip(bytes.length, 1 + at(32));
      return bytes;
    case "overwrite": {
      const start = at(bytes.length);
      for (let i = start; i < Math.min(bytes.length, start + 4 + at(60)); i++) bytes[i] = at(256);
      return bytes;
    }
    case "bits and truncate":
      flip(bytes.length, 1 + at(8));
      return bytes.subarray(0, bytes.length - at(bytes.length / 4));
  }
}

describe("1,000 corrupted variants of real files", () => {
  it("each give a ParseError naming the file, or a result that passes its schema", async () => {
    const random = seededRandom(20240615);
    const variants = [
      ...Array.from({ length: 960 }, (_, i) => ({ source: NETCDF3_SOURCES[i % NETCDF3_SOURCES.length]!, mutation: MUTATIONS[Math.floor(i / NETCDF3_SOURCES.length) % MUTATIONS.length]! })),
      // h5wasm is slower (about 0.1 s per variant that reaches the data): fewer HDF5 variants.
      ...Array.from({ length: 40 }, (_, i) => ({ source: HDF5_SOURCE, mutation: MUTATIONS[i % MUTATIONS.length]! })),
    ];
    expect(variants.length).toBe(1000);

    const outcomes = { parseError: 0, valid: 0 };
    let slowest = 0;
    for (const [i, { source, mutation }] of variants.entries()) {
      const bytes = corrupt(source.bytes, mutation, random);
      const path = `variant-${i}-${mutation}.nc`;
      const start = performance.now();
      const result = await parseArgoFile(bytes, { path });
      slowest = Math.max(slowest, performance.now() - start);
      if (result instanceof ParseError) {
        outcomes.parseError++;
        expect(result.context.file, `variant ${i}`).toBe(path);
        expect(result.message.length, `variant ${i}`).toBeGreaterThan(0);
      } else {
        outcomes.valid++;
        const check = ParsedFileSchema.safeParse(result);
        expect(check.success, `variant ${i} (${source.path}, ${mutation}): ${check.error?.message}`).toBe(true);
      }
    }
    // Both outcomes occur: corruption in unread data parses, corruption of the structure does not.
    expect(outcomes.parseError).toBeGreaterThan(100);
    expect(outcomes.valid).toBeGreaterThan(100);
    expect(slowest).toBeLessThan(5000);
  });
});

/** Offset of the 4-byte big-endian size that follows a dimension's name in a NetCDF-3 header. */
function dimensionSizeOffset(bytes: Uint8Array, name: string): number {
  const text = new TextDecoder("latin1").decode(bytes.subarray(0, 8192));
  const at = text.indexOf(name);
  expect(at).toBeGreaterThan(0);
  return at + Math.ceil(name.length / 4) * 4;
}

describe("hostile headers", () => {
  it("are ParseErrors before any large allocation: memory stays flat", async () => {
    const hostile: Array<{ name: string; bytes: Uint8Array; expected: RegExp }> = [];

    // Written from scratch: N_LEVELS = 2^31 with PRES(N_PROF, N_LEVELS) declared and no data.
    const written = argoProfileFile([{ parameters: { PRES: { raw: [1, 2] } } }]);
    hostile.push({
      name: "N_LEVELS = 2^31",
      bytes: writeNetcdf3({
        ...written,
        dimensions: written.dimensions.map(([n, s]) => [n, n === "N_LEVELS" ? 2 ** 31 : s] as const),
        variables: written.variables.map((v) => (v.dimensions.includes("N_LEVELS") ? { ...v, data: undefined } : v)),
      }),
      expected: /declares shape \[1, 2147483648\]/,
    });

    // A real file whose header is patched: N_LEVELS = 2^31 - 1, then N_PROF = 2^32 - 1.
    const real = new Uint8Array(readFileSync(DAC + "aoml/13857/profiles/R13857_001.nc"));
    for (const [dim, size] of [["N_LEVELS", 2 ** 31 - 1], ["N_PROF", 2 ** 32 - 1]] as const) {
      const bytes = real.slice();
      new DataView(bytes.buffer).setUint32(dimensionSizeOffset(bytes, dim), size);
      hostile.push({ name: `${dim} = ${size}`, bytes, expected: /declares shape .* bytes, but the file has/ });
    }

    // Counts in the header itself: 2^31 dimensions; a 2^31-element attribute.
    const manyDims = real.slice();
    new DataView(manyDims.buffer).setUint32(12, 2 ** 31);
    hostile.push({ name: "2^31 dimensions", bytes: manyDims, expected: /corrupt or truncated NetCDF-3 header/ });
    const bigAttribute = real.slice();
    const title = new TextDecoder("latin1").decode(real.subarray(0, 8192)).indexOf("title");
    new DataView(bigAttribute.buffer).setUint32(title + 8 + 4, 2 ** 31);
    hostile.push({ name: "2^31-char attribute", bytes: bigAttribute, expected: /corrupt or truncated NetCDF-3 header/ });

    // Warm up (module loading, JIT), then measure around many rounds of hostile parses.
    await parseArgoFile(hostile[0]!.bytes, { path: "warm-up.nc" });
    globalThis.gc?.();
    const before = process.memoryUsage();
    for (let round = 0; round < 20; round++) {
      for (const h of hostile) {
        const start = performance.now();
        const result = await parseArgoFile(h.bytes, { path: "hostile.nc" });
        expect(result, h.name).toBeInstanceOf(ParseError);
        expect((result as ParseError).message, h.name).toMatch(h.expected);
        expect(performance.now() - start, h.name).toBeLessThan(1000);
      }
    }
    const after = process.memoryUsage();
    expect(after.rss - before.rss).toBeLessThan(100 * 1024 * 1024);
    expect(after.arrayBuffers - before.arrayBuffers).toBeLessThan(100 * 1024 * 1024);
  });

  it("a variable pointing past the end of the file is a ParseError", async () => {
    const bytes = writeNetcdf3({ dimensions: [["N", 2]], variables: [{ name: "X", type: "double", dimensions: ["N"], data: [1, 2] }] });
    // X's begin offset is the header's last 4 bytes.
    new DataView(bytes.buffer).setUint32(bytes.length - 20, bytes.length);
    const result = await parseArgoFile(bytes, { path: "past-end.nc" });
    expect(result).toBeInstanceOf(ParseError);
    expect((result as ParseError).message).toContain("past the end of the file");
  });
});

/**
 * Parse throughput on the fixture profile files (`profiles/*.nc`), beside the
 * rate at which netcdfjs merely reads every variable of the same files, in the
 * same run. Target: parsing at >= 50% of that raw read rate.
 *
 *   npx tsx bench/parse.ts [rounds]      (or: deno run -A bench/parse.ts)
 *
 * Files are read into memory first, so disk speed is not measured.
 */
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative } from "node:path";
import { fileURLToPath } from "node:url";

import { NetCDFReader } from "netcdfjs";

import { ParseError } from "../lib/errors.ts";
import { parseArgoFile } from "../lib/argo/file.ts";
import { openNetcdf } from "../lib/netcdf/reader.ts";

const fixtures = fileURLToPath(new URL("../../shared/fixtures/", import.meta.url));
const rounds = Number(process.argv[2] ?? 15);

function walk(dir: string): string[] {
  return readdirSync(dir).flatMap((name) => {
    const path = join(dir, name);
    return statSync(path).isDirectory() ? walk(path) : [path];
  });
}

const files = walk(fixtures)
  .filter((p) => /\/profiles\/[^/]+\.nc$/.test(p))
  .sort()
  .map((path) => ({ path: relative(fixtures, path), bytes: new Uint8Array(readFileSync(path)) }));
const totalBytes = files.reduce((s, f) => s + f.bytes.length, 0);

type Work = (f: (typeof files)[number]) => Promise<number> | number;

const netcdfjsRead: Work = (f) => {
  const nc = new NetCDFReader(f.bytes);
  for (const v of nc.variables) nc.getDataVariable(v);
  return nc.dimensions.find((d) => d.name === "N_PROF")?.size ?? 0;
};

const readerRead: Work = async (f) => {
  const reader = await openNetcdf(f.bytes, f.path);
  if (reader instanceof ParseError) throw reader;
  for (const name of reader.variables.keys()) reader.read(name);
  reader.close();
  return reader.dimensions.get("N_PROF") ?? 0;
};

const parse: Work = async (f) => {
  const parsed = await parseArgoFile(f.bytes, { path: f.path });
  if (parsed instanceof ParseError) throw parsed;
  return parsed.kind === "profile" ? parsed.profiles.length : 0;
};

/** One pass over every file: seconds taken and profiles seen. */
async function pass(work: Work): Promise<{ seconds: number; profiles: number }> {
  const start = performance.now();
  let profiles = 0;
  for (const f of files) profiles += await work(f);
  return { seconds: (performance.now() - start) / 1000, profiles };
}

/**
 * The machine may be shared, so the three workloads take turns round by
 * round, and each is scored by its median round: a burst of outside load
 * then hits all three alike instead of one.
 */
const works = { netcdfjsRead, readerRead, parse };
const timings = { netcdfjsRead: [] as number[], readerRead: [] as number[], parse: [] as number[] };
let profileCount = 0;
for (const work of Object.values(works)) await pass(work);
for (let r = 0; r < rounds; r++) {
  for (const [name, work] of Object.entries(works) as Array<[keyof typeof works, Work]>) {
    const t = await pass(work);
    timings[name].push(t.seconds);
    if (name === "parse") profileCount = t.profiles;
  }
}
const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function line(label: string, seconds: number): string {
  const mb = totalBytes / 1e6 / seconds;
  return `${label.padEnd(44)} ${(profileCount / seconds).toFixed(0).padStart(8)} profiles/s ${(files.length / seconds).toFixed(0).padStart(7)} files/s ${mb.toFixed(1).padStart(8)} MB/s`;
}

console.log(`${files.length} profile files, ${(totalBytes / 1e6).toFixed(1)} MB, ${profileCount} profiles; median of ${rounds} rounds after 1 warm-up`);
console.log(line("netcdfjs: header + getDataVariable(all)", median(timings.netcdfjsRead)));
console.log(line("our reader: open + read(all variables)", median(timings.readerRead)));
console.log(line("parseArgoFile (validated profiles)", median(timings.parse)));
const ratio = median(timings.netcdfjsRead) / median(timings.parse);
console.log(`parse rate / netcdfjs raw read rate = ${(ratio * 100).toFixed(0)}% (target >= 50%)`);

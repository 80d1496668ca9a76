/**
 * Scale-out on this machine: the whole fixture GDAC through sync, parse and
 * load (`schedule --once`, real processes, one Postgres, one Redis, the lake
 * on s3rver or a local directory), once by one process and once by N shard
 * workers started together (`--shard i/N`), on fresh targets each time. Prints
 * both wall times side by side, per stage too (for the shards: the slowest
 * shard's stage), the CPU time the processes used, and the machine's core
 * count: N workers on fewer cores than N only share them. The single process
 * gets as many parse threads as there are cores, each shard worker one;
 * BATCH_SIZE is the default 10 for both.
 *
 *   npx tsx bench/scale-out.ts [--workers 4] [--rounds 1] [--lake s3|local]
 */
import { readFileSync } from "node:fs";
import { availableParallelism, cpus } from "node:os";
import process from "node:process";
import { makeTargets, runSingle, runWorkers } from "../tests/support/scale-out.ts";
import { startS3 } from "../tests/support/s3.ts";
import type { RunRecord } from "../lib/schedule/runs.ts";

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1] : fallback;
}

const workers = Number(flag("workers", "4"));
const rounds = Number(flag("rounds", "1"));
const lakeKind = flag("lake", "s3");
if (!(workers >= 2) || !(rounds >= 1) || !["s3", "local"].includes(lakeKind)) {
  console.error("usage: bench/scale-out.ts [--workers N>=2] [--rounds N>=1] [--lake s3|local]");
  process.exit(2);
}

/** CPU seconds (user + system) used so far by this process's finished children (Linux: /proc/self/stat cutime + cstime). */
function childCpuSeconds(): number {
  try {
    const fields = readFileSync("/proc/self/stat", "utf8").replace(/^.*\) /, "").split(" ");
    // After the command name: field 3 is the state, so cutime (16) and cstime (17) are at 13 and 14.
    return (Number(fields[13]) + Number(fields[14])) / 100;
  } catch {
    return NaN;
  }
}

const s3 = lakeKind === "s3" ? await startS3({ bucket: "argo-bench-scale-out" }) : null;
const stageMs = (r: RunRecord, stage: string) => r.stages.find((s) => s.stage === stage)?.duration_ms ?? 0;
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const results = {
  single: [] as number[],
  sharded: [] as number[],
  singleCpu: [] as number[],
  shardedCpu: [] as number[],
  singleStages: [] as number[][],
  shardStages: [] as number[][],
};
const cores = availableParallelism();

try {
  for (let round = 0; round < rounds; round++) {
    // Alternate which goes first, so a machine that gets busier during the run does not favour one side.
    for (const side of round % 2 === 0 ? ["single", "sharded"] : ["sharded", "single"]) {
      const t = await makeTargets(`bench-${side}-${round}`, s3 ?? "local", { BATCH_SIZE: "10" });
      try {
        const t0 = performance.now();
        const cpu0 = childCpuSeconds();
        if (side === "single") {
          const { record } = await runSingle(t, { MAX_WORKERS: String(cores) });
          results.single.push(performance.now() - t0);
          results.singleCpu.push(childCpuSeconds() - cpu0);
          results.singleStages.push(["sync", "parse", "load"].map((s) => stageMs(record, s)));
        } else {
          const outcomes = await runWorkers(t, workers);
          results.sharded.push(performance.now() - t0);
          results.shardedCpu.push(childCpuSeconds() - cpu0);
          results.shardStages.push(["sync", "parse", "load"].map((s) => Math.max(...outcomes.map((o) => stageMs(o.record, s)))));
          if (outcomes.some((o) => o.record.verdict !== "succeeded")) throw new Error("a shard worker's run did not succeed");
        }
      } finally {
        await t.cleanup();
      }
    }
  }
} finally {
  await s3?.stop();
}

const s = (ms: number) => `${(ms / 1000).toFixed(1)} s`;
const single = median(results.single);
const sharded = median(results.sharded);
const stagesOf = (rows: number[][]) => [0, 1, 2].map((i) => median(rows.map((r) => r[i])));
const [ss, sh] = [stagesOf(results.singleStages), stagesOf(results.shardStages)];
const cpuS = (xs: number[]) => `${median(xs).toFixed(1)} s`;
console.log(`scale-out bench: fixture GDAC (15 floats), lake ${lakeKind}, ${rounds} round(s), ${cores} core(s) (${cpus()[0]?.model ?? "?"})`);
console.log(`  1 process          wall ${s(single)}   cpu ${cpuS(results.singleCpu)}   sync ${s(ss[0])}  parse ${s(ss[1])}  load ${s(ss[2])}`);
console.log(`  ${workers} shard workers    wall ${s(sharded)}   cpu ${cpuS(results.shardedCpu)}   sync ${s(sh[0])}  parse ${s(sh[1])}  load ${s(sh[2])}  (slowest shard per stage)`);
console.log(`  speed-up ${(single / sharded).toFixed(2)}x (ideal with ${workers} free cores: ${workers}x; with ${cores}: at most ${Math.min(workers, cores)}x)`);

/**
 * The command-line side of the runner: the jobs (sync, parse, load,
 * run-float, run-batch) call `runFromCli`, which runs the job through
 * lib/runner.ts like every other entry point, with SIGINT/SIGTERM stopping
 * it gracefully, progress on the terminal, and the output and exit code the
 * README states (0 succeeded or skipped, 1 partial or failed).
 */
import process from "node:process";
import type { JobContext } from "./cli.ts";
import { openLake } from "./lake/open.ts";
import { executeRun, type RunRequest } from "./runner.ts";
import type { RunRecord } from "./schedule/runs.ts";
import { parseShard } from "./schedule/shard.ts";
import { stageDef, type StageProgress } from "./stages.ts";

/** Off a terminal, progress becomes a log line this often. */
const PROGRESS_LOG_MS = 5000;

/**
 * Runs a job and prints its outcome: with --json, the stage's stats for a
 * one-stage job (the original system's stats object) or the run record for
 * the others; otherwise a report per stage. Returns the exit code.
 */
export async function runFromCli(ctx: JobContext, req: Omit<RunRequest, "trigger" | "signal" | "onProgress">): Promise<0 | 1> {
  const store = openLake(ctx.config);
  const abort = new AbortController();
  const stop = (signal: string) => {
    ctx.log.warn("stopping: no new item will be started", { signal });
    abort.abort(new Error(`stopped by ${signal}`));
  };
  const onInt = () => stop("SIGINT");
  const onTerm = () => stop("SIGTERM");
  process.once("SIGINT", onInt);
  process.once("SIGTERM", onTerm);
  let lastLog = 0;
  const onProgress = (p: StageProgress) => {
    if (ctx.terminal.isTTY) return ctx.terminal.progress(p);
    const now = Date.now();
    if (now - lastLog < PROGRESS_LOG_MS) return;
    lastLog = now;
    ctx.log.info(`${p.stage} progress`, { done: p.done, total: p.total, unit: p.unit, errors: p.errors, retries: p.retries });
  };
  try {
    const outcome = await executeRun(
      { config: ctx.config, store, log: ctx.log, shard: parseShard(ctx.config.SHARD, ctx.env), lock: null },
      { ...req, trigger: "cli", signal: abort.signal, onProgress },
    );
    ctx.terminal.endProgress();
    if (!outcome.ran) return 0;
    const record = outcome.record;
    if (ctx.flags.json) {
      const out = record.stages.length === 1 ? record.stages[0].stats : record;
      process.stdout.write(JSON.stringify(out, null, 2) + "\n");
    } else process.stdout.write(formatRunReport(record) + "\n");
    for (const s of record.stages) {
      if (s.verdict !== "failed" && s.verdict !== "partial") continue;
      const ids = record.float_ids;
      const which = ids.length === 1 ? ` for float ${ids[0]}` : ids.length > 1 && ids.length <= 10 ? ` for floats ${ids.join(", ")}` : "";
      // A one-stage job is its stage: its reason is printed as it is ("parse: parse refused: ...").
      const reason = s.reason ?? "";
      process.stderr.write(`${req.job}: ${record.stages.length === 1 ? "" : `${s.stage} stage ${s.verdict}${which}: `}${reason}\n`);
    }
    return record.exit_code;
  } finally {
    ctx.terminal.endProgress();
    process.off("SIGINT", onInt);
    process.off("SIGTERM", onTerm);
    await store.close();
  }
}

const secs = (ms: number | null) => (ms === null ? "" : `${(ms / 1000).toFixed(2)} s`);

/** The lines a person reads after a run: its verdict, then each stage's verdict, time and what it did. */
export function formatRunReport(r: RunRecord): string {
  const title = `${r.job}${r.float_ids.length && r.float_ids.length <= 5 ? ` ${r.float_ids.join(", ")}` : ""}`;
  const lines = [`${title}: ${r.verdict} in ${secs(r.duration_ms)} [${r.runtime}] run ${r.run_id}`];
  for (const s of r.stages) {
    const parsed = s.stats === null ? null : stageDef(s.stage).stats.safeParse(s.stats);
    const what = parsed?.success ? stageDef(s.stage).summary(parsed.data) : "";
    lines.push(`  ${s.stage.padEnd(6)} ${s.verdict.padEnd(9)} ${secs(s.duration_ms).padStart(8)}  ${[what, s.reason].filter(Boolean).join(" | ")}`);
  }
  for (const f of r.failures.slice(0, 20)) lines.push(`  failed: ${f.stage} ${f.float_id ? `float ${f.float_id} ` : ""}${f.file ? `${f.file} ` : ""}- ${f.reason}`);
  if (r.failures.length > 20) lines.push(`  ... and ${r.failures.length - 20} more (see the run record)`);
  return lines.join("\n");
}

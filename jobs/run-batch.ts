/**
 * deno task run-batch: sync, parse and load FLOAT_IDS (or every float of
 * ARGO_DAC) in batches.
 */
import process from "node:process";
import { OPTION_HELP, runJob } from "../lib/cli.ts";
import { ConfigError } from "../lib/errors.ts";

const usage = `Usage: deno task run-batch [options]
       npx tsx jobs/run-batch.ts [options]

Runs the whole pipeline (sync, parse, load) for many floats, BATCH_SIZE floats
at a time, one batch after the other:
  with FLOAT_IDS (--float)   each batch is synced, parsed and loaded in turn
  with ARGO_DAC (--dac) only one sync for the DACs first (the index is read once),
                             then each batch of the floats the raw zone holds is
                             parsed and loaded
Each stage runs its own workers (HTTP_CONCURRENCY requests, MAX_WORKERS parse
threads). A failed batch is reported and the next one runs.

Options:
  --float WMO        floats to run (repeatable, or comma-separated; FLOAT_IDS)
  --dac DAC          without --float: every float of these DACs (ARGO_DAC)
  --batch-size N     floats per batch (BATCH_SIZE, default 10)
  --max-workers N    parse worker threads (MAX_WORKERS, default 4)
  --skip-download    no sync: parse and load what the raw zone already holds
${OPTION_HELP.gdac}
${OPTION_HELP.lake}
  --json             print the final stats as JSON on stdout (logs go to stderr)
${OPTION_HELP.dotenv}
${OPTION_HELP.help}

Every setting is also a --kebab-case flag (--database-url, --redis-url, ...).

Exit codes: 0 every batch succeeded; 1 a batch failed (its stage and reason are
printed); 2 bad arguments or settings, or neither FLOAT_IDS nor ARGO_DAC given.
`;

await runJob({
  name: "run-batch",
  usage,
  flags: { "skip-download": { type: "boolean" } },
}, async (ctx) => {
  if (ctx.positionals.length) throw new ConfigError(`unexpected argument ${JSON.stringify(ctx.positionals[0])}; floats go in --float or FLOAT_IDS; see --help`);
  if (ctx.config.FLOAT_IDS.length === 0 && ctx.config.ARGO_DAC.length === 0) {
    throw new ConfigError("nothing to run: set FLOAT_IDS (--float) or ARGO_DAC (--dac); see --help");
  }
  const { runBatch, formatPipelineReport, recordRun } = await import("../lib/pipeline.ts");
  const { openLake } = await import("../lib/lake/open.ts");
  const store = openLake(ctx.config);
  try {
    const started = new Date();
    const stats = await runBatch(ctx.config, store, ctx.log, { skipDownload: ctx.flags["skip-download"] === true });
    const failed = stats.batches_failed > 0 || stats.dac_sync_error !== null;
    const error = stats.dac_sync_error ? `sync: ${stats.dac_sync_error}` : failed ? `${stats.batches_failed} of ${stats.batches_total} batches failed` : null;
    await recordRun(ctx.config, ctx.log, "run-batch", started, failed ? "failed" : "succeeded", stats, error);
    if (ctx.flags.json) process.stdout.write(JSON.stringify(stats, null, 2) + "\n");
    else {
      const lines: string[] = [];
      if (stats.dac_sync) {
        const y = stats.dac_sync;
        lines.push(`sync of ${ctx.config.ARGO_DAC.join(", ")}: ${y.total_floats} float(s), ${y.files_downloaded} file(s) downloaded, ${y.files_skipped} skipped as up to date, ${y.errors} error(s), ${y.duration_s.toFixed(2)} s`);
      }
      lines.push(...stats.batches.map((b, i) => formatPipelineReport(b, `batch ${i + 1} (${b.float_ids.join(", ")})`)));
      lines.push(`run-batch: ${stats.floats_succeeded} of ${stats.floats_total} float(s) succeeded in ${stats.batches_total} batch(es), ${(stats.duration_ms / 1000).toFixed(2)} s`);
      process.stdout.write(lines.join("\n") + "\n");
    }
    if (stats.dac_sync_error) process.stderr.write(`run-batch: sync stage failed for ${ctx.config.ARGO_DAC.join(", ")}: ${stats.dac_sync_error}\n`);
    for (const b of stats.batches) {
      if (b.status === "failed") process.stderr.write(`run-batch: ${b.failed_stage} stage failed for floats ${b.float_ids.join(", ")}: ${b.error}\n`);
    }
    return failed ? 1 : 0;
  } finally {
    await store.close();
  }
});

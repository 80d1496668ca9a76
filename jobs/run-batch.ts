/**
 * deno task run-batch: sync, parse and load FLOAT_IDS (or every float of
 * ARGO_DAC), each stage working through the floats BATCH_SIZE at a time.
 */
import { EXIT_CODES_HELP, OPTION_HELP, runJob } from "../lib/cli.ts";
import { fullCheckHelp } from "../lib/config.ts";
import { ConfigError } from "../lib/errors.ts";

const usage = `Usage: deno task run-batch [options]
       npx tsx jobs/run-batch.ts [options]

Runs the whole pipeline for many floats: one sync of FLOAT_IDS (--float), or
of every float of ARGO_DAC (--dac; the index is read once), then one parse and
one load of them, each working through the floats BATCH_SIZE at a time with
its own workers (HTTP_CONCURRENCY requests, MAX_WORKERS parse threads). A
float that fails is named in the run record and the others go on (partial).

Options:
  --float WMO        floats to run (repeatable, or comma-separated; FLOAT_IDS)
  --dac DAC          without --float: every float of these DACs (ARGO_DAC)
  --batch-size N     floats per parse and load batch (BATCH_SIZE, default 10)
  --max-workers N    parse worker threads (MAX_WORKERS, default: one per core)
  --skip-download    no sync: parse and load what the raw zone already holds
${fullCheckHelp(21)}
${OPTION_HELP.gdac}
${OPTION_HELP.lake}
  --json             print the run record as JSON on stdout (logs go to stderr)
${OPTION_HELP.dotenv}
${OPTION_HELP.help}

Every setting is also a --kebab-case flag (--database-url, --redis-url, ...).

${EXIT_CODES_HELP}
Neither FLOAT_IDS nor ARGO_DAC given is bad settings (exit 2).
`;

await runJob({
  name: "run-batch",
  usage,
  flags: { "skip-download": { type: "boolean" }, "full-check": { type: "boolean", config: "FULL_CHECK" } },
}, async (ctx) => {
  if (ctx.positionals.length) throw new ConfigError(`unexpected argument ${JSON.stringify(ctx.positionals[0])}; floats go in --float or FLOAT_IDS; see --help`);
  if (ctx.config.FLOAT_IDS.length === 0 && ctx.config.ARGO_DAC.length === 0) {
    throw new ConfigError("nothing to run: set FLOAT_IDS (--float) or ARGO_DAC (--dac); see --help");
  }
  const { runFromCli } = await import("../lib/cli-run.ts");
  return await runFromCli(ctx, { job: "run-batch", skip: ctx.flags["skip-download"] === true ? ["sync"] : undefined });
});

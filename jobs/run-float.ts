/**
 * deno task run-float <WMO>: sync, parse and load one float, end to end.
 */
import { EXIT_CODES_HELP, OPTION_HELP, runJob } from "../lib/cli.ts";
import { ConfigError } from "../lib/errors.ts";
import { isWmo } from "../lib/argo/ids.ts";

const usage = `Usage: deno task run-float <WMO> [options]
       npx tsx jobs/run-float.ts <WMO> [options]

Runs the whole pipeline for one float: sync its files from the GDAC into the
lake's raw zone, parse them into the lake's Parquet tables, then load the
float into Postgres (DATABASE_URL) and the Redis hot layer (REDIS_URL). A
target whose URL is unset is skipped: the lake alone is a valid deployment.
Prints what each stage did and how long it took.

Arguments:
  <WMO>              the float's WMO number (5 or 7 digits)

Options:
  --skip-download    no sync: parse and load what the raw zone already holds
${OPTION_HELP.gdac}
${OPTION_HELP.lake}
  --json             print the run record as JSON on stdout (logs go to stderr)
${OPTION_HELP.dotenv}
${OPTION_HELP.help}

Every setting is also a --kebab-case flag, e.g. --database-url, --redis-url,
--redis-prefix, --redis-ttl, --log-format text.

${EXIT_CODES_HELP}
`;

await runJob({
  name: "run-float",
  usage,
  flags: { "skip-download": { type: "boolean" } },
}, async (ctx) => {
  if (ctx.positionals.length !== 1) {
    throw new ConfigError(`expected exactly one WMO float number, got ${ctx.positionals.length === 0 ? "none" : ctx.positionals.join(" ")}; see --help`);
  }
  const wmo = ctx.positionals[0];
  if (!isWmo(wmo)) throw new ConfigError(`${JSON.stringify(wmo)} is not a WMO float number (5 or 7 digits); see --help`);
  // Loaded here, not at the top, so --help and argument errors answer without loading DuckDB, pg and the parser.
  const { runFromCli } = await import("../lib/cli-run.ts");
  return await runFromCli(ctx, { job: "run-float", floatIds: [wmo], skip: ctx.flags["skip-download"] === true ? ["sync"] : undefined });
});

/**
 * deno task load: the lake's aggregates into Postgres and the Redis hot layer.
 */
import { EXIT_CODES_HELP, OPTION_HELP, runJob } from "../lib/cli.ts";
import { fullCheckHelp } from "../lib/config.ts";
import { ConfigError } from "../lib/errors.ts";

const usage = `Usage: deno task load [options]
       npx tsx jobs/load.ts [options]

Computes aggregates over the lake's Parquet tables with DuckDB (the SQL in
lake/aggregates/) and loads them:
  Postgres (DATABASE_URL)  tables floats, profiles, climatology (1x1 degree x
                           month x pressure band: n, mean, stddev of temp,
                           psal, doxy with good QC), job_runs; the schema is
                           created and migrated by the job itself
  Redis (REDIS_URL)        per float a summary hash and its latest profile as
                           JSON, a GEO set of latest positions and a sorted set
                           by latest profile time, under REDIS_PREFIX, with
                           REDIS_TTL seconds to live (0 = no expiry)
A target whose URL is unset is skipped with one log line. Loading the same lake
twice changes nothing; floats gone from the lake are removed from both targets.
Each target keeps a cursor into the lake's change journal: a load reads only the
floats parse changed since (none: no Parquet file is opened); a target without
one (first load, new database, flushed Redis) gets a full load.

Options:
  --float WMO        only these floats (repeatable, or comma-separated; FLOAT_IDS)
  --dac DAC          only floats of this DAC (repeatable; ARGO_DAC)
${OPTION_HELP.lake}
  --database-url URL postgres://user@host:port/db (DATABASE_URL)
  --redis-url URL    redis://host:port (REDIS_URL)
  --redis-prefix P   key prefix (REDIS_PREFIX, default "argo:")
  --redis-ttl S      seconds a key lives, 0 = no expiry (REDIS_TTL, default 604800)
  --batch-size N     floats read from the lake per query batch (BATCH_SIZE, default 10)
  --full             load every selected float, not only those the lake's change
                     journal names since the last load
${fullCheckHelp(21)}
  --json             print the run's stats as JSON on stdout (logs go to stderr)
  --allow-removals   let this run remove more floats than REMOVAL_MAX_FLOATS or
                     REMOVAL_MAX_SHARE allow, or all of them (ALLOW_REMOVALS=true)
${OPTION_HELP.dotenv}
${OPTION_HELP.help}

${EXIT_CODES_HELP}
With neither DATABASE_URL nor REDIS_URL the load is skipped (exit 0).
`;

await runJob({ name: "load", usage, flags: { full: { type: "boolean" }, "full-check": { type: "boolean", config: "FULL_CHECK" }, "allow-removals": { type: "boolean", config: "ALLOW_REMOVALS" } } }, async (ctx) => {
  if (ctx.positionals.length) throw new ConfigError(`unexpected argument ${JSON.stringify(ctx.positionals[0])}; see --help`);
  const { runFromCli } = await import("../lib/cli-run.ts");
  return await runFromCli(ctx, { job: "load", force: ctx.flags.full === true });
});

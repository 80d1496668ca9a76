/**
 * deno task load: the lake's aggregates into Postgres and the Redis hot layer.
 */
import { OPTION_HELP, printStats, runJob } from "../lib/cli.ts";
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

Options:
  --float WMO        only these floats (repeatable, or comma-separated; FLOAT_IDS)
  --dac DAC          only floats of this DAC (repeatable; ARGO_DAC)
${OPTION_HELP.lake}
  --database-url URL postgres://user@host:port/db (DATABASE_URL)
  --redis-url URL    redis://host:port (REDIS_URL)
  --redis-prefix P   key prefix (REDIS_PREFIX, default "argo:")
  --redis-ttl S      seconds a key lives, 0 = no expiry (REDIS_TTL, default 604800)
  --batch-size N     floats read from the lake per query batch (BATCH_SIZE, default 10)
  --json             print the run's stats as JSON on stdout (logs go to stderr)
  --allow-removals   let this run remove more floats than REMOVAL_MAX_FLOATS or
                     REMOVAL_MAX_SHARE allow, or all of them (ALLOW_REMOVALS=true)
${OPTION_HELP.dotenv}
${OPTION_HELP.help}

Exit codes: 0 done; 1 a target could not be reached or a float failed to load
(the others are loaded; see errors in the stats); 2 bad arguments or settings.
`;

await runJob({ name: "load", usage, flags: { "allow-removals": { type: "boolean", config: "ALLOW_REMOVALS" } } }, async (ctx) => {
  if (ctx.positionals.length) throw new ConfigError(`unexpected argument ${JSON.stringify(ctx.positionals[0])}; see --help`);
  const { runLoad } = await import("../lib/load/run.ts");
  const { recordRun } = await import("../lib/pipeline.ts");
  const { openLake } = await import("../lib/lake/open.ts");
  const { describeError } = await import("../lib/cli.ts");
  const store = openLake(ctx.config);
  const started = new Date();
  try {
    const stats = await runLoad(ctx.config, store, ctx.log);
    await recordRun(ctx.config, ctx.log, "load", started, "succeeded", stats, null);
    printStats(ctx, stats, "load finished");
    return 0;
  } catch (err) {
    const stats = (err as { context?: { stats?: unknown } }).context?.stats ?? null;
    await recordRun(ctx.config, ctx.log, "load", started, "failed", stats, describeError(err));
    throw err;
  } finally {
    await store.close();
  }
});

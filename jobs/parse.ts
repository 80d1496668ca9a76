/**
 * deno task parse: raw NetCDF files in the lake to Parquet tables (or
 * ProfileData JSON on stdout with --format json).
 */
import process from "node:process";
import { EXIT_CODES_HELP, OPTION_HELP, runJob } from "../lib/cli.ts";
import { ConfigError } from "../lib/errors.ts";
import { partitionFileKey, QUARANTINE_PREFIX, rawFloatPrefix } from "../lib/lake/layout.ts";

const usage = `Usage: deno task parse [options]
       npx tsx jobs/parse.ts [options]

Parses the raw NetCDF files that sync landed in the lake (${rawFloatPrefix("<dac>", "<wmo>")})
into Hive-partitioned Parquet tables:
  ${partitionFileKey("measurements", "<dac>", "<yyyy>", "<wmo>")}  one row per level
  ${partitionFileKey("profiles", "<dac>", "<yyyy>", "<wmo>")}      one row per profile
  ${partitionFileKey("floats", "<dac>", null, "<wmo>")}                    one row per float
Only floats whose raw files changed since their last parse are parsed again.
A file that fails to parse is recorded under ${QUARANTINE_PREFIX} and the float's other
files still land (see deno task status).

Options:
  --force            reparse every selected float, changed or not
  --format FORMAT    parquet (default): write the lake's tables;
                     json: print the original system's ProfileData JSON array
                     to stdout instead, writing nothing
  --float WMO        only this float (repeatable, or comma-separated; FLOAT_IDS)
  --dac DAC          only this DAC (repeatable; ARGO_DAC)
${OPTION_HELP.lake}
  --max-workers N    worker threads (MAX_WORKERS, default: one per core)
  --batch-size N     floats per batch (BATCH_SIZE, default 10)
  --profile-batch-limit N
                     at most N profile files per float, lowest cycles first;
                     None = all (PROFILE_BATCH_LIMIT)
  --arrow-compression zstd|snappy|gzip|lz4|uncompressed (ARROW_COMPRESSION)
  --json             print the run's stats as JSON on stdout (logs go to stderr)
  --allow-removals   let this run remove more floats than REMOVAL_MAX_FLOATS or
                     REMOVAL_MAX_SHARE allow, or all of them (ALLOW_REMOVALS=true)
${OPTION_HELP.dotenv}
${OPTION_HELP.help}

${EXIT_CODES_HELP}
A quarantined file makes the run partial (the float's other files land); a
missing lake or the removal guard stopping the run is failed.
`;

await runJob({
  name: "parse",
  usage,
  flags: { force: { type: "boolean" }, format: { type: "string" }, "allow-removals": { type: "boolean", config: "ALLOW_REMOVALS" } },
}, async (ctx) => {
  const format = typeof ctx.flags.format === "string" ? ctx.flags.format : "parquet";
  if (format !== "parquet" && format !== "json") throw new ConfigError(`--format ${JSON.stringify(format)}: expected parquet or json`);
  if (ctx.positionals.length) throw new ConfigError(`unexpected argument ${JSON.stringify(ctx.positionals[0])}; see --help`);
  if (format === "parquet") {
    const { runFromCli } = await import("../lib/cli-run.ts");
    return await runFromCli(ctx, { job: "parse", force: ctx.flags.force === true });
  }
  // --format json prints ProfileData and writes nothing: a read of the lake, not a run.
  const { openLake } = await import("../lib/lake/open.ts");
  const { assertLakeExists } = await import("../lib/removal-guard.ts");
  const store = openLake(ctx.config);
  try {
    assertLakeExists(store, "parse");
    const { profileDataOf } = await import("../lib/parse/json.ts");
    let n = 0;
    process.stdout.write("[");
    for await (const p of profileDataOf(ctx.config, store, ctx.log)) {
      process.stdout.write((n++ ? ",\n" : "\n") + JSON.stringify(p));
    }
    process.stdout.write(n ? "\n]\n" : "]\n");
    ctx.log.info("parse: ProfileData printed", { profiles: n });
    return 0;
  } finally {
    await store.close();
  }
});

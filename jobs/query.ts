/**
 * deno task query "<SQL>": ad-hoc SQL over the lake's tables in an in-memory DuckDB.
 */
import { readFileSync } from "node:fs";
import process from "node:process";
import { OPTION_HELP, runJob } from "../lib/cli.ts";
import { ConfigError } from "../lib/errors.ts";
import type { StreamFormat } from "../lib/lake/query.ts";

const usage = `Usage: deno task query "<SQL>" [options]
       npx tsx jobs/query.ts "<SQL>" [options]

Runs SQL in an in-memory DuckDB over the lake. Views:
  measurements            one row per level: PRES, TEMP, PSAL (raw, adjusted, QC, error, mode)
  bgc_measurements        one row per level and BGC or intermediate parameter (long form)
  synthetic               one row per level and parameter of the S-files (long form)
  measurements_bgc        measurements with DOXY, CHLA, BBP700, ... pivoted back into columns
  profiles                one row per profile
  floats                  one row per float
  dictionary              every column and parameter: type, units, long name, Argo variable
  measurements_standard   argopy's standard mode (per-parameter rules for BGC)
  measurements_research   argopy's research mode (delayed mode, QC 1; BGC D, QC 1/5/8)
Filter on dac and year to read only the matching files, e.g.
  deno task query "SELECT count(*) FROM measurements WHERE dac = 'aoml' AND year = 2001"
SQL "-" reads the SQL from standard input.

Options:
  --format FORMAT    table (default: the first rows and how many more), csv, ndjson,
                     json or arrow (Arrow IPC stream) on stdout; with --out, also
                     parquet (default: from the file's extension). Answers stream
                     chunk by chunk; none is held whole in memory
  --out FILE         write the answer to FILE (.csv, .ndjson, .json, .parquet, .arrow)
  --force            with --out: replace FILE if it exists (refused otherwise)
  --max-rows N       rows shown in table format (default 40; the total is printed)
${OPTION_HELP.lake}
  --cache-dir DIR    S3 lake: where its Parquet files are cached locally
                     (default: a folder per lake under the OS temp dir)
  --httpfs           S3 lake: read s3:// directly with DuckDB's httpfs extension
                     instead of the cache (needs "INSTALL httpfs" done once)
${OPTION_HELP.dotenv}
${OPTION_HELP.help}

Exit codes: 0 done; 1 the query failed; 2 bad arguments or settings.
`;

await runJob({
  name: "query",
  usage,
  flags: {
    format: { type: "string" },
    out: { type: "string" },
    "max-rows": { type: "string" },
    "cache-dir": { type: "string" },
    httpfs: { type: "boolean" },
    force: { type: "boolean" },
  },
}, async (ctx) => {
  if (ctx.positionals.length === 0) throw new ConfigError("expected the SQL to run as an argument; see --help");
  const sql = ctx.positionals.length === 1 && ctx.positionals[0] === "-" ? readFileSync(0, "utf8") : ctx.positionals.join(" ");
  const format = typeof ctx.flags.format === "string" ? ctx.flags.format : undefined;
  const out = typeof ctx.flags.out === "string" ? ctx.flags.out : undefined;
  const { QUERY_FORMATS } = await import("../lib/lake/query.ts");
  if (format && !(QUERY_FORMATS as readonly string[]).includes(format)) throw new ConfigError(`--format ${JSON.stringify(format)}: expected ${QUERY_FORMATS.join(", ")}`);
  if (format === "parquet" && !out) throw new ConfigError("--format parquet needs --out FILE");
  if (format === "table" && out) throw new ConfigError("--format table prints to the terminal; with --out use csv, ndjson, json, parquet or arrow");
  const maxRows = ctx.flags["max-rows"] === undefined ? 40 : Number(ctx.flags["max-rows"]);
  if (!Number.isInteger(maxRows) || maxRows < 0) throw new ConfigError(`--max-rows ${JSON.stringify(ctx.flags["max-rows"])}: expected a whole number >= 0`);

  const { openLake } = await import("../lib/lake/open.ts");
  const q = await import("../lib/lake/query.ts");
  const fileFormat = out ? q.formatForFile(out, format) : undefined;
  const store = openLake(ctx.config);
  try {
    const lake = await q.openLakeSession(ctx.config, store, {
      httpfs: ctx.flags.httpfs === true,
      cacheDir: typeof ctx.flags["cache-dir"] === "string" ? ctx.flags["cache-dir"] : undefined,
      env: ctx.env,
    });
    try {
      if (lake.cache) ctx.log.info("query: S3 lake cached locally", { ...lake.cache });
      if (out && fileFormat) {
        const rows = await q.streamQuery(lake.session, sql, fileFormat, { file: out, force: ctx.flags.force === true });
        ctx.log.info("query: result written", { file: out, format: fileFormat, rows });
        return 0;
      }
      if (format && format !== "table") await q.streamQuery(lake.session, sql, format as StreamFormat, { stdout: process.stdout });
      else process.stdout.write(await q.queryToTable(lake.session, sql, maxRows));
      return 0;
    } finally {
      lake.close();
    }
  } finally {
    await store.close();
  }
});

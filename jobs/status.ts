/**
 * deno task status: runs, backlog and freshness of the lake, and an exit code a probe can use.
 */
import process from "node:process";
import { OPTION_HELP, runJob } from "../lib/cli.ts";

const usage = `Usage: deno task status [options]
       npx tsx jobs/status.ts [options]

What an operator and a probe need to know about the lake:
  the latest run of each job, with its verdict and age;
  the backlog: floats synced but not parsed, parsed but not loaded, and
  quarantined files;
  freshness per DAC: the newest date_update landed against the newest in the
  cached GDAC index, over the floats the settings select (--dac, --float);
  compaction: staging files not yet folded (count, bytes, oldest), the live
  list's commit and segments, and files waiting for GC.

Options:
  --dac DAC          only this DAC (repeatable; ARGO_DAC)
  --float WMO        only these floats (repeatable; FLOAT_IDS)
${OPTION_HELP.lake}
  --status-max-lag H hours a DAC, the cached index or compaction may lag (STATUS_MAX_LAG, default 24)
  --json             print the status as one JSON object on stdout
${OPTION_HELP.dotenv}
${OPTION_HELP.help}

Exit codes: 0 healthy; 1 unhealthy: the lake does not exist or holds nothing,
the latest run of a job failed, a DAC is stale (its newest date_update in the
index is more than STATUS_MAX_LAG hours newer than its newest landed), or the
cached index is older than STATUS_MAX_LAG hours, compaction is behind (a
staging file no compaction has looked at is older than STATUS_MAX_LAG hours)
or the live list is unreadable; every reason is listed;
2 bad arguments or settings.
`;

await runJob({ name: "status", usage }, async (ctx) => {
  const { openLake } = await import("../lib/lake/open.ts");
  const { formatLakeStatus, lakeStatus } = await import("../lib/schedule/status.ts");
  const { formatParseStatus, parseStatus } = await import("../lib/parse/status.ts");
  const store = openLake(ctx.config);
  try {
    const status = await lakeStatus(ctx.config, store, ctx.log);
    const parse = await parseStatus(store, { dac: ctx.config.ARGO_DAC[0] });
    process.stdout.write(ctx.flags.json ? JSON.stringify({ ...status, parse }, null, 2) + "\n" : formatLakeStatus(status) + formatParseStatus(parse));
    return status.healthy ? 0 : 1;
  } finally {
    await store.close();
  }
});

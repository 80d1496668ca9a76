/**
 * deno task status: what the lake holds: parse state per float, quarantined files, runs, freshness.
 */
import process from "node:process";
import { OPTION_HELP, runJob } from "../lib/cli.ts";

const usage = `Usage: deno task status [options]
       npx tsx jobs/status.ts [options]

Lists every parsed float (profiles, measurement rows, Parquet files, when it
was parsed), every quarantined raw file with the reason it failed, the latest
runs and the lake's freshness per DAC.

Options:
  --dac DAC          only this DAC (ARGO_DAC; the first one when several)
${OPTION_HELP.lake}
  --json             print the status as JSON on stdout
${OPTION_HELP.dotenv}
${OPTION_HELP.help}

Exit codes: 0 done; 1 the lake could not be read; 2 bad arguments or settings.
`;

await runJob({ name: "status", usage }, async (ctx) => {
  const { openLake } = await import("../lib/lake/open.ts");
  const { formatParseStatus, parseStatus } = await import("../lib/parse/status.ts");
  const { formatScheduleStatus, scheduleStatus } = await import("../lib/schedule/status.ts");
  const store = openLake(ctx.config);
  try {
    const [parse, schedule] = await Promise.all([parseStatus(store, { dac: ctx.config.ARGO_DAC[0] }), scheduleStatus(ctx.config, store)]);
    process.stdout.write(ctx.flags.json ? JSON.stringify({ parse, schedule }, null, 2) + "\n" : formatParseStatus(parse) + formatScheduleStatus(schedule) + "\n");
    return 0;
  } finally {
    await store.close();
  }
});

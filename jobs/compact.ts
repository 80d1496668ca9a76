/**
 * deno task compact: folds the staging files parse wrote into the lake's
 * compacted segments and commits them (lib/lake/compact.ts).
 */
import { EXIT_CODES_HELP, OPTION_HELP, runJob } from "../lib/cli.ts";
import { ConfigError } from "../lib/errors.ts";
import { LIVE_KEY, lockKey, partitionFileKey, segmentKey } from "../lib/lake/layout.ts";

const usage = `Usage: deno task compact [options]
       npx tsx jobs/compact.ts [options]

Folds the per-float staging files parse writes
  ${partitionFileKey("measurements", "<dac>", "<yyyy>", "<wmo>")}
into compacted segments of many floats, sorted by float and time,
  ${segmentKey("measurements", "<dac>", "<yyyy>", 1, 0)}
and commits them with one atomic write of ${LIVE_KEY}. Readers see the old
table or the new one, whole. A partition is rewritten once its staged bytes
reach COMPACT_MIN_SHARE of its segment bytes (every partition on the first
compaction). Files made redundant are deleted COMPACT_GRACE seconds after the
commit that replaced them. The scheduler's cycle runs this after parse; only
one compaction runs at a time (the "compact" lock: Postgres with DATABASE_URL,
the lake's ${lockKey("compact")} otherwise).

Options:
  --all              rewrite every partition with staging files or hidden rows,
                     whatever COMPACT_MIN_SHARE says
${OPTION_HELP.lake}
  --compact-target-rows N   rows per segment at most, split at float boundaries
                     (COMPACT_TARGET_ROWS, default 16000000)
  --compact-min-share S     (COMPACT_MIN_SHARE, default 0.1)
  --compact-grace S  seconds before redundant files are deleted (COMPACT_GRACE, default 600)
  --json             print the run's stats as JSON on stdout (logs go to stderr)
${OPTION_HELP.dotenv}
${OPTION_HELP.help}

${EXIT_CODES_HELP}
Nothing to compact is skipped (exit 0); a compaction stopped before its commit
is failed and leaves the lake as it was.
`;

await runJob({ name: "compact", usage, flags: { all: { type: "boolean" } } }, async (ctx) => {
  if (ctx.positionals.length) throw new ConfigError(`unexpected argument ${JSON.stringify(ctx.positionals[0])}; see --help`);
  const { runFromCli } = await import("../lib/cli-run.ts");
  return await runFromCli(ctx, { job: "compact", force: ctx.flags.all === true });
});

/**
 * deno task schedule: runs sync, parse, compact and load on their cron
 * schedules (or one cycle on SCHEDULE_CRON, with compact on COMPACT_CRON
 * beside it) until SIGTERM/SIGINT; `--once` runs one job and exits
 * (Kubernetes CronJob, ECS scheduled task).
 */
import { EXIT_CODES_HELP, printStats, runJob } from "../lib/cli.ts";
import { ConfigError } from "../lib/errors.ts";
import { latestRunKey, lockKey, runKey } from "../lib/lake/layout.ts";
import { JOB_NAMES, JOB_STAGES, type JobName } from "../lib/schedule/runs.ts";
import { serveSchedule } from "../lib/schedule/service.ts";

const cycle = JOB_STAGES.cycle;
/** What a cycle runs, from JOB_STAGES: "sync, parse, then load". */
const cycleStages = `${cycle.slice(0, -1).join(", ")}, then ${cycle.at(-1)}`;

const usage = `Usage: deno task schedule [--once [--job ${JOB_NAMES.join("|")}]] [--shard i/n] [options]

Runs the pipeline on a schedule (UTC), one run at a time, never two at once
for the same lake and shard (Postgres advisory lock with DATABASE_URL, a lock
object ${lockKey("scheduler")} in the lake otherwise).

  SCHEDULE_CRON    one cron for a whole cycle: ${cycleStages}; compact is
                   its own job and keeps COMPACT_CRON beside it
  SYNC_CRON, PARSE_CRON, COMPACT_CRON, LOAD_CRON
                   one cron per stage, each run as its own job; with
                   SCHEDULE_CRON set only COMPACT_CRON of them is used
                   (5 fields, or 6 with seconds first; UTC)
  --once           run one job now and exit with its verdict's exit code
  --job NAME       with --once: cycle (default), ${JOB_NAMES.filter((j) => j !== "cycle").join(", ")}
  --shard i/n      only floats with fnv1a32(WMO) mod n = i; auto/n takes i from
                   JOB_COMPLETION_INDEX or AWS_BATCH_JOB_ARRAY_INDEX (env SHARD)
  --float WMO      only these floats (repeatable; required by run-float)
  --shutdown-timeout S
                   seconds to wait for the run in progress on SIGTERM (30)
  --json           with --once, print the run record as JSON on stdout

Every run is recorded in the lake (${runKey("<date>", "<run_id>")}, ${latestRunKey("all")})
and in job_runs when DATABASE_URL is set. With METRICS_PORT set the scheduler
serves GET /healthz (200, or 503 when its last run failed or it is stopping)
and GET /metrics (Prometheus text). Every config variable is also a
--kebab-case flag.

With --once: ${EXIT_CODES_HELP}
A run stopped by SIGTERM is failed (exit 1 with --once); the long-running
scheduler exits 0 once stopped.
`;

await runJob({
  name: "schedule",
  usage,
  flags: { once: { type: "boolean" }, job: { type: "string" } },
}, async (ctx) => {
  const job = typeof ctx.flags.job === "string" ? ctx.flags.job : "cycle";
  if (!(JOB_NAMES as readonly string[]).includes(job)) throw new ConfigError(`--job ${job}: expected one of ${JOB_NAMES.join(", ")}`);
  if (ctx.flags.job !== undefined && !ctx.flags.once) throw new ConfigError("--job needs --once: the timers come from SCHEDULE_CRON or SYNC_CRON/PARSE_CRON/COMPACT_CRON/LOAD_CRON");
  return await serveSchedule({
    config: ctx.config,
    log: ctx.log,
    env: ctx.env,
    once: ctx.flags.once ? { job: job as JobName } : undefined,
    onOutcome: (outcome) =>
      printStats(ctx, outcome.ran ? outcome.record : { ran: false, reason: outcome.reason }, outcome.ran ? `run ${outcome.record.verdict}` : "nothing run"),
  });
});

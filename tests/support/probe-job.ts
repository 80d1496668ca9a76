/**
 * A minimal job for testing the job runner (lib/cli.ts) as a real process:
 * it creates the local lake directory (its only "work", so tests can tell
 * whether it ran), logs the connection settings, optionally fails with a
 * given message, and prints its configuration as JSON on stdout with secrets
 * redacted. Run: `npx tsx tests/support/probe-job.ts --help`.
 */
import { mkdirSync } from "node:fs";
import process from "node:process";
import { runJob } from "../../lib/cli.ts";
import { openLake } from "../../lib/lake/open.ts";

await runJob({
  name: "probe",
  usage: `Usage: probe [--fail MESSAGE] [--hold-ms N] [--tag VALUE]... [--verbose] [config flags]
A test job: creates the lake directory and prints its configuration as JSON.
  --fail MESSAGE  throw an Error with this message after starting
  --hold-ms N     wait N milliseconds after starting (for tests that kill it)`,
  flags: {
    fail: { type: "string" },
    "hold-ms": { type: "string" },
    tag: { type: "string", repeatable: true },
    verbose: { type: "boolean" },
  },
}, async ({ config, log, flags, positionals }) => {
  const lake = openLake(config);
  if (lake.localRoot) mkdirSync(lake.localRoot, { recursive: true });
  await lake.close();
  log.debug("connections", { database_url: config.DATABASE_URL, redis_url: config.REDIS_URL, lake: lake.description });
  log.info("probe started", { lake: lake.description, pid: process.pid });
  if (typeof flags["hold-ms"] === "string") await new Promise((r) => setTimeout(r, Number(flags["hold-ms"])));
  if (typeof flags.fail === "string") throw new Error(flags.fail);
  process.stdout.write(log.redact(JSON.stringify({ config, flags, positionals })) + "\n");
  return 0;
});

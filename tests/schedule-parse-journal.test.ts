/**
 * With per-stage crons (no SCHEDULE_CRON) the scheduler's parse job reads the
 * raw change journal the scheduler's syncs wrote, as the cycle's parse does,
 * instead of listing the raw zone. Everything runs as operators run it
 * (jobs/schedule.ts and jobs/parse.ts as processes) on a real local lake,
 * synced from a local copy of the fixture GDAC whose index loses a profile
 * row at a time: the parse on PARSE_CRON's tick, and `schedule --once --job
 * parse`, each say discovery "journal" and parse exactly the float the sync
 * before named; `deno task parse` from the command line still lists the whole
 * raw zone.
 */
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LocalLakeStore } from "../lib/lake/local.ts";
import { readState } from "../lib/parse/state.ts";
import { listRunRecords, type RunRecord, RunRecordSchema } from "../lib/schedule/runs.ts";
import { stageStats } from "../lib/runner.ts";
import { tempDir, type TempDir } from "./support/fixtures.ts";
import { editableMirror, editIndex } from "./support/https-server.ts";
import { runJobProcess, spawnJobProcess } from "./support/jobs.ts";

/** The aoml floats of the fixture GDAC (ARGO_DAC=aoml): a small raw zone. */
const FLOATS = ["13857", "5900446", "5906072"];
/** Never in a test's lifetime: the timers that must not fire. */
const NEVER = "0 0 1 1 *";

let mirror: TempDir;
let lake: TempDir;
let store: LocalLakeStore;

beforeAll(async () => {
  [mirror, lake] = await Promise.all([editableMirror(), tempDir("schedule-parse")]);
  store = new LocalLakeStore(lake.path);
});

afterAll(async () => {
  await mirror?.cleanup();
  await lake?.cleanup();
});

const env = (extra: Record<string, string> = {}): Record<string, string> => ({
  GDAC_BASE_URL: mirror.path,
  LAKE_URL: lake.path,
  ARGO_DAC: "aoml",
  MAX_WORKERS: "1",
  LOG_FORMAT: "json",
  ...extra,
});

/** `schedule --once --job <job>`: the scheduler's run path; its run record. */
async function once(job: "sync" | "parse"): Promise<RunRecord> {
  const r = await runJobProcess("schedule", ["--once", "--job", job, "--json"], { env: env(), timeoutMs: 120_000 });
  expect(r.code, r.stderr).toBe(0);
  const record = RunRecordSchema.parse(JSON.parse(r.stdout));
  expect(record).toMatchObject({ job, trigger: "once", verdict: "succeeded" });
  return record;
}

/** Drops one profile row from the fixture mirror's index: the next sync moves its file to removed/ and names its float. */
const dropIndexRow = (file: string) =>
  editIndex(mirror.path, "ar_index_global_prof.txt", (t) => t.replace(new RegExp(`^aoml/\\d+/profiles/${file.replace(".", "\\.")},.*\\n`, "m"), ""));

/** The floats whose parse state the run wrote: the floats it parsed. */
async function parsedBy(runId: string): Promise<string[]> {
  const out: string[] = [];
  for (const wmo of FLOATS) if ((await readState(store, "aoml", wmo))?.run_id === runId) out.push(wmo);
  return out;
}

describe("the scheduler's parse job reads the raw change journal", () => {
  it("on PARSE_CRON and with --once --job parse it parses exactly the float the sync named; the parse job from the command line lists everything", async () => {
    await once("sync");
    // No cursor yet: the first scheduled parse lists the raw zone (and keeps a cursor from its start).
    const first = await once("parse");
    expect(stageStats(first, "parse")).toMatchObject({ discovery: "full", floats_parsed: 3, errors: 0 });

    await dropIndexRow("D5900446_001.nc");
    expect(stageStats(await once("sync"), "sync")).toMatchObject({ files_removed: 1 });
    // The parse on its own cron (the sync, compact and load timers never fire in this test).
    const since = new Date().toISOString();
    const scheduler = spawnJobProcess("schedule", [], {
      env: env({ SYNC_CRON: NEVER, PARSE_CRON: "* * * * * *", COMPACT_CRON: NEVER, LOAD_CRON: NEVER, SHUTDOWN_TIMEOUT: "20" }),
      timeoutMs: 120_000,
    });
    let ticked: RunRecord | undefined;
    const end = Date.now() + 90_000;
    while (!ticked && Date.now() < end) {
      await new Promise((r) => setTimeout(r, 300));
      ticked = (await listRunRecords(store, 20)).reverse().find((r) => r.job === "parse" && r.trigger === "schedule" && r.started_at >= since);
    }
    scheduler.kill("SIGTERM");
    const stopped = await scheduler.done;
    expect(ticked, stopped.stderr).toBeDefined();
    expect(stopped.code, stopped.stderr).toBe(0);
    expect(ticked!.verdict).toBe("succeeded");
    expect(stageStats(ticked!, "parse")).toMatchObject({ discovery: "journal", floats_parsed: 1, floats_skipped: 0, floats_removed: 0, errors: 0 });
    expect(await parsedBy(ticked!.run_id)).toEqual(["5900446"]);

    await dropIndexRow("R13857_003.nc");
    expect(stageStats(await once("sync"), "sync")).toMatchObject({ files_removed: 1 });
    const onced = await once("parse");
    expect(stageStats(onced, "parse")).toMatchObject({ discovery: "journal", floats_parsed: 1, floats_skipped: 0, errors: 0 });
    expect(await parsedBy(onced.run_id)).toEqual(["13857"]);

    // `deno task parse` (here through Node) lists the whole raw zone: every float looked at, none changed.
    const cli = await runJobProcess("parse", ["--json"], { env: env(), timeoutMs: 120_000 });
    expect(cli.code, cli.stderr).toBe(0);
    expect(JSON.parse(cli.stdout)).toMatchObject({ discovery: "full", floats_parsed: 0, floats_skipped: 3, errors: 0 });
  }, 300_000);
});

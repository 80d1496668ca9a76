/**
 * A terminal that a person can read: a sync and a parse run on a real
 * pseudo-terminal (tmux), their screen is captured while they run, and on
 * every capture each line is either a whole log line (text, since stderr is
 * a TTY) or the one progress bar, kept below the log lines; none is a bar
 * with a log line written over it. Skipped where tmux is not installed
 * (.ci/run installs it).
 */
import { execFileSync, spawnSync } from "node:child_process";
import { mkdir } from "node:fs/promises";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot, tempDir, type TempDir } from "./support/fixtures.ts";
import { startHttpsServer, type TestHttpsServer } from "./support/https-server.ts";

const hasTmux = spawnSync("tmux", ["-V"]).status === 0;
const FLOATS = "5900865,2902269"; // 82 and 59 files
let work: TempDir;
let server: TestHttpsServer;
const session = `argo-lake-tty-${process.pid}`;

beforeAll(async () => {
  work = await tempDir("tty");
  // Slow enough (one request at a time, 25 ms each) for several captures while the bar moves; a few 404s log errors mid-bar.
  server = await startHttpsServer({ latencyMs: 25 });
  server.setFaults({ rules: [{ path: /5900865_0[1-4]\d\.nc$/, fault: { kind: "status", status: 404 } }] });
});
afterAll(async () => {
  spawnSync("tmux", ["kill-session", "-t", session]);
  await server?.stop();
  await work?.cleanup();
});

const LOG_LINE = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z (DEBUG|INFO |WARN |ERROR) \[[^\]]{8}\] \S/;
const BAR_LINE = /^(sync|parse) \[[#-]{24}\] {2}\d+\/\d+ (files|floats) {2}[\d.]+\/s {2}(ETA [^ ]+( s| min| h)?|done) {2}(\d+\.\d MB {2})?\d+ retries {2}\d+ errors$/;

describe.skipIf(!hasTmux)("progress bars and log lines on a terminal", () => {
  it("keeps log lines above the bar during a sync and a parse, never overwriting each other", async () => {
    const lake = join(work.path, "lake");
    await mkdir(lake);
    const loader = pathToFileURL(resolve(repoRoot, "node_modules", "tsx", "dist", "loader.mjs")).href;
    const node = (job: string, args: string) => `${process.execPath} --import ${loader} ${resolve(repoRoot, "jobs", `${job}.ts`)} ${args}`;
    const env = [
      `PATH=${process.env.PATH}`,
      `HOME=${process.env.HOME ?? "/tmp"}`,
      `GDAC_BASE_URL=${server.url}`,
      `GDAC_CA_FILE=${server.caFile}`,
      `LAKE_URL=${lake}`,
      `FLOAT_IDS=${FLOATS}`,
      "HTTP_CONCURRENCY=1",
      "MAX_WORKERS=1",
      "BATCH_SIZE=1",
      "TERM=xterm",
    ].join(" ");
    const script = `cd ${repoRoot} && env -i ${env} ${node("sync", "")}; echo SYNC-EXIT=$?; env -i ${env} ${node("parse", "")}; echo PARSE-EXIT=$?; sleep 120`;
    execFileSync("tmux", ["new-session", "-d", "-s", session, "-x", "200", "-y", "60", script]);
    const screens: string[][] = [];
    const deadline = Date.now() + 150_000;
    let last = "";
    while (Date.now() < deadline) {
      // -J joins lines the terminal wrapped (a long log line is one line); -S - includes what scrolled off the top.
      last = execFileSync("tmux", ["capture-pane", "-p", "-J", "-S", "-", "-t", session], { encoding: "utf8" });
      screens.push(last.split("\n").map((l) => l.trimEnd()).filter((l) => l !== ""));
      if (/PARSE-EXIT=\d/.test(last)) break;
      await new Promise((r) => setTimeout(r, 150));
    }
    expect(last, last).toMatch(/SYNC-EXIT=1/); // partial: the 404s
    expect(last, last).toMatch(/PARSE-EXIT=0/);

    const withBar = (stage: string) => screens.filter((s) => s.some((l) => l.startsWith(`${stage} [`)));
    expect(withBar("sync").length, "captures showing the sync bar").toBeGreaterThanOrEqual(3);
    expect(withBar("parse").length, "captures showing the parse bar").toBeGreaterThanOrEqual(1);
    // While the bar runs, log lines (the 404 errors) appear above it.
    expect(withBar("sync").some((s) => s.slice(0, -1).some((l) => / ERROR /.test(l) && /404/.test(l)))).toBe(true);

    for (const screen of screens) {
      const bars = screen.filter((l) => /^(sync|parse) \[/.test(l));
      expect(bars.length, screen.join("\n")).toBeLessThanOrEqual(1);
      if (bars.length) {
        // The bar is the last line, whole, with counts, rate, ETA, retries and errors.
        expect(screen[screen.length - 1], screen.join("\n")).toMatch(BAR_LINE);
      }
      for (const line of screen) {
        const ok = LOG_LINE.test(line) || BAR_LINE.test(line) || /^(sync|parse)[^:]*: (succeeded|partial|failed|skipped) in /.test(line) ||
          /^ {2}(sync|parse|failed:|\.\.\.)/.test(line) || /^(SYNC|PARSE)-EXIT=\d$/.test(line) || /^(sync|parse) stage/.test(line) ||
          /^(sync|parse): \d+ (error|file)/.test(line) || /^Parsed floats|^\s+dac\s+wmo|^\s+\w+\s+\d+\s+\d+/.test(line);
        expect(ok, `a line that is neither a whole log line nor the bar:\n${line}\n--- screen:\n${screen.join("\n")}`).toBe(true);
        // A log line never carries a bar fragment, nor a bar a log line.
        if (LOG_LINE.test(line)) expect(line, line).not.toMatch(/\[[#-]{24}\]/);
      }
    }
  }, 180_000);
});

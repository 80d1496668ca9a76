/**
 * The README's offline examples run: every command block marked
 * `<!-- offline-example -->` is executed line by line, in order, on a fresh
 * lake (the README's /tmp/argo-lake becomes a new temporary directory, its
 * database a new one), against the fixtures, and each command must exit as
 * its `# exit N` comment says (0 when it says nothing).
 */
import { spawnSync } from "node:child_process";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { repoRoot, tempDir, type TempDir } from "./support/fixtures.ts";
import { baseEnv } from "./support/jobs.ts";
import { PG_HOST, PG_PORT } from "./support/postgres.ts";

const readme = readFileSync(join(repoRoot, "README.md"), "utf8");
const blocks = [...readme.matchAll(/<!-- offline-example -->\s*```(?:bash|sh)\n([\s\S]*?)```/g)].map((m) => m[1]);
let work: TempDir;
const dbName = `argo_readme_${process.pid}`;

beforeAll(async () => {
  work = await tempDir("readme");
});
afterAll(async () => {
  spawnSync("psql", ["-h", PG_HOST, "-p", String(PG_PORT), "-U", "postgres", "-c", `DROP DATABASE IF EXISTS ${dbName} WITH (FORCE)`]);
  await work?.cleanup();
});

/** The commands of a block: lines joined at trailing backslashes, comments kept for their `# exit N`. */
function commands(block: string): Array<{ line: string; exit: number }> {
  const out: Array<{ line: string; exit: number }> = [];
  let cur = "";
  for (const raw of block.split("\n")) {
    if (raw.trim() === "" || raw.trim().startsWith("#")) continue;
    if (raw.endsWith("\\")) {
      cur += raw.slice(0, -1) + " ";
      continue;
    }
    const line = cur + raw;
    cur = "";
    const exit = /#\s*exit (\d)/.exec(line);
    out.push({ line, exit: exit ? Number(exit[1]) : 0 });
  }
  return out;
}

describe("the README's offline examples", () => {
  it("has offline examples to run", () => {
    expect(blocks.length).toBeGreaterThanOrEqual(2);
  });

  it("runs every offline command block in order on a fresh lake, each exiting as the README says", () => {
    const lake = join(work.path, "argo-lake");
    for (const block of blocks) {
      for (const { line, exit } of commands(block)) {
        const cmd = line.replaceAll("/tmp/argo-lake", lake).replaceAll("5432/argo ", `5432/${dbName} `).replace(/^createdb (.*) argo(\s|$)/, `createdb $1 ${dbName}$2`);
        const r = spawnSync("bash", ["-c", cmd], { cwd: repoRoot, env: { ...baseEnv(), LOG_LEVEL: "warn" }, encoding: "utf8", timeout: 120_000 });
        expect(r.status, `${line}\n${r.stdout.slice(-1500)}\n${r.stderr.slice(-2000)}`).toBe(exit);
      }
    }
  }, 600_000);
});

/**
 * The query job's streamed answers, as a process: Arrow IPC read back with
 * apache-arrow equals the CSV row for row; FLOAT prints as its shortest
 * float32 form in CSV, NDJSON, JSON and the table; the table shows the first
 * rows and counts the rest; --out refuses to overwrite without --force; and a
 * lake in a folder named with glob characters answers from itself.
 */
import { execFile } from "node:child_process";
import { mkdir, readFile, rename, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { tableFromIPC } from "apache-arrow";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { float32ToShortest } from "../lib/argo/decode.ts";
import { repoRoot, tempDir, type TempDir } from "./support/fixtures.ts";
import { parsedLake } from "./open-lake-support.ts";

const run = promisify(execFile);

/** Runs the query job with tsx; stdout as bytes. */
async function query(args: string[]): Promise<{ code: number; stdout: Buffer; stderr: string }> {
  try {
    const { stdout, stderr } = await run(join(repoRoot, "node_modules/.bin/tsx"), ["jobs/query.ts", ...args], {
      cwd: repoRoot,
      env: { ...process.env, LOG_LEVEL: "warn" },
      encoding: "buffer",
      maxBuffer: 256 << 20,
    });
    return { code: 0, stdout, stderr: stderr.toString() };
  } catch (err) {
    const e = err as { code: number; stdout: Buffer; stderr: Buffer };
    return { code: e.code, stdout: e.stdout, stderr: e.stderr.toString() };
  }
}

/** Splits one CSV line (RFC 4180 quotes). */
function csvFields(line: string): string[] {
  const out: string[] = [];
  let cur = "";
  let quoted = false;
  for (let i = 0; i < line.length; i++) {
    const c = line[i]!;
    if (quoted) {
      if (c === '"' && line[i + 1] === '"') (cur += '"'), i++;
      else if (c === '"') quoted = false;
      else cur += c;
    } else if (c === '"') quoted = true;
    else if (c === ",") out.push(cur), (cur = "");
    else cur += c;
  }
  out.push(cur);
  return out;
}

/** A microsecond instant as DuckDB prints a TIMESTAMPTZ in a UTC session: 1997-07-29 20:03:00.00215+00. */
function duckTime(us: bigint): string {
  const ms = Number(us / 1000n);
  const frac = ((us % 1_000_000n) + 1_000_000n) % 1_000_000n;
  const base = new Date(ms - (ms % 1000 + 1000) % 1000).toISOString().slice(0, 19).replace("T", " ");
  return `${base}${frac ? "." + String(frac).padStart(6, "0").replace(/0+$/, "") : ""}+00`;
}

describe("query answers", () => {
  let dir: TempDir;
  let lake: string;
  beforeAll(async () => {
    dir = await tempDir("open-lake-query");
    // The lake lives in a folder whose name is a glob matching a decoy folder beside it.
    lake = join(dir.path, "lake [1]*? x");
    const decoy = join(dir.path, "lake 1 x");
    await parsedLake(join(dir.path, "build"), [{ floats: ["6903247", "13857"] }]);
    await rename(join(dir.path, "build"), lake);
    await parsedLake(decoy, [{ floats: ["5900446"] }]);
  }, 240_000);
  afterAll(async () => {
    await dir?.cleanup();
  });

  it("a lake in a folder named with [, *, ? and a space answers from itself, not from what the name matches", async () => {
    const r = await query(["--lake", lake, "--format", "csv", "SELECT DISTINCT float_id FROM measurements ORDER BY 1"]);
    expect(r.stderr).toBe("");
    expect(r.stdout.toString()).toBe("float_id\n13857\n6903247\n");
    const s = await query(["--lake", lake, "--format", "csv", "SELECT count(*) AS n FROM synthetic WHERE float_id = '6903247'"]);
    expect(Number(s.stdout.toString().split("\n")[1])).toBeGreaterThan(1000);
  }, 120_000);

  it("--format arrow read back with apache-arrow equals --format csv row for row", async () => {
    const sql = "SELECT * FROM measurements_bgc ORDER BY float_id, cycle_number, direction, profile_index, level";
    const csv = (await query(["--lake", lake, "--format", "csv", sql])).stdout.toString().trimEnd().split("\n");
    const arrow = await query(["--lake", lake, "--format", "arrow", sql]);
    expect(arrow.code).toBe(0);
    const table = tableFromIPC(arrow.stdout);
    const header = csvFields(csv[0]!);
    expect(table.schema.fields.map((f) => f.name)).toEqual(header);
    expect(table.numRows).toBe(csv.length - 1);
    expect(table.numRows).toBeGreaterThan(4000);
    const columns = table.schema.fields.map((f, i) => ({ f, col: table.getChildAt(i)! }));
    for (let r = 0; r < table.numRows; r++) {
      const fields = csvFields(csv[r + 1]!);
      const fromArrow = columns.map(({ f, col }) => {
        const v = col.get(r);
        if (v === null) return "";
        const type = String(f.type);
        // DuckDB's CSV writes 17.0 where the shortest form is 17: compare FLOAT and DOUBLE as numbers.
        if (type.startsWith("Float32") || type.startsWith("Float64")) return v as number;
        // apache-arrow gives a microsecond timestamp as fractional milliseconds.
        if (type.startsWith("Timestamp")) return duckTime(BigInt(Math.round((v as number) * 1000)));
        return String(v);
      });
      // The CSV's text of a FLOAT is the float32 the Arrow column holds.
      expect(fromArrow, `row ${r}`).toEqual(fields.map((x, i) => (typeof fromArrow[i] === "number" && x !== "" ? Math.fround(Number(x)) === fromArrow[i] ? fromArrow[i] : Number(x) : x)));
    }
  }, 180_000);

  it("FLOAT prints as its shortest float32 form in CSV, NDJSON, JSON and the table", async () => {
    for (const [column, view] of [["temp", "measurements"], ["doxy", "measurements_bgc"]]) {
      const sql = `SELECT ${column} FROM ${view} WHERE ${column} IS NOT NULL ORDER BY ALL LIMIT 50`;
      const csv = (await query(["--lake", lake, "--format", "csv", sql])).stdout.toString().trimEnd().split("\n").slice(1);
      const ndjson = (await query(["--lake", lake, "--format", "ndjson", sql])).stdout.toString().trimEnd().split("\n").map((l) => JSON.parse(l));
      const json = JSON.parse((await query(["--lake", lake, "--format", "json", sql])).stdout.toString());
      const tableText = (await query(["--lake", lake, "--max-rows", "50", sql])).stdout.toString();
      expect(csv).toHaveLength(50);
      for (const [i, text] of csv.entries()) {
        const v = Number(text);
        // No float32 noise: at most 9 significant digits, and the text is the float32 itself.
        expect(text.replace(/^-|\.|e.*$/g, "").replace(/^0+/, "").length, text).toBeLessThanOrEqual(9);
        expect(Math.abs(float32ToShortest(v) - v) / Math.abs(v || 1), text).toBeLessThan(1e-7);
        expect(ndjson[i]).toEqual({ [column]: v });
        expect(json[i]).toEqual({ [column]: v });
        expect(tableText).toContain(` ${text} `);
      }
      expect(csv.join("\n")).not.toMatch(/\.\d{9,}/);
    }
  }, 240_000);

  it("the table shows the first rows and says how many more there are", async () => {
    const r = await query(["--lake", lake, "--max-rows", "5", "SELECT * FROM measurements"]);
    const n = (await query(["--lake", lake, "--format", "csv", "SELECT count(*) FROM measurements"])).stdout.toString().split("\n")[1];
    const text = r.stdout.toString();
    expect(text).toContain(`${n} rows (5 shown, ${Number(n) - 5} more;`);
    expect(text.split("\n").filter((l) => l.startsWith("│")).length).toBe(2 + 5);
  }, 120_000);

  it("--out streams to a file, refuses to overwrite it, and --force replaces it", async () => {
    const out = join(dir.path, "out", "answer.arrow");
    await mkdir(join(dir.path, "out"), { recursive: true });
    const sql = "SELECT float_id, time, temp FROM measurements WHERE float_id = '13857'";
    expect((await query(["--lake", lake, "--out", out, sql])).code).toBe(0);
    const first = tableFromIPC(await readFile(out));
    expect(first.numRows).toBe(440);
    await writeFile(out, "keep me");
    const refused = await query(["--lake", lake, "--out", out, sql]);
    expect(refused.code).toBe(2);
    expect(refused.stderr).toMatch(/exists.*--force/);
    expect(await readFile(out, "utf8")).toBe("keep me");
    expect((await query(["--lake", lake, "--out", out, "--force", sql])).code).toBe(0);
    expect(tableFromIPC(await readFile(out)).numRows).toBe(440);
    const csvOut = join(dir.path, "out", "answer.csv");
    expect((await query(["--lake", lake, "--out", csvOut, sql])).code).toBe(0);
    expect((await readFile(csvOut, "utf8")).trimEnd().split("\n")).toHaveLength(441);
  }, 180_000);
});

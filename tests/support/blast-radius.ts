/**
 * Shared parts of the input-side blast-radius tests: a served GDAC mirror
 * whose index files a test can damage, the sync job run against it as a
 * process, and the raw zone of a lake dumped per float, so a test can say
 * "every other float's raw files are exactly what a clean run gives".
 */
import { readFile, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { LocalLakeStore } from "../../lib/lake/local.ts";
import { dumpLake, type LakeEntry } from "./compare.ts";
import { fixturesDir, type TempDir, tempDir } from "./fixtures.ts";
import { editableMirror, type StartOptions, startHttpsServer, type TestHttpsServer } from "./https-server.ts";
import { type JobResult, jsonLines, runJobProcess, type Runtime } from "./jobs.ts";

/** An HTTPS GDAC serving an editable copy of the fixture mirror. */
export interface ServedMirror {
  dir: TempDir;
  srv: TestHttpsServer;
  /** Replaces an index file of the mirror (by its name, e.g. ar_index_global_prof.txt or its .gz). */
  write(name: string, body: string | Uint8Array): Promise<void>;
  stop(): Promise<void>;
}

export async function servedMirror(opts: StartOptions = {}): Promise<ServedMirror> {
  const dir = await editableMirror();
  const srv = await startHttpsServer({ ...opts, root: dir.path });
  return {
    dir,
    srv,
    write: (name, body) => writeFile(join(dir.path, name), body),
    async stop() {
      await srv.stop();
      await dir.cleanup();
    },
  };
}

/** The text of a fixture index file. */
export const fixtureIndex = (name: string): Promise<string> => readFile(join(fixturesDir, name), "utf8");

/** What a sync run gave: exit code, output, the stats printed with --json, and the error log lines. */
export interface SyncRun extends JobResult {
  stats: Record<string, unknown> & { errors: number; error_details: { float_id: string | null; file: string | null; stage: string; message: string }[] };
  errorLines: string[];
}

/** Runs jobs/sync.ts --json against a served mirror into a lake directory. */
export async function runSync(
  srv: TestHttpsServer,
  lake: string,
  env: Record<string, string> = {},
  args: string[] = [],
  runtime: Runtime = "node",
): Promise<SyncRun> {
  const r = await runJobProcess("sync", ["--json", ...args], {
    runtime,
    env: { GDAC_BASE_URL: srv.url, GDAC_CA_FILE: srv.caFile, LAKE_URL: lake, HTTP_RETRY_DELAY: "0.05", ...env },
  });
  let stats: SyncRun["stats"];
  try {
    stats = JSON.parse(r.stdout);
  } catch {
    stats = { errors: -1, error_details: [] };
  }
  const errorLines = jsonLines(r.stderr).filter((l) => l.level === "error").map((l) => String(l.msg));
  return { ...r, stats, errorLines };
}

/** Raw files and manifests of a lake, by key, grouped under their float's WMO. */
export async function rawByFloat(lake: string): Promise<Map<string, Record<string, LakeEntry>>> {
  const store = new LocalLakeStore(lake);
  const out = new Map<string, Record<string, LakeEntry>>();
  try {
    const dump = await dumpLake(store, { tables: "none" });
    for (const [key, entry] of Object.entries(dump)) {
      const m = /^raw\/(?:_manifest\/)?dac=[^/]+\/wmo=(\d+)/.exec(key);
      if (!m) continue;
      const per = out.get(m[1]) ?? {};
      per[key] = entry;
      out.set(m[1], per);
    }
  } finally {
    await store.close();
  }
  return out;
}

/** The same dump without the floats named: what "every other float" holds. */
export function without(dump: Map<string, Record<string, LakeEntry>>, ...wmos: string[]): Record<string, LakeEntry> {
  const out: Record<string, LakeEntry> = {};
  for (const [wmo, entries] of dump) if (!wmos.includes(wmo)) Object.assign(out, entries);
  return out;
}

/** A fresh lake directory. */
export const lakeDir = (name: string): Promise<TempDir> => tempDir(`blast-${name}`);

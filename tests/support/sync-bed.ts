/**
 * The bed of the sync tests that run against our HTTPS server: an editable
 * copy of the fixture mirror (index files copied, `dac/` linked) served for
 * the whole test file; before each test a fresh local lake and the server's
 * faults and counts cleared; after it the lake removed and the mirror's index
 * files restored, so an edit never leaks into the next test.
 */
import { afterAll, afterEach, beforeAll, beforeEach } from "vitest";
import { type Config, loadConfig } from "../../lib/config.ts";
import { tempDir, type TempDir } from "./fixtures.ts";
import { editableMirror, restoreIndexes, startHttpsServer, type TestHttpsServer } from "./https-server.ts";

export interface SyncBed {
  /** The editable mirror the server serves. */
  readonly mirror: TempDir;
  readonly srv: TestHttpsServer;
  /** This test's lake folder. */
  readonly lake: TempDir;
  /** The environment of a sync of this test's lake from the server (short timeouts and retry delays), plus `extra`. */
  env(extra?: Record<string, string>): Record<string, string>;
  /** loadConfig of env(extra), no .env file read. */
  config(extra?: Record<string, string>): Config;
}

/** Registers the bed's hooks in the calling test file; `lakeName` names the lake folders. */
export function useSyncBed(lakeName: string): SyncBed {
  let mirror: TempDir | undefined;
  let srv: TestHttpsServer | undefined;
  let lake: TempDir | undefined;
  const need = <T>(v: T | undefined, what: string): T => {
    if (v === undefined) throw new Error(`sync bed: ${what} is set up by the bed's hooks: use it inside a test or a hook`);
    return v;
  };

  beforeAll(async () => {
    mirror = await editableMirror();
    srv = await startHttpsServer({ root: mirror.path });
  });
  afterAll(async () => {
    await srv?.stop();
    await mirror?.cleanup();
  });
  beforeEach(async () => {
    lake = await tempDir(lakeName);
    srv!.setFaults({ rules: [], failureRate: 0, latencyMs: 0 });
    srv!.resetCounts();
  });
  afterEach(async () => {
    await lake?.cleanup();
    if (mirror) await restoreIndexes(mirror.path);
  });

  const bed: SyncBed = {
    get mirror() {
      return need(mirror, "the mirror");
    },
    get srv() {
      return need(srv, "the server");
    },
    get lake() {
      return need(lake, "the lake");
    },
    env: (extra = {}) => ({
      GDAC_BASE_URL: bed.srv.url,
      GDAC_CA_FILE: bed.srv.caFile,
      LAKE_URL: bed.lake.path,
      HTTP_TIMEOUT: "5",
      HTTP_RETRY_DELAY: "0.01",
      ...extra,
    }),
    config: (extra = {}) => loadConfig({ env: bed.env(extra), envFile: "/nonexistent/.env" }),
  };
  return bed;
}

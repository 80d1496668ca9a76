/**
 * For the benches: the fixture GDAC mirror landed in a lake's raw zone and
 * parsed, as sync and parse would leave it.
 */
import { readFileSync } from "node:fs";
import { readdir } from "node:fs/promises";
import { join } from "node:path";
import { loadConfig } from "../lib/config.ts";
import { LocalLakeStore } from "../lib/lake/local.ts";
import { rawFileKey } from "../lib/lake/layout.ts";
import { createLogger } from "../lib/log.ts";
import { runParse } from "../lib/parse/run.ts";

/** Lands every fixture file of `repo`'s ../shared/fixtures/gdac into a lake at `root` and parses it. */
export async function parsedFixtureLake(repo: string, root: string): Promise<void> {
  const store = new LocalLakeStore(root);
  const gdac = join(repo, "..", "shared", "fixtures", "gdac", "dac");
  for (const dac of await readdir(gdac)) {
    for (const wmo of await readdir(join(gdac, dac))) {
      for (const e of await readdir(join(gdac, dac, wmo), { recursive: true, withFileTypes: true })) {
        if (!e.isFile() || !e.name.endsWith(".nc")) continue;
        const rest = join(e.parentPath, e.name).slice(join(gdac, dac, wmo).length + 1);
        await store.put(rawFileKey(dac, wmo, rest), readFileSync(join(e.parentPath, e.name)));
      }
    }
  }
  const config = loadConfig({ env: { LAKE_URL: root, MAX_WORKERS: "1", LOG_LEVEL: "error" }, envFile: "/nonexistent/.env" });
  await runParse(config, store, createLogger({ level: "error" }));
  await store.close();
}

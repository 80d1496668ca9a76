/**
 * deno task sync [WMO ...]: brings Argo NetCDF files from a GDAC into the lake's raw zone.
 */
import process from "node:process";
import { isWmo } from "../lib/argo/ids.ts";
import { OPTION_HELP, type JobContext, printStats, runJob } from "../lib/cli.ts";
import { ConfigError } from "../lib/errors.ts";
import { runSync, type SyncProgress } from "../lib/gdac/sync.ts";
import { MANIFEST_PREFIX, RAW_PREFIX, rawFloatPrefix, REMOVED_PREFIX, removedKey } from "../lib/lake/layout.ts";
import { openLake } from "../lib/lake/open.ts";

const usage = `Usage: deno task sync [WMO ...] [options]
       npx tsx jobs/sync.ts [WMO ...] [options]

Brings Argo NetCDF files from a GDAC into the lake's raw zone
(${rawFloatPrefix("<dac>", "<wmo>")}...), byte for byte, planned from the GDAC index
files and incremental: a file is fetched again only when its index
date_update is newer than the one recorded in the float's manifest
(${MANIFEST_PREFIX}), or its raw copy is missing. A file that left the index is
moved to ${removedKey("<run start>", RAW_PREFIX)}... and marked removed, never deleted; a
run that would move more than REMOVAL_MAX_FILES files or REMOVAL_MAX_SHARE of
those it holds stops before moving any (exit 1) unless --allow-removals.

Arguments:
  WMO ...              float ids to sync (5 or 7 digits), added to FLOAT_IDS

Options:
  --gdac SOURCE        https://host[/path], s3://bucket/prefix or a local GDAC
                       directory (GDAC_BASE_URL; default https://data-argo.ifremer.fr).
                       http:// and ftp:// are refused.
  --lake URL           a local directory or s3://bucket/prefix (LAKE_URL)
  --dac NAME           a DAC to sync (repeatable; ARGO_DAC)
  --float WMO          a float to sync (repeatable; FLOAT_IDS)
  --sync-files LIST    also fetch prof and/or Sprof per float (SYNC_FILES=prof,Sprof)
  --sync-date-from D   floats with a profile on or after D (SYNC_DATE_FROM)
  --sync-date-to D     floats with a profile on or before D (SYNC_DATE_TO)
  --sync-bbox BOX      floats with a profile in lon_min,lon_max,lat_min,lat_max (SYNC_BBOX)
  --http-concurrency N requests in flight (HTTP_CONCURRENCY, default 8)
  --gdac-ca-file PEM   extra CA for a private HTTPS mirror (GDAC_CA_FILE)
  --allow-removals     let this run move more files to ${REMOVED_PREFIX} than REMOVAL_MAX_FILES
                       or REMOVAL_MAX_SHARE allow (ALLOW_REMOVALS=true)
  --json               print the stats as JSON on stdout (logs go to stderr)
${OPTION_HELP.dotenv}
  --help               print this help and exit

Every setting is also a --kebab-case flag (--http-timeout, --http-max-retries,
--http-retry-delay, --http-max-bytes, --enable-incremental-sync false, ...).
SIGINT/SIGTERM stop the run gracefully: no new file starts, the manifests are
written, the stats say "aborted": true.

Exit codes: 0 no error; 1 a file or float failed (named in error_details), the
run was interrupted, or the index or the lake could not be used; 2 bad
arguments or settings (nothing was fetched).
`;

await runJob({ name: "sync", usage, flags: { "allow-removals": { type: "boolean", config: "ALLOW_REMOVALS" } } }, async (ctx) => {
  for (const id of ctx.positionals) {
    if (!isWmo(id)) throw new ConfigError(`${JSON.stringify(id)} is not a WMO float number (5 or 7 digits); see --help`);
  }
  const floatIds = ctx.positionals.length ? [...new Set([...ctx.config.FLOAT_IDS, ...ctx.positionals])] : undefined;
  const store = openLake(ctx.config);
  const abort = new AbortController();
  const stop = (signal: string) => {
    ctx.log.warn("stopping: no new file will be started", { signal });
    abort.abort();
  };
  process.once("SIGINT", () => stop("SIGINT"));
  process.once("SIGTERM", () => stop("SIGTERM"));
  const progress = makeProgress(ctx);
  try {
    const stats = await runSync(ctx.config, store, ctx.log, { floatIds, signal: abort.signal, onProgress: progress.update });
    progress.done();
    printStats(ctx, stats, "sync stats");
    return stats.errors > 0 || stats.aborted ? 1 : 0;
  } finally {
    progress.done(); // ends the bar's line on failure too (a no-op when already ended)
    await store.close();
  }
});

/** A progress bar on a terminal; a log line every few seconds otherwise. */
function makeProgress(ctx: JobContext): { update: (p: SyncProgress) => void; done: () => void } {
  const tty = process.stderr.isTTY === true;
  const every = tty ? 100 : 5000;
  const start = Date.now();
  let last = 0;
  let drawn = false;
  const update = (p: SyncProgress) => {
    const now = Date.now();
    if (now - last < every) return;
    last = now;
    const rate = p.files_done / Math.max(0.001, (now - start) / 1000);
    if (tty) {
      const width = 30;
      const frac = p.files_total ? p.files_done / p.files_total : 0;
      const bar = "#".repeat(Math.round(frac * width)).padEnd(width, "-");
      const mb = (p.bytes_downloaded / 1e6).toFixed(1);
      process.stderr.write(
        `\r[${bar}] ${p.phase} ${p.files_done}/${p.files_total} files, ${p.floats_done}/${p.floats_total} floats, ${mb} MB, ${rate.toFixed(0)} files/s, ${p.errors} errors `,
      );
      drawn = true;
    } else {
      ctx.log.info("sync progress", { ...p, files_per_s: Math.round(rate) });
    }
  };
  return {
    update,
    done: () => {
      if (drawn) process.stderr.write("\n");
      drawn = false;
    },
  };
}

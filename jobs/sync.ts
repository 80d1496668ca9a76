/**
 * deno task sync [WMO ...]: brings Argo NetCDF files from a GDAC into the lake's raw zone.
 */
import { isWmo } from "../lib/argo/ids.ts";
import { EXIT_CODES_HELP, OPTION_HELP, runJob } from "../lib/cli.ts";
import { fullCheckHelp } from "../lib/config.ts";
import { ConfigError } from "../lib/errors.ts";
import { MANIFEST_PREFIX, RAW_PREFIX, rawFloatPrefix, REMOVED_PREFIX, removedKey } from "../lib/lake/layout.ts";

const usage = `Usage: deno task sync [WMO ...] [options]
       npx tsx jobs/sync.ts [WMO ...] [options]

Brings Argo NetCDF files from a GDAC into the lake's raw zone
(${rawFloatPrefix("<dac>", "<wmo>")}...), byte for byte, planned from the GDAC index
files and incremental: a file is fetched again only when its index
date_update is newer than the one recorded in the float's manifest
(${MANIFEST_PREFIX}), or its raw copy is missing. Only floats whose index rows
changed since the last completed sync are looked at (see --full-check). A file that left the index is
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
${fullCheckHelp(23)}
  --json               print the stats as JSON on stdout (logs go to stderr)
${OPTION_HELP.dotenv}
  --help               print this help and exit

Every setting is also a --kebab-case flag (--http-timeout, --http-max-retries,
--http-retry-delay, --http-max-bytes, --enable-incremental-sync false, ...).
SIGINT/SIGTERM stop the run gracefully: no new file starts, the manifests are
written, the stats say "aborted": true and the run is failed.

${EXIT_CODES_HELP}
`;

await runJob({ name: "sync", usage, flags: { "allow-removals": { type: "boolean", config: "ALLOW_REMOVALS" }, "full-check": { type: "boolean", config: "FULL_CHECK" } } }, async (ctx) => {
  for (const id of ctx.positionals) {
    if (!isWmo(id)) throw new ConfigError(`${JSON.stringify(id)} is not a WMO float number (5 or 7 digits); see --help`);
  }
  const floatIds = ctx.positionals.length ? [...new Set([...ctx.config.FLOAT_IDS, ...ctx.positionals])] : undefined;
  const { runFromCli } = await import("../lib/cli-run.ts");
  return await runFromCli(ctx, { job: "sync", floatIds });
});

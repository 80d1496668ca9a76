/**
 * deno task plot WMO --kind trajectory|profiles|section --out FILE.svg|.png: a float's plot from the lake alone.
 */
import { writeFile } from "node:fs/promises";
import { extname } from "node:path";
import { OPTION_HELP, runJob } from "../lib/cli.ts";
import { ConfigError } from "../lib/errors.ts";

const usage = `Usage: deno task plot WMO --kind KIND --out FILE [options]
       npm run plot -- WMO --kind KIND --out FILE [options]

Draws a float's plot from the lake alone (no Redis or Postgres needed):
  trajectory   positions on a map with coastlines, coloured by time, the latest circled
  profiles     temperature and salinity against pressure, the latest N profiles
  section      a time-pressure section of temperature
FILE ends in .svg or .png (the PNG is drawn at twice the SVG's size).

Options:
  --kind KIND        trajectory, profiles or section
  --out FILE         where to write (.svg or .png)
  --profiles N       profiles plot: the latest N profiles (default 10)
${OPTION_HELP.lake}
${OPTION_HELP.dotenv}
${OPTION_HELP.help}

Exit codes: 0 written; 1 the lake has no such float, or it could not be read; 2 bad arguments or settings.
`;

await runJob({ name: "plot", usage, flags: { kind: { type: "string" }, out: { type: "string" }, profiles: { type: "string" } } }, async (ctx) => {
  const { PlotKindSchema, renderPlot, svgToPng } = await import("../lib/plot/render.ts");
  const { isWmo } = await import("../lib/argo/ids.ts");
  const [wmo, ...rest] = ctx.positionals;
  if (!wmo || rest.length) throw new ConfigError("expected one WMO float id; see --help");
  if (!isWmo(wmo)) throw new ConfigError(`WMO ${JSON.stringify(wmo)}: expected a float id of 5 or 7 digits`);
  const kind = PlotKindSchema.safeParse(ctx.flags.kind);
  if (!kind.success) throw new ConfigError(`--kind ${JSON.stringify(ctx.flags.kind ?? "")}: expected trajectory, profiles or section`);
  const out = typeof ctx.flags.out === "string" ? ctx.flags.out : "";
  const format = extname(out).toLowerCase();
  if (format !== ".svg" && format !== ".png") throw new ConfigError(`--out ${JSON.stringify(out)}: expected a file name ending in .svg or .png`);
  const profiles = ctx.flags.profiles === undefined ? undefined : Number(ctx.flags.profiles);
  if (profiles !== undefined && !(Number.isInteger(profiles) && profiles >= 1 && profiles <= 50)) {
    throw new ConfigError(`--profiles ${JSON.stringify(ctx.flags.profiles)}: expected a whole number from 1 to 50`);
  }

  const { openLake } = await import("../lib/lake/open.ts");
  const { openLakeSession } = await import("../lib/lake/query.ts");
  const { queryInstance } = await import("../lib/serve/backends.ts");
  const { LakeError } = await import("../lib/errors.ts");
  const store = openLake(ctx.config);
  try {
    const lake = await openLakeSession(ctx.config, store, { env: ctx.env });
    try {
      const svg = await renderPlot({ all: (sql, params) => queryInstance(lake.session.instance, sql, params) }, wmo, kind.data, { profiles });
      if (svg === null) throw new LakeError(`float ${wmo} has no profile in the lake at ${store.description}`, { floatId: wmo, stage: "query" });
      await writeFile(out, format === ".svg" ? svg : await svgToPng(svg, 2));
      ctx.log.info("plot: written", { float: wmo, kind: kind.data, file: out });
      return 0;
    } finally {
      lake.close();
    }
  } finally {
    await store.close();
  }
});

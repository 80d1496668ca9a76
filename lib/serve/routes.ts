/**
 * Every endpoint of the API in one table: its path, parameters (zod schemas
 * that validate the request and describe it in the OpenAPI document), what it
 * answers, the backends it needs, its Cache-Control, and its handler.
 * lib/serve/app.ts mounts the table; lib/serve/openapi.ts documents it.
 */
import { z } from "zod";
import type { Redis } from "ioredis";
import type pg from "pg";
import { renderPlot, svgToPng } from "../plot/render.ts";
import type { Backends } from "./backends.ts";
import { guard } from "./backends.ts";
import { dashboardHtml } from "./dashboard.ts";
import { floatSummary, latestProfileJson, searchFloats } from "./hot.ts";
import { HttpError, type Service, unavailable } from "./http.ts";
import { cycleLevels } from "./lake.ts";
import { climatologyCells, floatProfiles, pingPostgres } from "./postgres.ts";
import {
  ClimatologyQuery,
  ClimatologyResponse,
  CycleParam,
  FloatsPage,
  FloatsQuery,
  FloatSummary,
  Health,
  LevelsQuery,
  LevelsResponse,
  ProfileDataResponse,
  ProfilesList,
  ProfilesPlotQuery,
  WmoParam,
} from "./schemas.ts";

/** What a handler gets: validated path and query values and the backends. */
export interface RouteContext<P, Q> {
  params: P;
  query: Q;
  backends: Backends;
}

/** How an endpoint answers. */
export type Answer =
  | { kind: "json"; body: unknown; status?: number; retryAfter?: number }
  /** JSON text as stored (the latest profile), sent as is. */
  | { kind: "json-text"; text: string }
  | { kind: "svg"; text: string }
  | { kind: "png"; bytes: Uint8Array }
  | { kind: "html"; text: string };

/** One endpoint. */
export interface Route {
  /** OpenAPI-style path: /api/floats/{wmo}. */
  path: string;
  summary: string;
  description?: string;
  tag: "floats" | "profiles" | "climatology" | "plots" | "service";
  params?: z.ZodObject;
  query?: z.ZodObject;
  /** The 200 body: a zod schema for JSON, or a media type. */
  response: z.ZodType | "image/svg+xml" | "image/png" | "text/html";
  /** Backends whose outage makes this endpoint answer 503. */
  needs: Service[];
  cacheControl: string;
  /** Taken from the client's token bucket. */
  rateLimited: boolean;
  handler(ctx: RouteContext<Record<string, unknown>, Record<string, unknown>>): Promise<Answer>;
}

const redisOf = (b: Backends): Redis => {
  if (!b.redis) throw unavailable("redis", "REDIS_URL is not set");
  return b.redis;
};
const postgresOf = (b: Backends): pg.Pool => {
  if (!b.postgres) throw unavailable("postgres", "DATABASE_URL is not set");
  return b.postgres;
};
const notFound = (what: string, detail: Record<string, unknown>) => new HttpError(404, `${what} not found`, detail);

const WmoPath = z.object({ wmo: WmoParam });
const CyclePath = z.object({ wmo: WmoParam, cycle: CycleParam });

/** A plot endpoint of one kind. */
function plotRoute(kind: "trajectory" | "profiles" | "section", summary: string, format: "svg" | "png"): Route {
  return {
    path: `/plots/floats/{wmo}/${kind}.${format}`,
    summary: `${summary} (${format.toUpperCase()})`,
    tag: "plots",
    params: WmoPath,
    query: kind === "profiles" ? ProfilesPlotQuery : undefined,
    response: format === "svg" ? "image/svg+xml" : "image/png",
    needs: ["lake"],
    cacheControl: "public, max-age=300",
    rateLimited: true,
    async handler({ params, query, backends }) {
      const wmo = params.wmo as string;
      const svg = await renderPlot(backends.lake, wmo, kind, { profiles: query.n as number | undefined });
      if (svg === null) throw notFound("float", { wmo, where: "lake" });
      return format === "svg" ? { kind: "svg", text: svg } : { kind: "png", bytes: await svgToPng(svg, 2) };
    },
  };
}

/** Times one check for /healthz. */
async function check(configured: boolean, fn: () => Promise<unknown>): Promise<Health["redis"]> {
  if (!configured) return { ok: null };
  const t = performance.now();
  try {
    await fn();
    return { ok: true, latency_ms: Math.round((performance.now() - t) * 10) / 10 };
  } catch (err) {
    return { ok: false, error: (err as Error).message };
  }
}

/** The API, in the order the OpenAPI document lists it. */
export const ROUTES: Route[] = [
  {
    path: "/api/floats",
    summary: "Search floats by position (near or bbox) and time, with their summaries",
    description: "From the Redis hot layer: near=LON,LAT&radius_km=R (nearest first), or bbox=LON0,LAT0,LON1,LAT1 " +
      "(a west edge east of the east edge crosses the antimeridian), or neither (newest latest profile first); " +
      "updated_since keeps floats whose latest profile is at or after it. Pages of `limit`, then `cursor=next_cursor`.",
    tag: "floats",
    query: FloatsQuery,
    response: FloatsPage,
    needs: ["redis"],
    cacheControl: "public, max-age=60",
    rateLimited: true,
    async handler({ query, backends }) {
      const redis = redisOf(backends);
      return { kind: "json", body: await guard("redis", () => searchFloats(redis, backends.config.REDIS_PREFIX, query as FloatsQuery)) };
    },
  },
  {
    path: "/api/floats/{wmo}",
    summary: "A float's summary",
    tag: "floats",
    params: WmoPath,
    response: FloatSummary,
    needs: ["redis"],
    cacheControl: "public, max-age=60",
    rateLimited: true,
    async handler({ params, backends }) {
      const redis = redisOf(backends);
      const wmo = params.wmo as string;
      const s = await guard("redis", () => floatSummary(redis, backends.config.REDIS_PREFIX, wmo));
      if (!s) throw notFound("float", { wmo });
      return { kind: "json", body: s };
    },
  },
  {
    path: "/api/floats/{wmo}/latest",
    summary: "A float's latest profile as the original system's ProfileData JSON",
    description: "depth is pressure in dbar, as in the original system; depth_m is depth in metres.",
    tag: "floats",
    params: WmoPath,
    response: ProfileDataResponse,
    needs: ["redis"],
    cacheControl: "public, max-age=60",
    rateLimited: true,
    async handler({ params, backends }) {
      const redis = redisOf(backends);
      const wmo = params.wmo as string;
      const text = await guard("redis", () => latestProfileJson(redis, backends.config.REDIS_PREFIX, wmo));
      if (text === null) throw notFound("float", { wmo });
      return { kind: "json-text", text };
    },
  },
  {
    path: "/api/floats/{wmo}/profiles",
    summary: "A float's profiles (from Postgres)",
    tag: "profiles",
    params: WmoPath,
    response: ProfilesList,
    needs: ["postgres"],
    cacheControl: "public, max-age=300",
    rateLimited: true,
    async handler({ params, backends }) {
      const pool = postgresOf(backends);
      const wmo = params.wmo as string;
      const rows = await guard("postgres", () => floatProfiles(pool, wmo));
      if (rows === null) throw notFound("float", { wmo });
      return { kind: "json", body: { float_id: wmo, count: rows.length, profiles: rows } };
    },
  },
  {
    path: "/api/floats/{wmo}/profiles/{cycle}",
    summary: "One cycle's levels (from the lake), in argopy's standard, research or expert mode",
    description: "expert (default): every column of the lake's measurements table; standard and research: the lake's " +
      "measurements_standard and measurements_research views.",
    tag: "profiles",
    params: CyclePath,
    query: LevelsQuery,
    response: LevelsResponse,
    needs: ["lake"],
    cacheControl: "public, max-age=300",
    rateLimited: true,
    async handler({ params, query, backends }) {
      const wmo = params.wmo as string, cycle = params.cycle as number;
      const mode = (query.mode as "standard" | "research" | "expert" | undefined) ?? "expert";
      const r = await cycleLevels(backends.lake, wmo, cycle, mode, query.direction as "A" | "D" | undefined);
      if (r === null) throw notFound("cycle", { wmo, cycle });
      return { kind: "json", body: { float_id: wmo, cycle_number: cycle, mode, count: r.levels.length, columns: r.columns, levels: r.levels } };
    },
  },
  {
    path: "/api/climatology",
    summary: "The climatology cell (1x1 degree, month, pressure band) at a position (from Postgres)",
    tag: "climatology",
    query: ClimatologyQuery,
    response: ClimatologyResponse,
    needs: ["postgres"],
    cacheControl: "public, max-age=3600",
    rateLimited: true,
    async handler({ query, backends }) {
      const pool = postgresOf(backends);
      const cells = await guard("postgres", () => climatologyCells(pool, query as z.infer<typeof ClimatologyQuery>));
      if (cells.length === 0) throw notFound("climatology cell", { ...query });
      return { kind: "json", body: { cells } };
    },
  },
  plotRoute("trajectory", "A float's trajectory on a map, coloured by time", "svg"),
  plotRoute("profiles", "A float's latest profiles: temperature and salinity against pressure", "svg"),
  plotRoute("section", "A float's time-pressure section of temperature", "svg"),
  plotRoute("trajectory", "A float's trajectory on a map, coloured by time", "png"),
  plotRoute("profiles", "A float's latest profiles: temperature and salinity against pressure", "png"),
  plotRoute("section", "A float's time-pressure section of temperature", "png"),
  {
    path: "/healthz",
    summary: "Whether Redis, Postgres and the lake are reachable",
    description: "200 when every configured backend answers, 503 (with Retry-After) otherwise; ok is null for one not configured.",
    tag: "service",
    response: Health,
    needs: [],
    cacheControl: "no-cache",
    rateLimited: false,
    async handler({ backends }) {
      const [redis, postgres, lake] = await Promise.all([
        check(!!backends.redis, () => backends.redis!.ping()),
        check(!!backends.postgres, () => pingPostgres(backends.postgres!)),
        check(true, () => backends.lake.reachable()),
      ]);
      const ok = [redis, postgres, lake].every((c) => c.ok !== false);
      return { kind: "json", body: { status: ok ? "ok" : "degraded", redis, postgres, lake }, status: ok ? 200 : 503, retryAfter: ok ? undefined : 5 };
    },
  },
  {
    path: "/",
    summary: "The dashboard: floats on a map; click one for its summary and plots",
    tag: "service",
    response: "text/html",
    needs: [],
    cacheControl: "public, max-age=300",
    rateLimited: false,
    handler: async () => ({ kind: "html", text: dashboardHtml() }),
  },
];

/**
 * The pipeline's real stages, by name, as the scheduler and the handler call
 * them: each takes (config, store, log, { signal, shard, floatIds }) and
 * returns its stats.
 */
import { runSync } from "../gdac/sync.ts";
import { runLoad } from "../load/run.ts";
import { runParse } from "../parse/run.ts";
import type { StageRegistry } from "./run.ts";

export const defaultStages: StageRegistry = {
  sync: runSync,
  parse: runParse,
  load: runLoad,
};

/**
 * Reading run records in tests: a record's stages by name, the first stage
 * that did not succeed, and each stage's stats, so assertions read like the
 * run (`{ verdict: "failed", failed_stage: "load", sync: { errors: 0 } }`).
 */
import { type RunRecord, RunRecordSchema } from "../../lib/schedule/runs.ts";

/** A run record seen by stage: verdict, the first failed or partial stage, and each stage's stats (null when it did not run). */
export function stagesOf(record: unknown): {
  verdict: RunRecord["verdict"];
  failed_stage: string | null;
  error: string | null;
  // deno-lint-ignore no-explicit-any
  sync: any;
  // deno-lint-ignore no-explicit-any
  parse: any;
  // deno-lint-ignore no-explicit-any
  compact: any;
  // deno-lint-ignore no-explicit-any
  load: any;
  record: RunRecord;
} {
  const r = RunRecordSchema.parse(record);
  const stats = (name: string) => r.stages.find((s) => s.stage === name)?.stats ?? null;
  return {
    verdict: r.verdict,
    failed_stage: r.stages.find((s) => s.verdict === "failed" || s.verdict === "partial")?.stage ?? null,
    error: r.error,
    sync: stats("sync"),
    parse: stats("parse"),
    compact: stats("compact"),
    load: stats("load"),
    record: r,
  };
}

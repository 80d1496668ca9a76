/**
 * Typed errors for every stage of the pipeline. Each carries the context an
 * operator needs (stage, float, file) and maps to a process exit code:
 * 0 success, 1 a stage failed, 2 bad input given to the job (config, flags).
 */

/** Where in the pipeline an error happened. */
export type Stage = "config" | "sync" | "parse" | "compact" | "lake" | "query" | "load" | "schedule" | "run";

/** Context attached to an error: which stage, float and file it concerns. */
export interface ErrorContext {
  stage?: Stage;
  floatId?: string;
  file?: string;
  [key: string]: unknown;
}

/** Base class of every error argo-lake raises on purpose. */
export class ArgoLakeError extends Error {
  readonly exitCode: 1 | 2;
  readonly context: ErrorContext;
  constructor(message: string, context: ErrorContext = {}, exitCode: 1 | 2 = 1, options?: { cause?: unknown }) {
    super(message, options);
    this.name = new.target.name;
    this.context = context;
    this.exitCode = exitCode;
  }
}

/** A configuration value or command-line flag is invalid: nothing was done (exit 2). */
export class ConfigError extends ArgoLakeError {
  constructor(message: string, context: ErrorContext = {}) {
    super(message, { stage: "config", ...context }, 2);
  }
}

/** Talking to the GDAC failed (after retries where retrying made sense). */
export class SyncError extends ArgoLakeError {
  constructor(message: string, context: ErrorContext = {}, options?: { cause?: unknown }) {
    super(message, { stage: "sync", ...context }, 1, options);
  }
}

/**
 * A NetCDF file could not be turned into Argo records: truncated, corrupt, not
 * NetCDF, or missing a required variable. `file` names the file, `where` the
 * variable or header part concerned.
 */
export class ParseError extends ArgoLakeError {
  readonly where?: string;
  constructor(message: string, context: ErrorContext & { where?: string } = {}, options?: { cause?: unknown }) {
    super(message, { stage: "parse", ...context }, 1, options);
    this.where = context.where;
  }
}

/** Reading from or writing to the lake (local directory or S3) failed. */
export class LakeError extends ArgoLakeError {
  constructor(message: string, context: ErrorContext = {}, options?: { cause?: unknown }) {
    super(message, { stage: "lake", ...context }, 1, options);
  }
}

/** Loading into Postgres or Redis failed. */
export class LoadError extends ArgoLakeError {
  constructor(message: string, context: ErrorContext = {}, options?: { cause?: unknown }) {
    super(message, { stage: "load", ...context }, 1, options);
  }
}

/**
 * A guard refused to act on implausible evidence (a missing lake, a mass
 * removal): nothing was changed (exit 1). See lib/removal-guard.ts.
 */
export class GuardError extends ArgoLakeError {
  constructor(message: string, context: ErrorContext = {}) {
    super(message, context, 1);
  }
}

/** Exit code for any thrown value: our errors say theirs, anything else is 1. */
export function exitCodeOf(err: unknown): 0 | 1 | 2 {
  return err instanceof ArgoLakeError ? err.exitCode : 1;
}

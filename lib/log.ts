/**
 * Structured logging: JSON lines or text, level-filtered, one run id on every
 * line of a job run. Known secrets (passwords in connection URLs, S3 keys) are
 * replaced by "***" in every line, whatever field they hide in.
 */
import { randomUUID } from "node:crypto";
import process from "node:process";

export type LogLevel = "debug" | "info" | "warn" | "error";
export type LogFormat = "json" | "text";
const rank: Record<LogLevel, number> = { debug: 10, info: 20, warn: 30, error: 40 };

/** A logger bound to one job run. */
export interface Logger {
  readonly runId: string;
  debug(msg: string, fields?: Record<string, unknown>): void;
  info(msg: string, fields?: Record<string, unknown>): void;
  warn(msg: string, fields?: Record<string, unknown>): void;
  error(msg: string, fields?: Record<string, unknown>): void;
  /** A logger whose lines also carry `fields` (e.g. the stage or float). */
  child(fields: Record<string, unknown>): Logger;
  /** The same logger for another run: its lines carry `runId` (the runner gives each run its own). */
  forRun(runId: string): Logger;
  /** Removes every known secret from a string (for messages printed outside the logger). */
  redact(text: string): string;
}

export interface LoggerOptions {
  level?: LogLevel;
  format?: LogFormat;
  runId?: string;
  /** Values that must never be printed. */
  secrets?: string[];
  /** Where lines go; stderr by default so stdout stays free for --json results. */
  write?: (line: string) => void;
}

/** Matches the user:password part of a URL such as postgres://u:p@host/db. */
const urlCredentials = /(\b[a-z][a-z0-9+.-]*:\/\/[^\s:/@]*:)[^\s@/]+@/gi;

/** Query parameters whose values are credentials (a token, a key, a signature, a password). */
export const CREDENTIAL_PARAM = /token|key|secret|sig|pass|auth|cred|session/i;

/** Matches such a parameter's value in a URL's query string, e.g. ?token=abc or &X-Amz-Signature=... */
const queryCredentials = /([?&][^=&\s"'#]*(?:token|key|secret|sig|pass|auth|cred|session)[^=&\s"'#]*=)[^&\s"'#]+/gi;

/**
 * A URL as it may be printed or stored: no user or password, and every
 * query-string value replaced by "***" (which of them are tokens is not ours
 * to guess). Text that is not a URL is returned with credentials masked.
 */
export function redactUrl(url: string): string {
  try {
    const u = new URL(url);
    u.username = "";
    u.password = "";
    for (const k of [...new Set(u.searchParams.keys())]) u.searchParams.set(k, "***");
    return u.href.replace(/=\*\*\*/g, "=***").replace(/\/$/, url.endsWith("/") ? "/" : "");
  } catch {
    return url.replace(urlCredentials, "$1***@").replace(queryCredentials, "$1***");
  }
}

/** Builds a redaction function for the given secret values and any URL credentials. */
export function makeRedactor(secrets: string[]): (text: string) => string {
  // Lines are redacted after JSON encoding, so a secret with a quote or a
  // backslash must also be looked for in its JSON-escaped form.
  const list = [...new Set(secrets.filter((s) => s && s.length >= 3).flatMap((s) => [s, JSON.stringify(s).slice(1, -1)]))]
    .sort((a, b) => b.length - a.length);
  return (text: string) => {
    let out = text.replace(urlCredentials, "$1***@").replace(queryCredentials, "$1***");
    for (const s of list) out = out.split(s).join("***");
    for (const s of list) {
      const enc = encodeURIComponent(s);
      if (enc !== s) out = out.split(enc).join("***");
    }
    return out;
  };
}

/** Creates a logger for one job run. */
export function createLogger(opts: LoggerOptions = {}): Logger {
  const level = opts.level ?? "info";
  const format = opts.format ?? "json";
  const redact = makeRedactor(opts.secrets ?? []);
  const write = opts.write ?? ((line: string) => process.stderr.write(line + "\n"));
  const make = (bound: Record<string, unknown>, runId: string): Logger => {
    const emit = (lvl: LogLevel, msg: string, fields?: Record<string, unknown>) => {
      if (rank[lvl] < rank[level]) return;
      const all = { ...bound, ...fields };
      const time = new Date().toISOString();
      if (format === "json") {
        write(redact(JSON.stringify({ time, level: lvl, run_id: runId, msg, ...all }, jsonSafe)));
      } else {
        const kv = Object.entries(all).map(([k, v]) => `${k}=${typeof v === "string" ? v : JSON.stringify(v, jsonSafe)}`);
        write(redact(`${time} ${lvl.toUpperCase().padEnd(5)} [${runId.slice(-8)}] ${msg}${kv.length ? " " + kv.join(" ") : ""}`));
      }
    };
    return {
      runId,
      debug: (m, f) => emit("debug", m, f),
      info: (m, f) => emit("info", m, f),
      warn: (m, f) => emit("warn", m, f),
      error: (m, f) => emit("error", m, f),
      child: (f) => make({ ...bound, ...f }, runId),
      forRun: (id) => make(bound, id),
      redact,
    };
  };
  return make({}, opts.runId ?? randomUUID());
}

function jsonSafe(_key: string, value: unknown): unknown {
  if (typeof value === "bigint") return Number(value);
  if (value instanceof Error) return { name: value.name, message: value.message };
  return value;
}

/**
 * The one place that knows which JavaScript runtime runs us. Everything else
 * uses `node:` built-ins, which Deno 2 and Node 20 both provide.
 */
import process from "node:process";

/** "deno" or "node": recorded in job stats so runs under both can be compared. */
export const runtimeName: "deno" | "node" = typeof (globalThis as { Deno?: unknown }).Deno === "object" ? "deno" : "node";

/** Command-line arguments after the script name. */
export function scriptArgs(): string[] {
  return process.argv.slice(2);
}

/** The process environment as plain strings. */
export function processEnv(): Record<string, string | undefined> {
  return process.env;
}

/** Ends the process with an exit code after stdout and stderr have drained. */
export async function exitProcess(code: number): Promise<never> {
  await Promise.all([drain(process.stdout), drain(process.stderr)]);
  process.exit(code);
}

function drain(stream: NodeJS.WriteStream): Promise<void> {
  return new Promise((resolve) => (stream.writableLength === 0 ? resolve() : stream.write("", () => resolve())));
}

/**
 * Run under Deno with a job's computed permissions (lib/permissions.ts) to
 * show what the runtime itself allows: writes a file at each path given with
 * --write and opens a TCP connection to each host:port given with --connect,
 * then prints one JSON line per attempt: { what, ok, error } where error is
 * the runtime's error name (NotCapable when a permission is missing).
 */
import { writeFileSync } from "node:fs";
import { connect } from "node:net";
import process from "node:process";

const results: { what: string; ok: boolean; error: string | null }[] = [];
const args = process.argv.slice(2);
for (let i = 0; i < args.length; i += 2) {
  const [flag, target] = [args[i], args[i + 1]];
  if (flag === "--write") {
    try {
      writeFileSync(target, "probe\n");
      results.push({ what: `write ${target}`, ok: true, error: null });
    } catch (err) {
      results.push({ what: `write ${target}`, ok: false, error: (err as Error).name });
    }
  } else if (flag === "--connect") {
    const [host, port] = target.split(":");
    const outcome = await new Promise<{ ok: boolean; error: string | null }>((resolve) => {
      try {
        const s = connect({ host, port: Number(port) }, () => {
          s.destroy();
          resolve({ ok: true, error: null });
        });
        s.on("error", (err) => resolve({ ok: false, error: err.name }));
      } catch (err) {
        resolve({ ok: false, error: (err as Error).name });
      }
    });
    results.push({ what: `connect ${target}`, ...outcome });
  }
}
for (const r of results) process.stdout.write(JSON.stringify(r) + "\n");

/**
 * A parse worker thread: receives float jobs (raw bytes), parses them and
 * writes their Parquet files to local temporary files with its own DuckDB,
 * and answers with what it wrote. One job at a time per worker.
 */
import { parentPort } from "node:worker_threads";
import { ArgoLakeError } from "../errors.ts";
import { ParquetWriter } from "../lake/parquet.ts";
import { processFloat } from "./float.ts";
import type { WorkerReply, WorkerRequest } from "./pool.ts";

const port = parentPort!;
const writer = await ParquetWriter.open();

port.on("message", async (msg: WorkerRequest) => {
  if (msg.type === "close") {
    // The main thread terminates the worker on this answer (Deno's parentPort has no close()).
    await writer.close();
    port.postMessage({ type: "closed" });
    return;
  }
  let reply: WorkerReply;
  try {
    const outcome = await processFloat(msg.job, writer, msg.outDir, msg.compression);
    reply = { id: msg.id, ok: true, outcome };
  } catch (err) {
    const e = err as Error;
    reply = {
      id: msg.id,
      ok: false,
      error: { name: e?.name ?? "Error", message: e?.message ?? String(err), context: err instanceof ArgoLakeError ? err.context : {} },
    };
  }
  port.postMessage(reply);
});
port.postMessage({ type: "ready" });

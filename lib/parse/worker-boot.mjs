// Node entry of a parse worker thread. Node 20 does not apply tsx's module
// hooks to worker threads, so the worker registers them itself before
// importing the TypeScript worker module. Deno runs worker.ts directly.
import { workerData } from "node:worker_threads";
import { register } from "tsx/esm/api";

register();
await import(workerData.entry);

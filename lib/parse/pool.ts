/**
 * Where floats are parsed: in-process (MAX_WORKERS=1) or on a pool of
 * node:worker_threads workers, one float at a time each, so parsing and
 * Parquet writing use every core. Works under Node (through tsx, see
 * worker-boot.mjs) and Deno (which runs the TypeScript worker directly).
 */
import { Worker } from "node:worker_threads";
import { type Compression, ParquetWriter } from "../lake/parquet.ts";
import { runtimeName } from "../runtime.ts";
import { type FloatJob, type FloatOutcome, processFloat } from "./float.ts";

/** A message to a worker. */
export type WorkerRequest =
  | { type: "job"; id: number; job: FloatJob; outDir: string; compression: Compression }
  | { type: "close" };

/** A worker's answer to a job. */
export type WorkerReply =
  | { id: number; ok: true; outcome: FloatOutcome }
  | { id: number; ok: false; error: { name: string; message: string; context: Record<string, unknown> } };

/** Runs float jobs somewhere; `close` releases threads and DuckDB instances. */
export interface FloatRunner {
  /** How many floats can run at once. */
  readonly concurrency: number;
  run(job: FloatJob, outDir: string, compression: Compression): Promise<FloatOutcome>;
  close(): Promise<void>;
}

/** A runner with `workers` threads, or in-process when `workers` is 1. */
export async function startRunner(workers: number): Promise<FloatRunner> {
  if (workers <= 1) return await InProcessRunner.start();
  return await WorkerPool.start(workers);
}

class InProcessRunner implements FloatRunner {
  readonly concurrency = 1;
  private constructor(private readonly writer: ParquetWriter) {}
  static async start(): Promise<InProcessRunner> {
    return new InProcessRunner(await ParquetWriter.open());
  }
  run(job: FloatJob, outDir: string, compression: Compression): Promise<FloatOutcome> {
    return processFloat(job, this.writer, outDir, compression);
  }
  close(): Promise<void> {
    return this.writer.close();
  }
}

interface Pending {
  resolve(o: FloatOutcome): void;
  reject(e: Error): void;
}

/** One worker thread and the job it is on. */
interface Slot {
  worker: Worker;
  busy: Pending | null;
  jobId: number;
}

/** Spawns one worker thread and waits until its DuckDB is open. */
function spawn(): Promise<Worker> {
  const entry = new URL("./worker.ts", import.meta.url);
  const worker = runtimeName === "deno"
    ? new Worker(entry)
    : new Worker(new URL("./worker-boot.mjs", import.meta.url), { workerData: { entry: entry.href } });
  return new Promise((resolve, reject) => {
    const onError = (err: Error) => reject(err);
    worker.once("error", onError);
    worker.once("message", (m: { type?: string }) => {
      worker.off("error", onError);
      if (m?.type === "ready") resolve(worker);
      else reject(new Error(`parse worker sent ${JSON.stringify(m)} before it was ready`));
    });
  });
}

class WorkerPool implements FloatRunner {
  private readonly idle: Slot[] = [];
  private readonly waiting: Array<{ resolve(slot: Slot): void; reject(err: Error): void }> = [];
  private nextId = 0;
  private closed = false;

  private constructor(private readonly slots: Slot[]) {
    for (const s of slots) this.attach(s);
    this.idle.push(...slots);
  }

  get concurrency(): number {
    return this.slots.length;
  }

  static async start(size: number): Promise<WorkerPool> {
    const workers = await Promise.all(Array.from({ length: size }, spawn));
    return new WorkerPool(workers.map((worker) => ({ worker, busy: null, jobId: -1 })));
  }

  /** Wires a slot's worker events: replies settle its job; a crash fails the job and replaces the worker. */
  private attach(slot: Slot): void {
    slot.worker.on("message", (reply: WorkerReply) => {
      if (reply.id !== slot.jobId || !slot.busy) return;
      const pending = slot.busy;
      slot.busy = null;
      this.release(slot);
      if (reply.ok) pending.resolve(reply.outcome);
      else pending.reject(Object.assign(new Error(reply.error.message), { name: reply.error.name, context: reply.error.context }));
    });
    const crashed = (err: Error) => {
      const pending = slot.busy;
      slot.busy = null;
      pending?.reject(err);
      // "error" is followed by "exit": replace the worker once.
      const i = this.slots.indexOf(slot);
      if (this.closed || i < 0) return;
      this.slots.splice(i, 1);
      const idle = this.idle.indexOf(slot);
      if (idle >= 0) this.idle.splice(idle, 1);
      spawn().then((worker) => {
        const fresh: Slot = { worker, busy: null, jobId: -1 };
        this.slots.push(fresh);
        this.attach(fresh);
        this.release(fresh);
      }, (spawnErr: Error) => {
        // The pool goes on with fewer workers; with none left, queued jobs fail instead of waiting forever.
        if (this.slots.length > 0) return;
        for (const w of this.waiting.splice(0)) w.reject(new Error(`no parse worker left: ${spawnErr.message}`));
      });
    };
    slot.worker.on("error", crashed);
    slot.worker.on("exit", (code) => {
      if (!this.closed) crashed(new Error(`parse worker exited with code ${code}`));
    });
  }

  private release(slot: Slot): void {
    const next = this.waiting.shift();
    if (next) next.resolve(slot);
    else this.idle.push(slot);
  }

  private acquire(): Promise<Slot> {
    const slot = this.idle.shift();
    if (slot) return Promise.resolve(slot);
    if (this.slots.length === 0) return Promise.reject(new Error("no parse worker left"));
    return new Promise((resolve, reject) => this.waiting.push({ resolve, reject }));
  }

  async run(job: FloatJob, outDir: string, compression: Compression): Promise<FloatOutcome> {
    const slot = await this.acquire();
    const id = ++this.nextId;
    slot.jobId = id;
    // Hand the bytes over without copying; a view on a shared buffer is copied first.
    const files = job.files.map((f) => ({
      rest: f.rest,
      bytes: f.bytes.byteOffset === 0 && f.bytes.byteLength === f.bytes.buffer.byteLength ? f.bytes : f.bytes.slice(),
    }));
    const request: WorkerRequest = { type: "job", id, job: { ...job, files }, outDir, compression };
    return new Promise<FloatOutcome>((resolve, reject) => {
      slot.busy = { resolve, reject };
      slot.worker.postMessage(request, files.map((f) => f.bytes.buffer as ArrayBuffer));
    });
  }

  async close(): Promise<void> {
    this.closed = true;
    await Promise.all(this.slots.map((s) =>
      new Promise<void>((resolve) => {
        // Its DuckDB closes first; a worker that does not answer is terminated all the same.
        const timer = setTimeout(() => void s.worker.terminate().then(() => resolve()), 10_000);
        s.worker.on("message", (m: { type?: string }) => {
          if (m?.type !== "closed") return;
          clearTimeout(timer);
          void s.worker.terminate().then(() => resolve());
        });
        s.worker.postMessage({ type: "close" } satisfies WorkerRequest);
      })
    ));
  }
}

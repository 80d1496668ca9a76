/**
 * A terminal that a person can read: on a TTY, log lines scroll above one
 * progress bar kept on the last line (a line is written by clearing the
 * bar, printing the line, and drawing the bar again), so they never collide.
 * Off a TTY there is no bar: progress goes to the log as periodic lines.
 */
import process from "node:process";
import type { StageProgress } from "./stages.ts";

/** Where text goes; stderr in the jobs. */
export interface TextSink {
  write(text: string): unknown;
  isTTY?: boolean;
  columns?: number;
}

/** Draws at most this often, so a fast stage does not spend its time on the terminal. */
const REDRAW_MS = 100;

export class Terminal {
  private bar: string | null = null;
  private lastDraw = 0;
  private readonly starts = new Map<string, { t: number; done: number }>();

  constructor(private readonly sink: TextSink = process.stderr) {}

  /** True when the sink is a terminal (bars are drawn). */
  get isTTY(): boolean {
    return this.sink.isTTY === true;
  }

  /** Writes one log line above the bar. */
  line(text: string): void {
    if (this.bar === null) {
      this.sink.write(text + "\n");
      return;
    }
    this.sink.write(`\r\x1b[2K${text}\n${this.bar}`);
  }

  /** Shows a stage's progress on the bar (a no-op off a TTY). */
  progress(p: StageProgress): void {
    if (!this.isTTY) return;
    const now = Date.now();
    const key = p.stage;
    let start = this.starts.get(key);
    if (!start) this.starts.set(key, start = { t: now, done: p.done });
    if (now - this.lastDraw < REDRAW_MS && p.done < p.total) return;
    this.lastDraw = now;
    this.bar = this.fit(renderBar(p, (now - start.t) / 1000, p.done - start.done));
    this.sink.write(`\r\x1b[2K${this.bar}`);
  }

  /** Removes the bar (the stage ended); the next line starts clean. */
  endProgress(): void {
    if (this.bar === null) return;
    this.sink.write("\r\x1b[2K");
    this.bar = null;
  }

  private fit(text: string): string {
    const cols = this.sink.columns ?? 80;
    return text.length >= cols ? text.slice(0, Math.max(10, cols - 1)) : text;
  }
}

/** One bar line: `sync [#####-----]  120/500 files  24.0/s  ETA 16 s  3.1 MB  2 retries  0 errors`. */
export function renderBar(p: StageProgress, elapsedS: number, doneSinceStart: number): string {
  const width = 24;
  const frac = p.total > 0 ? Math.min(1, p.done / p.total) : 0;
  const filled = Math.round(frac * width);
  const rate = elapsedS > 0 ? doneSinceStart / elapsedS : 0;
  const left = p.total - p.done;
  const eta = rate > 0 && left > 0 ? `ETA ${formatSeconds(left / rate)}` : left > 0 || p.total === 0 ? "ETA -" : "done";
  const parts = [
    `${p.stage} [${"#".repeat(filled)}${"-".repeat(width - filled)}]`,
    `${p.done}/${p.total} ${p.unit}`,
    `${rate.toFixed(1)}/s`,
    eta,
    ...(p.bytes > 0 ? [`${(p.bytes / 1e6).toFixed(1)} MB`] : []),
    `${p.retries} retries`,
    `${p.errors} errors`,
  ];
  return parts.join("  ");
}

function formatSeconds(s: number): string {
  if (s < 90) return `${Math.ceil(s)} s`;
  if (s < 5400) return `${Math.round(s / 60)} min`;
  return `${(s / 3600).toFixed(1)} h`;
}

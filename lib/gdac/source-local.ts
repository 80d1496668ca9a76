/**
 * A GDAC copy in a local directory (an rsync mirror, or the test fixtures):
 * `<root>/<index files>` and `<root>/dac/...`. Files are checked as HTTPS
 * bodies are (size ceiling, NetCDF signature); ETag and Last-Modified come
 * from size and mtime, so conditional fetches work as over HTTPS.
 */
import { readFile, stat } from "node:fs/promises";
import { join } from "node:path";
import { SyncError } from "../errors.ts";
import type { Conditional, GetResult, RemoteStat } from "../http.ts";
import { checkGdacPath } from "./paths.ts";
import { checkIndexName, type FetchOptions, type GdacSource, gzipProblem, netcdfProblem } from "./source.ts";

export class LocalGdacSource implements GdacSource {
  readonly description: string;

  constructor(private readonly root: string, private readonly maxBytes: number) {
    this.description = root;
  }

  async fetchIndex(name: string, o: FetchOptions = {}): Promise<GetResult> {
    const { gz } = checkIndexName(name);
    return this.read(join(this.root, name), o.conditional, gz ? gzipProblem : null);
  }

  async fetchFile(path: string, o: FetchOptions = {}): Promise<GetResult> {
    checkGdacPath(path);
    return this.read(join(this.root, "dac", ...path.split("/")), o.conditional, netcdfProblem);
  }

  async stat(path: string): Promise<RemoteStat | null> {
    checkGdacPath(path);
    const st = await stat(join(this.root, "dac", ...path.split("/"))).catch(() => null);
    return st?.isFile() ? { size: st.size, ...validators(st.size, st.mtimeMs) } : null;
  }

  retries(): number {
    return 0;
  }

  async close(): Promise<void> {}

  private async read(file: string, cond: Conditional | undefined, check: ((b: Uint8Array) => string | null) | null): Promise<GetResult> {
    const st = await stat(file).catch(() => null);
    if (!st?.isFile()) return { status: "not_found", httpStatus: 404 };
    const v = validators(st.size, st.mtimeMs);
    if (cond?.etag ? cond.etag === v.etag : cond?.lastModified ? Date.parse(v.lastModified) <= Date.parse(cond.lastModified) : false) {
      return { status: "not_modified" };
    }
    if (st.size > this.maxBytes) throw new SyncError(`${file} is larger than HTTP_MAX_BYTES=${this.maxBytes} (${st.size} bytes)`, { file });
    const body = new Uint8Array(await readFile(file));
    const bad = check?.(body);
    if (bad) throw new SyncError(`${file}: ${bad}`, { file });
    return { status: "ok", body, ...v };
  }
}

/** ETag and Last-Modified as a web server would derive them from size and mtime. */
function validators(size: number, mtimeMs: number): { etag: string; lastModified: string } {
  return {
    etag: `"${size.toString(16)}-${Math.floor(mtimeMs).toString(16)}"`,
    lastModified: new Date(Math.floor(mtimeMs / 1000) * 1000).toUTCString(),
  };
}

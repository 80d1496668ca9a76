/** A GDAC over HTTPS (data-argo.ifremer.fr, a mirror, or the test server). */
import { type GetResult, HttpClient, type HttpClientOptions, type RemoteStat } from "../http.ts";
import { checkGdacPath } from "./paths.ts";
import { checkIndexName, type FetchOptions, type GdacSource, gzipProblem, netcdfProblem } from "./source.ts";

export class HttpsGdacSource implements GdacSource {
  readonly description: string;
  private readonly http: HttpClient;
  private readonly base: string;

  /** `baseUrl` is the GDAC root, the folder holding the index files and `dac/`. */
  constructor(baseUrl: string, opts: HttpClientOptions) {
    this.base = baseUrl.replace(/\/+$/, "");
    this.description = this.base;
    this.http = new HttpClient(opts);
  }

  async fetchIndex(name: string, o: FetchOptions = {}): Promise<GetResult> {
    const { gz } = checkIndexName(name);
    return this.http.get(`${this.base}/${name}`, { conditional: o.conditional, signal: o.signal, check: gz ? gzipProblem : undefined });
  }

  async fetchFile(path: string, o: FetchOptions = {}): Promise<GetResult> {
    checkGdacPath(path);
    return this.http.get(`${this.base}/dac/${path}`, { conditional: o.conditional, signal: o.signal, check: netcdfProblem });
  }

  async stat(path: string, signal?: AbortSignal): Promise<RemoteStat | null> {
    checkGdacPath(path);
    return this.http.stat(`${this.base}/dac/${path}`, signal);
  }

  retries(): number {
    return this.http.retries;
  }

  close(): Promise<void> {
    return this.http.close();
  }
}


/**
 * A GDAC over HTTPS (data-argo.ifremer.fr, a mirror, or the test server).
 * A private mirror's credentials may sit in GDAC_BASE_URL, as
 * `https://user:password@host/path` (sent as HTTP Basic authorization, never
 * in the URL) and/or as query parameters (`?token=...`, added to every
 * request). Neither ever leaves this module in a description, an error or
 * a log line: those show the URL without user, password or query values.
 */
import { Buffer } from "node:buffer";
import { type GetResult, HttpClient, type HttpClientOptions, type RemoteStat } from "../http.ts";
import { checkGdacPath } from "./paths.ts";
import { checkIndexName, type FetchOptions, type GdacSource, gzipProblem, netcdfProblem } from "./source.ts";
import { redactUrl } from "../log.ts";

export class HttpsGdacSource implements GdacSource {
  readonly description: string;
  private readonly http: HttpClient;
  /** The GDAC root without credentials or query, e.g. https://host/pub. */
  private readonly base: string;
  /** The query string sent with every request ("" or "?token=..."). */
  private readonly query: string;

  /** `baseUrl` is the GDAC root, the folder holding the index files and `dac/`. */
  constructor(baseUrl: string, opts: HttpClientOptions) {
    const u = new URL(baseUrl);
    const headers: Record<string, string> = {};
    if (u.username || u.password) {
      const user = decodeURIComponent(u.username), password = decodeURIComponent(u.password);
      headers.authorization = `Basic ${Buffer.from(`${user}:${password}`).toString("base64")}`;
    }
    this.query = u.search;
    this.base = `${u.origin}${u.pathname}`.replace(/\/+$/, "");
    this.description = redactUrl(baseUrl).replace(/\/+$/, "");
    this.http = new HttpClient({ ...opts, headers: { ...opts.headers, ...headers } });
  }

  async fetchIndex(name: string, o: FetchOptions = {}): Promise<GetResult> {
    const { gz } = checkIndexName(name);
    return this.http.get(`${this.base}/${name}${this.query}`, { conditional: o.conditional, signal: o.signal, check: gz ? gzipProblem : undefined });
  }

  async fetchFile(path: string, o: FetchOptions = {}): Promise<GetResult> {
    checkGdacPath(path);
    return this.http.get(`${this.base}/dac/${path}${this.query}`, { conditional: o.conditional, signal: o.signal, check: netcdfProblem });
  }

  async stat(path: string, signal?: AbortSignal): Promise<RemoteStat | null> {
    checkGdacPath(path);
    return this.http.stat(`${this.base}/dac/${path}${this.query}`, signal);
  }

  retries(): number {
    return this.http.retries;
  }

  close(): Promise<void> {
    return this.http.close();
  }
}

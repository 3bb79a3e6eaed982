// Typed client for a peer's sync API. It classifies failures (PeerError) and leaves retrying to the job
// queue: at most one transport-level retry, so that backoff is not doubled.
import http from 'node:http';
import https from 'node:https';
import type { Readable } from 'node:stream';
import got, { HTTPError, RequestError, TimeoutError, type Got } from 'got';
import type { Change } from '@catchup/changelog';
import { changesToApply, type ChangesToApply } from './changes-page.ts';
import { PeerError } from './errors.ts';
import type { ApplyResponse, ChangesPageResponse, DownloadedFile, FileManifestResponse, PingResponse, ReadChangesQuery } from './types.ts';

export interface PeerAddress {
  protocol?: string;
  host: string;
  port: number;
  /** The key this node presents to the peer. */
  apiKey: string | null;
}

export interface PeerClientOptions {
  /** CATCHUP_CONNECTION_TIMEOUT, in seconds. */
  timeoutSeconds: number;
}

const agents = { http: new http.Agent({ keepAlive: true }), https: new https.Agent({ keepAlive: true }) };

export function peerBaseUrl(peer: PeerAddress): string {
  const protocol = peer.protocol === 'https' ? 'https' : 'http';
  const host = peer.host.includes(':') && !peer.host.startsWith('[') ? `[${peer.host}]` : peer.host;
  return `${protocol}://${host}:${peer.port}`;
}

function classify(err: unknown, url: string): PeerError {
  if (err instanceof HTTPError) {
    const status = err.response.statusCode;
    const body = err.response.body;
    let detail = '';
    try {
      const parsed = typeof body === 'string' ? JSON.parse(body) : body;
      detail = parsed?.message ? `: ${parsed.message}` : '';
    } catch {
      /* not JSON */
    }
    return new PeerError(status >= 500 ? 'server_error' : 'rejected', `${url} answered ${status}${detail}`, status);
  }
  if (err instanceof TimeoutError) return new PeerError('timeout', `${url} did not answer in time (${err.event})`);
  if (err instanceof RequestError) return new PeerError('unreachable', `${url} is unreachable: ${err.code ?? err.message}`);
  return new PeerError('unreachable', `${url} is unreachable: ${err instanceof Error ? err.message : String(err)}`);
}

function changesSearch(query: ReadChangesQuery): Record<string, string | number> {
  const searchParams: Record<string, string | number> = { after: query.after, limit: query.limit };
  if (query.upTo !== undefined) searchParams.up_to = query.upTo;
  if (query.excludeOrigin !== undefined) searchParams.exclude_origin = query.excludeOrigin;
  return searchParams;
}

export class PeerClient {
  readonly baseUrl: string;
  readonly #http: Got;
  /** For streamed bodies: no retry (a consumed stream cannot be sent again; the job retries). */
  readonly #streams: Got;

  constructor(peer: PeerAddress, options: PeerClientOptions) {
    this.baseUrl = peerBaseUrl(peer);
    this.#http = got.extend({
      prefixUrl: `${this.baseUrl}/api/sync`,
      headers: peer.apiKey ? { 'x-api-key': peer.apiKey } : {},
      timeout: { request: options.timeoutSeconds * 1000 },
      retry: { limit: 1, methods: ['GET', 'POST', 'PUT', 'DELETE'], statusCodes: [] },
      agent: agents,
      responseType: 'json',
    });
    this.#streams = got.extend({
      prefixUrl: `${this.baseUrl}/api/sync`,
      headers: peer.apiKey ? { 'x-api-key': peer.apiKey } : {},
      timeout: { request: options.timeoutSeconds * 1000 },
      retry: { limit: 0 },
      agent: agents,
    });
  }

  async #call<T>(what: string, request: () => Promise<T>): Promise<T> {
    try {
      return await request();
    } catch (err) {
      throw classify(err, `${this.baseUrl} (${what})`);
    }
  }

  ping(): Promise<PingResponse> {
    return this.#call('ping', () => this.#http.get('ping').json<PingResponse>());
  }

  /** A page of the peer's log, its changes as objects (for looking at them). */
  readChanges(query: ReadChangesQuery): Promise<ChangesPageResponse> {
    return this.#call('read changes', () => this.#http.get('changes', { searchParams: changesSearch(query) }).json<ChangesPageResponse>());
  }

  /** A page of the peer's log to apply here: changes checked, row images kept as the text they came in. */
  async readChangesToApply(query: ReadChangesQuery): Promise<ChangesToApply> {
    const text = await this.#call('read changes', () => this.#http.get('changes', { searchParams: changesSearch(query) }).text());
    return changesToApply(text, this.baseUrl);
  }

  /** One page of the peer's manifest; `scan: false` skips the peer's disk scan (for pages after the first). */
  fileManifest(directory: string, afterSeq: string, limit = 1000, scan = true): Promise<FileManifestResponse> {
    return this.#call('file manifest', () =>
      this.#http.get('files/checksums', { searchParams: { path: directory, after_seq: afterSeq, limit, scan: String(scan) } }).json<FileManifestResponse>(),
    );
  }

  /** Starts a download; resolves once the peer answered, with the file's announced checksum and mtime. */
  downloadFile(directory: string, file: string): Promise<DownloadedFile> {
    return this.#call('download', async () => {
      const stream = this.#streams.stream('files/download', { searchParams: { path: directory, file } });
      const response = await new Promise<{ headers: Record<string, string | string[] | undefined> }>((resolve, reject) => {
        stream.once('response', resolve);
        stream.once('error', reject);
      });
      const header = (name: string) => String(response.headers[name] ?? '');
      return { stream, sha256: header('x-sha256'), size: Number(header('content-length')), mtimeMs: Number(header('x-mtime-ms')) };
    });
  }

  uploadFile(directory: string, file: string, body: Readable, meta: { sha256: string; size: number; mtimeMs: number }): Promise<void> {
    return this.#call('upload', async () => {
      await this.#streams.put('files/upload', {
        searchParams: { path: directory, file, sha256: meta.sha256, size: meta.size, mtime_ms: Math.floor(meta.mtimeMs) },
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(meta.size) },
        body,
      });
    });
  }

  /** Sends a bundle of files (see @catchup/files encodeBundle) in one request. */
  uploadBundle(directory: string, body: Readable, length: number): Promise<void> {
    return this.#call('upload bundle', async () => {
      await this.#streams.put('files/upload-bundle', {
        searchParams: { path: directory },
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(length) },
        body,
      });
    });
  }

  deleteFile(directory: string, file: string): Promise<{ deleted: boolean }> {
    return this.#call('delete file', () => this.#http.delete('files', { searchParams: { path: directory, file } }).json<{ deleted: boolean }>());
  }

  /** Sends a batch to the peer: changes as objects, or a batch body's bytes read straight from the log. */
  applyChanges(changes: Change[] | Buffer): Promise<ApplyResponse> {
    const body = Buffer.isBuffer(changes) ? changes : `{"changes":${JSON.stringify(changes)}}`;
    return this.#call('apply changes', () =>
      this.#http.post('changes', { body, headers: { 'content-type': 'application/json' } }).json<ApplyResponse>(),
    );
  }
}

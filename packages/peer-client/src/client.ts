// Typed client for a peer's sync API. It classifies failures (PeerError) and leaves retrying to the job
// queue: at most one transport-level retry, so that backoff is not doubled.
import http from 'node:http';
import { pipeline, type Readable } from 'node:stream';
import zlib from 'node:zlib';
import got, { HTTPError, RequestError, TimeoutError, type Got, type Response } from 'got';
import type { z } from 'zod';
import type { Change, ChangeIdentity, HeldAnswer, StampedIdentity } from '@catchup/changelog';
import { LOG_STREAM_CONTENT_TYPE } from '@catchup/changelog';
import { comparedText, type ComparedState } from '@catchup/files';
import { parseAnswer, refuseRedirect } from './answer.ts';
import {
  AnswerEncodingError,
  COMPRESSION_THRESHOLD_BYTES,
  CONTENT_ENCODINGS,
  compressBody,
  decodeAnswer,
  requestEncodingFor,
  zlibOptions,
  zstdDecodeOptions,
  type ContentEncoding,
} from './compression.ts';
import { logStreamResponseSchema, type LogStreamResponse } from './log-stream.ts';
import { changesToApply, type ChangesToApply } from './changes-page.ts';
import { groupIdentities, groupStamped, heldResponseSchema, identitiesPageResponseSchema, ungroupIdentities, ungroupStamped } from './held.ts';
import { PeerError } from './errors.ts';
import { httpsAgentFor, UNTRUSTED_CERTIFICATE_CODES, FINGERPRINT_MISMATCH } from './tls.ts';
import {
  applyResponseSchema,
  changesPageResponseSchema,
  changesSummaryResponseSchema,
  deleteFileResponseSchema,
  digestResponseSchema,
  fileBlocksResponseSchema,
  fileManifestResponseSchema,
  pingResponseSchema,
  type ApplyResponse,
  type ChangesPageResponse,
  type ChangesSummaryResponse,
  type DeleteFileResponse,
  type DigestQuery,
  type DigestResponse,
  type DownloadedFile,
  type FileBlocksResponse,
  type FileManifestResponse,
  type PingResponse,
  type FetchChangesQuery,
} from './types.ts';

export interface PeerAddress {
  protocol?: string;
  host: string;
  port: number;
  /** The key this node presents to the peer. */
  apiKey: string | null;
  /** The sha256 fingerprint its TLS certificate must have (normalized); when set, it replaces the CA check. */
  tlsFingerprint?: string | null;
  /** The request body encodings it accepts, comma-separated (its last ping's content_encodings); none: uncompressed. */
  contentEncodings?: string | null;
  /** The compression level chosen for the link to it (0: none); null or absent: the node's (options.compressionLevel). */
  compressionLevel?: number | null;
}

export interface PeerClientOptions {
  /** CATCHUP_CONNECTION_TIMEOUT, in seconds. */
  timeoutSeconds: number;
  /** TLS_CA_FILE's PEM bundle: https peers without a pinned fingerprint must chain to it instead of the system CAs. */
  ca?: Buffer | undefined;
  /** COMPRESSION_LEVEL: the zstd level of the bodies exchanged with a peer that has none of its own; 0: none. */
  compressionLevel?: number;
}

const httpAgent = new http.Agent({ keepAlive: true });

export function peerBaseUrl(peer: PeerAddress): string {
  const protocol = peer.protocol === 'https' ? 'https' : 'http';
  const host = peer.host.includes(':') && !peer.host.startsWith('[') ? `[${peer.host}]` : peer.host;
  return `${protocol}://${host}:${peer.port}`;
}

/** An answer's body as text, decoded by its Content-Encoding (see decodeAnswer). */
function answerText(response: { body: unknown; headers: Response['headers'] }): string {
  const body = response.body;
  if (!Buffer.isBuffer(body)) return String(body ?? '');
  const encoding = response.headers['content-encoding'];
  return decodeAnswer(body, typeof encoding === 'string' ? encoding : undefined).toString('utf8');
}

function classify(err: unknown, url: string): PeerError {
  if (err instanceof HTTPError) {
    const status = err.response.statusCode;
    let detail = '';
    try {
      const parsed = JSON.parse(answerText(err.response));
      detail = parsed?.message ? `: ${parsed.message}` : '';
    } catch {
      /* not JSON */
    }
    return new PeerError(status >= 500 ? 'server_error' : 'rejected', `${url} answered ${status}${detail}`, status);
  }
  if (err instanceof RequestError && err.code === FINGERPRINT_MISMATCH) return new PeerError('untrusted', err.message);
  if (err instanceof RequestError && UNTRUSTED_CERTIFICATE_CODES.has(err.code)) {
    return new PeerError('untrusted', `${url}: its TLS certificate is not trusted (${err.code}: ${err.message})`);
  }
  if (err instanceof TimeoutError) return new PeerError('timeout', `${url} did not answer in time (${err.event})`);
  if (err instanceof RequestError) return new PeerError('unreachable', `${url} is unreachable: ${err.code ?? err.message}`);
  return new PeerError('unreachable', `${url} is unreachable: ${err instanceof Error ? err.message : String(err)}`);
}

function changesSearch(query: FetchChangesQuery): Record<string, string | number> {
  const searchParams: Record<string, string | number> = { after: query.after, limit: query.limit };
  if (query.upTo !== undefined) searchParams.up_to = query.upTo;
  if (query.excludeOrigin !== undefined) searchParams.exclude_origin = query.excludeOrigin;
  if (query.order !== undefined) searchParams.order = query.order;
  if (query.afterKey !== undefined) searchParams.after_key = query.afterKey;
  return searchParams;
}

/**
 * The synced folder a file route works on, under both its names: `directory`, and `path`, the name a node
 * of an older version requires. A node answers only when both name the same folder, so mixed versions sync.
 */
function folderSearch(directory: string): { directory: string; path: string } {
  return { directory, path: directory };
}

export class PeerClient {
  readonly baseUrl: string;
  /** JSON calls, their bodies read as text and checked by the route's schema. */
  readonly #http: Got;
  /** For streamed bodies: no retry (a consumed stream cannot be sent again; the job retries). */
  readonly #streams: Got;
  /** For log streams: as #streams, timed out only when the connection stalls (a baseline of a large table takes minutes). */
  readonly #logStreams: Got;
  /** Set when the peer cannot be called as registered: a pinned fingerprint over plain http would pin nothing. */
  readonly #refusal: PeerError | undefined;
  /** How batches posted to the peer are compressed (none for a peer that did not say it takes them). */
  readonly #requestEncoding: ContentEncoding | null;
  readonly #compressionLevel: number;

  constructor(peer: PeerAddress, options: PeerClientOptions) {
    this.baseUrl = peerBaseUrl(peer);
    this.#refusal =
      peer.tlsFingerprint && peer.protocol !== 'https'
        ? new PeerError('untrusted', `${this.baseUrl}: a TLS fingerprint is pinned for this peer but its protocol is http; set protocol https`)
        : undefined;
    const agents = { http: httpAgent, https: httpsAgentFor({ fingerprint: peer.tlsFingerprint, ca: options.ca }) };
    this.#compressionLevel = peer.compressionLevel ?? options.compressionLevel ?? 0;
    this.#requestEncoding = requestEncodingFor(peer.contentEncodings, this.#compressionLevel);
    // Redirects are never followed: the key would go with them to wherever they point. Answers are taken
    // compressed (unless the link's level is 0: a fast link gains nothing) and decoded here (answerText),
    // within a bound got's own decoding does not have.
    const accepted = this.#compressionLevel === 0 ? 'identity' : CONTENT_ENCODINGS.join(', ');
    this.#http = got.extend({
      prefixUrl: `${this.baseUrl}/api/sync`,
      headers: { ...(peer.apiKey ? { 'x-api-key': peer.apiKey } : {}), 'accept-encoding': accepted },
      timeout: { request: options.timeoutSeconds * 1000 },
      retry: { limit: 1, methods: ['GET', 'POST', 'PUT', 'DELETE'], statusCodes: [] },
      agent: agents,
      followRedirect: false,
      decompress: false,
      responseType: 'buffer',
    });
    // Files travel as they are (identity): their bytes are what size and sha256 are checked against.
    this.#streams = got.extend({
      prefixUrl: `${this.baseUrl}/api/sync`,
      headers: { ...(peer.apiKey ? { 'x-api-key': peer.apiKey } : {}), 'accept-encoding': 'identity' },
      timeout: { request: options.timeoutSeconds * 1000 },
      retry: { limit: 0 },
      agent: agents,
      followRedirect: false,
      decompress: false,
    });
    this.#logStreams = got.extend({
      prefixUrl: `${this.baseUrl}/api/sync`,
      headers: { ...(peer.apiKey ? { 'x-api-key': peer.apiKey } : {}), 'accept-encoding': accepted },
      timeout: { connect: options.timeoutSeconds * 1000, socket: options.timeoutSeconds * 1000 },
      retry: { limit: 0 },
      agent: agents,
      followRedirect: false,
      decompress: false,
      responseType: 'buffer',
    });
  }

  #from(what: string): string {
    return `${this.baseUrl} (${what})`;
  }

  /** Runs a request; any failure becomes a PeerError, and so does a redirect. */
  async #call<T extends { statusCode: number; headers: Response['headers'] }>(what: string, request: () => Promise<T>): Promise<T> {
    if (this.#refusal) throw this.#refusal;
    let response: T;
    try {
      response = await request();
    } catch (err) {
      throw classify(err, this.#from(what));
    }
    refuseRedirect(response, this.#from(what));
    return response;
  }

  /** A call's answer as text: an answer that cannot be decoded is an invalid answer (server_error). */
  async #text(what: string, request: () => Promise<Response<Buffer>>): Promise<string> {
    const response = await this.#call(what, request);
    try {
      return answerText(response);
    } catch (err) {
      if (err instanceof AnswerEncodingError) throw new PeerError('server_error', `${this.#from(what)} answered an invalid response: ${err.message}`);
      throw err;
    }
  }

  /** A JSON call whose answer is checked against the route's schema. */
  async #json<T>(what: string, schema: z.ZodType<T>, request: () => Promise<Response<Buffer>>): Promise<T> {
    return parseAnswer(schema, await this.#text(what, request), this.#from(what));
  }

  ping(): Promise<PingResponse> {
    return this.#json('ping', pingResponseSchema, () => this.#http.get<Buffer>('ping'));
  }

  /** GET /changes: a page of the peer's log, its changes as objects (for looking at them). */
  fetchChanges(query: FetchChangesQuery): Promise<ChangesPageResponse> {
    return this.#json('read changes', changesPageResponseSchema, () => this.#http.get<Buffer>('changes', { searchParams: changesSearch(query) }));
  }

  /**
   * GET /changes/summary: what a catch-up would move from the peer's log after `after` to this node, per
   * table; null from a node of an older version, which has no such route.
   */
  async changesSummary(after: string, excludeOrigin: string): Promise<ChangesSummaryResponse | null> {
    try {
      return await this.#json('changes summary', changesSummaryResponseSchema, () =>
        this.#http.get<Buffer>('changes/summary', { searchParams: { after, exclude_origin: excludeOrigin } }),
      );
    } catch (err) {
      if (err instanceof PeerError && err.status === 404) return null;
      throw err;
    }
  }

  /** GET /digest: the peer's digests of its synced tables and folders, or of one table's bucket or rows (verify). */
  digest(query: DigestQuery = {}): Promise<DigestResponse> {
    const searchParams: Record<string, string> = {};
    if (query.table !== undefined) {
      searchParams.table = query.table;
      if ('ids' in query) searchParams.ids = query.ids.join(',');
      else {
        searchParams.bucket = query.bucket;
        if (query.rows) searchParams.rows = 'true';
      }
    }
    return this.#json('digest', digestResponseSchema, () => this.#http.get<Buffer>('digest', { searchParams }));
  }

  /** GET /changes: a page of the peer's log to apply here, changes checked, row images kept as the text they came in. */
  async fetchChangesToApply(query: FetchChangesQuery): Promise<ChangesToApply> {
    const text = await this.#text('read changes', () => this.#http.get<Buffer>('changes', { searchParams: changesSearch(query) }));
    return changesToApply(text, this.#from('read changes'));
  }

  /** One page of the peer's manifest; `scan: false` skips the peer's disk scan (for pages after the first). */
  fileManifest(directory: string, afterSeq: string, limit = 1000, scan = true): Promise<FileManifestResponse> {
    return this.#json('file manifest', fileManifestResponseSchema, () =>
      this.#http.get<Buffer>('files/checksums', { searchParams: { ...folderSearch(directory), after_seq: afterSeq, limit, scan: String(scan) } }),
    );
  }

  /** Starts a streamed GET; resolves once the peer answered (a failure status is a PeerError), with the stream and the answer. */
  async #openStream(
    what: string,
    url: string,
    searchParams: Record<string, string>,
    via: Got = this.#streams,
  ): Promise<{ stream: Readable; headers: Response['headers'] }> {
    if (this.#refusal) throw this.#refusal;
    const stream = via.stream(url, { searchParams });
    try {
      const response = await this.#call(
        what,
        () =>
          new Promise<{ statusCode: number; headers: Response['headers'] }>((resolve, reject) => {
            stream.once('response', resolve);
            stream.once('error', reject);
          }),
      );
      return { stream, headers: response.headers };
    } catch (err) {
      stream.destroy();
      throw err;
    }
  }

  /** Starts a download; resolves once the peer answered, with the file's announced checksum and mtime. */
  async downloadFile(directory: string, file: string): Promise<DownloadedFile> {
    const { stream, headers } = await this.#openStream('download', 'files/download', { ...folderSearch(directory), file });
    const header = (name: string) => String(headers[name] ?? '');
    return { stream, sha256: header('x-sha256'), size: Number(header('content-length')), mtimeMs: Number(header('x-mtime-ms')) };
  }

  /** A file's block list (block deltas); a peer of a version before them answers 404 (PeerError, status 404). */
  fileBlocks(directory: string, file: string): Promise<FileBlocksResponse> {
    return this.#json('file blocks', fileBlocksResponseSchema, () =>
      this.#http.get<Buffer>('files/blocks', { searchParams: { ...folderSearch(directory), file } }),
    );
  }

  /** Starts a download of chosen blocks (`3,7-9`) of the version `sha256` of a file: their bytes, concatenated. */
  async downloadBlocks(directory: string, file: string, sha256: string, blocks: string): Promise<Readable> {
    return (await this.#openStream('download blocks', 'files/download-blocks', { ...folderSearch(directory), file, sha256, blocks })).stream;
  }

  /** `meta.replaces`: what the peer's file held when compared; the peer replaces it only while it still does. */
  async uploadFile(
    directory: string,
    file: string,
    body: Readable,
    meta: { sha256: string; size: number; mtimeMs: number; replaces?: ComparedState },
  ): Promise<void> {
    const replaces = meta.replaces === undefined ? {} : { replaces: comparedText(meta.replaces) };
    await this.#call('upload', () =>
      this.#streams.put('files/upload', {
        searchParams: { ...folderSearch(directory), file, sha256: meta.sha256, size: meta.size, mtime_ms: Math.floor(meta.mtimeMs), ...replaces },
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(meta.size) },
        body,
      }),
    );
  }

  /**
   * Sends a new version of a file as a block delta (see @catchup/files blocks.ts) computed against the
   * peer's version `baseSha256` of the file (or of `base`, another of its files); the peer refuses it
   * (409) when that file is another version.
   */
  async uploadDelta(
    directory: string,
    file: string,
    body: Readable,
    length: number,
    meta: { sha256: string; size: number; mtimeMs: number; baseSha256: string; blockSize: number; base?: string; replaces?: ComparedState },
  ): Promise<void> {
    const replaces = meta.replaces === undefined ? {} : { replaces: comparedText(meta.replaces) };
    await this.#call('upload delta', () =>
      this.#streams.put('files/upload-delta', {
        searchParams: {
          ...folderSearch(directory),
          file,
          sha256: meta.sha256,
          size: meta.size,
          mtime_ms: Math.floor(meta.mtimeMs),
          base_sha256: meta.baseSha256,
          block_size: meta.blockSize,
          ...(meta.base === undefined ? {} : { base: meta.base }),
          ...replaces,
        },
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(length) },
        body,
      }),
    );
  }

  /**
   * POST /changes/stream: a log stream (see @catchup/changelog log-stream.ts) for the peer to apply chunk by
   * chunk, compressed as batches are; null from a node of a version before log streams (404), or one that
   * refused a line as too long for a stream (413: pages carry it if anything can), the stream then left
   * unread.
   */
  async postLogStream(stream: Readable): Promise<LogStreamResponse | null> {
    const encoding = this.#requestEncoding;
    const body = encoding
      ? pipeline(
          stream,
          encoding === 'zstd' ? zlib.createZstdCompress(zlibOptions(this.#compressionLevel)) : zlib.createGzip(zlibOptions(this.#compressionLevel)),
          () => {},
        )
      : stream;
    const headers = { 'content-type': LOG_STREAM_CONTENT_TYPE, ...(encoding ? { 'content-encoding': encoding } : {}) };
    try {
      return await this.#json('log stream', logStreamResponseSchema, () => this.#logStreams.post<Buffer>('changes/stream', { body, headers }));
    } catch (err) {
      if (err instanceof PeerError && (err.status === 404 || err.status === 413)) return null;
      throw err;
    } finally {
      body.destroy();
    }
  }

  /**
   * GET /changes/stream: the range of the peer's log as a log stream, decoded as it arrives; null from a
   * peer that serves none for it (a node of an older version: 404; a range it reads in pages: 409).
   * 'row key' asks for a full baseline's order, 'position' for an incremental range's.
   */
  async fetchLogStream(query: { after: string; upTo: string; excludeOrigin: string; order: 'row key' | 'position' }): Promise<Readable | null> {
    let opened: { stream: Readable; headers: Response['headers'] };
    try {
      opened = await this.#openStream(
        'log stream',
        'changes/stream',
        { after: query.after, up_to: query.upTo, exclude_origin: query.excludeOrigin, ...(query.order === 'position' ? { order: 'position' } : {}) },
        this.#logStreams,
      );
    } catch (err) {
      if (err instanceof PeerError && (err.status === 404 || err.status === 409)) return null;
      throw err;
    }
    const encoding = String(opened.headers['content-encoding'] ?? 'identity').toLowerCase();
    if (encoding === 'identity') return opened.stream;
    if (encoding !== 'zstd' && encoding !== 'gzip') {
      opened.stream.destroy();
      throw new PeerError('server_error', `${this.#from('log stream')} answered in ${encoding}, which was not asked for`);
    }
    const decoder = encoding === 'zstd' ? zlib.createZstdDecompress(zstdDecodeOptions()) : zlib.createGunzip();
    return pipeline(opened.stream, decoder, () => {});
  }

  /** Sends a bundle of files (see @catchup/files encodeBundle) in one request. */
  async uploadBundle(directory: string, body: Readable, length: number): Promise<void> {
    await this.#call('upload bundle', () =>
      this.#streams.put('files/upload-bundle', {
        searchParams: folderSearch(directory),
        headers: { 'content-type': 'application/octet-stream', 'content-length': String(length) },
        body,
      }),
    );
  }

  /** `replaces`: what the peer's file held when compared; the peer removes it only while it still does. */
  deleteFile(directory: string, file: string, replaces?: ComparedState): Promise<DeleteFileResponse> {
    const searchParams = { ...folderSearch(directory), file, ...(replaces === undefined ? {} : { replaces: comparedText(replaces) }) };
    return this.#json('delete file', deleteFileResponseSchema, () => this.#http.delete<Buffer>('files', { searchParams }));
  }

  /** A JSON body for the peer, compressed as batches are (see postChanges). */
  #jsonBody(json: Buffer): { body: Buffer; headers: Record<string, string> } {
    const encoding = json.length >= COMPRESSION_THRESHOLD_BYTES ? this.#requestEncoding : null;
    const body = encoding ? compressBody(json, encoding, this.#compressionLevel) : json;
    return { body, headers: { 'content-type': 'application/json', ...(encoding ? { 'content-encoding': encoding } : {}) } };
  }

  /** A call that a node of a version before it answers 404: null then. */
  async #unlessMissing<T>(call: () => Promise<T>): Promise<T | null> {
    try {
      return await call();
    } catch (err) {
      if (err instanceof PeerError && err.status === 404) return null;
      throw err;
    }
  }

  /**
   * POST /changes/held: which of these changes the peer lacks (leased to `from` to deliver), which are on
   * their way from another node, and how many it holds; null from a peer that does not answer held checks
   * (a version before them, or catchup_held_check off).
   */
  changesHeld(from: string, identities: readonly StampedIdentity[]): Promise<(HeldAnswer & { held: number }) | null> {
    const json = Buffer.from(JSON.stringify({ from, origins: groupStamped(identities) }));
    return this.#unlessMissing(async () => {
      const answer = await this.#json('held check', heldResponseSchema, () => this.#http.post<Buffer>('changes/held', this.#jsonBody(json)));
      return { lacked: ungroupIdentities(answer.lacked), pending: ungroupIdentities(answer.pending), held: answer.held };
    });
  }

  /**
   * GET /changes/identities: the identities of the page GET /changes would answer (same query), without
   * the changes; null from a peer that does not answer held checks.
   */
  fetchIdentities(
    query: FetchChangesQuery,
  ): Promise<{ identities: StampedIdentity[]; next_cursor: string; has_more: boolean; latest_sequence: string; pruned_through?: string | undefined } | null> {
    return this.#unlessMissing(async () => {
      const {
        origins,
        count: _count,
        ...position
      } = await this.#json('read identities', identitiesPageResponseSchema, () =>
        this.#http.get<Buffer>('changes/identities', { searchParams: changesSearch(query) }),
      );
      return { identities: ungroupStamped(origins), ...position };
    });
  }

  /** POST /changes/select: the named changes of the peer's log in (after, upTo], to apply here (as fetchChangesToApply reads them). */
  async fetchSelected(after: string, upTo: string, identities: readonly ChangeIdentity[]): Promise<ChangesToApply> {
    const json = Buffer.from(JSON.stringify({ after, up_to: upTo, origins: groupIdentities(identities) }));
    const text = await this.#text('read chosen changes', () => this.#http.post<Buffer>('changes/select', this.#jsonBody(json)));
    return changesToApply(text, this.#from('read chosen changes'));
  }

  /** POST /changes: a batch for the peer to apply, as objects or as a batch body's bytes read straight from the log. */
  postChanges(changes: Change[] | Buffer): Promise<ApplyResponse> {
    const json = Buffer.isBuffer(changes) ? changes : Buffer.from(`{"changes":${JSON.stringify(changes)}}`);
    const encoding = json.length >= COMPRESSION_THRESHOLD_BYTES ? this.#requestEncoding : null;
    const body = encoding ? compressBody(json, encoding, this.#compressionLevel) : json;
    const headers = { 'content-type': 'application/json', ...(encoding ? { 'content-encoding': encoding } : {}) };
    return this.#json('apply changes', applyResponseSchema, () => this.#http.post<Buffer>('changes', { body, headers }));
  }
}

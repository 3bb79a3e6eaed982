// Compressed bodies between nodes: which encodings a node takes, how a body is compressed for a peer, and
// how an answer is decoded without letting a small body grow past a bound (a decompression bomb).
//
// Answers are negotiated the HTTP way: a request says Accept-Encoding, an answer that is compressed says
// Content-Encoding; a node of an older version answers uncompressed. A request body is compressed only for
// a peer whose ping listed the encoding among its content_encodings: an older node lists none.
import zlib from 'node:zlib';
import { z } from 'zod';

/** The encodings a node takes and gives, best first (zstd: Node's zlib, faster than gzip at a better ratio). */
export const CONTENT_ENCODINGS = ['zstd', 'gzip'] as const;
export type ContentEncoding = (typeof CONTENT_ENCODINGS)[number];

/** content_encodings in a ping: what the node takes as request bodies, best first (absent: none). */
export const contentEncodingsSchema = z.array(z.string().min(1).max(32)).max(16);

/** Bodies smaller than this go as they are: compressing them saves less than it costs. */
export const COMPRESSION_THRESHOLD_BYTES = 1024;

/** The largest answer a peer's body may decode to: a page, a manifest (far beyond any honest one). */
export const MAX_ANSWER_BYTES = 256 * 1024 * 1024;

/** The encoding to send a peer request bodies in: the first of ours it listed (stored comma-separated), or none. */
export function requestEncodingFor(peerEncodings: string | null | undefined, level: number): ContentEncoding | null {
  if (level === 0 || !peerEncodings) return null;
  const listed = peerEncodings.split(',');
  return CONTENT_ENCODINGS.find((encoding) => listed.includes(encoding)) ?? null;
}

/**
 * zstd's window: 2^20 bytes. A body is about a batch (a megabyte or two), so a larger window finds little
 * more to reuse, while a decoder holds a buffer of the window's size for every body in flight: on a
 * receiver taking several batches at once, the larger default showed in its peak RSS.
 */
const ZSTD_WINDOW_LOG = 20;

/**
 * The largest window a decoder here accepts (2^23 bytes: zstd's own default for levels up to 19 on
 * bodies of this size): a frame asking for more is refused before its buffer is allocated, so a hostile
 * body cannot make the node allocate zstd's maximum (128 MB) per request.
 */
export const ZSTD_DECODE_WINDOW_LOG_MAX = 23;

/** Options of a zstd decoder bounded by ZSTD_DECODE_WINDOW_LOG_MAX. */
export const zstdDecodeOptions = (options: zlib.ZstdOptions = {}): zlib.ZstdOptions => ({
  ...options,
  params: { ...options.params, [zlib.constants.ZSTD_d_windowLogMax]: ZSTD_DECODE_WINDOW_LOG_MAX },
});

/** zlib options for an encoding at a zstd level (gzip's level is scaled to its 1-9 range). */
export function zlibOptions(level: number): zlib.ZlibOptions & zlib.ZstdOptions {
  return {
    level: Math.max(1, Math.min(9, Math.round(level / 2))),
    params: { [zlib.constants.ZSTD_c_compressionLevel]: level, [zlib.constants.ZSTD_c_windowLog]: ZSTD_WINDOW_LOG },
  };
}

/** A body compressed in `encoding`. */
export function compressBody(body: Buffer, encoding: ContentEncoding, level: number): Buffer {
  return encoding === 'zstd' ? zlib.zstdCompressSync(body, zlibOptions(level)) : zlib.gzipSync(body, zlibOptions(level));
}

/** Thrown when an answer cannot be decoded: corrupt, in an encoding not asked for, or larger than allowed. */
export class AnswerEncodingError extends Error {}

/** An answer's bytes as sent, decoded by its Content-Encoding into at most `maxBytes`. */
export function decodeAnswer(body: Buffer, contentEncoding: string | undefined, maxBytes = MAX_ANSWER_BYTES): Buffer {
  const encoding = (contentEncoding ?? 'identity').trim().toLowerCase();
  if (encoding === 'identity' || encoding === '') return body;
  const options = { maxOutputLength: maxBytes };
  try {
    if (encoding === 'zstd') return zlib.zstdDecompressSync(body, zstdDecodeOptions(options));
    if (encoding === 'gzip') return zlib.gunzipSync(body, options);
  } catch (err) {
    const code = (err as { code?: string }).code;
    if (code === 'ERR_BUFFER_TOO_LARGE' || err instanceof RangeError) {
      throw new AnswerEncodingError(`its ${encoding} answer decodes to more than ${maxBytes} bytes`);
    }
    throw new AnswerEncodingError(`its ${encoding} answer is corrupt: ${(err as Error).message}`);
  }
  throw new AnswerEncodingError(`it answered in ${JSON.stringify(encoding)}, which was not asked for`);
}

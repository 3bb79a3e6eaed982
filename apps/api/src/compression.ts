// Compressed bodies (@fastify/compress): answers in zstd or gzip when the caller accepts them, and request
// bodies taken in either. Only what compresses is compressed (JSON: pages, manifests, batches; not the
// files' octet-streams, whose bytes are what size and sha256 are checked against — photos do not shrink),
// and a compressed request body counts against BODY_LIMIT_BYTES once decoded, so a small body that
// inflates past it is refused with 413 as it inflates.
import compress from '@fastify/compress';
import zlib from 'node:zlib';
import { CONTENT_ENCODINGS, zlibOptions, zstdDecodeOptions } from '@catchup/peer-client';
import type { FastifyInstance } from 'fastify';

/** JSON and log streams only: answers of other types (files, OpenAPI's assets) go as they are. */
const COMPRESSED_TYPES = /^application\/(json|x-catchup-log-stream)/;

export async function registerCompression(app: FastifyInstance, level: number): Promise<void> {
  await app.register(compress, {
    // With COMPRESSION_LEVEL=0 answers go as they are (identity is then the only encoding offered);
    // compressed requests are still taken.
    encodings: level === 0 ? ['identity'] : [...CONTENT_ENCODINGS],
    requestEncodings: [...CONTENT_ENCODINGS],
    customTypes: COMPRESSED_TYPES,
    threshold: 1024,
    zlibOptions: zlibOptions(level || 1),
    // Request bodies are decoded with a bounded zstd window (zstdDecodeOptions): the plugin calls its
    // decoders without options, so the bound comes with the zlib it is given.
    zlib: { ...zlib, createZstdDecompress: (options?: zlib.ZstdOptions) => zlib.createZstdDecompress(zstdDecodeOptions(options)) },
  });
}

// Compressed bodies between nodes, decided without I/O: which encoding a peer gets, and how an answer is
// decoded — refused when corrupt, in an encoding not asked for, or inflating past its bound.
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import { streamedZstd } from '@catchup/testing';
import { compressBody, decodeAnswer, requestEncodingFor } from '../src/compression.ts';

const json = Buffer.from(JSON.stringify({ changes: Array.from({ length: 200 }, (_, i) => ({ table_name: 'scouting_data', n: i })) }));

describe('the encoding a peer is sent', () => {
  it('is the first of ours the peer listed, none for a peer that listed none (an older node) or when compression is off', () => {
    expect(requestEncodingFor('zstd,gzip', 3)).toBe('zstd');
    expect(requestEncodingFor('gzip', 3)).toBe('gzip');
    expect(requestEncodingFor('br,gzip', 3)).toBe('gzip');
    expect(requestEncodingFor('br', 3)).toBeNull();
    expect(requestEncodingFor(null, 3)).toBeNull();
    expect(requestEncodingFor('zstd,gzip', 0)).toBeNull();
  });
});

describe('an answer decoded', () => {
  it('gives back what was compressed, in either encoding, and identity as it is', () => {
    for (const encoding of ['zstd', 'gzip'] as const) {
      const body = compressBody(json, encoding, 3);
      expect(body.length).toBeLessThan(json.length / 4);
      expect(decodeAnswer(body, encoding)).toEqual(json);
    }
    expect(decodeAnswer(json, undefined)).toBe(json);
    expect(decodeAnswer(json, 'identity')).toBe(json);
  });

  it('refuses a body that inflates past its bound (a decompression bomb) without inflating it all', () => {
    const bomb = zlib.zstdCompressSync(Buffer.alloc(64 * 1024 * 1024));
    expect(bomb.length).toBeLessThan(64 * 1024);
    expect(() => decodeAnswer(bomb, 'zstd', 1024 * 1024)).toThrow(/decodes to more than 1048576 bytes/);
    expect(() => decodeAnswer(zlib.gzipSync(Buffer.alloc(8 * 1024 * 1024)), 'gzip', 1024 * 1024)).toThrow(/decodes to more than/);
  });

  it('refuses a zstd body whose window would make the decoder allocate more than its bound', async () => {
    // Streamed, the frame cannot shrink its window to the body's size: it declares 2^27 bytes.
    const wide = await streamedZstd(json, 27);
    expect(() => decodeAnswer(wide, 'zstd')).toThrow(/zstd answer is corrupt: .*too much memory/);
    // What this node sends decodes within the bound.
    expect(decodeAnswer(compressBody(json, 'zstd', 19), 'zstd')).toEqual(json);
  });

  it('refuses a corrupt body and an encoding not asked for', () => {
    const body = compressBody(json, 'zstd', 3);
    const corrupt = Buffer.from(body);
    corrupt.fill(0x41, 8, 40);
    expect(() => decodeAnswer(corrupt, 'zstd')).toThrow(/zstd answer is corrupt/);
    expect(() => decodeAnswer(json, 'gzip')).toThrow(/gzip answer is corrupt/);
    expect(() => decodeAnswer(json, 'br')).toThrow(/answered in "br", which was not asked for/);
  });
});

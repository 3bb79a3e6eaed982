// A refused upload fails on the sender at once, with the receiver's message (the peer timeout is
// 60 s), and the receiver does not keep the refused request's connection open.
import { createHash } from 'node:crypto';
import { mkdir, mkdtemp, readdir, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { Readable } from 'node:stream';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { encodeBundle, type BundleEntry } from '@catchup/files';
import { PeerClient, PeerError } from '@catchup/peer-client';
import { useApiNodes } from './nodes.ts';

const LIMIT = 16 * 1024 * 1024;
const dataDir = await mkdtemp(path.join(tmpdir(), 'catchup-refused-upload-'));
afterAll(() => rm(dataDir, { recursive: true, force: true }));
const [receiver] = await useApiNodes(1, 'refusedup', { DATA_DIR: dataDir, FILE_UPLOAD_LIMIT_BYTES: String(LIMIT), LOG_LEVEL: 'error' });
const sender = new PeerClient({ host: '127.0.0.1', port: Number(new URL(receiver!.url).port), apiKey: receiver!.apiKey }, { timeoutSeconds: 60 });

const BODY_BYTES = 8 * 1024 * 1024;
const OVER_LIMIT_BYTES = LIMIT + 4 * 1024 * 1024;
const sha256Of = (size: number) => createHash('sha256').update(Buffer.alloc(size, 7)).digest('hex');
const sha256 = sha256Of(BODY_BYTES);
/** A body of `size` bytes as a file stream sends it: in 64 KB pieces, as fast as the socket takes them. */
const body = (size: number) =>
  Readable.from(
    (function* () {
      const piece = Buffer.alloc(65536, 7);
      for (let at = 0; at < size; at += piece.length) yield piece.subarray(0, Math.min(piece.length, size - at));
    })(),
  );

/** The files (not folders) under a folder, relative to it. */
async function files(folder: string): Promise<string[]> {
  const entries = await readdir(folder, { recursive: true, withFileTypes: true });
  return entries
    .filter((e) => e.isFile())
    .map((e) => path.relative(folder, path.join(e.parentPath, e.name)))
    .sort();
}

/** Connections the receiver still has open after `ms`, idle keep-alive ones closed first. */
async function busyConnectionsAfter(ms: number): Promise<number> {
  await new Promise((resolve) => setTimeout(resolve, ms));
  const server = receiver!.app.server;
  server.closeIdleConnections();
  return new Promise((resolve, reject) => server.getConnections((err, count) => (err ? reject(err) : resolve(count))));
}

async function refusal(file: string, meta: { sha256: string; size: number; mtimeMs: number }): Promise<{ error: PeerError; ms: number }> {
  const started = Date.now();
  const error = await sender.uploadFile('uploads', file, body(meta.size), meta).then(
    () => null,
    (err: unknown) => err,
  );
  expect(error).toBeInstanceOf(PeerError);
  return { error: error as PeerError, ms: Date.now() - started };
}

describe('a refused single-file upload of a multi-MB body', () => {
  beforeAll(() => mkdir(path.join(dataDir, 'uploads', 'taken', 'inside'), { recursive: true }));

  it.each([
    [
      'a size over FILE_UPLOAD_LIMIT_BYTES',
      'big.bin',
      { sha256: sha256Of(OVER_LIMIT_BYTES), size: OVER_LIMIT_BYTES, mtimeMs: Date.now() },
      413,
      /over the upload limit/,
    ],
    ['a wrong sha256 (found once the body is read)', 'wrong-sha.bin', { sha256: sha256Of(1), size: BODY_BYTES, mtimeMs: Date.now() }, 400, /does not match/],
    ['a folder where the file goes', 'taken', { sha256, size: BODY_BYTES, mtimeMs: Date.now() }, 409, /taken: is a folder here/],
    ['a malformed sha256 (refused by the schema)', 'bad-sha.bin', { sha256: 'not-a-sha', size: BODY_BYTES, mtimeMs: Date.now() }, 400, /sha256/],
    ['a path outside the folder', '../escape.bin', { sha256, size: BODY_BYTES, mtimeMs: Date.now() }, 400, /escape\.bin/],
  ])("%s fails on the sender within a couple of seconds, with the receiver's message", async (_case, file, meta, status, message) => {
    const { error, ms } = await refusal(file, meta);
    expect(error.status).toBe(status);
    expect(error.message).toMatch(message);
    expect(ms).toBeLessThan(3000);
    expect(await files(path.join(dataDir, 'uploads'))).toEqual([]);
    expect(await busyConnectionsAfter(300)).toBe(0);
  });

  it('a bundle refused at its first entry (a folder where it goes) fails on the sender within a couple of seconds', async () => {
    const piece = Buffer.alloc(200 * 1024, 7);
    const entry = (file: string): BundleEntry => ({ file, sha256: createHash('sha256').update(piece).digest('hex'), size: piece.length, mtimeMs: Date.now() });
    const entries = [entry('taken'), ...Array.from({ length: 80 }, (_, i) => entry(`more/${i}.bin`))];
    const started = Date.now();
    const { body: bundle, length } = encodeBundle(entries, () => Readable.from([piece]));
    const error = await sender.uploadBundle('uploads', bundle, length).then(
      () => null,
      (err: unknown) => err,
    );
    expect(error).toMatchObject({ status: 409, message: expect.stringMatching(/taken: is a folder here/) });
    expect(Date.now() - started).toBeLessThan(3000);
    expect(await files(path.join(dataDir, 'uploads'))).toEqual([]);
    // The receiver does not hold the refused request's connection (it would hold the rest of the
    // body unread, and the receiver's shutdown, until a server timeout).
    expect(await busyConnectionsAfter(1000)).toBe(0);
  });

  it('the connection is usable afterwards: a good upload right after goes through', async () => {
    const small = Buffer.from('fine');
    await sender.uploadFile('uploads', 'ok.txt', Readable.from([small]), {
      sha256: createHash('sha256').update(small).digest('hex'),
      size: small.length,
      mtimeMs: Date.now(),
    });
    expect(await files(path.join(dataDir, 'uploads'))).toEqual(['ok.txt']);
  });
});

// Block deltas between two real nodes (issue #19 item 3): a 50 MB file with 1 MB changed moves about 1 MB
// in each direction and ends byte-identical; a corrupt block falls back to the whole file, and a peer
// whose every download is corrupt leaves the old file untouched and no temp file; a delta whose base no
// longer matches, or that is malformed, is refused with nothing written; a peer of a version before block
// deltas (404 on their routes) still gets and gives whole files. All traffic to B goes through an HTTP
// proxy that counts the bytes of each route and can play the old or the corrupting peer.
import { createHash } from 'node:crypto';
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { mkdir, open, readdir, readFile, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Transform } from 'node:stream';
import { afterAll, beforeEach, describe, expect, it } from 'vitest';
import { DELIVERY_OPERATIONS, type CatchupResult } from '@catchup/engine';
import { BLOCK_BYTES, copyRecord, literalHeader } from '@catchup/files';
import { mulberry32 } from '@catchup/testing';
import { type TestApiNode, registerPeer, useApiNodes } from './nodes.ts';

const [a, b] = (await useApiNodes(2, 'fdelta')) as [TestApiNode, TestApiNode];

type Mode = 'pass' | 'old' | 'flip-blocks' | 'flip-downloads';
const DELTA_ROUTES = new Set(['/api/sync/files/blocks', '/api/sync/files/download-blocks', '/api/sync/files/upload-delta']);

/** A proxy in front of `target` that counts body bytes per route and, by mode, plays an old or a corrupting peer. */
async function proxyTo(target: TestApiNode) {
  const state = { mode: 'pass' as Mode, sent: new Map<string, number>(), answered: new Map<string, number>() };
  const add = (counts: Map<string, number>, route: string, bytes: number) => counts.set(route, (counts.get(route) ?? 0) + bytes);
  const server = http.createServer((req, res) => {
    const route = req.url!.split('?')[0]!;
    req.on('data', (chunk: Buffer) => add(state.sent, route, chunk.length));
    if (state.mode === 'old' && DELTA_ROUTES.has(route)) {
      // What Fastify answers for a route it does not have.
      req.resume();
      req.on('end', () =>
        res
          .writeHead(404, { 'content-type': 'application/json' })
          .end(JSON.stringify({ message: `Route ${req.method}:${req.url} not found`, error: 'Not Found', statusCode: 404 })),
      );
      return;
    }
    const flip =
      (state.mode === 'flip-blocks' && route === '/api/sync/files/download-blocks') ||
      (state.mode === 'flip-downloads' && (route === '/api/sync/files/download-blocks' || route === '/api/sync/files/download'));
    const upstream = http.request(
      { host: '127.0.0.1', port: Number(new URL(target.url).port), method: req.method, path: req.url, headers: req.headers },
      (answer) => {
        res.writeHead(answer.statusCode!, answer.headers);
        let seen = 0;
        const count = new Transform({
          transform(chunk: Buffer, _encoding, done) {
            add(state.answered, route, chunk.length);
            // One byte flipped, a little way into the body.
            if (flip && seen <= 1000 && seen + chunk.length > 1000) {
              chunk = Buffer.from(chunk);
              chunk[1000 - seen]! ^= 0xff;
            }
            seen += chunk.length;
            done(null, chunk);
          },
        });
        answer.pipe(count).pipe(res);
      },
    );
    upstream.on('error', () => res.destroy());
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  afterAll(() => new Promise((resolve) => server.close(resolve)));
  const total = (counts: Map<string, number>) => [...counts.values()].reduce((sum, n) => sum + n, 0);
  return {
    port: (server.address() as AddressInfo).port,
    state,
    reset(mode: Mode = 'pass') {
      state.mode = mode;
      state.sent.clear();
      state.answered.clear();
    },
    sent: () => total(state.sent),
    answered: () => total(state.answered),
  };
}

const proxy = await proxyTo(b);
// A presents a credential B issued to it, so that what A delivers is attributed to A in B's sync log.
const aAdded = await b.call('/api/sync/servers', {
  method: 'POST',
  json: { name: a.name, host: '127.0.0.1', port: Number(new URL(a.url).port), api_key: a.apiKey, issue_credential: true },
});
expect(aAdded.status).toBe(201);
const { id: aOnB, credential } = (await aAdded.json()) as { id: number; credential: { token: string } };
const bOnA = await registerPeer(a, b, { port: proxy.port, api_key: credential.token });
// A failed file is reported at once, not retried with backoff (each retry would move 50 MB again).
expect((await a.call('/api/sync/config', { method: 'PUT', json: { catchup_retry_attempts: 1 } })).status).toBe(200);

const MB = 1024 * 1024;
const SIZE = 50 * MB;
const FILE = 'uploads/video.bin';
const onA = path.join(a.ctx.config.dataDir, FILE);
const onB = path.join(b.ctx.config.dataDir, FILE);

/** Seeded bytes: the same for the same seed, and unlike any other block. */
function seeded(length: number, seed: number): Buffer {
  const next = mulberry32(seed);
  const words = new Uint32Array(Math.ceil(length / 4));
  for (let i = 0; i < words.length; i++) words[i] = Math.floor(next() * 2 ** 32);
  return Buffer.from(words.buffer, 0, length);
}

/** Writes `length` new bytes at `offset` of a file (not on a block boundary, so two partial blocks change too). */
async function changePart(file: string, offset: number, seed: number, length = MB): Promise<void> {
  const handle = await open(file, 'r+');
  try {
    await handle.write(seeded(length, seed), 0, length, offset);
  } finally {
    await handle.close();
  }
}

const sha = (bytes: Buffer) => createHash('sha256').update(bytes).digest('hex');
const tempFiles = async (file: string) => (await readdir(path.dirname(file))).filter((f) => f.startsWith('.catchup-tmp-'));

async function scan(): Promise<CatchupResult> {
  const res = await a.call('/api/sync/catchup/scan', { method: 'POST', json: { server_ids: [bOnA] } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { results: CatchupResult[] }).results[0]!;
}

async function expectIdentical(): Promise<void> {
  const [x, y] = [await readFile(onA), await readFile(onB)];
  expect(x.length).toBe(SIZE);
  expect(x.equals(y)).toBe(true);
}

beforeEach(() => proxy.reset());

describe('block deltas between two nodes', () => {
  it('starts from the same 50 MB file on both sides (nothing moves)', async () => {
    const content = seeded(SIZE, 1);
    for (const file of [onA, onB]) {
      await mkdir(path.dirname(file), { recursive: true });
      await writeFile(file, content);
    }
    const result = await scan();
    expect(result.success).toBe(true);
    expect(result.file_changes).toMatchObject({ uploaded: 0, downloaded: 0, bytes: 0 });
  });

  it('download: 1 MB changed on the peer moves about 1 MB, and the file ends byte-identical', async () => {
    await changePart(onB, 20_000_000, 2);
    const result = await scan();
    expect(result.success).toBe(true);
    expect(result.file_changes).toMatchObject({ downloaded: 1, uploaded: 0 });
    // 1 MB not on a block boundary touches 9 blocks of 128 KiB.
    expect(result.file_changes.bytes).toBe(9 * BLOCK_BYTES);
    expect(proxy.state.answered.get('/api/sync/files/download-blocks')).toBe(9 * BLOCK_BYTES);
    expect(proxy.state.answered.get('/api/sync/files/download')).toBeUndefined();
    expect(proxy.answered() + proxy.sent()).toBeLessThan(1.5 * MB);
    await expectIdentical();
    expect(await tempFiles(onA)).toEqual([]);
  });

  it('upload: 1 MB changed here moves about 1 MB to the peer, which ends byte-identical', async () => {
    await changePart(onA, 33_000_000, 3);
    const result = await scan();
    expect(result.success).toBe(true);
    expect(result.file_changes).toMatchObject({ uploaded: 1, downloaded: 0, bytes: 9 * BLOCK_BYTES });
    const body = proxy.state.sent.get('/api/sync/files/upload-delta')!;
    expect(body).toBeGreaterThan(9 * BLOCK_BYTES);
    expect(body).toBeLessThan(9 * BLOCK_BYTES + 1000);
    expect(proxy.state.sent.get('/api/sync/files/upload')).toBeUndefined();
    expect(proxy.answered() + proxy.sent()).toBeLessThan(1.5 * MB);
    await expectIdentical();
    expect(await tempFiles(onB)).toEqual([]);
    // Attributed to A in B's sync log, as any upload is.
    const delivered = await b.ctx.db.syncLog.findMany({ where: { operation: DELIVERY_OPERATIONS.filesReceived } });
    expect(delivered).toHaveLength(1);
    expect(delivered[0]).toMatchObject({ serverId: aOnB, status: 'completed' });
    expect(delivered[0]!.details).toContain(`video.bin (${SIZE} bytes, ${body} sent as a block delta) from ${a.name}`);
  });

  it('a corrupt block from the peer: the delta is dropped and the whole file is fetched instead', async () => {
    proxy.reset('flip-blocks');
    await changePart(onB, 10_000_000, 4);
    const result = await scan();
    expect(result.success).toBe(true);
    expect(result.file_changes).toMatchObject({ downloaded: 1, bytes: SIZE });
    expect(proxy.state.answered.get('/api/sync/files/download-blocks')).toBe(9 * BLOCK_BYTES);
    expect(proxy.state.answered.get('/api/sync/files/download')).toBe(SIZE);
    await expectIdentical();
    expect(await tempFiles(onA)).toEqual([]);
  });

  it('a peer whose blocks and whole file both arrive corrupt: the old file stays untouched, no temp file, the error names the file', async () => {
    proxy.reset('flip-downloads');
    const before = sha(await readFile(onA));
    await changePart(onB, 40_000_000, 5);
    const result = await scan();
    expect(result.success).toBe(false);
    expect(result.errors.join('\n')).toMatch(/uploads\/video\.bin: video\.bin: sha256 [0-9a-f]{64} does not match the announced/);
    expect(sha(await readFile(onA))).toBe(before);
    expect(await tempFiles(onA)).toEqual([]);
    proxy.reset();
    expect((await scan()).file_changes).toMatchObject({ downloaded: 1, bytes: 9 * BLOCK_BYTES });
    await expectIdentical();
  });

  it("changed on both sides: the conflict copy of the peer's version is built from blocks of this node's version", async () => {
    await changePart(onB, 15_000_000, 9);
    await utimes(onB, new Date(Date.now() - 60_000), new Date(Date.now() - 60_000));
    await changePart(onA, 30_000_000, 10);
    const theirs = await readFile(onB);
    const result = await scan();
    expect(result.success).toBe(true);
    expect(result.file_changes).toMatchObject({ conflicts: 1 });
    // The versions differ in two places (9 blocks each). The peer's version came as the blocks this node
    // lacked; the copy goes up as copy instructions only (the peer builds it from the version it holds at
    // the original path), and this node's version as a delta.
    expect(proxy.state.answered.get('/api/sync/files/download-blocks')).toBe(18 * BLOCK_BYTES);
    expect(proxy.state.answered.get('/api/sync/files/download')).toBeUndefined();
    expect(proxy.state.sent.get('/api/sync/files/upload')).toBeUndefined();
    expect(proxy.state.sent.get('/api/sync/files/upload-delta')).toBeLessThan(18 * BLOCK_BYTES + 1000);
    await expectIdentical();
    const copies = (await readdir(path.dirname(onA))).filter((f) => f.startsWith('video.sync-conflict-'));
    expect(copies.length).toBe(1);
    expect((await readFile(path.join(path.dirname(onA), copies[0]!))).equals(theirs)).toBe(true);
    expect((await readFile(path.join(path.dirname(onB), copies[0]!))).equals(theirs)).toBe(true);
  });

  it('a peer of a version before block deltas (404 on their routes) gets and gives whole files', async () => {
    proxy.reset('old');
    await changePart(onB, 5_000_000, 6);
    let result = await scan();
    expect(result.success).toBe(true);
    expect(result.file_changes).toMatchObject({ downloaded: 1, bytes: SIZE });
    expect(proxy.state.answered.get('/api/sync/files/download')).toBe(SIZE);
    await expectIdentical();

    proxy.reset('old');
    await changePart(onA, 45_000_000, 7);
    result = await scan();
    expect(result.success).toBe(true);
    expect(result.file_changes).toMatchObject({ uploaded: 1, bytes: SIZE });
    expect(proxy.state.sent.get('/api/sync/files/upload')).toBe(SIZE);
    await expectIdentical();
  });
});

describe('an upload as a block delta, refused', () => {
  const put = (query: Record<string, string | number>, body: Buffer) =>
    b.call(`/api/sync/files/upload-delta?${new URLSearchParams(Object.entries(query).map(([k, v]): [string, string] => [k, String(v)]))}`, {
      method: 'PUT',
      headers: { 'content-type': 'application/octet-stream' },
      body,
    });
  /** A delta that turns B's file into one with its first block replaced. */
  async function delta() {
    const current = await readFile(onB);
    const block = seeded(BLOCK_BYTES, 8);
    const wanted = Buffer.concat([block, current.subarray(BLOCK_BYTES)]);
    const blocks = Math.ceil(SIZE / BLOCK_BYTES);
    const body = Buffer.concat([literalHeader(BLOCK_BYTES), block, copyRecord(1, blocks - 1)]);
    const query = {
      directory: 'uploads',
      file: 'video.bin',
      sha256: sha(wanted),
      size: SIZE,
      mtime_ms: Date.now(),
      base_sha256: sha(current),
      block_size: BLOCK_BYTES,
    };
    return { current, body, query, blocks, block };
  }
  const unchanged = async (current: Buffer) => {
    expect((await readFile(onB)).equals(current)).toBe(true);
    expect(await tempFiles(onB)).toEqual([]);
  };

  it('whose base is no longer the file here: 409, nothing written', async () => {
    const { current, body, query } = await delta();
    const res = await put({ ...query, base_sha256: sha(Buffer.from('another version')) }, body);
    expect(res.status).toBe(409);
    expect(((await res.json()) as { message: string }).message).toContain('is not the version the delta was computed against');
    await unchanged(current);
  });

  it('that copies blocks outside the file here, has a literal over a block, or writes fewer bytes than announced: 400, nothing written', async () => {
    const { current, query, blocks, block } = await delta();
    const bodies = [
      Buffer.concat([literalHeader(BLOCK_BYTES), block, copyRecord(1, blocks)]),
      Buffer.concat([literalHeader(BLOCK_BYTES + 1), block, Buffer.alloc(1), copyRecord(1, blocks - 1)]),
      Buffer.concat([literalHeader(BLOCK_BYTES), block, copyRecord(1, blocks - 2)]),
      Buffer.concat([literalHeader(BLOCK_BYTES), block, Buffer.from([0x07])]),
    ];
    const messages = [];
    for (const body of bodies) {
      const res = await put(query, body);
      expect(res.status).toBe(400);
      messages.push(((await res.json()) as { message: string }).message);
    }
    expect(messages).toEqual([
      `video.bin: the delta body copies blocks 1+${blocks}, outside the ${blocks} blocks of the file here`,
      `video.bin: the delta body has a literal of ${BLOCK_BYTES + 1} bytes (1 to ${BLOCK_BYTES})`,
      `video.bin: the delta wrote ${SIZE - BLOCK_BYTES} of ${SIZE} bytes`,
      'video.bin: the delta body has an unknown instruction 7',
    ]);
    await unchanged(current);
  });

  it('whose result does not match its announced sha256: 400, nothing written', async () => {
    const { current, body, query } = await delta();
    const res = await put({ ...query, sha256: sha(Buffer.from('something else')) }, body);
    expect(res.status).toBe(400);
    await unchanged(current);
  });

  it('over the upload limit: 413; and a correct one is put in place', async () => {
    const { current, body, query, block } = await delta();
    const res = await put({ ...query, size: 3 * 1024 ** 3 }, body);
    expect(res.status).toBe(413);
    await unchanged(current);
    const ok = await put(query, body);
    expect(ok.status).toBe(200);
    const now = await readFile(onB);
    expect(now.subarray(0, BLOCK_BYTES).equals(block)).toBe(true);
    expect(now.subarray(BLOCK_BYTES).equals(current.subarray(BLOCK_BYTES))).toBe(true);
    expect(await tempFiles(onB)).toEqual([]);
  });
});

describe('the block routes', () => {
  it("a file's block list: its blocks' sha256 in order, and the whole file's; 404 for a file that is not there", async () => {
    const content = await readFile(onB);
    const res = await b.call('/api/sync/files/blocks?directory=uploads&file=video.bin');
    expect(res.status).toBe(200);
    const list = (await res.json()) as { block_size: number; size: number; sha256: string; blocks: string[] };
    expect(list).toMatchObject({ block_size: BLOCK_BYTES, size: SIZE, sha256: sha(content) });
    expect(list.blocks.length).toBe(Math.ceil(SIZE / BLOCK_BYTES));
    expect(list.blocks[7]).toBe(sha(content.subarray(7 * BLOCK_BYTES, 8 * BLOCK_BYTES)));
    expect((await b.call('/api/sync/files/blocks?directory=uploads&file=not-there.bin')).status).toBe(404);
  });

  it('chosen blocks of the version the list described; another version is 409, blocks outside the file 400', async () => {
    const content = await readFile(onB);
    const q = (sha256: string, blocks: string) => `/api/sync/files/download-blocks?directory=uploads&file=video.bin&sha256=${sha256}&blocks=${blocks}`;
    const res = await b.call(q(sha(content), '1,3-4'));
    expect(res.status).toBe(200);
    const body = Buffer.from(await res.arrayBuffer());
    expect(body.equals(Buffer.concat([content.subarray(BLOCK_BYTES, 2 * BLOCK_BYTES), content.subarray(3 * BLOCK_BYTES, 5 * BLOCK_BYTES)]))).toBe(true);
    expect((await b.call(q(sha(Buffer.from('older')), '1'))).status).toBe(409);
    for (const blocks of [`${Math.ceil(SIZE / BLOCK_BYTES)}`, '4,2', '1-x']) expect((await b.call(q(sha(content), blocks))).status, blocks).toBe(400);
  });

  it('paths are confined (F5): a path leading outside the folder is refused with 400 and nothing is written', async () => {
    const zero = '0'.repeat(64);
    const outside = encodeURIComponent('../escape.bin');
    expect((await b.call(`/api/sync/files/blocks?directory=uploads&file=${outside}`)).status).toBe(400);
    expect((await b.call(`/api/sync/files/download-blocks?directory=uploads&file=${outside}&sha256=${zero}&blocks=0`)).status).toBe(400);
    const res = await b.call(
      `/api/sync/files/upload-delta?directory=uploads&file=${outside}&sha256=${zero}&size=5&mtime_ms=${Date.now()}&base_sha256=${zero}&block_size=${BLOCK_BYTES}`,
      { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: Buffer.concat([literalHeader(5), Buffer.from('bytes')]) },
    );
    expect(res.status).toBe(400);
    const baseOutside = await b.call(
      `/api/sync/files/upload-delta?directory=uploads&file=inside.bin&base=${outside}&sha256=${zero}&size=5&mtime_ms=${Date.now()}&base_sha256=${zero}&block_size=${BLOCK_BYTES}`,
      { method: 'PUT', headers: { 'content-type': 'application/octet-stream' }, body: copyRecord(0, 1) },
    );
    expect(baseOutside.status).toBe(400);
    expect(await readdir(b.ctx.config.dataDir)).not.toContain('escape.bin');
    expect(await readdir(path.dirname(onB))).not.toContain('inside.bin');
  });
});

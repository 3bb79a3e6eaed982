// Compressed bodies between real nodes (issue #19 item 2): batches posted and pages answered in zstd when
// both sides take it, plain bodies with a node of an older version (which neither lists nor decodes
// them), a corrupt compressed batch refused (400), a decompression bomb refused (413), and a corrupt
// compressed answer reported as an invalid answer — each changing nothing.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import zlib from 'node:zlib';
import { afterAll, describe, expect, it } from 'vitest';
import type { CatchupResult } from '@catchup/engine';
import { streamedZstd } from '@catchup/testing';
import { type TestApiNode, registerPeer, useApiNodes } from './nodes.ts';
import { tableRows, writeRows } from './two-nodes.ts';

const [a, b, c] = (await useApiNodes(3, 'zstd')) as [TestApiNode, TestApiNode, TestApiNode];
const [plain] = (await useApiNodes(1, 'zstd-off', { COMPRESSION_LEVEL: '0' })) as [TestApiNode];

interface Seen {
  method: string;
  path: string;
  requestEncoding: string | undefined;
  requestBytes: number;
  /** The request body once decoded (its size on a link without compression). */
  requestPlainBytes: number;
  answerEncoding: string | undefined;
  answerBytes: number;
}

const decode = (body: Buffer, encoding: string | undefined) =>
  encoding === 'zstd' ? zlib.zstdDecompressSync(body) : encoding === 'gzip' ? zlib.gunzipSync(body) : body;

/**
 * An HTTP proxy in front of `target` that notes what crosses it. As `older`, it plays a node of a version
 * before compression: its ping lists no encodings, its answers are never compressed, a compressed
 * request body is what such a node cannot read (400), and the routes that came later (log streams, held
 * checks) are not found (404).
 */
async function proxyTo(target: TestApiNode, older: boolean): Promise<{ port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const targetPort = Number(new URL(target.url).port);
  const server = http.createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (chunk: Buffer) => chunks.push(chunk));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const requestEncoding = req.headers['content-encoding'];
      if (older && /^\/api\/sync\/changes\/(stream|held|identities|select)\b/.test(req.url ?? '')) {
        seen.push({
          method: req.method!,
          path: req.url!.split('?')[0]!,
          requestEncoding,
          requestBytes: body.length,
          requestPlainBytes: 0,
          answerEncoding: undefined,
          answerBytes: 0,
        });
        res.writeHead(404, { 'content-type': 'application/json' }).end('{"statusCode":404,"error":"Not Found","message":"Route not found"}');
        return;
      }
      if (older && requestEncoding) {
        res.writeHead(400, { 'content-type': 'application/json' }).end('{"statusCode":400,"error":"Bad Request","message":"Body is not valid JSON"}');
        return;
      }
      const headers = { ...req.headers };
      if (older) delete headers['accept-encoding'];
      const upstream = http.request({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers }, (answer) => {
        const parts: Buffer[] = [];
        answer.on('data', (part: Buffer) => parts.push(part));
        answer.on('end', () => {
          let answerBody = Buffer.concat(parts);
          if (older && req.url?.startsWith('/api/sync/ping')) {
            const { content_encodings: _, ...ping } = JSON.parse(answerBody.toString('utf8')) as Record<string, unknown>;
            answerBody = Buffer.from(JSON.stringify(ping));
          }
          const answerEncoding = answer.headers['content-encoding'];
          seen.push({
            method: req.method!,
            path: req.url!.split('?')[0]!,
            requestEncoding,
            requestBytes: body.length,
            requestPlainBytes: decode(body, requestEncoding).length,
            answerEncoding,
            answerBytes: answerBody.length,
          });
          const { 'content-length': _, 'transfer-encoding': __, ...answerHeaders } = answer.headers;
          res.writeHead(answer.statusCode!, { ...answerHeaders, 'content-length': String(answerBody.length) }).end(answerBody);
        });
      });
      upstream.end(body);
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  afterAll(() => new Promise((resolve) => server.close(resolve)));
  return { port: (server.address() as AddressInfo).port, seen };
}

async function scan(from: TestApiNode, serverId: number): Promise<CatchupResult> {
  const res = await from.call('/api/sync/catchup/scan', { method: 'POST', json: { server_ids: [serverId] } });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { results: CatchupResult[] };
  expect(body.results).toHaveLength(1);
  return body.results[0]!;
}

const logCount = async (node: TestApiNode) => (await node.ctx.pool.query('SELECT count(*)::int AS n FROM database_changes')).rows[0].n as number;

describe('compressed bodies between nodes', () => {
  it('streams changes both ways in zstd between current nodes, a fraction of their plain size', async () => {
    const link = await proxyTo(b, false);
    const bOnA = await registerPeer(a, { ...b, url: `http://127.0.0.1:${link.port}` });
    await writeRows(a, 3000, 'from a');
    await writeRows(b, 2000, 'from b');
    const result = await scan(a, bOnA);
    expect(result.errors).toEqual([]);
    expect(result.database_changes).toMatchObject({ sent: 3000, received: 2000 });
    expect(await tableRows(b)).toEqual(await tableRows(a));

    // Incremental ranges between unscoped peers of this version go as log streams, in both directions.
    const posted = link.seen.filter((s) => s.method === 'POST' && s.path === '/api/sync/changes/stream');
    expect(posted.length).toBeGreaterThan(0);
    expect(posted.every((s) => s.requestEncoding === 'zstd')).toBe(true);
    const postedBytes = posted.reduce((n, s) => n + s.requestBytes, 0);
    const plainBytes = posted.reduce((n, s) => n + s.requestPlainBytes, 0);
    expect(postedBytes).toBeLessThan(plainBytes / 3);
    const pulled = link.seen.filter((s) => s.method === 'GET' && s.path === '/api/sync/changes/stream' && s.answerBytes > 1024);
    expect(pulled.length).toBeGreaterThan(0);
    expect(pulled.every((s) => s.answerEncoding === 'zstd')).toBe(true);
    // (Detection's probe of one change is the only page read.)
    expect(link.seen.filter((s) => s.path === '/api/sync/changes' && (s.method === 'POST' || s.answerBytes > 1024))).toEqual([]);
    expect((await b.ctx.db.syncServer.findMany()).length).toBe(0); // b knows no peer: the link is a's alone
    expect((await a.ctx.db.syncServer.findUniqueOrThrow({ where: { id: bOnA } })).contentEncodings).toBe('zstd,gzip');
  });

  it('exchanges plain bodies with a peer whose link is set to compression level 0', async () => {
    const link = await proxyTo(b, false);
    const bOnA = await registerPeer(a, { ...b, name: 'zstd-b-lan', url: `http://127.0.0.1:${link.port}` }, { compression_level: 0 });
    const listed = (await (await a.call(`/api/sync/servers/${bOnA}`)).json()) as { compression_level: number | null };
    expect(listed.compression_level).toBe(0);
    await writeRows(a, 1000, 'over the lan');
    await writeRows(b, 1000, 'back over the lan');
    const result = await scan(a, bOnA);
    expect(result.errors).toEqual([]);
    expect(await tableRows(b)).toEqual(await tableRows(a));
    expect(link.seen.some((s) => s.method === 'POST' && s.path === '/api/sync/changes/stream')).toBe(true);
    expect(link.seen.every((s) => s.requestEncoding === undefined && s.answerEncoding === undefined)).toBe(true);
  });

  it('sends a node of an older version plain bodies, and reads its plain answers', async () => {
    const link = await proxyTo(c, true);
    const cOnA = await registerPeer(a, { ...c, url: `http://127.0.0.1:${link.port}` });
    await writeRows(c, 1500, 'from c');
    const result = await scan(a, cOnA);
    expect(result.errors).toEqual([]);
    expect(result.database_changes.received).toBe(1500);
    expect(await tableRows(c)).toEqual(await tableRows(a));
    expect(link.seen.some((s) => s.method === 'POST' && s.path === '/api/sync/changes')).toBe(true);
    expect(link.seen.every((s) => s.requestEncoding === undefined && s.answerEncoding === undefined)).toBe(true);
    expect((await a.ctx.db.syncServer.findUniqueOrThrow({ where: { id: cOnA } })).contentEncodings).toBeNull();
  });

  it('answers as they are with COMPRESSION_LEVEL=0, and still takes compressed batches', async () => {
    await writeRows(plain, 500, 'plain');
    const page = await plain.call('/api/sync/changes?limit=500', { headers: { 'accept-encoding': 'zstd, gzip' } });
    expect(page.headers.get('content-encoding')).toBeNull();
    expect(((await page.json()) as { changes: unknown[] }).changes).toHaveLength(500);
    const batch = zlib.zstdCompressSync(Buffer.from(JSON.stringify({ changes: [] })));
    const posted = await plain.call('/api/sync/changes', {
      method: 'POST',
      body: batch,
      headers: { 'content-type': 'application/json', 'content-encoding': 'zstd' },
    });
    expect(posted.status).toBe(200);
  });

  it('refuses a corrupt compressed batch (400) and a decompression bomb (413), applying nothing', async () => {
    const before = await logCount(b);
    const batch = Buffer.from(JSON.stringify({ changes: [] }));
    const corrupt = zlib.zstdCompressSync(Buffer.concat([batch, Buffer.alloc(4096, 32)]));
    corrupt.fill(0x41, 6, 30);
    const post = (body: Buffer, encoding: string) =>
      b.call('/api/sync/changes', { method: 'POST', body, headers: { 'content-type': 'application/json', 'content-encoding': encoding } });
    const refused = await post(corrupt, 'zstd');
    expect(refused.status).toBe(400);
    // 64 MB of spaces after a valid start: a few kilobytes on the wire, four times BODY_LIMIT_BYTES decoded.
    const bomb = zlib.zstdCompressSync(Buffer.concat([Buffer.from('{"changes":['), Buffer.alloc(64 * 1024 * 1024, 32), Buffer.from(']}')]));
    expect(bomb.length).toBeLessThan(64 * 1024);
    const tooLarge = await post(bomb, 'zstd');
    expect(tooLarge.status).toBe(413);
    // A frame that asks the decoder for zstd's largest window is refused before its buffer is allocated.
    const wide = await post(await streamedZstd(batch, 27), 'zstd');
    expect(wide.status).toBe(400);
    const unknown = await post(batch, 'br-x');
    expect(unknown.status).toBe(415);
    expect(await logCount(b)).toBe(before);
  });

  it('reports a peer whose compressed answer is corrupt as an invalid answer, and marks it unreachable', async () => {
    const fake = http.createServer((req, res) => {
      req.resume();
      res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': 'zstd' }).end(Buffer.from('not zstd at all, not even close'));
    });
    await new Promise<void>((resolve) => fake.listen(0, '127.0.0.1', resolve));
    afterAll(() => new Promise((resolve) => fake.close(resolve)));
    const fakeId = (
      await a.ctx.db.syncServer.create({ data: { name: 'zstd-corrupt', host: '127.0.0.1', port: (fake.address() as AddressInfo).port, apiKey: 'k' } })
    ).id;
    const result = await scan(a, fakeId);
    expect(result.success).toBe(false);
    expect(result.errors[0]).toMatch(/\(ping\) answered an invalid response: its zstd answer is corrupt/);
    expect((await a.ctx.db.syncServer.findUniqueOrThrow({ where: { id: fakeId } })).pingSuccess).toBe(false);
  });
});

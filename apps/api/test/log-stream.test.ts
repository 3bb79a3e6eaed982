// A full baseline as one log stream between real nodes: an empty peer gets the sender's retained log piped
// in one compressed request (POST /api/sync/changes/stream) and applied in bulk; a node of an older
// version (404) gets pages as before; the route refuses what is not a log stream (401, 415, 400 naming
// the line, 409) and applies nothing of a refused chunk.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { afterAll, describe, expect, it } from 'vitest';
import type { CatchupResult } from '@catchup/engine';
import { type TestApiNode, registerPeer, useApiNodes } from './nodes.ts';
import { tableRows, writeRows } from './two-nodes.ts';

const [a, b, c, d, e] = (await useApiNodes(5, 'lstream')) as [TestApiNode, TestApiNode, TestApiNode, TestApiNode, TestApiNode];

interface Seen {
  method: string;
  path: string;
  status: number;
  requestEncoding: string | undefined;
  answerEncoding?: string | undefined;
}

/**
 * An HTTP proxy in front of `target` that notes each request. As `older`, it plays a node of a version
 * before log streams: POST /api/sync/changes/stream is an unknown route (404).
 */
async function proxyTo(target: TestApiNode, older: boolean): Promise<{ port: number; seen: Seen[] }> {
  const seen: Seen[] = [];
  const targetPort = Number(new URL(target.url).port);
  const server = http.createServer((req, res) => {
    const note = (status: number, answerEncoding?: string) =>
      seen.push({
        method: req.method!,
        path: req.url!.split('?')[0]!,
        status,
        requestEncoding: req.headers['content-encoding'] as string | undefined,
        ...(answerEncoding ? { answerEncoding } : {}),
      });
    if (older && req.url?.startsWith('/api/sync/changes/stream')) {
      note(404);
      res.writeHead(404, { 'content-type': 'application/json', connection: 'close' }).end('{"statusCode":404,"error":"Not Found","message":"Route not found"}');
      req.resume();
      return;
    }
    const upstream = http.request({ host: '127.0.0.1', port: targetPort, method: req.method, path: req.url, headers: req.headers }, (answer) => {
      note(answer.statusCode!, answer.headers['content-encoding']);
      res.writeHead(answer.statusCode!, answer.headers);
      answer.pipe(res);
    });
    req.pipe(upstream);
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  afterAll(() => new Promise((resolve) => server.close(resolve)));
  return { port: (server.address() as AddressInfo).port, seen };
}

async function scan(from: TestApiNode, serverId: number): Promise<CatchupResult> {
  const res = await from.call('/api/sync/catchup/scan', { method: 'POST', json: { server_ids: [serverId] } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { results: CatchupResult[] }).results[0]!;
}

/** Ages A's whole log past retention and prunes it: a peer that never synced then gets a full baseline. */
async function pruneAll(node: TestApiNode): Promise<void> {
  await node.ctx.pool.query(`UPDATE database_changes SET "timestamp" = now() - interval '40 days'`);
  const res = await node.call('/api/sync/maintenance/prune', { method: 'POST' });
  expect(res.status).toBe(200);
}

const logCount = async (node: TestApiNode) => (await node.ctx.pool.query('SELECT count(*)::int AS n FROM database_changes')).rows[0].n as number;

/** A line of a log stream (COPY text format) for a new scouting row from `origin`. */
function streamLine(origin: string, sequence: number, recordId: string, hlc = BigInt(Date.now()) * 65536n): string {
  const image = JSON.stringify({
    id: recordId,
    team_number: 1,
    match_number: 2,
    scouting_team_number: 1678,
    data: { note: 'streamed' },
    is_active: true,
    updated_at: '2026-11-30T08:00:00.000Z',
  });
  return `scouting_data\t${recordId}\tinsert\t${image}\t\\N\t2026-11-30T08:00:00.000Z\t${origin}\t${sequence}\t${hlc}\tf\n`;
}

const postStream = (node: TestApiNode, body: string, headers: Record<string, string> = { 'content-type': 'application/x-catchup-log-stream' }) =>
  node.call('/api/sync/changes/stream', { method: 'POST', headers, body });

describe('a full baseline as a log stream', () => {
  it('reaches an empty peer as one compressed stream, applied in bulk, with the counts a baseline reports', async () => {
    await writeRows(a, 2500, 'stream');
    await a.ctx.pool.query(`UPDATE scouting_data SET match_number = match_number + 100 WHERE team_number <= 500`);
    await a.ctx.pool.query(`DELETE FROM scouting_data WHERE team_number > 2400`);
    await pruneAll(a);
    const link = await proxyTo(b, false);
    const bOnA = await registerPeer(a, { ...b, url: `http://127.0.0.1:${link.port}` });

    const result = await scan(a, bOnA);
    expect(result).toMatchObject({ success: true, mode: 'full baseline', full_baseline: { rows_sent: 2400, tombstones_sent: 100 } });
    expect(await tableRows(b)).toEqual(await tableRows(a));
    const streams = link.seen.filter((s) => s.path === '/api/sync/changes/stream');
    expect(streams).toEqual([{ method: 'POST', path: '/api/sync/changes/stream', status: 200, requestEncoding: 'zstd' }]);
    expect(link.seen.some((s) => s.method === 'POST' && s.path === '/api/sync/changes')).toBe(false);
    expect(await logCount(b)).toBe(2500);

    // Then incremental again: a stream in position order. Between two nodes alone, nothing is asked first
    // (a held check): no third node can have passed B these changes.
    await writeRows(a, 3, 'after');
    expect(await scan(a, bOnA)).toMatchObject({ success: true, mode: 'incremental', database_changes: { sent: 3 } });
    expect(await tableRows(b)).toEqual(await tableRows(a));
    expect(link.seen.filter((s) => s.path === '/api/sync/changes/stream').slice(1)).toEqual([
      { method: 'POST', path: '/api/sync/changes/stream', status: 200, requestEncoding: 'zstd' },
    ]);
    expect(link.seen.filter((s) => s.path === '/api/sync/changes/held')).toEqual([]);
  });

  it('reaches a node of an older version in pages', async () => {
    const link = await proxyTo(c, true);
    const cOnA = await registerPeer(a, { ...c, url: `http://127.0.0.1:${link.port}` });
    const result = await scan(a, cOnA);
    expect(result).toMatchObject({ success: true, mode: 'full baseline', full_baseline: { rows_sent: 2403, tombstones_sent: 100 } });
    expect(await tableRows(c)).toEqual(await tableRows(a));
    expect(link.seen.filter((s) => s.path === '/api/sync/changes/stream').map((s) => s.status)).toEqual([404]);
    expect(link.seen.filter((s) => s.method === 'POST' && s.path === '/api/sync/changes').length).toBeGreaterThan(0);
  });

  it('is pulled as one compressed stream by an empty node that scans a peer past its retention', async () => {
    const link = await proxyTo(a, false);
    const aOnE = await registerPeer(e, { ...a, url: `http://127.0.0.1:${link.port}` });
    const result = await scan(e, aOnE);
    expect(result).toMatchObject({
      success: true,
      mode: 'full baseline',
      full_baseline: { directions: ['receive'], rows_received: 2403, tombstones_received: 100 },
    });
    expect(await tableRows(e)).toEqual(await tableRows(a));
    // Asked first in position order (an incremental range), A answers that the range is a baseline (409):
    // its first page says so too, and the range is read again from its start as one stream in row-key order.
    const streams = link.seen.filter((s) => s.path === '/api/sync/changes/stream');
    expect(streams).toEqual([
      { method: 'GET', path: '/api/sync/changes/stream', status: 409, requestEncoding: undefined, answerEncoding: undefined },
      { method: 'GET', path: '/api/sync/changes/stream', status: 200, requestEncoding: undefined, answerEncoding: 'zstd' },
    ]);
  });

  it('serves a log stream only to a reader below the pruned horizon, with its key', async () => {
    const latest = (await a.ctx.pool.query<{ s: string }>('SELECT max(sequence)::text AS s FROM database_changes')).rows[0]!.s;
    const read = (query: string, key = a.apiKey) => fetch(`${a.url}/api/sync/changes/stream?${query}`, { headers: { 'x-api-key': key } });
    expect((await read(`after=0&up_to=${latest}&exclude_origin=x`, 'wrong-key-0123456789abcdef')).status).toBe(401);
    const above = await read(`after=${latest}&up_to=${latest}&exclude_origin=x`);
    expect(above.status).toBe(409);
    expect(((await above.json()) as { message: string }).message).toMatch(/^after: not below the pruned horizon/);
    const bad = await read('after=-1&up_to=5&exclude_origin=x');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toMatch(/after/);
    const whole = await read(`after=0&up_to=${latest}&exclude_origin=x`);
    expect(whole.status).toBe(200);
    expect(whole.headers.get('content-type')).toMatch(/^application\/x-catchup-log-stream/);
    expect((await whole.text()).trimEnd().split('\n')).toHaveLength(await logCount(a));
  });

  it('refuses what is not a log stream, or a stream it may not apply, and applies nothing of the refused chunk', async () => {
    const before = await logCount(d);
    const id = () => crypto.randomUUID();

    const noKey = await fetch(`${d.url}/api/sync/changes/stream`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-catchup-log-stream' },
      body: '',
    });
    expect(noKey.status).toBe(401);

    const json = await postStream(d, '{"changes":[]}', { 'content-type': 'application/json' });
    expect(json.status).toBe(415);
    expect(((await json.json()) as { message: string }).message).toMatch(/^body: send the log stream as application\/x-catchup-log-stream/);

    const malformed = await postStream(d, streamLine('peer-q', 1, id()) + streamLine('peer-q', 2, 'not-a-uuid'));
    expect(malformed.status).toBe(400);
    expect(((await malformed.json()) as { message: string }).message).toMatch(/line 2, record_id: invalid input syntax for type uuid/);

    const forged = await postStream(d, streamLine(d.ctx.engine.nodeId, 999_999, id()));
    expect(forged.status).toBe(409);
    expect(((await forged.json()) as { message: string }).message).toMatch(/claims to come from this node/);

    const ahead = await postStream(d, streamLine('peer-q', 3, id(), BigInt(Date.now() + 3_600_000) * 65536n));
    expect(ahead.status).toBe(400);
    expect(((await ahead.json()) as { message: string }).message).toMatch(/ahead of this node's clock/);
    expect(await logCount(d)).toBe(before);

    const fine = await postStream(d, streamLine('peer-q', 4, id()) + streamLine('peer-q', 5, id()));
    expect(fine.status).toBe(200);
    expect(await fine.json()).toEqual({ received: 2, applied: 2, skipped_duplicate: 0, skipped_stale: 0, deletes: 0 });
    expect(await logCount(d)).toBe(before + 2);
  });
});

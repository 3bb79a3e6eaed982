// The peer client against real little HTTP servers: redirects are refused (the key never travels on), and
// an answer that is not of the route's shape is an error naming what is wrong.
import http from 'node:http';
import type { AddressInfo } from 'node:net';
import { Readable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { PeerClient, PeerError } from '../src/index.ts';

const KEY = 'the-key-of-the-peer-0123456789';

interface Recorded {
  method: string;
  url: string;
  apiKey: string | undefined;
}

interface FakePeer {
  url: string;
  port: number;
  requests: Recorded[];
}

const servers: http.Server[] = [];
afterAll(async () => {
  await Promise.all(servers.map((s) => new Promise((resolve) => s.close(resolve))));
});

/** A server on 127.0.0.1 that records every request and answers with `answer`. */
async function fakePeer(answer: (req: http.IncomingMessage, res: http.ServerResponse) => void): Promise<FakePeer> {
  const requests: Recorded[] = [];
  const server = http.createServer((req, res) => {
    requests.push({ method: req.method!, url: req.url!, apiKey: req.headers['x-api-key'] as string | undefined });
    req.resume();
    req.on('end', () => answer(req, res));
  });
  servers.push(server);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return { url: `http://127.0.0.1:${port}`, port, requests };
}

const json = (body: unknown) => (_req: http.IncomingMessage, res: http.ServerResponse) => {
  res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(body));
};

const clientOf = (peer: FakePeer) => new PeerClient({ host: '127.0.0.1', port: peer.port, apiKey: KEY }, { timeoutSeconds: 5 });

/** A peer that redirects every request to the same path on `target`. */
const redirectingTo = (target: FakePeer, status = 302) =>
  fakePeer((req, res) => {
    res.writeHead(status, { location: `${target.url}${req.url}`, 'content-type': 'text/html' }).end('<a>moved</a>');
  });

async function failure(call: Promise<unknown>): Promise<PeerError> {
  const err = await call.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(PeerError);
  return err as PeerError;
}

const validPing = {
  node_id: 'node-b',
  node_name: 'site-b',
  version: '0.1.0',
  latest_sequence: '42',
  latest_file_seq: '0',
  server_time: new Date().toISOString(),
};

describe('a peer answering with a redirect', () => {
  it('ping: refused as a rejected call naming the target; the key never reaches it', async () => {
    const elsewhere = await fakePeer(json(validPing));
    const peer = await redirectingTo(elsewhere);
    const err = await failure(clientOf(peer).ping());
    expect(err.kind).toBe('rejected');
    expect(err.message).toBe(`${peer.url} (ping) answered a redirect (302 to ${elsewhere.url}/api/sync/ping); redirects are not followed`);
    expect(peer.requests.map((r) => r.apiKey)).toEqual([KEY]);
    expect(elsewhere.requests).toEqual([]);
  });

  it('download: refused the same way, and nothing is fetched from the target', async () => {
    const elsewhere = await fakePeer((_req, res) => {
      res.writeHead(200, { 'content-type': 'application/octet-stream', 'x-sha256': '0'.repeat(64), 'x-mtime-ms': '0' }).end('secret');
    });
    const peer = await redirectingTo(elsewhere, 307);
    const err = await failure(clientOf(peer).downloadFile('uploads', 'a.txt'));
    expect(err.kind).toBe('rejected');
    expect(err.message).toMatch(
      /\(download\) answered a redirect \(307 to http:\/\/127\.0\.0\.1:\d+\/api\/sync\/files\/download\?directory=uploads&path=uploads&file=a\.txt\); redirects are not followed$/,
    );
    expect(elsewhere.requests).toEqual([]);
  });

  it('upload and bundle upload: refused, the target never sees the body or the key', async () => {
    const elsewhere = await fakePeer((_req, res) => res.writeHead(200).end());
    const peer = await redirectingTo(elsewhere, 308);
    const client = clientOf(peer);
    const upload = await failure(client.uploadFile('uploads', 'a.txt', Readable.from([Buffer.from('abc')]), { sha256: '0'.repeat(64), size: 3, mtimeMs: 0 }));
    expect(upload.message).toMatch(/\(upload\) answered a redirect \(308 to /);
    const bundle = await failure(client.uploadBundle('uploads', Readable.from([Buffer.from('abc')]), 3));
    expect(bundle.message).toMatch(/\(upload bundle\) answered a redirect \(308 to /);
    expect(elsewhere.requests).toEqual([]);
  });

  it('a JSON call other than ping (apply changes) is refused too', async () => {
    const elsewhere = await fakePeer(json({ received: 0, applied: 0, skipped_duplicate: 0, skipped_stale: 0 }));
    const peer = await redirectingTo(elsewhere, 307);
    const err = await failure(clientOf(peer).postChanges([]));
    expect(err.message).toMatch(/\(apply changes\) answered a redirect \(307 to /);
    expect(elsewhere.requests).toEqual([]);
  });
});

describe('a peer answering nonsense', () => {
  const invalidPing = async (body: unknown) => {
    const peer = await fakePeer(json(body));
    const err = await failure(clientOf(peer).ping());
    expect(err.kind).toBe('server_error');
    expect(err.message.startsWith(`${peer.url} (ping) answered an invalid response: `)).toBe(true);
    return err.message;
  };

  it('a ping of another shape names the missing fields', async () => {
    const message = await invalidPing({ ok: true });
    for (const field of ['node_id', 'node_name', 'version', 'latest_sequence', 'latest_file_seq', 'server_time']) {
      expect(message).toContain(`${field}: Invalid input: expected string, received undefined`);
    }
  });

  it('a node id that is not a string', async () => {
    expect(await invalidPing({ ...validPing, node_id: 7 })).toMatch(/node_id: .*expected string/);
  });

  it('numbers that are not canonical decimals fitting bigint', async () => {
    for (const latest of ['0042', '-1', '9223372036854775808', '1e3', 42]) {
      expect(await invalidPing({ ...validPing, latest_sequence: latest })).toMatch(/latest_sequence: /);
    }
    expect(await invalidPing({ ...validPing, latest_file_seq: '99999999999999999999' })).toMatch(/latest_file_seq: /);
  });

  it('a server time that is not an ISO date-time', async () => {
    expect(await invalidPing({ ...validPing, server_time: 'yesterday' })).toMatch(/server_time: /);
  });

  it('a body that is not JSON', async () => {
    const peer = await fakePeer((_req, res) => res.writeHead(200, { 'content-type': 'text/plain' }).end('pong'));
    const err = await failure(clientOf(peer).ping());
    expect(err.kind).toBe('server_error');
    expect(err.message).toBe(`${peer.url} (ping) answered an invalid response: not JSON`);
  });

  it('the largest bigint and a valid ping are accepted as they are', async () => {
    const peer = await fakePeer(json({ ...validPing, latest_sequence: '9223372036854775807' }));
    expect(await clientOf(peer).ping()).toEqual({ ...validPing, latest_sequence: '9223372036854775807' });
  });

  it('apply results with a negative counter', async () => {
    const peer = await fakePeer(json({ received: 1, applied: 1, skipped_duplicate: 1, skipped_stale: -1 }));
    const err = await failure(clientOf(peer).postChanges([]));
    expect(err.message).toMatch(/\(apply changes\) answered an invalid response: skipped_stale: /);
  });

  it('a manifest page whose position or entries are wrong', async () => {
    const entry = { path: 'a.txt', sha256: 'a'.repeat(64), size: 3, mtime: '2026-01-02T03:04:05.000Z', change_seq: '5', deleted: false };
    const badSeq = await fakePeer(json({ path: 'uploads', files: [entry], next_seq: '05', has_more: false }));
    expect((await failure(clientOf(badSeq).fileManifest('uploads', '0'))).message).toMatch(/\(file manifest\) answered an invalid response: next_seq: /);
    const badEntry = await fakePeer(json({ path: 'uploads', files: [{ ...entry, size: 'big' }], next_seq: '5', has_more: false }));
    expect((await failure(clientOf(badEntry).fileManifest('uploads', '0'))).message).toMatch(/files\.0\.size: /);
    const manyBad = await fakePeer(
      json({ path: 'uploads', files: Array.from({ length: 10 }, () => ({ ...entry, size: -1 })), next_seq: '5', has_more: false }),
    );
    const message = (await failure(clientOf(manyBad).fileManifest('uploads', '0'))).message;
    expect(message).toMatch(/files\.0\.size: .*files\.5\.size: [^;]* \(and 4 more\)$/);
  });

  it('a delete answer without its field, and a changes page with a malformed cursor', async () => {
    const del = await fakePeer(json({ ok: true }));
    expect((await failure(clientOf(del).deleteFile('uploads', 'a.txt'))).message).toMatch(/\(delete file\) answered an invalid response: deleted: /);
    const page = await fakePeer(json({ changes: [], next_cursor: '', has_more: false, latest_sequence: '0' }));
    expect((await failure(clientOf(page).fetchChanges({ after: '0', limit: 1 }))).message).toMatch(
      /\(read changes\) answered an invalid response: next_cursor: /,
    );
    expect((await failure(clientOf(page).fetchChangesToApply({ after: '0', limit: 1 }))).message).toMatch(
      /\(read changes\) answered an invalid response: next_cursor: /,
    );
  });
});

describe('the folder of a file route', () => {
  it('is named as directory and as path (the name a node of an older version requires), on every file route', async () => {
    const peer = await fakePeer((_req, res) => res.writeHead(404, { 'content-type': 'application/json' }).end('{"message":"not here"}'));
    const client = clientOf(peer);
    await failure(client.fileManifest('uploads', '0'));
    await failure(client.downloadFile('uploads', 'a.txt'));
    await failure(client.uploadFile('uploads', 'a.txt', Readable.from([Buffer.from('abc')]), { sha256: '0'.repeat(64), size: 3, mtimeMs: 0 }));
    await failure(client.uploadBundle('uploads', Readable.from([Buffer.from('abc')]), 3));
    await failure(client.deleteFile('uploads', 'a.txt'));
    const folders = peer.requests.map((r) => {
      const query = new URL(r.url, peer.url).searchParams;
      return [r.method, query.get('directory'), query.get('path')];
    });
    expect(folders).toEqual([
      ['GET', 'uploads', 'uploads'],
      ['GET', 'uploads', 'uploads'],
      ['PUT', 'uploads', 'uploads'],
      ['PUT', 'uploads', 'uploads'],
      ['DELETE', 'uploads', 'uploads'],
    ]);
  });
});

// The API's edges (issue 14): requests a user or a hostile peer can send that must get a clear 4xx and
// change nothing — never a 500.
import { connect } from 'node:net';
import { describe, expect, it } from 'vitest';
import { HEADERS_TIMEOUT_MS } from '../src/server.ts';
import { registerPeer, useApiNodes } from './nodes.ts';

const [a, b] = await useApiNodes(2, 'edges');
const [listed] = await useApiNodes(1, 'edges-listed', { PEER_HOSTS: '10.0.0.0/8, node-b.lan ,fd12::/16' });
await registerPeer(a!, b!);
await registerPeer(b!, a!);

const message = async (res: Response) => ((await res.json()) as { message: string }).message;
const detectJobs = async () => Object.values(await a!.ctx.queues.queues.detect.getJobCounts()).reduce((sum, n) => sum + n, 0);

describe('POST /api/sync/catchup/scan', () => {
  const caughtUp = {
    message: 'Catch-up scan completed',
    servers_processed: 1,
    results: [{ server_name: 'edges-b', success: true, database_changes: { sent: 1 } }],
  };

  it('with no body and no content-type scans like {}', async () => {
    await a!.ctx.db.scoutingData.create({ data: { teamNumber: 1, matchNumber: 1, scoutingTeamNumber: 1 } });
    const res = await fetch(`${a!.url}/api/sync/catchup/scan`, { method: 'POST', headers: { 'x-api-key': a!.apiKey } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject(caughtUp);
  });

  it('with content-type application/json and an empty body scans like {}', async () => {
    await a!.ctx.db.scoutingData.create({ data: { teamNumber: 2, matchNumber: 1, scoutingTeamNumber: 1 } });
    const res = await fetch(`${a!.url}/api/sync/catchup/scan`, { method: 'POST', headers: { 'x-api-key': a!.apiKey, 'content-type': 'application/json' } });
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject(caughtUp);
  });

  it('refuses unknown server_ids with 404 naming them, and queues nothing', async () => {
    const known = (await a!.ctx.db.syncServer.findFirstOrThrow()).id;
    const before = await detectJobs();
    const res = await a!.call('/api/sync/catchup/scan', { method: 'POST', json: { server_ids: [known, 7007, 9009] } });
    expect(res.status).toBe(404);
    expect(await message(res)).toBe('Server 7007, 9009 not found');
    expect(await detectJobs()).toBe(before);
  });

  it('refuses server_ids past PostgreSQL int with 400 naming the field', async () => {
    const before = await detectJobs();
    const res = await a!.call('/api/sync/catchup/scan', { method: 'POST', json: { server_ids: [999999999999] } });
    expect(res.status).toBe(400);
    expect(await message(res)).toMatch(/body\.server_ids\.0/);
    expect(await detectJobs()).toBe(before);
  });
});

describe('out-of-range numbers and NUL bytes are 400 naming the field, never 500', () => {
  it.each([
    ['GET', '/api/sync/servers/999999999999', /params\.id/],
    ['PUT', '/api/sync/servers/2147483648', /params\.id/],
    ['GET', '/api/sync/logs?server_id=999999999999', /querystring\.server_id/],
    ['GET', '/api/sync/changes?after=9223372036854775808', /querystring\.after/],
    ['GET', '/api/sync/changes?after=9999999999999999999', /querystring\.after/],
    ['GET', '/api/sync/changes?up_to=9223372036854775808', /querystring\.up_to/],
    ['GET', '/api/sync/changes?after=00042', /querystring\.after/],
    ['GET', '/api/sync/files/checksums?path=config&after_seq=9999999999999999999', /querystring\.after_seq/],
    ['GET', '/api/sync/logs?operation=catch%00up', /querystring\.operation/],
    ['GET', '/api/sync/logs?status=%00', /querystring\.status/],
    ['GET', '/api/sync/changes?exclude_origin=node%00x', /querystring\.exclude_origin/],
    ['GET', '/api/sync/files/download?path=uploads&file=a%00b.txt', /querystring\.file/],
  ])('%s %s', async (method, url, field) => {
    const servers = await a!.ctx.db.syncServer.count();
    const res = await a!.call(url, method === 'PUT' ? { method, json: { port: 1 } } : { method });
    expect(res.status).toBe(400);
    expect(await message(res)).toMatch(field);
    expect(await a!.ctx.db.syncServer.count()).toBe(servers);
  });

  it('a cursor is a canonical bigint: 9223372036854775807 is read, one more is 400', async () => {
    const largest = await a!.call('/api/sync/changes?after=9223372036854775807');
    expect(largest.status).toBe(200);
    expect(await largest.json()).toMatchObject({ changes: [], has_more: false });
    expect((await a!.call('/api/sync/changes?after=9223372036854775808')).status).toBe(400);
  });
});

describe('peer hosts', () => {
  const register = (node: typeof a, host: string, name = `peer-${Math.random().toString(36).slice(2, 10)}`) =>
    node!.call('/api/sync/servers', { method: 'POST', json: { name, host, port: 5000 } });

  it('refuses a port, scheme, path or user info and link-local, metadata, unspecified, multicast or broadcast addresses with 400 naming body.host, on create and on update, changing nothing; loopback, names and private addresses stay allowed', async () => {
    const before = await a!.ctx.db.syncServer.findMany({ orderBy: { id: 'asc' } });
    for (const host of [
      '127.0.0.1:22',
      'http://x',
      'x/y',
      'user@host',
      '[::1]:80',
      'host name',
      'node.',
      '2852039166',
      '169.254.43518',
      '169.254.169.254',
      '169.254.1.1',
      'fe80::1',
      'FE80::abcd',
      'fe80::1%eth0',
      '::ffff:169.254.169.254',
      'fd00:ec2::254',
      'metadata.google.internal',
      'METADATA',
      '0.0.0.0',
      '::',
      '224.0.0.1',
      'ff02::1',
      '255.255.255.255',
    ]) {
      const created = await register(a, host);
      expect(created.status, host).toBe(400);
      expect(await message(created), host).toMatch(/^body\.host: /);
      const updated = await a!.call(`/api/sync/servers/${before[0]!.id}`, { method: 'PUT', json: { host } });
      expect(updated.status, host).toBe(400);
      expect(await message(updated), host).toMatch(/^body\.host: /);
    }
    expect(await a!.ctx.db.syncServer.findMany({ orderBy: { id: 'asc' } })).toEqual(before);
    for (const host of [
      '127.0.0.1',
      '127.0.0.9',
      '::1',
      '[::1]',
      'localhost',
      'node-b',
      'scouting_laptop.local',
      'pit.example.org',
      '10.0.0.5',
      '192.168.1.20',
    ]) {
      const res = await register(a, host);
      expect(res.status, host).toBe(201);
      const { id } = (await res.json()) as { id: number };
      expect((await a!.call(`/api/sync/servers/${id}`, { method: 'DELETE' })).status).toBe(204);
    }
  });

  it('with PEER_HOSTS set, takes only hosts on the list (names without case, addresses by CIDR)', async () => {
    for (const host of ['10.1.2.3', 'node-b.lan', 'NODE-B.lan', 'fd12::7']) expect((await register(listed, host)).status, host).toBe(201);
    const before = await listed!.ctx.db.syncServer.findMany({ orderBy: { id: 'asc' } });
    for (const host of ['192.168.1.20', '127.0.0.1', 'node-c.lan', 'fd13::7']) {
      const created = await register(listed, host);
      expect(created.status, host).toBe(400);
      expect(await message(created)).toBe(`body.host: ${host} is not in PEER_HOSTS`);
      const updated = await listed!.call(`/api/sync/servers/${before[0]!.id}`, { method: 'PUT', json: { host } });
      expect(updated.status, host).toBe(400);
      expect(await message(updated)).toBe(`body.host: ${host} is not in PEER_HOSTS`);
    }
    expect(await listed!.ctx.db.syncServer.findMany({ orderBy: { id: 'asc' } })).toEqual(before);
    // The list never lets a refused address through.
    expect((await register(listed, '169.254.169.254')).status).toBe(400);
  });
});

describe('slow clients', () => {
  it('a client trickling its headers in (one line every 2 s) is disconnected within seconds', async () => {
    const { hostname, port } = new URL(a!.url);
    const socket = connect(Number(port), hostname);
    const started = Date.now();
    let line = 0;
    const trickle = setInterval(() => socket.write(`x-slow-${line++}: still coming\r\n`), 2000);
    const answer: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => answer.push(chunk));
    socket.write('GET /health HTTP/1.1\r\nhost: edges\r\n');
    // Given up after 20 s (the old limit held such a client for 60–90 s).
    const closedAfter = await new Promise<number | null>((resolve) => {
      const giveUp = setTimeout(() => resolve(null), 20_000);
      socket.on('close', () => {
        clearTimeout(giveUp);
        resolve(Date.now() - started);
      });
      socket.on('error', () => {});
    });
    clearInterval(trickle);
    socket.destroy();
    expect(closedAfter).not.toBeNull();
    expect(closedAfter!).toBeGreaterThanOrEqual(HEADERS_TIMEOUT_MS - 500);
    expect(closedAfter!).toBeLessThan(HEADERS_TIMEOUT_MS + 3000);
    expect(Buffer.concat(answer).toString()).toMatch(/^HTTP\/1\.1 408/);
  }, 25_000);
});

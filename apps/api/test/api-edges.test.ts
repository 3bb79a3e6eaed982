// The API's edges (issue 14): requests a user or a hostile peer can send that must get a clear 4xx and
// change nothing — never a 500.
import { describe, expect, it } from 'vitest';
import { registerPeer, useApiNodes } from './nodes.ts';

const [a, b] = await useApiNodes(2, 'edges');
await registerPeer(a!, b!);
await registerPeer(b!, a!);

const message = async (res: Response) => ((await res.json()) as { message: string }).message;
const detectJobs = async () => Object.values(await a!.ctx.queues.queues.detect.getJobCounts()).reduce((sum, n) => sum + n, 0);

describe('POST /api/sync/catchup/scan', () => {
  const caughtUp = { message: 'Catch-up scan completed', servers_processed: 1, results: [{ server_name: 'edges-b', success: true, database_changes: { sent: 1 } }] };

  it('with no body and no content-type (as the seed documents it) scans like {}', async () => {
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
    ['DELETE', '/api/sync/servers/99999999999999999999', /params\.id/],
    ['GET', '/api/sync/logs?server_id=999999999999', /querystring\.server_id/],
    ['GET', '/api/sync/changes?after=9223372036854775808', /querystring\.after/],
    ['GET', '/api/sync/changes?after=9999999999999999999', /querystring\.after/],
    ['GET', '/api/sync/changes?up_to=9223372036854775808', /querystring\.up_to/],
    ['GET', '/api/sync/changes?after=00042', /querystring\.after/],
    ['GET', '/api/sync/files/checksums?path=config&after_seq=9999999999999999999', /querystring\.after_seq/],
    ['GET', '/api/sync/logs?operation=catch%00up', /querystring\.operation/],
    ['GET', '/api/sync/logs?status=%00', /querystring\.status/],
    ['GET', '/api/sync/changes?exclude_origin=node%00x', /querystring\.exclude_origin/],
    ['GET', '/api/sync/servers/1%00', /params\.id/],
    ['GET', '/api/sync/files/download?path=uploads&file=a%00b.txt', /querystring\.file/],
  ])('%s %s', async (method, url, field) => {
    const servers = await a!.ctx.db.syncServer.count();
    const res = await a!.call(url, method === 'PUT' ? { method, json: { port: 1 } } : { method });
    expect(res.status).toBe(400);
    expect(await message(res)).toMatch(field);
    expect(await a!.ctx.db.syncServer.count()).toBe(servers);
  });

  it('the largest bigint is still a valid cursor', async () => {
    const res = await a!.call('/api/sync/changes?after=9223372036854775807');
    expect(res.status).toBe(200);
    expect(await res.json()).toMatchObject({ changes: [], has_more: false });
  });
});

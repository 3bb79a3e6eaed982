// What one node answers on its own — refusals, auth, 400s naming the field, 404s — asked through
// Fastify's inject (no socket), so these run without a second node or HTTP round trips.
import { createHash } from 'node:crypto';
import { existsSync } from 'node:fs';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { MAX_BATCH_SIZE } from '@catchup/config';
import { PeerClient } from '@catchup/peer-client';
import { useApiNodes } from './nodes.ts';

// Its authentication tests send 14 wrong keys from one address: more than AUTH_FAILURE_LIMIT's default.
const [node] = await useApiNodes(1, 'inject', { RUN_WORKERS: 'false', AUTH_FAILURE_LIMIT: '100' });
const { app, apiKey } = node!;

type Method = 'GET' | 'POST' | 'PUT' | 'DELETE';

/** A request with the node's key (unless headers say otherwise); answers status and parsed body. */
async function ask(method: Method, url: string, options: { json?: unknown; body?: string | Buffer; headers?: Record<string, string> } = {}) {
  const res = await app.inject({
    method,
    url,
    headers: {
      'x-api-key': apiKey,
      ...(options.json !== undefined ? { 'content-type': 'application/json' } : {}),
      ...(options.body !== undefined ? { 'content-type': 'application/octet-stream' } : {}),
      ...options.headers,
    },
    ...(options.json !== undefined ? { payload: JSON.stringify(options.json) } : {}),
    ...(options.body !== undefined ? { payload: options.body } : {}),
  });
  const json = res.headers['content-type']?.toString().startsWith('application/json') ? (res.json() as Record<string, unknown>) : null;
  return { status: res.statusCode, body: json, raw: res.rawPayload, headers: res.headers };
}
const refusal = async (method: Method, url: string, json?: unknown) => {
  const res = await ask(method, url, json === undefined ? {} : { json });
  return { status: res.status, message: res.body?.message };
};

describe('authentication', () => {
  it.each([
    ['GET', '/api/sync/ping'],
    ['GET', '/api/sync/changes'],
    ['GET', '/api/sync/servers'],
    ['PUT', '/api/sync/config'],
    ['GET', '/api/sync/tables'],
    ['DELETE', '/api/sync/tables/teams'],
    ['GET', '/api/sync/files/checksums?directory=config'],
  ] as const)('%s %s without a key, or with a wrong one, is 401 and says no more', async (method, url) => {
    const attempts: Record<string, string>[] = [{ 'x-api-key': '' }, { 'x-api-key': 'not-the-key' }, { 'x-api-key': '', authorization: 'Bearer not-the-key' }];
    for (const headers of attempts) {
      const res = await ask(method, url, { headers });
      expect({ status: res.status, body: res.body }).toEqual({
        status: 401,
        body: { statusCode: 401, error: 'Unauthorized', message: 'Missing or invalid API key' },
      });
    }
  });

  it('takes the key as Authorization: Bearer too', async () => {
    expect((await ask('GET', '/api/sync/ping', { headers: { 'x-api-key': '', authorization: `Bearer ${apiKey}` } })).status).toBe(200);
  });

  it('leaves /health open', async () => {
    expect((await ask('GET', '/health', { headers: { 'x-api-key': '' } })).status).toBe(200);
  });
});

describe('runtime configuration', () => {
  it.each([
    [{ catchup_batch_size: MAX_BATCH_SIZE + 1 }, /^body\.catchup_batch_size: /],
    [{ catchup_batch_size: 0 }, /^body\.catchup_batch_size: /],
    [{ catchup_batch_size: 'big' }, /^body\.catchup_batch_size: /],
    [{ catchup_check_interval: 1.5 }, /^body\.catchup_check_interval: /],
    [{ catchup_enabled: 'yes' }, /^body\.catchup_enabled: /],
    [{ not_a_setting: 1 }, /not_a_setting/],
  ])('refuses %j with 400 naming the key, storing nothing', async (patch, message) => {
    const before = await node!.ctx.db.syncConfig.findMany({ orderBy: { key: 'asc' } });
    expect(await refusal('PUT', '/api/sync/config', patch)).toEqual({ status: 400, message: expect.stringMatching(message) });
    expect(await node!.ctx.db.syncConfig.findMany({ orderBy: { key: 'asc' } })).toEqual(before);
  });

  it('reads the settings in force beside their defaults', async () => {
    const { status, body } = await ask('GET', '/api/sync/config');
    expect(status).toBe(200);
    expect(body!.defaults).toMatchObject({ catchup_batch_size: 1000, max_catchup_days: 30 });
  });
});

describe('synced tables', () => {
  it.each([
    ['POST', '/api/sync/tables', {}, 400, /^body\.name: /],
    ['POST', '/api/sync/tables', { name: 'Pit Scouting' }, 400, /^body\.name: a plain lower-case table name/],
    ['POST', '/api/sync/tables', { name: 'teams', colour: 'red' }, 400, /^body: .*colour/],
    ['POST', '/api/sync/tables', { name: 'sync_servers' }, 400, /^table "sync_servers" cannot be synced: it is one of the sync system tables$/],
    ['POST', '/api/sync/tables', { name: 'file_sync_state' }, 400, /one of the sync system tables/],
    ['POST', '/api/sync/tables', { name: 'change_log_horizon' }, 400, /one of the sync system tables/],
    ['POST', '/api/sync/tables', { name: 'no_such_table' }, 404, /^table "no_such_table" not found in schema public$/],
    ['DELETE', '/api/sync/tables/no_such_table', undefined, 404, /^table "no_such_table" is not synced$/],
    ['DELETE', '/api/sync/tables/file_sync_state', undefined, 404, /^table "file_sync_state" is not synced$/],
    ['DELETE', '/api/sync/tables/Bad%20Name', undefined, 400, /^params\.name: /],
  ] as const)('%s %s %j is %i, and the synced tables stay as they were', async (method, url, json, status, message) => {
    const before = (await ask('GET', '/api/sync/tables')).body;
    expect(await refusal(method, url, json)).toEqual({ status, message: expect.stringMatching(message) });
    expect((await ask('GET', '/api/sync/tables')).body).toEqual(before);
  });
});

describe('peers and logs', () => {
  it.each([
    ['GET', '/api/sync/servers/4242', undefined, 404, /^Server 4242 not found$/],
    ['PUT', '/api/sync/servers/4242', { port: 5001 }, 404, /^Server 4242 not found$/],
    ['DELETE', '/api/sync/servers/4242', undefined, 404, /^Server 4242 not found$/],
    ['GET', '/api/sync/servers/abc', undefined, 400, /^params\.id: /],
    ['POST', '/api/sync/servers', { name: 'x', port: 5000 }, 400, /^body\.host: /],
    ['POST', '/api/sync/servers', { name: 'x', host: '127.0.0.9', port: 70000 }, 400, /^body\.port: /],
    ['GET', '/api/sync/logs?server_id=-1', undefined, 400, /^querystring\.server_id: /],
    ['GET', `/api/sync/changes?limit=${MAX_BATCH_SIZE + 1}`, undefined, 400, /^querystring\.limit: /],
    ['GET', '/api/sync/changes?after=-1', undefined, 400, /^querystring\.after: /],
    ['GET', '/api/sync/no-such-route', undefined, 404, /^Route GET \/api\/sync\/no-such-route not found$/],
  ] as const)('%s %s %j is %i naming what is wrong', async (method, url, json, status, message) => {
    const peers = await node!.ctx.db.syncServer.count();
    expect(await refusal(method, url, json)).toEqual({ status, message: expect.stringMatching(message) });
    expect(await node!.ctx.db.syncServer.count()).toBe(peers);
  });

  it(`refuses a batch of more than ${MAX_BATCH_SIZE} changes with 400 naming body.changes`, async () => {
    const changes = Array.from({ length: MAX_BATCH_SIZE + 1 }, () => ({}));
    expect(await refusal('POST', '/api/sync/changes', { changes })).toEqual({ status: 400, message: expect.stringMatching(/^body\.changes: /) });
  });
});

describe('the file routes name their folder directory (path is its deprecated alias)', () => {
  const sha = (text: string) => createHash('sha256').update(text).digest('hex');
  const upload = (folder: string, file: string, text: string) =>
    ask('PUT', `/api/sync/files/upload?${folder}&file=${file}&sha256=${sha(text)}&size=${Buffer.byteLength(text)}&mtime_ms=${Date.now()}`, { body: text });

  it.each(['directory=uploads', 'path=uploads', 'directory=uploads&path=uploads'])('takes %s on every file route', async (folder) => {
    const file = `${folder.replace(/[=&]/g, '-')}.txt`;
    expect((await upload(folder, file, 'the bytes')).status).toBe(200);
    const download = await ask('GET', `/api/sync/files/download?${folder}&file=${file}`);
    expect({ status: download.status, text: download.raw.toString() }).toEqual({ status: 200, text: 'the bytes' });
    const manifest = await ask('GET', `/api/sync/files/checksums?${folder}`);
    expect(manifest.status).toBe(200);
    expect(manifest.body).toMatchObject({
      path: 'uploads',
      files: expect.arrayContaining([expect.objectContaining({ path: file, sha256: sha('the bytes') })]),
    });
    expect((await ask('DELETE', `/api/sync/files?${folder}&file=${file}`)).body).toEqual({ deleted: true });
    expect((await ask('GET', `/api/sync/files/download?${folder}&file=${file}`)).status).toBe(404);
  });

  it.each([
    ['GET', '/api/sync/files/checksums', /^querystring\.directory: required: one of instance, config, uploads$/],
    ['GET', '/api/sync/files/checksums?directory=photos', /^querystring\.directory: /],
    ['GET', '/api/sync/files/checksums?path=photos', /^querystring\.path: /],
    ['GET', '/api/sync/files/checksums?directory=config&path=uploads', /^querystring\.directory: names another folder than path/],
    ['GET', '/api/sync/files/download?file=a.txt', /^querystring\.directory: required/],
    ['DELETE', '/api/sync/files?directory=config&path=instance&file=a.txt', /^querystring\.directory: names another folder/],
    ['PUT', '/api/sync/files/upload-bundle', /^querystring\.directory: required/],
  ] as const)('%s %s is 400 naming the field', async (method, url, message) => {
    const res = await ask(method, url, method === 'PUT' ? { body: '' } : {});
    expect({ status: res.status, message: res.body?.message }).toEqual({ status: 400, message: expect.stringMatching(message) });
  });

  it('a missing file is 404', async () => {
    expect((await upload('directory=uploads', 'present.txt', 'here')).status).toBe(200);
    expect(await refusal('GET', '/api/sync/files/download?directory=uploads&file=not-there.txt')).toEqual({
      status: 404,
      message: 'File uploads/not-there.txt not found',
    });
  });

  it('a file of a folder not on disk yet is 404 too, and deleting it answers deleted: false', async () => {
    expect(existsSync(path.join(node!.ctx.config.dataDir, 'instance'))).toBe(false);
    expect(await refusal('GET', '/api/sync/files/download?directory=instance&file=settings.json')).toEqual({
      status: 404,
      message: 'File instance/settings.json not found',
    });
    expect((await ask('DELETE', '/api/sync/files?directory=instance&file=settings.json')).body).toEqual({ deleted: false });
  });

  it("the peer client's file calls are understood", async () => {
    const client = new PeerClient({ host: '127.0.0.1', port: Number(new URL(node!.url).port), apiKey }, { timeoutSeconds: 10 });
    const manifest = await client.fileManifest('config', '0');
    expect(manifest.path).toBe('config');
    expect(await client.deleteFile('config', 'never-was.txt')).toEqual({ deleted: false });
  });
});

describe('the change log in row-key order (a full baseline)', () => {
  const page = async (query: string) =>
    (await ask('GET', `/api/sync/changes?${query}`)).body as {
      changes: { sequence: string; record_id: string }[];
      next_cursor: string;
      has_more: boolean;
      next_key?: string;
      pruned_through: string;
    };

  it('is served only to a reader below the pruned horizon; anyone else is answered in position order', async () => {
    const pool = node!.ctx.pool;
    await pool.query(`INSERT INTO teams (team_number, name, scouting_team_number) SELECT g, 'keyed ' || g, 1 FROM generate_series(7000, 7003) g`);
    await pool.query(`UPDATE teams SET name = name || '!' WHERE team_number BETWEEN 7000 AND 7003`);
    const before = await page('order=key&limit=2');
    expect(before.pruned_through).toBe('0');
    expect(before.next_key).toBeUndefined();
    expect(before.has_more).toBe(true);
    expect(BigInt(before.next_cursor)).toBeGreaterThan(0n); // position order: the cursor moves

    await pool.query(`UPDATE database_changes SET "timestamp" = now() - interval '40 days'`);
    expect((await ask('POST', '/api/sync/maintenance/prune')).status).toBe(200);
    const keyed = await page('order=key&limit=2');
    expect(BigInt(keyed.pruned_through)).toBeGreaterThan(0n);
    expect(keyed.next_key).toMatch(/^teams\/[0-9a-f-]{36}\/\d+$/);
    expect(keyed.next_cursor).toBe('0'); // the range moves as a whole
    expect(keyed.changes.map((c) => c.record_id)).toEqual([...keyed.changes.map((c) => c.record_id)].sort());
    const next = await page(`order=key&limit=2&after_key=${encodeURIComponent(keyed.next_key!)}`);
    expect(next.changes[0]!.record_id >= keyed.changes[1]!.record_id).toBe(true);
    // Above the horizon, the same request is answered in position order.
    const latest = (await ask('GET', '/api/sync/ping')).body as { latest_sequence: string };
    expect((await page(`order=key&limit=2&after=${latest.latest_sequence}`)).next_key).toBeUndefined();
  });

  it('refuses an after_key that is not table/record_id/position with 400 naming it', async () => {
    expect(await refusal('GET', "/api/sync/changes?order=key&after_key=teams'%3B--")).toEqual({
      status: 400,
      message: expect.stringMatching(/^querystring\.after_key: /),
    });
  });
});

import { describe, expect, it } from 'vitest';
import { registerPeer, useApiNodes } from './nodes.ts';

const [a, b] = await useApiNodes(2, 'admin', { BODY_LIMIT_BYTES: '65536' });

const json = async <T = Record<string, unknown>>(res: Response) => (await res.json()) as T;
const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/;

describe('peer management', () => {
  it('registers a peer and never returns its key', async () => {
    const res = await a!.call('/api/sync/servers', {
      method: 'POST',
      json: { name: 'field-laptop', host: '127.0.0.7', port: 5000, api_key: 'secret-outbound-key-123' },
    });
    expect(res.status).toBe(201);
    const text = await res.text();
    expect(text).not.toContain('secret-outbound-key-123');
    const server = JSON.parse(text) as Record<string, unknown>;
    expect(server).toMatchObject({
      name: 'field-laptop',
      host: '127.0.0.7',
      port: 5000,
      protocol: 'http',
      api_key_set: true,
      is_active: true,
      sync_enabled: true,
      sync_database: true,
      sync_instance_files: true,
      sync_config_files: true,
      sync_uploads: true,
      last_sync: null,
      clock_offset_ms: null,
      sent_cursor: '0',
      received_cursor: '0',
    });
    const list = await json<{ servers: unknown[] }>(await a!.call('/api/sync/servers'));
    expect(JSON.stringify(list)).not.toContain('secret-outbound-key-123');
  });

  it('updates and deletes a peer; unknown ids are 404', async () => {
    const { servers } = await json<{ servers: { id: number; name: string }[] }>(await a!.call('/api/sync/servers'));
    const id = servers.find((s) => s.name === 'field-laptop')!.id;
    const updated = await a!.call(`/api/sync/servers/${id}`, { method: 'PUT', json: { port: 5001, sync_uploads: false } });
    expect(updated.status).toBe(200);
    expect(await json(updated)).toMatchObject({ port: 5001, sync_uploads: false });
    expect((await a!.call(`/api/sync/servers/${id}`, { method: 'DELETE' })).status).toBe(204);
    for (const [method, path] of [
      ['GET', `/api/sync/servers/${id}`],
      ['PUT', `/api/sync/servers/${id}`],
      ['DELETE', `/api/sync/servers/${id}`],
      ['GET', '/api/sync/servers/999999'],
    ] as const) {
      const res = await a!.call(path, method === 'PUT' ? { method, json: { port: 1 } } : { method });
      expect(res.status).toBe(404);
      expect((await json<{ message: string }>(res)).message).toMatch(/Server \d+ not found/);
    }
  });

  it.each([
    ['a missing field', { name: 'x', port: 5000 }, /body\.host/],
    ['a wrong type', { name: 'x', host: '127.0.0.9', port: 'five thousand' }, /body\.port/],
    ['a port out of range', { name: 'x', host: '127.0.0.9', port: 70000 }, /body\.port/],
    ['an unknown field', { name: 'x', host: '127.0.0.9', port: 1, colour: 'red' }, /colour/],
    ['a host with a path', { name: 'x', host: 'h/../../etc', port: 1 }, /body\.host/],
  ])('refuses %s with 400 naming the field, creating nothing', async (_label, body, field) => {
    const before = await a!.ctx.db.syncServer.count();
    const res = await a!.call('/api/sync/servers', { method: 'POST', json: body });
    expect(res.status).toBe(400);
    expect((await json<{ message: string }>(res)).message).toMatch(field);
    expect(await a!.ctx.db.syncServer.count()).toBe(before);
  });

  it('refuses a duplicate name with 409', async () => {
    await a!.call('/api/sync/servers', { method: 'POST', json: { name: 'dup', host: '127.0.0.9', port: 1 } });
    const res = await a!.call('/api/sync/servers', { method: 'POST', json: { name: 'dup', host: '127.0.0.10', port: 2 } });
    expect(res.status).toBe(409);
    expect((await json<{ message: string }>(res)).message).toMatch(/^name:/);
    const { servers } = await json<{ servers: { id: number; name: string }[] }>(await a!.call('/api/sync/servers'));
    await a!.call(`/api/sync/servers/${servers.find((s) => s.name === 'dup')!.id}`, { method: 'DELETE' });
  });
});

describe('runtime configuration', () => {
  it('reads settings and defaults', async () => {
    const body = await json<{ settings: Record<string, unknown>; defaults: Record<string, unknown> }>(await a!.call('/api/sync/config'));
    expect(body.defaults).toMatchObject({ catchup_enabled: true, max_catchup_days: 30, catchup_batch_size: 1000, catchup_check_interval: 300 });
    expect(body.settings).toEqual(body.defaults);
  });

  it('stores a valid change and answers with the settings in force', async () => {
    const res = await a!.call('/api/sync/config', { method: 'PUT', json: { catchup_batch_size: 250, catchup_scheduler_enabled: false } });
    expect(res.status).toBe(200);
    expect((await json<{ settings: Record<string, unknown> }>(res)).settings).toMatchObject({ catchup_batch_size: 250, catchup_scheduler_enabled: false });
    const again = await json<{ settings: Record<string, unknown> }>(await a!.call('/api/sync/config'));
    expect(again.settings.catchup_batch_size).toBe(250);
  });

  it.each([
    [{ catchup_batch_size: 'big' }, /body\.catchup_batch_size/],
    [{ catchup_batch_size: 0 }, /body\.catchup_batch_size/],
    [{ catchup_enabled: 'yes' }, /body\.catchup_enabled/],
    [{ not_a_setting: 1 }, /not_a_setting/],
  ])('refuses %j naming the key, storing nothing', async (body, key) => {
    const before = await a!.ctx.db.syncConfig.findMany({ orderBy: { key: 'asc' } });
    const res = await a!.call('/api/sync/config', { method: 'PUT', json: { catchup_check_interval: 10, ...body } });
    expect(res.status).toBe(400);
    expect((await json<{ message: string }>(res)).message).toMatch(key);
    expect(await a!.ctx.db.syncConfig.findMany({ orderBy: { key: 'asc' } })).toEqual(before);
  });
});

describe('catch-up status and scan: the fields of their answers', () => {
  it('status lists the peer with the exact number of changes it misses', async () => {
    await a!.call('/api/sync/config', { method: 'PUT', json: { catchup_batch_size: 3 } });
    await registerPeer(a!, b!);
    await registerPeer(b!, a!);
    for (let i = 0; i < 7; i++) await a!.ctx.db.scoutingData.create({ data: { teamNumber: i, matchNumber: 1, scoutingTeamNumber: 1 } });
    const status = await json<Record<string, unknown>>(await a!.call('/api/sync/catchup/status'));
    expect(Object.keys(status).sort()).toEqual([
      'catchup_enabled',
      'max_catchup_days',
      'recent_catchup_logs',
      'retention',
      'servers_needing_catchup',
      'timestamp',
    ]);
    expect(status.catchup_enabled).toBe(true);
    expect(status.max_catchup_days).toBe(30);
    expect(status.timestamp).toMatch(ISO);
    expect(status.recent_catchup_logs).toEqual([]);
    const [peer] = status.servers_needing_catchup as Record<string, unknown>[];
    expect(Object.keys(peer!).sort()).toEqual([
      'clock_offset_ms',
      'days_until_full_baseline',
      'host',
      'id',
      'last_error',
      'last_ping',
      'last_sync',
      'missing_changes',
      'name',
      'needs_full_baseline',
      'ping_success',
    ]);
    expect(peer).toMatchObject({
      name: 'admin-b',
      host: '127.0.0.1',
      last_sync: null,
      last_ping: null,
      ping_success: null,
      clock_offset_ms: null,
      missing_changes: 7,
      last_error: null,
    });
    // Nothing pruned yet: the whole retention period is left (the changes were just written).
    expect(peer).toMatchObject({ needs_full_baseline: false });
    expect(peer!.days_until_full_baseline).toBeGreaterThan(29);
  });

  it('scan catches the peer up in both directions and answers with the result of each run, every field named', async () => {
    await b!.ctx.db.scoutingData.create({ data: { teamNumber: 99, matchNumber: 9, scoutingTeamNumber: 1 } });
    const res = await a!.call('/api/sync/catchup/scan', { method: 'POST', json: {} });
    expect(res.status).toBe(200);
    const scan = await json<Record<string, unknown>>(res);
    expect(Object.keys(scan).sort()).toEqual(['message', 'results', 'servers_processed']);
    expect(scan.servers_processed).toBe(1);
    const [result] = scan.results as Record<string, unknown>[];
    expect(Object.keys(result!).sort()).toEqual([
      'completed_at',
      'database_changes',
      'duration',
      'errors',
      'file_changes',
      'mode',
      'server_id',
      'server_name',
      'started_at',
      'success',
    ]);
    expect(result).toMatchObject({
      server_name: 'admin-b',
      success: true,
      errors: [],
      database_changes: { sent: 7, received: 1, applied: 1 },
      file_changes: { uploaded: 0, downloaded: 0 },
    });
    expect(result!.started_at).toMatch(ISO);
    expect(result!.completed_at).toMatch(ISO);
    expect(typeof result!.duration).toBe('number');

    const rows = async (node: typeof a) => (await node!.ctx.pool.query('SELECT to_jsonb(s) AS r FROM scouting_data s ORDER BY id')).rows.map((r) => r.r);
    expect(await rows(b)).toEqual(await rows(a));
  });

  it('afterwards status has nothing missing and shows the run; logs list it', async () => {
    const status = await json<{ servers_needing_catchup: unknown[]; recent_catchup_logs: Record<string, unknown>[] }>(
      await a!.call('/api/sync/catchup/status'),
    );
    expect(status.servers_needing_catchup).toEqual([]);
    expect(status.recent_catchup_logs).toHaveLength(1);
    expect(status.recent_catchup_logs[0]).toMatchObject({ server_name: 'admin-b', status: 'completed' });
    expect(status.recent_catchup_logs[0]!.details).toMatch(/^Applied 1 database changes, 0 files synced/);

    const logs = await json<{ logs: Record<string, unknown>[]; total: number }>(await a!.call('/api/sync/logs?operation=catch-up%20sync&status=completed'));
    expect(logs.total).toBe(1);
    expect(logs.logs[0]).toMatchObject({ operation: 'catch-up sync', status: 'completed', server_name: 'admin-b' });
    expect((logs.logs[0]!.result as Record<string, unknown>).database_changes).toMatchObject({ sent: 7, received: 1 });
    expect((await json<{ total: number }>(await a!.call('/api/sync/logs?status=failed'))).total).toBe(0);
    const bad = await a!.call('/api/sync/logs?page_size=100000');
    expect(bad.status).toBe(400);
    expect((await json<{ message: string }>(bad)).message).toMatch(/querystring\.page_size/);
  });

  it('an unreachable peer is reported, counted as a failed ping, and nothing else changes', async () => {
    const id = await a!.ctx.db.syncServer.create({ data: { name: 'gone', host: '127.0.0.1', port: 1, apiKey: 'k' } }).then((s) => s.id);
    await a!.ctx.db.scoutingData.create({ data: { teamNumber: 5, matchNumber: 5, scoutingTeamNumber: 1 } });
    const scan = await json<{ results: Record<string, unknown>[] }>(await a!.call('/api/sync/catchup/scan', { method: 'POST', json: { server_ids: [id] } }));
    expect(scan.results).toHaveLength(1);
    expect(scan.results[0]).toMatchObject({ server_name: 'gone', success: false });
    expect((scan.results[0]!.errors as string[])[0]).toMatch(/unreachable/);
    const server = await a!.ctx.db.syncServer.findUniqueOrThrow({ where: { id } });
    expect(server).toMatchObject({ pingSuccess: false, errorCount: 1, sentCursor: 0n });
    await a!.ctx.db.syncServer.delete({ where: { id } });
  });
});

describe('limits, docs and readiness', () => {
  it('refuses an oversized body with 413 and applies nothing', async () => {
    const res = await a!.call('/api/sync/changes', { method: 'POST', json: { changes: [], padding: 'x'.repeat(70_000) } });
    expect(res.status).toBe(413);
    expect(await json(res)).toMatchObject({ statusCode: 413, error: 'Payload Too Large' });
  });

  it('publishes OpenAPI at /docs listing every route with its schemas', async () => {
    const res = await fetch(`${a!.url}/docs/json`);
    expect(res.status).toBe(200);
    const spec = await json<{ paths: Record<string, Record<string, { responses?: unknown; parameters?: unknown; requestBody?: unknown }>> }>(res);
    const routes = Object.entries(spec.paths).flatMap(([path, methods]) => Object.keys(methods).map((m) => `${m.toUpperCase()} ${path}`));
    expect(routes).toEqual(
      expect.arrayContaining([
        'GET /health',
        'GET /ready',
        'GET /api/sync/ping',
        'GET /api/sync/changes',
        'POST /api/sync/changes',
        'GET /api/sync/catchup/status',
        'POST /api/sync/catchup/scan',
        'GET /api/sync/servers',
        'POST /api/sync/servers',
        'GET /api/sync/servers/{id}',
        'PUT /api/sync/servers/{id}',
        'DELETE /api/sync/servers/{id}',
        'GET /api/sync/config',
        'PUT /api/sync/config',
        'GET /api/sync/logs',
      ]),
    );
    expect(spec.paths['/api/sync/changes']!.post!.requestBody).toBeDefined();
    expect(spec.paths['/api/sync/catchup/status']!.get!.responses).toHaveProperty('200');
    expect((await fetch(`${a!.url}/docs`)).status).toBe(200);
  });

  it('/ready answers 200 while PostgreSQL and Redis answer', async () => {
    const res = await fetch(`${a!.url}/ready`);
    expect(res.status).toBe(200);
    expect(await json(res)).toEqual({ status: 'ready', postgres: true, redis: true, detection_scheduler: 'off' });
  });
});

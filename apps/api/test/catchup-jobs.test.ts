// Catch-up on BullMQ between two real nodes: scheduled detection, flows, retries, cursors, sync_logs.
import { describe, expect, it } from 'vitest';
import { loadNodeConfig } from '@catchup/config';
import { useQueuePrefix, useTestDatabases } from '@catchup/testing';
import { afterAll } from 'vitest';
import { createServer } from 'node:net';
import { startNode, type RunningNode } from '../src/node.ts';

const [dbA, dbB] = await useTestDatabases(2, 'jobs');
const prefixA = useQueuePrefix('jobs-a');
const prefixB = useQueuePrefix('jobs-b');
const keyA = 'jobs-node-a-key-0123456789';
const keyB = 'jobs-node-b-key-0123456789';

async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}
const portA = await freePort();
const portB = await freePort();

const env = (name: 'a' | 'b', extra: Record<string, string> = {}) =>
  loadNodeConfig({
    DATABASE_URL: name === 'a' ? dbA!.url : dbB!.url,
    HOST: '127.0.0.1',
    PORT: String(name === 'a' ? portA : portB),
    NODE_NAME: `jobs-${name}`,
    SYNC_API_KEY: name === 'a' ? keyA : keyB,
    QUEUE_PREFIX: name === 'a' ? prefixA : prefixB,
    LOG_LEVEL: 'silent',
    CATCHUP_CHECK_INTERVAL: '1',
    CATCHUP_BATCH_SIZE: '250',
    CATCHUP_RETRY_ATTEMPTS: '4',
    CATCHUP_RETRY_DELAY_MS: '200',
    SCAN_WAIT_SECONDS: '60',
    ...extra,
  });

let a: RunningNode = await startNode(env('a'));
let b: RunningNode | undefined = await startNode(env('b'));
afterAll(async () => {
  await a.close();
  await b?.close();
});

const api = (node: RunningNode, key: string) => (path: string, init: RequestInit & { json?: unknown } = {}) => {
  const { json, ...rest } = init;
  return fetch(`${node.url}${path}`, {
    ...rest,
    headers: { 'x-api-key': key, ...(json !== undefined ? { 'content-type': 'application/json' } : {}) },
    ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
  });
};

const serverAOnB = await b!.ctx.db.syncServer.create({ data: { name: 'jobs-a', host: '127.0.0.1', port: portA, apiKey: keyA } });
const serverBOnA = await a.ctx.db.syncServer.create({ data: { name: 'jobs-b', host: '127.0.0.1', port: portB, apiKey: keyB } });

async function rows(node: RunningNode, table = 'scouting_data') {
  return (await node.ctx.pool.query(`SELECT to_jsonb(t) AS r FROM ${table} t ORDER BY id`)).rows.map((r) => r.r);
}
async function latest(node: RunningNode) {
  return (await node.ctx.pool.query<{ n: string }>('SELECT coalesce(max(sequence),0)::text AS n FROM database_changes')).rows[0]!.n;
}
async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000) {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, 200));
  }
  throw new Error(`timed out waiting for ${what}: ${await diagnose()}`);
}
async function diagnose(): Promise<string> {
  const state = async (node: RunningNode | undefined) => {
    if (!node) return 'down';
    const servers = await node.ctx.db.syncServer.findMany();
    const logs = await node.ctx.db.syncLog.findMany({ orderBy: { id: 'asc' } });
    const counts = await node.ctx.pool.query('SELECT (SELECT count(*) FROM scouting_data) AS rows, (SELECT count(*) FROM teams) AS teams');
    return JSON.stringify({
      latest: await latest(node),
      counts: counts.rows[0],
      servers: servers.map((s) => ({ name: s.name, sent: s.sentCursor.toString(), received: s.receivedCursor.toString(), ping: s.pingSuccess, err: s.lastError })),
      logs: logs.map((l) => ({ status: l.status, details: l.details, error: l.errorMessage })),
    });
  };
  return `A=${await state(a)} B=${await state(b)}`;
}
async function writeRows(node: RunningNode, count: number, label: string) {
  await node.ctx.pool.query(
    `INSERT INTO scouting_data (team_number, match_number, scouting_team_number, scouter, data)
     SELECT g, g % 80, 1678, $2, jsonb_build_object('note', $2 || g) FROM generate_series(1, $1) g`,
    [count, label],
  );
}
async function catchupLogs(node: RunningNode, serverId: number) {
  return node.ctx.db.syncLog.findMany({ where: { serverId, operation: 'catch-up sync' }, orderBy: { id: 'asc' } });
}

describe('catch-up through BullMQ', () => {
  it('scheduled detection catches up a peer that was offline, in both directions', async () => {
    await b!.close();
    b = undefined;
    await writeRows(a, 5000, 'written on A while B was away');
    // Let A's scheduled detection find B unreachable a few times.
    await until('A to notice B is down', async () => (await a.ctx.db.syncServer.findUniqueOrThrow({ where: { id: serverBOnA.id } })).pingSuccess === false);

    // B wrote too while apart (its database was there, its server was not).
    const offline = await import('@catchup/db').then(({ createPool }) => createPool(dbB!.url, 1));
    await offline.query(`INSERT INTO teams (team_number, name, scouting_team_number) VALUES (1678, 'written on B while away', 1678)`);
    await offline.end();

    b = await startNode(env('b'));
    await until('both nodes to hold the same rows and cursors at the end', async () => {
      const [aRows, bRows, aTeams, bTeams] = await Promise.all([rows(a), rows(b!), rows(a, 'teams'), rows(b!, 'teams')]);
      if (aRows.length !== 5000 || JSON.stringify(aRows) !== JSON.stringify(bRows)) return false;
      if (aTeams.length !== 1 || JSON.stringify(aTeams) !== JSON.stringify(bTeams)) return false;
      const onA = await a.ctx.db.syncServer.findUniqueOrThrow({ where: { id: serverBOnA.id } });
      const onB = await b!.ctx.db.syncServer.findUniqueOrThrow({ where: { id: serverAOnB.id } });
      return onA.sentCursor.toString() === (await latest(a)) && onB.sentCursor.toString() === (await latest(b!));
    });

    const logs = await catchupLogs(a, serverBOnA.id);
    const sending = logs.filter((l) => (l.result as { database_changes: { sent: number } }).database_changes.sent > 0);
    expect(sending).toHaveLength(1);
    expect(sending[0]).toMatchObject({ status: 'completed', errorMessage: null });
    expect(sending[0]!.result).toMatchObject({ success: true, database_changes: { sent: 5000 } });
    expect(sending[0]!.details).toMatch(/^Applied \d+ database changes, 0 files synced/);
    const onA = await a.ctx.db.syncServer.findUniqueOrThrow({ where: { id: serverBOnA.id } });
    expect(onA.lastSync).toBeInstanceOf(Date);
    expect(onA.pingSuccess).toBe(true);
  }, 120_000);

  it('two scans at once run one catch-up for the peer', async () => {
    await writeRows(a, 600, 'for the double scan');
    await api(a, keyA)('/api/sync/config', { method: 'PUT', json: { catchup_scheduler_enabled: false } });
    const before = (await catchupLogs(a, serverBOnA.id)).length;
    const [r1, r2] = await Promise.all([
      api(a, keyA)('/api/sync/catchup/scan', { method: 'POST', json: { server_ids: [serverBOnA.id] } }),
      api(a, keyA)('/api/sync/catchup/scan', { method: 'POST', json: { server_ids: [serverBOnA.id] } }),
    ]);
    expect([r1.status, r2.status]).toEqual([200, 200]);
    const [s1, s2] = (await Promise.all([r1.json(), r2.json()])) as { results: { started_at: string; database_changes: { sent: number } }[] }[];
    const logs = (await catchupLogs(a, serverBOnA.id)).slice(before);
    expect(logs).toHaveLength(1);
    expect(logs[0]!.result).toMatchObject({ database_changes: { sent: 600 } });
    // Both answers report that same run.
    expect(s1!.results[0]!.started_at).toBe(s2!.results[0]!.started_at);
    expect(s1!.results[0]!.database_changes.sent).toBe(600);
    expect(await rows(b!)).toEqual(await rows(a));
    await api(a, keyA)('/api/sync/config', { method: 'PUT', json: { catchup_scheduler_enabled: true } });
  }, 60_000);

  it('changing catchup_check_interval through the API reschedules detection; disabling removes it', async () => {
    expect(await a.ctx.queues.detectionSchedule()).toEqual({ every: 1000 });
    const res = await api(a, keyA)('/api/sync/config', { method: 'PUT', json: { catchup_check_interval: 7 } });
    expect(res.status).toBe(200);
    expect(await a.ctx.queues.detectionSchedule()).toEqual({ every: 7000 });
    await api(a, keyA)('/api/sync/config', { method: 'PUT', json: { catchup_enabled: false } });
    expect(await a.ctx.queues.detectionSchedule()).toBeNull();
    await api(a, keyA)('/api/sync/config', { method: 'PUT', json: { catchup_enabled: true, catchup_check_interval: 1 } });
    expect(await a.ctx.queues.detectionSchedule()).toEqual({ every: 1000 });
  });
});

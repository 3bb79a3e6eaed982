// SPEC I14: a node rides out a restart of its PostgreSQL. Node B runs as its own process on a private
// cluster; while B applies batches (its own catch-up pulls from A, A's pushes to it), the cluster is
// restarted with `-m immediate` (every connection cut mid-query) and later stopped for a while. B stays
// alive, /ready answers 503 while the database is down and 200 once it is back, and a catch-up
// afterwards brings the nodes level without restarting B.
import { afterAll, describe, expect, it } from 'vitest';
import { createPool } from '@catchup/db';
import { migrateDeploy } from '@catchup/db/migrations';
import { useQueuePrefix, usePrivatePostgres, useTestDatabases } from '@catchup/testing';
import { startNodeProcess } from './node-process.ts';

const ROWS = 8000;
const cluster = await usePrivatePostgres('pg-restart');
const dbB = cluster.url('catchup_b');
await migrateDeploy(dbB);
const [dbA] = await useTestDatabases(1, 'pgrestart');
const poolA = createPool(dbA!.url, 2);
const poolB = createPool(dbB, 2);
afterAll(async () => {
  await poolA.end();
  await poolB.end();
});

const nodeEnv = (name: string) => ({
  QUEUE_PREFIX: useQueuePrefix(name),
  CATCHUP_SCHEDULER_ENABLED: 'false',
  CATCHUP_BATCH_SIZE: '100',
  CATCHUP_RETRY_DELAY_MS: '100',
  CATCHUP_RETRY_ATTEMPTS: '3',
  WORKER_CONCURRENCY: '2',
  SCAN_WAIT_SECONDS: '0',
});
const a = await startNodeProcess('pgrestart-a', { DATABASE_URL: dbA!.url, ...nodeEnv('pgrestart-a') });
const b = await startNodeProcess('pgrestart-b', { DATABASE_URL: dbB, ...nodeEnv('pgrestart-b') });

const rowsOf = async (pool: typeof poolA) => Number((await pool.query<{ n: string }>('SELECT count(*)::text AS n FROM scouting_data')).rows[0]!.n);
const digestOf = async (pool: typeof poolA) =>
  (await pool.query<{ h: string }>(`SELECT md5(coalesce(string_agg(to_jsonb(s)::text, ',' ORDER BY id), '')) AS h FROM scouting_data s`)).rows[0]!.h;
const readyStatus = () =>
  fetch(`${b.url}/ready`).then(
    (r) => r.status,
    () => 0,
  );
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => Promise<boolean>, ms: number): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (!b.alive()) throw new Error(`node B died while waiting for ${what}:\n${b.output().slice(-4000)}`);
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(50);
  }
}

describe('PostgreSQL restarts under a busy node', () => {
  it('the node stays up, /ready goes 503 then 200, and a later catch-up brings the nodes level', async () => {
    for (const [on, peer] of [
      [a, b],
      [b, a],
    ] as const) {
      expect((await on.call('/api/sync/servers', { name: peer.name, host: '127.0.0.1', port: peer.port, api_key: peer.key })).status).toBe(201);
    }
    await poolA.query(
      `INSERT INTO scouting_data (team_number, match_number, scouting_team_number, data)
       SELECT g, g % 90, 1678, jsonb_build_object('note', repeat('x', 200)) FROM generate_series(1, ${ROWS}) g`,
    );
    // B pulls A's changes (its workers apply them) while A pushes them (B's API applies them).
    expect((await b.call('/api/sync/catchup/scan', {})).status).toBe(202);
    expect((await a.call('/api/sync/catchup/scan', {})).status).toBe(202);
    await until('B to be applying batches', async () => (await rowsOf(poolB)) > 0, 30_000);

    // Every connection of B cut in the middle of its batches, twice.
    await cluster.restartImmediate();
    await sleep(300);
    await cluster.restartImmediate();
    const midway = await rowsOf(poolB);
    expect(midway).toBeLessThan(ROWS);

    // Down for a while: B says it is not ready, and stays up.
    await cluster.stop();
    await until('/ready to answer 503', async () => (await readyStatus()) === 503, 10_000);
    const body = (await (await fetch(`${b.url}/ready`)).json()) as { postgres: boolean };
    expect(body.postgres).toBe(false);
    await sleep(1500);
    expect(b.alive(), b.output().slice(-4000)).toBe(true);
    await cluster.start();
    await until('/ready to answer 200', async () => (await readyStatus()) === 200, 10_000);

    // The same process carries on: a catch-up brings the nodes level.
    let lastScan = 0;
    await until(
      'the nodes to be level',
      async () => {
        if ((await rowsOf(poolB)) === ROWS) return true;
        // A catch-up cut short by the outage finalizes as partial; the next one resends from the cursors.
        if (Date.now() - lastScan > 2000) {
          lastScan = Date.now();
          await b.call('/api/sync/catchup/scan', {});
        }
        return false;
      },
      45_000,
    );
    expect(await digestOf(poolB)).toBe(await digestOf(poolA));
    expect(b.alive(), b.output().slice(-4000)).toBe(true);
    expect(b.output()).not.toMatch(/Unhandled 'error' event/);
  }, 90_000);
});

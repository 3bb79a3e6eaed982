// End to end across processes: a node is SIGKILLed in the middle of a catch-up it runs, restarts, and
// the catch-up completes (its jobs are taken back as stalled); nothing is lost or applied twice.
import { spawn, type ChildProcess } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { createPool } from '@catchup/db';
import { freePort, useQueuePrefix, useTestDatabases, waitForHealth } from '@catchup/testing';

const main = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/main.ts');
const [dbA, dbB] = await useTestDatabases(2, 'crash');
const nodes = await Promise.all(
  (['a', 'b'] as const).map(async (side, i) => ({
    name: `crash-${side}`,
    port: await freePort(),
    key: `crash-${side}-key-0123456789`,
    dbUrl: [dbA!, dbB!][i]!.url,
    env: {
      QUEUE_PREFIX: useQueuePrefix(`crash-${side}`),
      DATA_DIR: await mkdtemp(path.join(tmpdir(), `catchup-crash-${side}-`)),
    },
    child: undefined as ChildProcess | undefined,
  })),
);
const [a, b] = nodes as [(typeof nodes)[0], (typeof nodes)[0]];
const poolA = createPool(a.dbUrl, 2);
const poolB = createPool(b.dbUrl, 2);

async function start(node: typeof a): Promise<void> {
  const child = spawn(process.execPath, [main], {
    env: {
      ...process.env,
      DATABASE_URL: node.dbUrl,
      PORT: String(node.port),
      HOST: '127.0.0.1',
      NODE_NAME: node.name,
      SYNC_API_KEY: node.key,
      LOG_LEVEL: 'warn',
      CATCHUP_SCHEDULER_ENABLED: 'false',
      CATCHUP_BATCH_SIZE: '200',
      CATCHUP_RETRY_DELAY_MS: '200',
      WORKER_CONCURRENCY: '1',
      JOB_LOCK_SECONDS: '3',
      SCAN_WAIT_SECONDS: '0',
      ...node.env,
    },
    stdio: ['ignore', 'ignore', 'pipe'],
  });
  node.child = child;
  let stderr = '';
  child.stderr!.on('data', (d: Buffer) => (stderr = (stderr + d.toString()).slice(-4000)));
  try {
    await waitForHealth(`http://127.0.0.1:${node.port}`, child, node.name, 20_000);
  } catch (err) {
    throw new Error(`${(err as Error).message}\n${stderr}`);
  }
}
afterAll(async () => {
  for (const n of nodes) if (n.child?.exitCode === null) n.child.kill('SIGKILL');
  await poolA.end();
  await poolB.end();
});

const call = (node: typeof a, route: string, json?: unknown) =>
  fetch(`http://127.0.0.1:${node.port}${route}`, {
    method: json === undefined ? 'GET' : 'POST',
    headers: { 'x-api-key': node.key, ...(json === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(json === undefined ? {} : { body: JSON.stringify(json) }),
  });

const count = async (pool: typeof poolA, sql: string) => Number((await pool.query<{ n: string }>(sql)).rows[0]!.n);

describe('a node killed in the middle of its catch-up', () => {
  it('restarts and finishes the catch-up: tables identical, every change once, runs logged', async () => {
    await Promise.all([start(a), start(b)]);
    for (const [on, peer] of [
      [a, b],
      [b, a],
    ] as const) {
      expect((await call(on, '/api/sync/servers', { name: peer.name, host: '127.0.0.1', port: peer.port, api_key: peer.key })).status).toBe(201);
    }
    await poolA.query(
      `INSERT INTO scouting_data (team_number, match_number, scouting_team_number, data)
       SELECT g, g % 90, 1678, jsonb_build_object('note', repeat('x', 200)) FROM generate_series(1, 20000) g`,
    );
    expect((await call(a, '/api/sync/catchup/scan', {})).status).toBe(202);

    // Kill A once B has part of it.
    for (let i = 0; i < 600; i++) {
      const got = await count(poolB, 'SELECT count(*)::text AS n FROM scouting_data');
      if (got > 0 && got < 20000) break;
      await new Promise((r) => setTimeout(r, 25));
    }
    const partial = await count(poolB, 'SELECT count(*)::text AS n FROM scouting_data');
    a.child!.kill('SIGKILL');
    await new Promise((r) => a.child!.once('exit', r));
    expect(partial).toBeLessThan(20000);

    await start(a);
    let done = false;
    for (let i = 0; i < 120 && !done; i++) {
      const [ra, rb] = await Promise.all([
        poolA.query(`SELECT md5(string_agg(to_jsonb(s)::text, ',' ORDER BY id)) AS h, count(*) AS n FROM scouting_data s`),
        poolB.query(`SELECT md5(string_agg(to_jsonb(s)::text, ',' ORDER BY id)) AS h, count(*) AS n FROM scouting_data s`),
      ]);
      const cursorAtEnd = await count(poolA, `SELECT (sent_cursor = (SELECT max(sequence) FROM database_changes))::int::text AS n FROM sync_servers`);
      // Batches move the cursor as they are acknowledged; the run's sync_logs row comes when it finalizes.
      const finalized = await count(poolA, `SELECT count(*)::text AS n FROM sync_logs WHERE operation = 'catch-up sync' AND status = 'completed'`);
      done = ra.rows[0].h === rb.rows[0].h && cursorAtEnd === 1 && finalized > 0;
      if (!done) await new Promise((r) => setTimeout(r, 500));
    }
    expect(done).toBe(true);
    // Every change of A is in B's log exactly once (identity is unique), and B's log holds nothing else of A's.
    expect(await count(poolB, `SELECT count(*)::text AS n FROM database_changes WHERE origin_node_id <> (SELECT node_id FROM sync_node)`)).toBe(20000);
    // The interrupted run finalized once its jobs were taken back, and left its row in sync_logs.
    const logs = await poolA.query<{ status: string; sent: string }>(
      `SELECT status, (result->'database_changes'->>'sent') AS sent FROM sync_logs WHERE operation = 'catch-up sync' ORDER BY id`,
    );
    expect(logs.rows.length).toBeGreaterThanOrEqual(1);
    expect(logs.rows.at(-1)!.status).toBe('completed');
  }, 180_000);
});

// Status at scale (issue #19 item 5): GET /api/sync/catchup/status with 50 peers spread along a
// 1,000,000-entry log, against the plain count it replaced (every entry above each peer's cursor counted),
// measured in the same run on the same database.
import { freePort } from '@catchup/testing/services';
import pg from 'pg';
import { benchUrl, dropBenchDatabases, freshMigratedDatabase } from './databases.ts';
import { startNodeProcess, stop } from './catchup.ts';
import { median, printTable } from './report.ts';

const ENTRIES = Number(process.env.BENCH_STATUS_ENTRIES ?? 1_000_000);
const PEERS = 50;
const RUNS = 15;

async function fill(url: string): Promise<void> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    // Written straight into the log (what capture would write, five origins): the figure is about reading it.
    await client.query(
      `INSERT INTO database_changes (sequence, table_name, record_id, operation, change_data, old_data, origin_node_id, origin_sequence, hlc)
       SELECT g, 'scouting_data', gen_random_uuid()::text, 'insert', '{"a":1}', NULL, 'origin-' || (g % 5), g, g FROM generate_series(1, $1::int) g`,
      [ENTRIES],
    );
    await client.query(`SELECT setval('database_changes_sequence_seq', $1::bigint)`, [ENTRIES]);
    // Peers spread along the log: from a peer that lacks all of it to one that lacks nothing.
    for (let i = 0; i < PEERS; i++) {
      await client.query(
        `INSERT INTO sync_servers (name, host, port, api_key, server_id, sent_cursor, updated_at) VALUES ($1, '127.0.0.1', 9, 'k', $2, $3, now())`,
        [`peer-${i}`, `origin-${i % 7}`, Math.floor((i * ENTRIES) / PEERS)],
      );
    }
    await client.query('VACUUM ANALYZE database_changes');
    await client.query('VACUUM ANALYZE change_log_counts');
  } finally {
    await client.end();
  }
}

/** The count status gave before per-block counts: every entry above each peer's cursor, one query per peer. */
async function plainCounts(url: string): Promise<number> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    const start = performance.now();
    const { rows: peers } = await client.query<{ server_id: string; sent_cursor: string }>('SELECT server_id, sent_cursor::text FROM sync_servers');
    for (const p of peers) {
      await client.query('SELECT count(*) FROM database_changes WHERE sequence > $1::bigint AND origin_node_id <> $2 AND NOT scope_exit', [
        p.sent_cursor,
        p.server_id,
      ]);
    }
    return performance.now() - start;
  } finally {
    await client.end();
  }
}

async function statusMs(port: number, key: string): Promise<number> {
  const start = performance.now();
  const res = await fetch(`http://127.0.0.1:${port}/api/sync/catchup/status`, { headers: { 'x-api-key': key } });
  const body = (await res.json()) as { servers_needing_catchup: unknown[] };
  if (res.status !== 200 || body.servers_needing_catchup.length === 0) throw new Error(`status answered ${res.status}`);
  return performance.now() - start;
}

export async function benchStatus(): Promise<void> {
  console.log(`\n## Status with ${PEERS} peers along a ${ENTRIES.toLocaleString('en')}-entry log`);
  const db = 'bench_status';
  const url = await freshMigratedDatabase(db);
  await fill(url);
  const node = await startNodeProcess('status', db, await freePort(), { RUN_WORKERS: 'false' });
  try {
    await statusMs(node.port, node.key); // warm: connections, plans, buffers
    const ours: number[] = [];
    const plain: number[] = [];
    for (let i = 0; i < RUNS; i++) {
      ours.push(await statusMs(node.port, node.key));
      if (i < 3) plain.push(await plainCounts(benchUrl(db)));
    }
    const [o, p] = [median(ours), median(plain)];
    printTable(
      ['what', 'ms (median)', 'each run'],
      [
        ['GET /api/sync/catchup/status', o.toFixed(1), ours.map((v) => v.toFixed(0)).join(' ')],
        ['plain counts only (before per-block counts)', p.toFixed(1), plain.map((v) => v.toFixed(0)).join(' ')],
      ],
    );
    console.log(`ratio status / plain counts: ${(o / p).toFixed(3)}; target: status under 100 ms`);
  } finally {
    await stop(node);
    await dropBenchDatabases(db);
  }
}

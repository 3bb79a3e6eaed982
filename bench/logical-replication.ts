// Baseline: the same workload through PostgreSQL's native logical replication, on a throwaway cluster
// with wal_level=logical (the shared server does not have it). See ../shared/ANCHORS.md.
import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import path from 'node:path';
import pg from 'pg';
import type { LinkBytes, ThrottledLink } from '@catchup/testing/throttled-link';
import { benchUrl } from './databases.ts';
import { timed } from './report.ts';

const BIN = '/usr/lib/postgresql/15/bin';
const PORT = Number(process.env.BENCH_LOGICAL_PORT ?? 55432);

function asPostgres(command: string, args: string[]): void {
  const result = spawnSync('runuser', ['-u', 'postgres', '--', command, ...args], { encoding: 'utf8' });
  if (result.status !== 0) throw new Error(`${command} failed: ${result.stderr || result.stdout}`);
}

export interface LogicalResult {
  seconds: number;
  note: string;
  /** Bytes the subscription's connection moved across the link while timed, when it went through one. */
  wire?: LinkBytes;
}

/**
 * Runs `work` against a throwaway cluster with wal_level=logical holding two empty databases, `pub` and
 * `sub`, and stops and removes the cluster afterwards.
 */
/**
 * The settings that decide how fast PostgreSQL writes, as the server our nodes use has them: the
 * throwaway cluster runs with the same, so that both sides of a ratio write under the same memory and
 * checkpoint budget.
 */
const MIRRORED_SETTINGS = [
  'shared_buffers',
  'max_wal_size',
  'min_wal_size',
  'checkpoint_timeout',
  'work_mem',
  'maintenance_work_mem',
  'effective_cache_size',
  'wal_buffers',
];

async function sharedServerSettings(): Promise<string[]> {
  const client = new pg.Client({ connectionString: benchUrl('postgres') });
  await client.connect();
  try {
    const { rows } = await client.query<{ name: string; value: string }>(
      `SELECT name, current_setting(name) AS value FROM pg_settings WHERE name = ANY($1::text[]) ORDER BY name`,
      [MIRRORED_SETTINGS],
    );
    return rows.map((r) => `${r.name}=${r.value}`);
  } finally {
    await client.end();
  }
}

async function withLogicalCluster<T>(work: (pub: pg.Client, sub: pg.Client, settings: string) => Promise<T>): Promise<T> {
  const settings = await sharedServerSettings();
  const dir = mkdtempSync(path.join(tmpdir(), 'catchup-logical-'));
  chmodSync(dir, 0o777);
  const data = path.join(dir, 'data');
  try {
    asPostgres(`${BIN}/initdb`, ['-A', 'trust', '-U', 'postgres', '-D', data]);
    const start = () =>
      asPostgres(`${BIN}/pg_ctl`, [
        '-D',
        data,
        '-l',
        path.join(dir, 'log'),
        '-w',
        '-o',
        `-p ${PORT} -c wal_level=logical -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} ${settings.map((setting) => `-c ${setting}`).join(' ')}`,
        'start',
      ]);
    try {
      start();
    } catch {
      // The previous run's cluster, stopped a moment ago, can still hold the port: say so, wait, retry once.
      console.error(`logical replication cluster did not start (${readFileSync(path.join(dir, 'log'), 'utf8').trim().split('\n').pop()}); retrying in 3 s`);
      await new Promise((r) => setTimeout(r, 3000));
      start();
    }
    const admin = new pg.Client({ connectionString: clusterUrl('postgres') });
    await admin.connect();
    await admin.query('CREATE DATABASE pub');
    await admin.query('CREATE DATABASE sub');
    await admin.end();
    const pub = new pg.Client({ connectionString: clusterUrl('pub') });
    const sub = new pg.Client({ connectionString: clusterUrl('sub') });
    await pub.connect();
    await sub.connect();
    try {
      return await work(pub, sub, `cluster settings as the nodes' server: ${settings.join(' ')}`);
    } finally {
      await pub.end();
      await sub.end();
    }
  } finally {
    try {
      asPostgres(`${BIN}/pg_ctl`, ['-D', data, '-m', 'immediate', 'stop']);
    } catch {
      /* already down */
    }
    rmSync(dir, { recursive: true, force: true });
  }
}

const clusterUrl = (db: string) => `postgresql://postgres@127.0.0.1:${PORT}/${db}`;

/**
 * Builds publisher and subscriber databases with `setupSql` (schema + baseline), disables the
 * subscription, runs `workloadSql` on the publisher, enables it, and times until `markerSql` finds the
 * marker row on the subscriber. With `link`, the subscription connects through it (the publisher on side a).
 */
export async function logicalReplicationBaseline(setupSql: string, workloadSql: string[], markerSql: string, link?: ThrottledLink): Promise<LogicalResult> {
  return withLogicalCluster(async (pub, sub, settings) => {
    const publisherPort = link ? await link.expose({ port: PORT }, 'a') : PORT;
    await pub.query(setupSql);
    await sub.query(setupSql);
    await pub.query('CREATE PUBLICATION bench FOR ALL TABLES');
    // In one cluster the slot must exist before the subscription (CREATE SUBSCRIPTION would wait on itself).
    await pub.query(`SELECT pg_create_logical_replication_slot('bench', 'pgoutput')`);
    await sub.query(
      `CREATE SUBSCRIPTION bench CONNECTION 'host=127.0.0.1 port=${publisherPort} dbname=pub user=postgres' PUBLICATION bench
       WITH (copy_data = false, create_slot = false, slot_name = 'bench')`,
    );
    await sub.query('ALTER SUBSCRIPTION bench DISABLE');
    for (const sql of workloadSql) await pub.query(sql);
    // A subscription worker is not restarted within wal_retrieve_retry_interval (5 s) of its last start.
    await new Promise((r) => setTimeout(r, 6000));
    await pub.query('CHECKPOINT'); // as before our catch-up: nothing left to write back while timing
    const before = link?.bytes();
    const seconds = await timed(async () => {
      await sub.query('ALTER SUBSCRIPTION bench ENABLE');
      for (;;) {
        const { rows } = await sub.query(markerSql);
        if (rows.length) return;
        await new Promise((r) => setTimeout(r, 20));
      }
    });
    const after = link?.bytes();
    const wire = before && after ? { aToB: after.aToB - before.aToB, bToA: after.bToA - before.bToA } : undefined;
    await sub.query('ALTER SUBSCRIPTION bench DISABLE');
    await sub.query(`ALTER SUBSCRIPTION bench SET (slot_name = NONE)`);
    await sub.query('DROP SUBSCRIPTION bench');
    return {
      seconds,
      note: `subscriber applies with synchronous_commit=off (PostgreSQL default for apply workers); ${settings}`,
      ...(wire ? { wire } : {}),
    };
  });
}

/**
 * Logical replication's initial table synchronization (ANCHORS.md, Full baseline): the publisher's
 * tables are built by `schemaSql` then `fillSql`, the subscriber's by `schemaSql` alone (empty); times
 * CREATE SUBSCRIPTION … WITH (copy_data = true) until every table's state is 'r' (ready) in
 * pg_subscription_rel.
 */
export async function logicalInitialCopy(schemaSql: string, fillSql: string[]): Promise<LogicalResult> {
  return withLogicalCluster(async (pub, sub, settings) => {
    await pub.query(schemaSql);
    for (const sql of fillSql) await pub.query(sql);
    await sub.query(schemaSql);
    await pub.query('CREATE PUBLICATION bench FOR ALL TABLES');
    await pub.query(`SELECT pg_create_logical_replication_slot('bench', 'pgoutput')`);
    await pub.query('VACUUM ANALYZE');
    await pub.query('CHECKPOINT'); // as before our catch-up: nothing left to write back while timing
    const seconds = await timed(async () => {
      await sub.query(
        `CREATE SUBSCRIPTION bench CONNECTION 'host=127.0.0.1 port=${PORT} dbname=pub user=postgres' PUBLICATION bench
         WITH (copy_data = true, create_slot = false, slot_name = 'bench')`,
      );
      for (;;) {
        const { rows } = await sub.query<{ waiting: string; tables: string }>(
          `SELECT count(*) FILTER (WHERE srsubstate <> 'r')::text AS waiting, count(*)::text AS tables FROM pg_subscription_rel`,
        );
        if (rows[0]!.tables !== '0' && rows[0]!.waiting === '0') return;
        await new Promise((r) => setTimeout(r, 20));
      }
    });
    await sub.query('ALTER SUBSCRIPTION bench DISABLE');
    await sub.query(`ALTER SUBSCRIPTION bench SET (slot_name = NONE)`);
    await sub.query('DROP SUBSCRIPTION bench');
    return { seconds, note: `initial table copy (COPY between the two databases of one cluster), synchronous_commit=off on the subscriber; ${settings}` };
  });
}

export function logicalAvailable(): boolean {
  try {
    execFileSync(`${BIN}/initdb`, ['--version']);
    return process.getuid?.() === 0;
  } catch {
    return false;
  }
}

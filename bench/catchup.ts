// Benchmark: a whole catch-up between two nodes (an API process and a worker process each) after B was offline
// while A took the apply benchmark's workload, against PostgreSQL logical replication of the same.
import { spawn, type ChildProcess } from 'node:child_process';
import http from 'node:http';
import { openSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { nodeProcessEnv, nodeProcessFlags } from '@catchup/testing/node-process';
import { freePort, waitForHealth } from '@catchup/testing/services';
import type { LinkBytes, ThrottledLink } from '@catchup/testing/throttled-link';
import { NodeQueues } from '@catchup/queue';
import pg from 'pg';
import { benchUrl, checkpoint, dropBenchDatabases, freshMigratedDatabase } from './databases.ts';
import { instanceCpuSeconds, postmasterOf, processCpuSeconds } from './cpu.ts';
import { logicalAvailable, logicalReplicationBaseline, type LogicalResult } from './logical-replication.ts';
import { eachRound, formatRate, median, printTable, timed } from './report.ts';

/**
 * POST /api/sync/catchup/scan on a node and its answer. Over node:http, which waits as long as the scan
 * does (fetch gives up after 300 s without response headers).
 */
export function postScan<T>(node: Pick<NodeProcess, 'port' | 'key'>): Promise<{ status: number; body: T }> {
  return new Promise((resolve, reject) => {
    const request = http.request(
      {
        host: '127.0.0.1',
        port: node.port,
        path: '/api/sync/catchup/scan',
        method: 'POST',
        headers: { 'x-api-key': node.key, 'content-type': 'application/json' },
      },
      (response) => {
        const chunks: Buffer[] = [];
        response.on('data', (chunk: Buffer) => chunks.push(chunk));
        response.on('end', () => {
          try {
            resolve({ status: response.statusCode ?? 0, body: JSON.parse(Buffer.concat(chunks).toString('utf8')) as T });
          } catch (err) {
            reject(err instanceof Error ? err : new Error(String(err)));
          }
        });
        response.on('error', reject);
      },
    );
    request.on('error', reject);
    request.end('{}');
  });
}

const PREFIX = 'catchup_bench_e2e_';
const BATCH = Number(process.env.BENCH_BATCH ?? 1000);

export const row = (idExpr: string, n: string) => `(${idExpr}, 1 + (${n}) % 9000, 1 + (${n}) % 120, NULL, 1678, 'scout-' || ((${n}) % 40),
  jsonb_build_object('auto', jsonb_build_object('leave', (${n}) % 2 = 0, 'speaker', (${n}) % 5, 'amp', (${n}) % 3),
                     'teleop', jsonb_build_object('speaker', (${n}) % 17, 'amp', (${n}) % 7, 'trap', (${n}) % 2),
                     'endgame', jsonb_build_object('climb', 'onstage'),
                     'notes', rpad('defended well, fast cycles ' || (${n}), 160, '.')),
  true, now())`;

function baselineSql(size: number): string {
  return `INSERT INTO scouting_data (id, team_number, match_number, event_id, scouting_team_number, scouter, data, is_active, updated_at)
          SELECT (r).* FROM (SELECT ROW${row(`md5('base' || g)::uuid`, 'g')}::scouting_data AS r FROM generate_series(1, ${size}) g) s`;
}

/** 60% inserts of new ids, 30% updates and 10% deletes of baseline rows. */
function workloadSql(size: number): string[] {
  const inserts = Math.round(size * 0.6);
  const updates = Math.round(size * 0.3);
  const deletes = size - inserts - updates;
  return [
    `INSERT INTO scouting_data (id, team_number, match_number, event_id, scouting_team_number, scouter, data, is_active, updated_at)
     SELECT (r).* FROM (SELECT ROW${row(`md5('new' || g)::uuid`, `g + ${size}`)}::scouting_data AS r FROM generate_series(1, ${inserts}) g) s`,
    `UPDATE scouting_data SET match_number = match_number + 1, data = data || '{"edited": true}'::jsonb, updated_at = now()
      WHERE id IN (SELECT md5('base' || g)::uuid FROM generate_series(1, ${updates}) g)`,
    `DELETE FROM scouting_data WHERE id IN (SELECT md5('base' || g)::uuid FROM generate_series(${updates + 1}, ${updates + deletes}) g)`,
  ];
}

/**
 * scouting_data as the nodes' migrations define it, for logical replication's own cluster: the same
 * primary key and the same two indexes, so that its subscriber maintains what our receiver maintains.
 */
export const SCOUTING_TABLE_SQL = `CREATE TABLE scouting_data (id uuid PRIMARY KEY, team_number int NOT NULL, match_number int NOT NULL, event_id uuid,
  scouting_team_number int NOT NULL, scouter text, data jsonb NOT NULL DEFAULT '{}', is_active boolean NOT NULL DEFAULT true,
  updated_at timestamptz(3) NOT NULL DEFAULT now());
  CREATE INDEX ON scouting_data (scouting_team_number); CREATE INDEX ON scouting_data (team_number, match_number);`;

export const DIGEST = `SELECT count(*)::text AS n, md5(string_agg(id::text || ':' || match_number || ':' || data::text, ',' ORDER BY id)) AS h FROM scouting_data`;

export interface NodeProcess {
  child: ChildProcess;
  /** The node's separate worker process, when it runs one (API started with RUN_WORKERS=false). */
  worker?: ChildProcess;
  port: number;
  key: string;
  db: string;
}

export function peakRssMb(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Math.round(Number(/VmHWM:\s+(\d+)/.exec(status)?.[1] ?? 0) / 1024);
}

function spawnNodeScript(script: string, logName: string, env: Record<string, string>): ChildProcess {
  // BENCH_V8_FLAGS: flags NODE_OPTIONS refuses (--trace-gc…), for investigating a run.
  const v8Flags = process.env.BENCH_V8_FLAGS?.split(' ').filter(Boolean) ?? [];
  // Started as `npm start` and `npm run worker` start them.
  return spawn(process.execPath, [...nodeProcessFlags(), ...v8Flags, script], {
    env: { ...process.env, ...nodeProcessEnv(), ...env },
    stdio: ['ignore', process.env.BENCH_LOG_DIR ? openSync(path.join(process.env.BENCH_LOG_DIR, `${logName}.log`), 'w') : 'ignore', 'inherit'],
  });
}

export async function startNodeProcess(
  name: string,
  db: string,
  port: number,
  extraEnv: Record<string, string> = {},
  options: { separateWorker?: boolean } = {},
): Promise<NodeProcess> {
  const key = `${name}-bench-key-0123456789`;
  const env = {
    DATABASE_URL: benchUrl(db),
    PORT: String(port),
    HOST: '127.0.0.1',
    NODE_NAME: name,
    SYNC_API_KEY: key,
    QUEUE_PREFIX: `bench-${name}-${process.pid}`,
    LOG_LEVEL: process.env.BENCH_LOG_DIR ? 'info' : 'warn',
    CATCHUP_SCHEDULER_ENABLED: 'false',
    CATCHUP_BATCH_SIZE: String(BATCH),
    SCAN_WAIT_SECONDS: '3600',
    NODE_OPTIONS: process.env.BENCH_NODE_OPTIONS ?? '',
    ...extraEnv,
  };
  const child = spawnNodeScript('apps/api/src/main.ts', name, { ...env, ...(options.separateWorker ? { RUN_WORKERS: 'false' } : {}) });
  await waitForHealth(`http://127.0.0.1:${port}`, child, name);
  const worker = options.separateWorker ? spawnNodeScript('apps/worker/src/main.ts', `${name}-worker`, env) : undefined;
  // The node is back online once its worker listens too (its start-up would otherwise run during the
  // timed catch-up, on the same two cores).
  if (worker) await waitForWorker(env.QUEUE_PREFIX, worker, `${name}-worker`);
  return { child, ...(worker ? { worker } : {}), port, key, db };
}

async function waitForWorker(prefix: string, worker: ChildProcess, what: string): Promise<void> {
  const queues = new NodeQueues({ redisUrl: process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', prefix });
  try {
    const deadline = Date.now() + 60_000;
    while ((await queues.workersListening()) < 1) {
      if (worker.exitCode !== null) throw new Error(`${what} exited with ${worker.exitCode}`);
      if (Date.now() > deadline) throw new Error(`${what} did not start listening within 60 s`);
      await new Promise((r) => setTimeout(r, 50));
    }
  } finally {
    await queues.close();
  }
}

export async function stop(node: NodeProcess): Promise<void> {
  await Promise.all(
    [node.child, node.worker]
      .filter((c): c is ChildProcess => c !== undefined)
      .map((child) => {
        child.kill('SIGTERM');
        return new Promise((r) => (child.exitCode !== null ? r(null) : child.once('exit', r)));
      }),
  );
}

export async function sql<T extends pg.QueryResultRow>(db: string, text: string): Promise<T[]> {
  const client = new pg.Client({ connectionString: benchUrl(db) });
  await client.connect();
  try {
    return (await client.query<T>(text)).rows;
  } finally {
    await client.end();
  }
}

/** Asked while the backend is alive: its parent is the postmaster. */
export async function postmasterOfDatabase(db: string): Promise<number> {
  const client = new pg.Client({ connectionString: benchUrl(db) });
  await client.connect();
  try {
    const { rows } = await client.query<{ pid: number }>('SELECT pg_backend_pid() AS pid');
    return postmasterOf(rows[0]!.pid);
  } finally {
    await client.end();
  }
}

/** Registers `peer` on `on`, at `port` (the peer's own, or a link's port in front of it). */
export async function register(on: NodeProcess, peer: NodeProcess, name: string, port = peer.port): Promise<void> {
  const res = await fetch(`http://127.0.0.1:${on.port}/api/sync/servers`, {
    method: 'POST',
    headers: { 'x-api-key': on.key, 'content-type': 'application/json' },
    body: JSON.stringify({ name, host: '127.0.0.1', port, api_key: peer.key }),
  });
  if (res.status !== 201) throw new Error(`register ${name}: ${res.status} ${await res.text()}`);
}

export interface CatchupFigures {
  seconds: number;
  /** Peak RSS in MB of each process: API and worker of A and of B. */
  rss: { apiA: number; workerA: number; apiB: number; workerB: number };
  /** CPU seconds used during the catch-up by each process, and by PostgreSQL (both databases). */
  cpu: { apiA: number; workerA: number; apiB: number; workerB: number; postgres: number };
  /** Bytes that crossed the link during the catch-up, when the nodes talked through one. */
  wire?: LinkBytes;
}

/** Bytes that crossed `link` while `work` ran. */
export async function bytesAcross(link: ThrottledLink, work: () => Promise<void>): Promise<LinkBytes> {
  const before = link.bytes();
  await work();
  const after = link.bytes();
  return { aToB: after.aToB - before.aToB, bToA: after.bToA - before.bToA };
}

export interface CatchupOptions {
  /** A link the nodes reach each other through (A on side a, B on side b); their databases stay local. */
  link?: ThrottledLink;
  /** Environment of both nodes' processes on top of the benchmark's (COMPRESSION_LEVEL…). */
  env?: Record<string, string>;
}

export async function ourCatchup(size: number, options: CatchupOptions = {}): Promise<CatchupFigures> {
  await dropBenchDatabases(PREFIX);
  const [dbA, dbB] = [`${PREFIX}a`, `${PREFIX}b`];
  for (const db of [dbA, dbB]) {
    await freshMigratedDatabase(db);
    // The baseline exists on both sides before the episode: it is not a change to send.
    await sql(db, `BEGIN; SET LOCAL catchup.applying = 'on'; ${baselineSql(size)}; COMMIT;`);
    await sql(db, 'VACUUM ANALYZE scouting_data');
  }
  const [portA, portB] = [await freePort(), await freePort()];
  const a = await startNodeProcess('bench-a', dbA, portA, options.env, { separateWorker: true });
  let b: NodeProcess | undefined;
  try {
    for (const statement of workloadSql(size)) await sql(dbA, statement);
    // A settles before B returns: autovacuum would otherwise visit A's new entries and dead rows at a
    // moment of its choosing, during the timed catch-up or not.
    await sql(dbA, 'VACUUM ANALYZE');
    b = await startNodeProcess('bench-b', dbB, portB, options.env, { separateWorker: true });
    const link = options.link;
    await register(a, b, 'bench-b', link ? await link.expose({ port: b.port }, 'b') : b.port);
    await register(b, a, 'bench-a', link ? await link.expose({ port: a.port }, 'a') : a.port);
    const postmasterPid = await postmasterOfDatabase(dbA);
    // Nothing left to write back from the setup (or an earlier part of the benchmark) while timing.
    await checkpoint();
    const pids = { apiA: a.child.pid!, workerA: a.worker!.pid!, apiB: b.child.pid!, workerB: b.worker!.pid! };
    const cpuNow = () => ({
      ...(Object.fromEntries(Object.entries(pids).map(([k, pid]) => [k, processCpuSeconds(pid)])) as Record<keyof typeof pids, number>),
      postgres: instanceCpuSeconds(postmasterPid),
    });
    const cpuBefore = cpuNow();
    const episode = async () => {
      const { status, body } = await postScan<{ results: { success: boolean; errors: string[] }[] }>(a);
      if (status !== 200 || !body.results[0]?.success) throw new Error(`scan: ${status} ${JSON.stringify(body).slice(0, 500)}`);
    };
    let wire: LinkBytes | undefined;
    const seconds = await timed(async () => {
      if (link) wire = await bytesAcross(link, episode);
      else await episode();
    });
    const cpuAfter = cpuNow(); // before the checks below, which cost PostgreSQL a second or two
    const [[da], [db]] = await Promise.all([sql<{ n: string; h: string }>(dbA, DIGEST), sql<{ n: string; h: string }>(dbB, DIGEST)]);
    const [[cursor]] = await Promise.all([
      sql<{ ok: boolean }>(dbA, `SELECT sent_cursor = (SELECT max(sequence) FROM database_changes) AS ok FROM sync_servers`),
    ]);
    if (da!.h !== db!.h || !cursor!.ok) throw new Error(`not converged: A ${da!.n}/${da!.h}, B ${db!.n}/${db!.h}, cursor at end: ${cursor!.ok}`);
    return {
      seconds,
      cpu: Object.fromEntries(Object.entries(cpuAfter).map(([k, v]) => [k, v - cpuBefore[k as keyof typeof cpuBefore]])) as CatchupFigures['cpu'],
      rss: { apiA: peakRssMb(a.child.pid!), workerA: peakRssMb(a.worker!.pid!), apiB: peakRssMb(b.child.pid!), workerB: peakRssMb(b.worker!.pid!) },
      ...(wire ? { wire } : {}),
    };
  } finally {
    await stop(a);
    if (b) await stop(b);
    await dropBenchDatabases(PREFIX);
  }
}

const rssColumns = ['peak RSS MB: API A', 'worker A', 'API B', 'worker B'];
const rssCells = (f: CatchupFigures) => [f.rss.apiA, f.rss.workerA, f.rss.apiB, f.rss.workerB].map(String);

/** Where the time went: with every core busy, CPU saved anywhere shortens the catch-up. */
export function printCpu(f: CatchupFigures): void {
  const c = f.cpu;
  const cells = [c.apiA, c.workerA, c.apiB, c.workerB, c.postgres].map((s) => s.toFixed(2));
  const total = c.apiA + c.workerA + c.apiB + c.workerB + c.postgres;
  console.log(
    `CPU seconds during the catch-up: API A ${cells[0]}, worker A ${cells[1]}, API B ${cells[2]}, worker B ${cells[3]}, ` +
      `PostgreSQL ${cells[4]} (both databases); ${total.toFixed(2)} in all over ${f.seconds.toFixed(2)} s`,
  );
}

/**
 * The same workload through PostgreSQL logical replication: the same baseline on both sides, the
 * subscription disabled while the publisher takes the changes, then enabled and timed until a marker
 * written last arrives. Through `link` when given (the subscription's connection crosses it).
 */
export function logicalCatchup(size: number, link?: ThrottledLink): Promise<LogicalResult> {
  const table = `${SCOUTING_TABLE_SQL}
    CREATE TABLE bench_marker (id int PRIMARY KEY);`;
  return logicalReplicationBaseline(
    `${table} ${baselineSql(size)}`,
    [...workloadSql(size), 'INSERT INTO bench_marker VALUES (1)'],
    'SELECT 1 FROM bench_marker',
    link,
  );
}

export async function benchCatchup(): Promise<void> {
  const size = Number(process.env.BENCH_CHANGES ?? 100_000);
  const large = Number(process.env.BENCH_LARGE_CHANGES ?? 1_000_000);
  console.log(
    `\n## Catch-up of ${size.toLocaleString('en')} changes made on A while B was offline (batch ${BATCH}, ${size.toLocaleString('en')}-row baseline)`,
  );
  console.log("Each node runs as two processes, its API (RUN_WORKERS=false) and a worker process; timed from the scan, once both of B's are up.");
  // Loopback is one machine: the nodes run as README advises there (compression_level 0: the bytes cost
  // nothing to move, compressing them costs CPU at both ends), and again with the default level. One run
  // of either contender can take a third longer than the next here: the ratio is of medians of several
  // rounds, each timing ours and then logical replication.
  const rounds = Math.max(1, Number(process.env.BENCH_CATCHUP_ROUNDS ?? 3));
  const lan = { COMPRESSION_LEVEL: '0' };
  const oursRuns: CatchupFigures[] = [];
  const logicalRuns: LogicalResult[] = [];
  for (let i = 0; i < rounds; i++) {
    oursRuns.push(await ourCatchup(size, { env: lan }));
    if (logicalAvailable()) logicalRuns.push(await logicalCatchup(size));
  }
  // The median round's figures (peak RSS, CPU) go with its time.
  const ours = [...oursRuns].sort((a, b) => a.seconds - b.seconds)[Math.floor(oursRuns.length / 2)]!;
  const compressed = await ourCatchup(size, { env: { COMPRESSION_LEVEL: '3' } });
  const rows: string[][] = [
    ['catch-up, link compression 0', ours.seconds.toFixed(2), ...rssCells(ours), eachRound(oursRuns.map((r) => r.seconds))],
    ['catch-up, COMPRESSION_LEVEL=3 (default)', compressed.seconds.toFixed(2), ...rssCells(compressed), '-'],
  ];
  const headers = ['path', 'seconds (median)', ...rssColumns, 'each round'];
  if (logicalRuns.length) {
    const logical = median(logicalRuns.map((r) => r.seconds));
    rows.push(['PostgreSQL logical replication', logical.toFixed(2), '-', '-', '-', '-', eachRound(logicalRuns.map((r) => r.seconds))]);
    printTable(headers, rows);
    console.log(
      `ratio ours / logical replication: ${(ours.seconds / logical).toFixed(2)} (target ≤ 3; medians of ${rounds} rounds; ` +
        `${(compressed.seconds / logical).toFixed(2)} with the default compression, one run); ${logicalRuns[0]!.note}`,
    );
  } else {
    printTable(headers, rows);
    console.log('logical replication baseline skipped: needs root and PostgreSQL 15 binaries');
  }
  printCpu(ours);
  if (large > 0) {
    console.log(`\n## Catch-up of ${large.toLocaleString('en')} changes (I9: memory flat in the backlog size; link compression 0)`);
    const big = await ourCatchup(large, { env: lan });
    printTable(headers, [['catch-up', big.seconds.toFixed(2), ...rssCells(big), '-']]);
    console.log(
      `${formatRate(large / big.seconds)} changes/s; peak RSS ${size.toLocaleString('en')} → ${large.toLocaleString('en')} changes: ` +
        `API B ${ours.rss.apiB} → ${big.rss.apiB} MB, worker A ${ours.rss.workerA} → ${big.rss.workerA} MB (BENCH_LARGE_CHANGES=0 skips this run)`,
    );
  }
  console.log('I9 target: peak RSS under 200 MB per process');
}

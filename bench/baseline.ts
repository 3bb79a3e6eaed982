// Benchmark: retention. A prune of a log whose every row was written then updated (half the entries
// superseded), then a full baseline — a never-synced peer, its cursor below the pruned horizon — of the
// whole table, against PostgreSQL logical replication's initial table copy of the same rows
// (copy_data = true). See ../shared/ANCHORS.md, "Full baseline".
import { getNodeIdentity, pruneLog } from '@catchup/changelog';
import { createPool } from '@catchup/db';
import type { CatchupResult } from '@catchup/engine';
import { freePort } from '@catchup/testing/services';
import {
  DIGEST,
  SCOUTING_TABLE_SQL,
  peakRssMb,
  postmasterOfDatabase,
  postScan,
  register,
  row,
  sql,
  startNodeProcess,
  stop,
  type NodeProcess,
} from './catchup.ts';
import { instanceCpuSeconds, processCpuSeconds } from './cpu.ts';
import { benchUrl, checkpoint, dropBenchDatabases, freshMigratedDatabase } from './databases.ts';
import { logicalAvailable, logicalInitialCopy } from './logical-replication.ts';
import { formatRate, printTable, timed } from './report.ts';

const PREFIX = 'catchup_bench_baseline_';
/** Rows per statement while building the table (one capture transaction each). */
const SLICE = 100_000;

/** The table's rows in slices: inserted, then each updated once (the update is what stands). */
function fillSql(rows: number): string[] {
  const statements: string[] = [];
  for (let from = 1; from <= rows; from += SLICE) {
    const to = Math.min(rows, from + SLICE - 1);
    statements.push(
      `INSERT INTO scouting_data (id, team_number, match_number, event_id, scouting_team_number, scouter, data, is_active, updated_at)
       SELECT (r).* FROM (SELECT ROW${row(`md5('base' || g)::uuid`, 'g')}::scouting_data AS r FROM generate_series(${from}, ${to}) g) s`,
    );
  }
  for (let from = 1; from <= rows; from += SLICE) {
    const to = Math.min(rows, from + SLICE - 1);
    statements.push(
      `UPDATE scouting_data SET match_number = match_number + 1, data = data || '{"edited": true}'::jsonb
        WHERE id IN (SELECT md5('base' || g)::uuid FROM generate_series(${from}, ${to}) g)`,
    );
  }
  return statements;
}

export async function benchBaseline(): Promise<void> {
  const rows = Number(process.env.BENCH_BASELINE_ROWS ?? 1_000_000);
  const [dbA, dbB] = [`${PREFIX}a`, `${PREFIX}b`];
  console.log(`\n## Retention: prune of ${rows.toLocaleString('en')} entries, then a full baseline of ${rows.toLocaleString('en')} rows`);
  console.log(
    `A's table: ${rows.toLocaleString('en')} rows written then each updated once, so its log holds ${(2 * rows).toLocaleString('en')} entries, half superseded (BENCH_BASELINE_ROWS sets the size).`,
  );
  await dropBenchDatabases(PREFIX);
  try {
    await freshMigratedDatabase(dbA);
    await freshMigratedDatabase(dbB);
    for (const statement of fillSql(rows)) await sql(dbA, statement);
    await sql(dbA, 'VACUUM ANALYZE');
    await checkpoint();

    // The prune: every entry counts as old (an age limit a day ahead), so all superseded ones go.
    const pool = createPool(benchUrl(dbA), 2);
    let pruned = { entries: 0, chunks: 0, prunedThrough: '0' };
    let pruneSeconds: number;
    try {
      const { nodeId } = await getNodeIdentity(pool);
      pruneSeconds = await timed(async () => {
        const result = await pruneLog(pool, { before: new Date(Date.now() + 86_400_000), nodeId });
        pruned = { entries: result.entries, chunks: result.chunks, prunedThrough: result.horizon.prunedThrough };
      });
    } finally {
      await pool.end();
    }
    if (pruned.entries !== rows) throw new Error(`the prune removed ${pruned.entries} entries, expected ${rows}`);
    printTable(
      ['part', 'entries removed', 'statements', 'seconds', 'entries/s'],
      [['prune', pruned.entries.toLocaleString('en'), String(pruned.chunks), pruneSeconds.toFixed(2), formatRate(pruned.entries / pruneSeconds)]],
    );
    // What autovacuum would do after a prune, before the next reader: not timed.
    await sql(dbA, 'VACUUM ANALYZE database_changes');
    await checkpoint();

    // The full baseline: B never synced (its cursor 0 is below A's pruned horizon). Twice, B afresh each
    // time: over a link set up as README advises for one machine or a LAN (compression_level 0: the bytes
    // cost nothing to move, compressing them costs CPU both ends), and with the default COMPRESSION_LEVEL.
    const links = [
      { label: 'full baseline (ours), link compression 0', env: { COMPRESSION_LEVEL: '0' } },
      { label: 'full baseline (ours), COMPRESSION_LEVEL=3 (default)', env: { COMPRESSION_LEVEL: '3' } },
    ];
    const table: string[][] = [];
    const seconds: number[] = [];
    for (const link of links) {
      await freshMigratedDatabase(dbB);
      const run = await fullBaseline(dbA, dbB, rows, link.env);
      console.log(`${link.label}: CPU seconds ${run.cpu} (PostgreSQL: the whole instance, others' work included)`);
      table.push([link.label, run.seconds.toFixed(2), formatRate(rows / run.seconds), ...run.rss.map(String)]);
      seconds.push(run.seconds);
    }
    const headers = ['path', 'seconds', 'rows/s', 'peak RSS MB: API A', 'worker A', 'API B', 'worker B'];
    if (logicalAvailable()) {
      const logical = await logicalInitialCopy(SCOUTING_TABLE_SQL, fillSql(rows));
      table.push(['logical replication initial copy', logical.seconds.toFixed(2), formatRate(rows / logical.seconds), '-', '-', '-', '-']);
      printTable(headers, table);
      console.log(
        `ratio ours / logical replication's initial copy: ${(seconds[0]! / logical.seconds).toFixed(2)} (target ≤ 3; ${(seconds[1]! / logical.seconds).toFixed(2)} with the default compression); ${logical.note}`,
      );
    } else {
      printTable(headers, table);
      console.log('logical replication baseline skipped: needs root and PostgreSQL 15 binaries');
    }
    console.log('target: peak RSS under 200 MB per process');
  } finally {
    await dropBenchDatabases(PREFIX);
  }
}

/** One full baseline of A's table to an empty B (nodes started with `env`), timed, checked, with CPU and peak RSS. */
async function fullBaseline(dbA: string, dbB: string, rows: number, env: Record<string, string>): Promise<{ seconds: number; cpu: string; rss: number[] }> {
  await sql(dbA, 'DELETE FROM sync_servers'); // B of an earlier run: this B has never synced
  const [portA, portB] = [await freePort(), await freePort()];
  const a = await startNodeProcess('bench-base-a', dbA, portA, env, { separateWorker: true });
  let b: NodeProcess | undefined;
  try {
    b = await startNodeProcess('bench-base-b', dbB, portB, env, { separateWorker: true });
    await register(a, b, 'bench-base-b');
    await register(b, a, 'bench-base-a');
    let result: CatchupResult | undefined;
    const postmasterPid = await postmasterOfDatabase(dbA);
    const pids = [a.child.pid!, a.worker!.pid!, b.child.pid!, b.worker!.pid!];
    const cpuNow = () => [...pids.map(processCpuSeconds), instanceCpuSeconds(postmasterPid)];
    const cpuBefore = cpuNow();
    const seconds = await timed(async () => {
      const { status, body } = await postScan<{ results: CatchupResult[] }>(a);
      result = body.results[0];
      if (status !== 200 || !result?.success) throw new Error(`scan: ${status} ${JSON.stringify(body).slice(0, 500)}`);
    });
    // Where the time went: with every core busy, CPU saved anywhere shortens the baseline.
    const [apiA, workerA, apiB, workerB, postgres] = cpuNow().map((after, i) => (after - cpuBefore[i]!).toFixed(2));
    if (result!.mode !== 'full baseline' || result!.full_baseline?.rows_sent !== rows) {
      throw new Error(`not a full baseline of ${rows} rows: ${JSON.stringify(result).slice(0, 500)}`);
    }
    const [[da], [db]] = await Promise.all([sql<{ n: string; h: string }>(dbA, DIGEST), sql<{ n: string; h: string }>(dbB, DIGEST)]);
    if (da!.h !== db!.h) throw new Error(`not converged: A ${da!.n}/${da!.h}, B ${db!.n}/${db!.h}`);
    const rss = pids.map(peakRssMb);
    return { seconds, cpu: `API A ${apiA}, worker A ${workerA}, API B ${apiB}, worker B ${workerB}, PostgreSQL ${postgres}`, rss };
  } finally {
    await stop(a);
    if (b) await stop(b);
  }
}

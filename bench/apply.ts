// Benchmark: applying 100,000 changes with our applier vs. the raw set-wise upsert baseline, and
// reading the log for sending.
import { applyBatch, readChangesJson, type Change } from '@catchup/changelog';
import { createPool, type Pool } from '@catchup/db';
import { checkpoint, cloneDatabase, dropBenchDatabases, freshMigratedDatabase } from './databases.ts';
import { makeWorkload } from './workload.ts';
import { formatRate, median, printTable, timed } from './report.ts';

const PREFIX = 'catchup_bench_apply_';

async function loadBaseline(pool: Pool, rows: Record<string, unknown>[]): Promise<void> {
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SET LOCAL catchup.applying = 'on'`); // the baseline is not a change
    for (let i = 0; i < rows.length; i += 10_000) {
      await client.query(`INSERT INTO scouting_data SELECT * FROM jsonb_populate_recordset(NULL::scouting_data, $1::jsonb)`, [
        JSON.stringify(rows.slice(i, i + 10_000)),
      ]);
    }
    await client.query('COMMIT');
  } finally {
    client.release();
  }
  await pool.query('VACUUM ANALYZE scouting_data');
}

/** The raw baseline: upsert + delete by id per batch, no log, no duplicate or conflict check (prepared, as ours are). */
/** Our applier as the peer API runs it: under the receiving node's identity and the default clock bound. */
const applyAsPeer = (pool: Pool, batch: Change[]) => applyBatch(pool, batch, { nodeId: 'bench-receiver', maxClockSkewMs: 300_000 });

async function rawApply(pool: Pool, batch: Change[]): Promise<void> {
  const last = new Map<string, Change>();
  for (const c of batch) last.set(c.record_id, c); // ON CONFLICT cannot touch a row twice per statement
  const upserts = [...last.values()].filter((c) => c.operation !== 'delete').map((c) => c.change_data);
  const deletes = [...last.values()].filter((c) => c.operation === 'delete').map((c) => c.record_id);
  const client = await pool.connect();
  try {
    await client.query('BEGIN');
    await client.query(`SET LOCAL catchup.applying = 'on'`);
    if (upserts.length) {
      await client.query({
        name: 'raw_upsert',
        text: `INSERT INTO scouting_data SELECT * FROM jsonb_populate_recordset(NULL::scouting_data, $1::jsonb)
         ON CONFLICT (id) DO UPDATE SET team_number = EXCLUDED.team_number, match_number = EXCLUDED.match_number,
           event_id = EXCLUDED.event_id, scouting_team_number = EXCLUDED.scouting_team_number,
           scouter = EXCLUDED.scouter, data = EXCLUDED.data, is_active = EXCLUDED.is_active, updated_at = EXCLUDED.updated_at`,
        values: [JSON.stringify(upserts)],
      });
    }
    if (deletes.length) await client.query({ name: 'raw_delete', text: 'DELETE FROM scouting_data WHERE id = ANY($1::uuid[])', values: [deletes] });
    await client.query('COMMIT');
  } finally {
    client.release();
  }
}

async function run(templateName: string, name: string, workload: Change[], batchSize: number, apply: (pool: Pool, batch: Change[]) => Promise<unknown>) {
  // Fresh change objects for every run: the applier keeps each change's row image JSON (per object), and
  // a run must not find the work of the one before it done.
  const changes = workload.map((c) => ({ ...c }));
  const url = await cloneDatabase(templateName, `${PREFIX}${name}`);
  // Each timed run starts with nothing left to write back from the clone or the run before it.
  await checkpoint();
  const pool = createPool(url, 2);
  try {
    const seconds = await timed(async () => {
      for (let i = 0; i < changes.length; i += batchSize) await apply(pool, changes.slice(i, i + batchSize));
    });
    const { rows } = await pool.query<{ n: string }>('SELECT count(*)::text AS n FROM scouting_data');
    return { seconds, rows: Number(rows[0]!.n), pool };
  } catch (err) {
    await pool.end();
    throw err;
  }
}

export async function benchApply(size = Number(process.env.BENCH_CHANGES ?? 100_000)): Promise<void> {
  console.log(`\n## Applying ${size.toLocaleString('en')} changes (60% insert / 30% update / 10% delete) on a ${size.toLocaleString('en')}-row baseline`);
  await dropBenchDatabases(PREFIX);
  const templateName = `${PREFIX}template`;
  const { table, runs, readPool } = await measureApply(templateName, size);
  printTable(['batch', 'ours (changes/s)', 'raw upsert (rows/s)', 'ours / raw', 'each run'], table);
  console.log(`medians of ${runs} runs, ours and raw taking turns to go first`);
  console.log('target: ours / raw ≥ 0.50 at batch 1,000');
  await measureReading(readPool);
  await dropBenchDatabases(PREFIX);
}

/** Ours and raw at each batch size; leaves open the database ours filled at batch 1,000, for reading. */
async function measureApply(templateName: string, size: number): Promise<{ table: string[][]; runs: number; readPool: Pool }> {
  const { baseline, changes } = makeWorkload(size);
  const templateUrl = await freshMigratedDatabase(templateName);
  const templatePool = createPool(templateUrl, 2);
  await loadBaseline(templatePool, baseline);
  await templatePool.end();
  const expectedRows = baseline.length + Math.round(size * 0.6) - (size - Math.round(size * 0.6) - Math.round(size * 0.3));

  // Each figure is the median of RUNS runs, ours and raw taking turns to go first, so that neither
  // always runs on the heels of the other.
  const runs = Number(process.env.BENCH_APPLY_RUNS ?? 5);
  const table: string[][] = [];
  let readPool: Pool | undefined;
  for (const batchSize of [100, 1000, 5000]) {
    const oursSeconds: number[] = [];
    const rawSeconds: number[] = [];
    for (let r = 0; r < runs; r++) {
      const order = r % 2 === 0 ? (['raw', 'ours'] as const) : (['ours', 'raw'] as const);
      for (const which of order) {
        const result = await run(templateName, `${which}_${batchSize}_${r}`, changes, batchSize, which === 'raw' ? rawApply : applyAsPeer);
        if (result.rows !== expectedRows) throw new Error(`row count mismatch: ${which} ${result.rows}, expected ${expectedRows}`);
        (which === 'raw' ? rawSeconds : oursSeconds).push(result.seconds);
        if (which === 'ours' && batchSize === 1000 && !readPool) readPool = result.pool;
        else {
          await result.pool.end();
          await dropBenchDatabases(`${PREFIX}${which}_${batchSize}_${r}`);
        }
      }
    }
    const ours = median(oursSeconds);
    const raw = median(rawSeconds);
    table.push([
      String(batchSize),
      formatRate(size / ours),
      formatRate(size / raw),
      (raw / ours).toFixed(2),
      oursSeconds.map((o, i) => (rawSeconds[i]! / o).toFixed(2)).join(' '),
    ]);
  }
  return { table, runs, readPool: readPool! };
}

/** Reading the log for sending, from the node that just applied the changes (the workload is gone by now). */
async function measureReading(readPool: Pool): Promise<void> {
  const readTable: string[][] = [];
  for (const page of [1000, 5000]) {
    const rates: number[] = [];
    let count = 0;
    for (let r = 0; r < 3; r++) {
      let cursor = '0';
      count = 0;
      const seconds = await timed(async () => {
        for (;;) {
          // What a batch-send does: the page as JSON text, ready to post.
          const result = await readChangesJson(readPool, { after: cursor, limit: page, excludeOrigin: 'some-peer' });
          count += result.count;
          cursor = result.nextCursor;
          if (!result.hasMore) break;
        }
      });
      rates.push(count / seconds);
    }
    readTable.push([String(page), String(count), formatRate(median(rates)), rates.map(formatRate).join(' ')]);
  }
  await readPool.end();
  console.log('\n## Reading the log for sending');
  printTable(['page', 'changes', 'changes/s', 'each run'], readTable);
  console.log('medians of 3 runs');
  console.log('target: ≥ 100,000 changes/s');
}

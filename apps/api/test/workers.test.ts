// Scaling out: two separate worker processes share one node's queues; every batch is applied once.
import { spawn, type ChildProcess } from 'node:child_process';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, describe, expect, it } from 'vitest';
import { call, tableRows, until, useTwoNodes, writeRows } from './two-nodes.ts';

const workerMain = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../worker/src/main.ts');
const pair = await useTwoNodes(
  'scale',
  { CATCHUP_SCHEDULER_ENABLED: 'false', CATCHUP_BATCH_SIZE: '100', SCAN_WAIT_SECONDS: '60', WORKER_CONCURRENCY: '2' },
  { RUN_WORKERS: 'false' },
);
const { a } = pair;

const workers: ChildProcess[] = [];
function startWorker(): ChildProcess {
  const child = spawn(process.execPath, [workerMain], { env: { ...process.env, ...pair.specA.env, LOG_LEVEL: 'warn' }, stdio: ['ignore', 'pipe', 'pipe'] });
  let output = '';
  child.stdout!.on('data', (d) => (output += d));
  child.stderr!.on('data', (d) => (output += d));
  child.on('exit', (code) => {
    if (code !== 0 && code !== null) console.error(`worker exited ${code}: ${output}`);
  });
  workers.push(child);
  return child;
}
afterAll(() => {
  for (const w of workers) if (w.exitCode === null) w.kill('SIGKILL');
});

describe('worker processes', () => {
  it('two worker processes share the queues; every batch is applied once', async () => {
    const [w1, w2] = [startWorker(), startWorker()];
    await until('both workers to register', async () => (await a.ctx.queues.queues.batchSend.getWorkers()).length >= 2, 30_000);
    await writeRows(a, 3000, 'scaled out');
    const res = await call(a, pair.specA.key)('/api/sync/catchup/scan', { method: 'POST', json: {} });
    expect(res.status).toBe(200);
    const scan = (await res.json()) as { results: { success: boolean; database_changes: { sent: number } }[] };
    expect(scan.results[0]).toMatchObject({ success: true, database_changes: { sent: 3000 } });
    expect(await tableRows(pair.b!)).toEqual(await tableRows(a));

    const jobs = await a.ctx.queues.queues.batchSend.getJobs(['completed']);
    expect(jobs).toHaveLength(30);
    expect(jobs.reduce((n, j) => n + (j.returnvalue as { sent: number }).sent, 0)).toBe(3000);
    expect(jobs.every((j) => j.attemptsMade === 1)).toBe(true);
    const processors = new Set(jobs.map((j) => j.processedBy?.replace(/.*:(\d+)$/, '$1')));
    expect(processors).toEqual(new Set([String(w1.pid), String(w2.pid)]));

    // B received each change exactly once: its log holds one entry per change, no duplicates were sent.
    const { rows } = await pair.b!.ctx.pool.query<{ n: string }>(`SELECT count(*)::text AS n FROM database_changes WHERE origin_node_id = $1`, [
      a.ctx.engine.nodeId,
    ]);
    expect(rows[0]!.n).toBe('3000');
  }, 90_000);

  it('a worker stops on SIGTERM after its running jobs, exiting 0', async () => {
    for (const w of workers) {
      w.kill('SIGTERM');
      const code = await new Promise<number | null>((r) => (w.exitCode !== null ? r(w.exitCode) : w.once('exit', r)));
      expect(code).toBe(0);
    }
  });
});

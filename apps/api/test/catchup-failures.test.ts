// A peer that disappears in the middle of a catch-up: retries with backoff, partial results, cursors.
import { describe, expect, it } from 'vitest';
import type { CatchupResult } from '@catchup/engine';
import { call, latestSequence, tableRows, until, useTwoNodes, writeRows } from './two-nodes.ts';

const pair = await useTwoNodes('fail', {
  CATCHUP_SCHEDULER_ENABLED: 'false',
  CATCHUP_BATCH_SIZE: '50',
  WORKER_CONCURRENCY: '1',
  SCAN_WAIT_SECONDS: '0',
});
const { a } = pair;
const apiA = call(a, pair.specA.key);

/** Starts a scan on A (answering 202 at once) and returns the catch-up job's status URL. */
async function startScan(): Promise<string> {
  const res = await apiA('/api/sync/catchup/scan', { method: 'POST', json: { server_ids: [pair.bServerIdOnA] } });
  expect(res.status).toBe(202);
  const body = (await res.json()) as { job_ids: string[]; status_url: string };
  expect(body.status_url).toMatch(/^\/api\/sync\/catchup\/jobs\?ids=/);
  // The 202 may come before detection has queued the catch-up: follow detection to its catch-up job.
  let url = body.status_url;
  await until('detection to queue the catch-up', async () => {
    const status = (await (await apiA(url)).json()) as { jobs: { id: string; state: string; result?: { peers: { catchup_job_id?: string }[] } }[] };
    const job = status.jobs[0]!;
    if (job.id.startsWith('catchup:')) return true;
    if (job.state !== 'completed') return false;
    const id = job.result!.peers[0]!.catchup_job_id;
    expect(id).toBeDefined();
    url = `/api/sync/catchup/jobs?ids=catchup:${id}`;
    return true;
  });
  return url;
}

async function finished(statusUrl: string): Promise<CatchupResult> {
  let result: CatchupResult | undefined;
  await until(
    'the catch-up to finish',
    async () => {
      const { jobs } = (await (await apiA(statusUrl)).json()) as { jobs: { state: string; result?: CatchupResult }[] };
      result = jobs[0]!.result;
      return jobs[0]!.state === 'completed';
    },
    90_000,
  );
  return result!;
}

const sentCursor = async () => (await a.ctx.db.syncServer.findUniqueOrThrow({ where: { id: pair.bServerIdOnA } })).sentCursor;

describe('a peer going away during a catch-up', () => {
  it('returning within the retry window: the catch-up completes and nothing is lost', async () => {
    await apiA('/api/sync/config', { method: 'PUT', json: { catchup_retry_attempts: 8, catchup_retry_delay_ms: 250 } });
    // 110 batches of 50: the catch-up's children are added in more than one slice.
    await writeRows(a, 5500, 'first wave');
    const statusUrl = await startScan();
    await until('some batches to be acknowledged', async () => (await sentCursor()) > 0n, 30_000, 10);
    await pair.stopB();
    expect(await sentCursor()).toBeLessThan(BigInt(await latestSequence(a)));
    await new Promise((r) => setTimeout(r, 1500));
    await pair.startB();
    const result = await finished(statusUrl);
    expect(result.success).toBe(true);
    expect(result.errors).toEqual([]);
    expect(result.database_changes.sent).toBe(5500);
    expect(await tableRows(pair.b!)).toEqual(await tableRows(a));
    expect((await sentCursor()).toString()).toBe(await latestSequence(a));
  }, 120_000);

  it('staying away: a partial result is logged, the cursor stops before the first failed batch, the next run finishes', async () => {
    await apiA('/api/sync/config', { method: 'PUT', json: { catchup_retry_attempts: 2, catchup_retry_delay_ms: 100 } });
    const before = await sentCursor();
    await writeRows(a, 4000, 'second wave');
    const statusUrl = await startScan();
    await until('some batches to be acknowledged', async () => (await sentCursor()) > before, 30_000, 10);
    await pair.stopB();
    const result = await finished(statusUrl);
    expect(result.success).toBe(false);
    expect(result.errors.length).toBeGreaterThan(0);
    expect(result.database_changes.sent).toBeGreaterThan(0);
    expect(result.database_changes.sent).toBeLessThan(4000);

    // The cursor sits exactly at the start of the lowest failed range.
    const sendErrors = result.errors.filter((e) => e.startsWith('batch-send'));
    const failedStarts = sendErrors.map((e) => BigInt(/^batch-send \((\d+), \d+\]/.exec(e)![1]!));
    expect(failedStarts.length).toBeGreaterThan(0);
    const firstFailed = failedStarts.reduce((m, s) => (s < m ? s : m));
    expect(await sentCursor()).toBe(firstFailed);

    const log = await a.ctx.db.syncLog.findFirstOrThrow({ where: { serverId: pair.bServerIdOnA }, orderBy: { id: 'desc' } });
    expect(log.status).toBe('partial');
    expect(log.errorMessage).toMatch(/batch-send \(\d+, \d+\]: .*unreachable/);

    // B comes back; the next catch-up resumes from the cursor and finishes.
    await pair.startB();
    const statusUrl2 = await startScan();
    const second = await finished(statusUrl2);
    expect(second.success).toBe(true);
    expect(result.database_changes.sent + second.database_changes.sent).toBeGreaterThanOrEqual(4000);
    expect(await tableRows(pair.b!)).toEqual(await tableRows(a));
    expect((await sentCursor()).toString()).toBe(await latestSequence(a));
  }, 180_000);
});

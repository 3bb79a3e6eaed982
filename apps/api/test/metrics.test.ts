import { describe, expect, it } from 'vitest';
import { call, until, useTwoNodes, writeRows } from './two-nodes.ts';

const pair = await useTwoNodes('metrics', { CATCHUP_SCHEDULER_ENABLED: 'false', SCAN_WAIT_SECONDS: '60', CATCHUP_BATCH_SIZE: '100' });
const { a } = pair;

const scrape = async () => {
  const res = await fetch(`${a.url}/metrics`);
  expect(res.status).toBe(200);
  expect(res.headers.get('content-type')).toMatch(/^text\/plain/);
  return res.text();
};
const value = (text: string, series: string) => {
  const line = text.split('\n').find((l) => l.startsWith(`${series} `));
  return line === undefined ? undefined : Number(line.split(' ')[1]);
};

describe('/metrics', () => {
  it('reports missing changes per peer and queue depths before a catch-up', async () => {
    await writeRows(a, 250, 'for metrics');
    const text = await scrape();
    expect(value(text, `catchup_missing_changes{peer="${pair.specB.name}"}`)).toBe(250);
    expect(text).toMatch(/^catchup_queue_jobs\{queue="batch-send",state="waiting"\} 0$/m);
    // Batches carry a priority: while queued they are prioritized, not waiting, and count as backlog too.
    expect(text).toMatch(/^catchup_queue_jobs\{queue="batch-send",state="prioritized"\} 0$/m);
    expect(text).toMatch(/^catchup_process_resident_memory_bytes \d+/m);
  });

  it('counts catch-ups by outcome, changes moved and durations after one', async () => {
    const res = await call(a, pair.specA.key)('/api/sync/catchup/scan', { method: 'POST', json: {} });
    expect(res.status).toBe(200);
    const text = await scrape();
    expect(value(text, 'catchup_runs_total{outcome="completed"}')).toBe(1);
    expect(value(text, 'catchup_changes_total{kind="sent"}')).toBe(250);
    expect(value(text, 'catchup_duration_seconds_count')).toBe(1);
    expect(value(text, 'catchup_file_bytes_total')).toBe(0);
    expect(value(text, 'catchup_duration_seconds_bucket{le="+Inf"}')).toBe(1);
    expect(value(text, `catchup_missing_changes{peer="${pair.specB.name}"}`)).toBe(0);
    expect(value(text, 'catchup_queue_jobs{queue="batch-send",state="completed"}')).toBe(3);
    // A second scrape does not count the same run twice.
    expect(value(await scrape(), 'catchup_runs_total{outcome="completed"}')).toBe(1);
  });

  it("reports each peer's standing: reachable, no failures in a row, when it last synced, nothing at risk", async () => {
    const text = await scrape();
    const b = `{peer="${pair.specB.name}"}`;
    expect(value(text, `catchup_peer_reachable${b}`)).toBe(1);
    expect(value(text, `catchup_peer_consecutive_failures${b}`)).toBe(0);
    expect(value(text, `catchup_peer_ping_failures_total${b}`)).toBe(0);
    const row = await a.ctx.db.syncServer.findUniqueOrThrow({ where: { id: pair.bServerIdOnA } });
    expect(value(text, `catchup_peer_last_sync_timestamp_seconds${b}`)).toBe(row.lastSync!.getTime() / 1000);
    expect(value(text, `catchup_peer_needs_full_baseline${b}`)).toBe(0);
    // It lacks nothing: no days are counted down.
    expect(value(text, `catchup_peer_days_until_full_baseline${b}`)).toBeUndefined();
  });

  it('counts failed catch-ups in a row with a peer that went away, and its unanswered pings', async () => {
    const b = `{peer="${pair.specB.name}"}`;
    await pair.stopB();
    await writeRows(a, 3, 'while b is away');
    // Detection pings it: unreachable, so no run is started.
    const scan = await call(a, pair.specA.key)('/api/sync/catchup/scan', { method: 'POST', json: {} });
    expect(scan.status).toBe(200);
    let text = await scrape();
    expect(value(text, `catchup_peer_reachable${b}`)).toBe(0);
    expect(value(text, `catchup_peer_ping_failures_total${b}`)).toBe(1);
    expect(value(text, `catchup_peer_consecutive_failures${b}`)).toBe(0);
    // Runs queued before it went away fail at their own ping: two in a row.
    await failedRun();
    await failedRun();
    text = await scrape();
    expect(value(text, `catchup_peer_consecutive_failures${b}`)).toBe(2);
    expect(value(text, 'catchup_runs_total{outcome="failed"}')).toBe(2);
    expect(value(text, `catchup_peer_ping_failures_total${b}`)).toBe(3);
    // Back, and caught up: the count starts again.
    await pair.startB();
    const res = await call(a, pair.specA.key)('/api/sync/catchup/scan', { method: 'POST', json: {} });
    expect(res.status).toBe(200);
    text = await scrape();
    expect(value(text, `catchup_peer_consecutive_failures${b}`)).toBe(0);
    expect(value(text, `catchup_peer_reachable${b}`)).toBe(1);
    expect(value(text, `catchup_peer_ping_failures_total${b}`)).toBe(3);
  }, 90_000);

  it('counts down the days until a peer needs a full baseline, and says when it does', async () => {
    const b = `{peer="${pair.specB.name}"}`;
    await pair.stopB();
    // Four rows written and then edited while B is away: eight changes it lacks, the inserts superseded.
    await writeRows(a, 4, 'aging');
    await a.ctx.pool.query(`UPDATE scouting_data SET scouter = 'aged' WHERE scouter = 'aging'`);
    // The oldest of them was logged 25 days ago; max_catchup_days is 30.
    const { sentCursor } = await a.ctx.db.syncServer.findUniqueOrThrow({ where: { id: pair.bServerIdOnA } });
    await a.ctx.pool.query(`UPDATE database_changes SET "timestamp" = now() - interval '25 days' WHERE sequence > $1`, [sentCursor]);
    let text = await scrape();
    expect(value(text, `catchup_missing_changes${b}`)).toBe(8);
    const days = value(text, `catchup_peer_days_until_full_baseline${b}`)!;
    expect(days).toBeGreaterThanOrEqual(4.9);
    expect(days).toBeLessThanOrEqual(5);
    expect(value(text, `catchup_peer_needs_full_baseline${b}`)).toBe(0);
    // 40 days old and pruned (the superseded inserts go): B's cursor is below the pruned horizon.
    await a.ctx.pool.query(`UPDATE database_changes SET "timestamp" = now() - interval '40 days'`);
    const prune = await call(a, pair.specA.key)('/api/sync/maintenance/prune', { method: 'POST' });
    expect(prune.status).toBe(200);
    text = await scrape();
    expect(value(text, `catchup_peer_needs_full_baseline${b}`)).toBe(1);
    expect(value(text, `catchup_peer_days_until_full_baseline${b}`)).toBe(0);
  }, 60_000);
});

/** A catch-up job for B, run to its end (B is away: it fails at its ping). */
async function failedRun(): Promise<void> {
  const job = await a.ctx.queues.add('catchup', { serverId: pair.bServerIdOnA, trigger: 'scan' }, { attempts: 1, delayMs: 0 }, { serverId: pair.bServerIdOnA });
  await until('the catch-up job to finish', async () => {
    const status = await a.ctx.queues.jobStatus('catchup', job.id!);
    return status?.state === 'completed' || status?.state === 'failed';
  });
  expect(await a.ctx.queues.jobStatus('catchup', job.id!)).toMatchObject({ state: 'completed', result: { success: false } });
}

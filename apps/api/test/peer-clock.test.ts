// The clock bound between peers (SPEC I13): a peer whose clock is an hour ahead is not caught up with, and
// the node says why; once the bound is raised above its offset, the catch-up runs.
import { describe, expect, it } from 'vitest';
import type { CatchupResult } from '@catchup/engine';
import { call, tableRows, useTwoNodes, writeRows } from './two-nodes.ts';

const HOUR = 3_600_000;
const pair = await useTwoNodes('clock', { CATCHUP_SCHEDULER_ENABLED: 'false', SCAN_WAIT_SECONDS: '60' });
const { a } = pair;
const apiA = call(a, pair.specA.key);
const bServerId = pair.bServerIdOnA;

// B's clock runs an hour ahead: its database shifts the wall clock its hybrid logical clock reads. A
// session takes a database's settings when it connects, so B starts again with fresh connections.
await pair.stopB();
await a.ctx.pool.query(`ALTER DATABASE "${new URL(pair.specB.url).pathname.slice(1)}" SET catchup.clock_offset_ms = '${HOUR}'`);
const b = await pair.startB();
const apiB = call(b, pair.specB.key);

async function scan(): Promise<CatchupResult> {
  const res = await apiA('/api/sync/catchup/scan', { method: 'POST', json: { server_ids: [bServerId] } });
  expect(res.status).toBe(200);
  const body = (await res.json()) as { results: CatchupResult[] };
  expect(body.results).toHaveLength(1);
  return body.results[0]!;
}

const refusalLogs = () => a.ctx.db.syncLog.findMany({ where: { serverId: bServerId, operation: 'catch-up sync', status: 'failed' }, orderBy: { id: 'asc' } });

const REFUSAL = /^clock offset \+(\d+) ms exceeds catchup_max_clock_skew_seconds \(300 s\); fix the clock of clock-b or raise the setting$/;

describe('a peer whose clock is an hour ahead', () => {
  it("answers ping with its own clock's time", async () => {
    const ping = (await (await apiB('/api/sync/ping')).json()) as { server_time: string };
    expect(Math.abs(Date.parse(ping.server_time) - (Date.now() + HOUR))).toBeLessThan(5_000);
  });

  it('is not caught up with: the scan says why, no rows move, its offset is shown and logged', async () => {
    await writeRows(a, 5, 'from a');
    await writeRows(b, 7, 'from b');

    const result = await scan();
    expect(result.success).toBe(false);
    expect(result.errors).toHaveLength(1);
    const offset = Number(REFUSAL.exec(result.errors[0]!)?.[1]);
    expect(Math.abs(offset - HOUR)).toBeLessThan(5_000);
    expect(result.database_changes).toMatchObject({ sent: 0, received: 0, applied: 0 });
    expect(await tableRows(a)).toHaveLength(5);
    expect(await tableRows(b)).toHaveLength(7);

    // It answered: reachable, but refused, and the row says why.
    const row = await a.ctx.db.syncServer.findUniqueOrThrow({ where: { id: bServerId } });
    expect(row.pingSuccess).toBe(true);
    expect(row.lastError).toBe(result.errors[0]);
    expect(Math.abs(Number(row.clockOffsetMs) - HOUR)).toBeLessThan(5_000);

    const status = (await (await apiA('/api/sync/catchup/status')).json()) as {
      servers_needing_catchup: { id: number; ping_success: boolean; clock_offset_ms: number | null; missing_changes: number }[];
      recent_catchup_logs: { server_id: number; status: string; error_message: string | null }[];
    };
    const peer = status.servers_needing_catchup.find((s) => s.id === bServerId)!;
    expect(peer).toMatchObject({ ping_success: true, missing_changes: 5 });
    expect(Math.abs(peer.clock_offset_ms! - HOUR)).toBeLessThan(5_000);
    expect(status.recent_catchup_logs[0]).toMatchObject({ server_id: bServerId, status: 'failed', error_message: result.errors[0] });

    const { servers } = (await (await apiA('/api/sync/servers')).json()) as { servers: { id: number; clock_offset_ms: number | null }[] };
    expect(servers.find((s) => s.id === bServerId)!.clock_offset_ms).toBe(Number(row.clockOffsetMs));

    // One row per detection run: another scan adds exactly one more.
    expect(await refusalLogs()).toHaveLength(1);
    await scan();
    expect(await refusalLogs()).toHaveLength(2);
  }, 90_000);

  it("is refused by a catch-up job's own ping too", async () => {
    const before = (await refusalLogs()).length;
    const job = await a.ctx.queues.add('catchup', { serverId: bServerId, trigger: 'scan' }, { attempts: 1, delayMs: 0 }, { serverId: bServerId });
    let status = await a.ctx.queues.jobStatus('catchup', job.id!);
    for (let i = 0; i < 300 && status?.state !== 'completed' && status?.state !== 'failed'; i++) {
      await new Promise((r) => setTimeout(r, 100));
      status = await a.ctx.queues.jobStatus('catchup', job.id!);
    }
    expect(status?.state).toBe('completed');
    const result = (status as { result: CatchupResult }).result;
    expect(result.success).toBe(false);
    expect(result.errors).toHaveLength(1);
    expect(result.errors[0]).toMatch(REFUSAL);
    const logs = await refusalLogs();
    expect(logs).toHaveLength(before + 1);
    expect(logs.at(-1)!.errorMessage).toBe(result.errors[0]);
    expect(await tableRows(a)).toHaveLength(5);
  }, 60_000);

  it('is caught up with once the bound is raised above its offset', async () => {
    const res = await apiA('/api/sync/config', { method: 'PUT', json: { catchup_max_clock_skew_seconds: 7200 } });
    expect(res.status).toBe(200);
    const result = await scan();
    expect(result.errors).toEqual([]);
    expect(result.success).toBe(true);
    expect(result.database_changes).toMatchObject({ sent: 5, received: 7, applied: 7 });
    expect(await tableRows(a)).toHaveLength(12);
    expect(await tableRows(b)).toEqual(await tableRows(a));
    const row = await a.ctx.db.syncServer.findUniqueOrThrow({ where: { id: bServerId } });
    expect(row.lastError).toBeNull();
  }, 90_000);
});

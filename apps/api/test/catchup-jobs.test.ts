// Catch-up on BullMQ between two real nodes: scheduled detection, flows, cursors, sync_logs.
import { describe, expect, it, onTestFinished } from 'vitest';
import { createPool } from '@catchup/db';
import { call, latestSequence, tableRows, until, useTwoNodes, writeRows } from './two-nodes.ts';

const pair = await useTwoNodes('jobs', {
  CATCHUP_CHECK_INTERVAL: '1',
  CATCHUP_BATCH_SIZE: '250',
  CATCHUP_RETRY_ATTEMPTS: '4',
  CATCHUP_RETRY_DELAY_MS: '200',
  SCAN_WAIT_SECONDS: '60',
});
const { a } = pair;
const apiA = call(a, pair.specA.key);

const catchupLogs = (serverId: number) => a.ctx.db.syncLog.findMany({ where: { serverId, operation: 'catch-up sync' }, orderBy: { id: 'asc' } });

describe('catch-up through BullMQ', () => {
  it('scheduled detection catches up a peer that was offline, in both directions', async () => {
    await pair.stopB();
    await writeRows(a, 5000, 'written on A while B was away');
    await until('A to notice B is down', async () => (await a.ctx.db.syncServer.findUniqueOrThrow({ where: { id: pair.bServerIdOnA } })).pingSuccess === false);

    // B wrote too while apart (its database was there, its server was not).
    const offline = createPool(pair.specB.url, 1);
    await offline.query(`INSERT INTO teams (team_number, name, scouting_team_number) VALUES (1678, 'written on B while away', 1678)`);
    await offline.end();

    const b = await pair.startB();
    const bServerIdOnB = (await b.ctx.db.syncServer.findFirstOrThrow()).id;
    await until('both nodes to hold the same rows and both cursors at the end', async () => {
      const [aRows, bRows, aTeams, bTeams] = await Promise.all([tableRows(a), tableRows(b), tableRows(a, 'teams'), tableRows(b, 'teams')]);
      if (aRows.length !== 5000 || JSON.stringify(aRows) !== JSON.stringify(bRows)) return false;
      if (aTeams.length !== 1 || JSON.stringify(aTeams) !== JSON.stringify(bTeams)) return false;
      const onA = await a.ctx.db.syncServer.findUniqueOrThrow({ where: { id: pair.bServerIdOnA } });
      const onB = await b.ctx.db.syncServer.findUniqueOrThrow({ where: { id: bServerIdOnB } });
      return onA.sentCursor.toString() === (await latestSequence(a)) && onB.sentCursor.toString() === (await latestSequence(b));
    });
    // Cursors move as each batch is acknowledged; the run's sync_logs row is written when the catch-up
    // job finalizes, after its last child: wait for it too. B's own scheduled run may have read some or all
    // of the rows from A first: A's run then leaves those out as held by B (held checks), and counts them.
    const planned = (l: { result: unknown }) => {
      const moved = (l.result as { database_changes: { sent: number; held_by_peer?: number } } | null)?.database_changes;
      return moved ? moved.sent + (moved.held_by_peer ?? 0) : 0;
    };
    const sendingRuns = async () => (await catchupLogs(pair.bServerIdOnA)).filter((l) => planned(l) > 0);
    await until('the run that sent the rows to be recorded', async () => (await sendingRuns()).length > 0);

    const sending = await sendingRuns();
    expect(sending).toHaveLength(1);
    expect(sending[0]).toMatchObject({ status: 'completed', errorMessage: null });
    expect(sending[0]!.result).toMatchObject({ success: true });
    expect(planned(sending[0]!)).toBe(5000);
    expect(sending[0]!.details).toMatch(/^Applied \d+ database changes, 0 files synced/);
    const onA = await a.ctx.db.syncServer.findUniqueOrThrow({ where: { id: pair.bServerIdOnA } });
    expect(onA.lastSync).toBeInstanceOf(Date);
    expect(onA.pingSuccess).toBe(true);
  }, 120_000);

  it('two scans at once run one catch-up for the peer', async () => {
    // Scheduled detection off and settled first: a scheduled catch-up of the new rows would leave the
    // scans nothing to do.
    await apiA('/api/sync/config', { method: 'PUT', json: { catchup_scheduler_enabled: false } });
    onTestFinished(async () => {
      await apiA('/api/sync/config', { method: 'PUT', json: { catchup_scheduler_enabled: true } });
    });
    await until('no detection or catch-up to be in flight', async () => {
      const counts = await Promise.all(
        [a.ctx.queues.queues.detect, a.ctx.queues.queues.catchup].map((q) => q.getJobCounts('active', 'waiting', 'delayed', 'waiting-children')),
      );
      return counts.every((c) => Object.values(c).every((n) => n === 0));
    });
    await writeRows(a, 600, 'for the double scan');
    const before = (await catchupLogs(pair.bServerIdOnA)).length;
    const scan = () => apiA('/api/sync/catchup/scan', { method: 'POST', json: { server_ids: [pair.bServerIdOnA] } });
    const [r1, r2] = await Promise.all([scan(), scan()]);
    expect([r1.status, r2.status]).toEqual([200, 200]);
    const [s1, s2] = (await Promise.all([r1.json(), r2.json()])) as { results: { started_at: string; database_changes: { sent: number } }[] }[];
    const logs = (await catchupLogs(pair.bServerIdOnA)).slice(before);
    expect(logs).toHaveLength(1);
    expect(logs[0]!.result).toMatchObject({ database_changes: { sent: 600 } });
    // Both answers report that same run.
    expect(s1!.results[0]!.started_at).toBe(s2!.results[0]!.started_at);
    expect(s1!.results[0]!.database_changes.sent).toBe(600);
    expect(await tableRows(pair.b!)).toEqual(await tableRows(a));
  }, 60_000);

  it('changing catchup_check_interval through the API reschedules detection; disabling removes it', async () => {
    expect(await a.ctx.queues.detectionSchedule()).toEqual({ every: 1000 });
    expect((await apiA('/api/sync/config', { method: 'PUT', json: { catchup_check_interval: 7 } })).status).toBe(200);
    expect(await a.ctx.queues.detectionSchedule()).toEqual({ every: 7000 });
    await apiA('/api/sync/config', { method: 'PUT', json: { catchup_enabled: false } });
    expect(await a.ctx.queues.detectionSchedule()).toBeNull();
    await apiA('/api/sync/config', { method: 'PUT', json: { catchup_enabled: true, catchup_check_interval: 1 } });
    expect(await a.ctx.queues.detectionSchedule()).toEqual({ every: 1000 });
  });
});

// Integrity alerts (SPEC I12) as an operator meets them: a refused identity conflict and a forged change
// under a peer's identity each leave a sync_logs row, listed by GET /api/sync/logs and counted by /metrics.
import { describe, expect, it } from 'vitest';
import { teamChange } from '@catchup/testing';
import { registerPeer, useApiNodes } from './nodes.ts';

const [a, b] = await useApiNodes(2, 'alerts');

interface LogRow {
  server_id: number | null;
  operation: string;
  status: string;
  details: string | null;
  error_message: string | null;
}

async function alertsOn(node: typeof a): Promise<LogRow[]> {
  const res = await node!.call('/api/sync/logs?operation=integrity%20alert&page_size=100');
  expect(res.status).toBe(200);
  return ((await res.json()) as { logs: LogRow[] }).logs;
}

async function alertCounter(node: typeof a): Promise<number> {
  const text = await (await fetch(`${node!.url}/metrics`)).text();
  const line = text.split('\n').find((l) => l.startsWith('catchup_integrity_alerts_total'));
  return Number(line?.split(' ')[1] ?? NaN);
}

describe('integrity alerts', () => {
  it('a batch reusing an identity for other content is refused with 409, changes nothing, and is raised', async () => {
    const original = teamChange('alerts-origin', '303', 'original');
    expect((await a!.call('/api/sync/changes', { method: 'POST', json: { changes: [original] } })).status).toBe(200);
    expect(await alertCounter(a)).toBe(0);

    const reused = teamChange('alerts-origin', '303', 'another row, same identity');
    const res = await a!.call('/api/sync/changes', { method: 'POST', json: { changes: [reused] } });
    expect(res.status).toBe(409);
    expect(((await res.json()) as { message: string }).message).toMatch(
      /^change #0 \(alerts-origin\/303\): identity conflict: alerts-origin\/303 is already logged as insert of teams/,
    );
    const { rows } = await a!.ctx.pool.query('SELECT 1 FROM teams WHERE id = $1', [reused.record_id]);
    expect(rows).toHaveLength(0);

    const alerts = await alertsOn(a);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]).toMatchObject({ server_id: null, status: 'failed', error_message: expect.stringMatching(/identity conflict: alerts-origin\/303/) });
    expect(alerts[0]!.details).toMatch(/^Refused a batch \(batch posted from 127\.0\.0\.1\): alerts-origin\/303/);
    expect(await alertCounter(a)).toBe(1);
  });

  it("detection raises changes forged under a peer's identity, once until they change", async () => {
    const bOnA = await registerPeer(a!, b!);
    await registerPeer(b!, a!);
    await b!.ctx.pool.query(`INSERT INTO teams (team_number, name, scouting_team_number) VALUES (1, 'made on B', 1)`);
    // A third party with A's key claims a change of B's at a sequence B never reached.
    const forged = teamChange(b!.ctx.engine.nodeId, '1000000', 'forged as B');
    expect((await a!.call('/api/sync/changes', { method: 'POST', json: { changes: [forged] } })).status).toBe(200);

    for (let scan = 0; scan < 2; scan++) {
      const res = await a!.call('/api/sync/catchup/scan', { method: 'POST', json: { server_ids: [bOnA] } });
      expect(res.status).toBe(200);
    }
    const alerts = (await alertsOn(a)).filter((l) => l.server_id === bOnA);
    expect(alerts).toHaveLength(1);
    expect(alerts[0]!.error_message).toBe(
      `1 change(s) in this log, from ${b!.ctx.engine.nodeId}/1000000 on, claim to come from alerts-b, which never reached that position: a peer forged them, or alerts-b's database was restored from an older backup`,
    );
    expect(alerts[0]!.details).toMatch(/^Changes claiming alerts-b as their origin past its latest position \(\d+ when found\)$/);
    expect(await alertCounter(a)).toBe(2);
  });
});

// The conflict inbox on the sync dashboard (issue #20 item 3): a concurrent edit that lost is listed with
// both versions, and the operator's button writes the lost version again — guarded like the scan buttons
// (same origin, CSRF token) — after which the conflict is gone from the page.
import { describe, expect, it } from 'vitest';
import type { CatchupResult } from '@catchup/engine';
import { type TestApiNode, registerPeer, useApiNodes } from './nodes.ts';

const ADMIN = { user: 'operator', password: 'dash-password-123' };
const [a, b] = (await useApiNodes(2, 'dash-inbox', { ADMIN_USER: ADMIN.user, ADMIN_PASSWORD: ADMIN.password })) as [TestApiNode, TestApiNode];
const authorization = `Basic ${Buffer.from(`${ADMIN.user}:${ADMIN.password}`).toString('base64')}`;
const conflictsPage = async () => (await fetch(`${a.url}/admin/sync/conflicts`, { headers: { authorization } })).text();
const settle = (form: Record<string, string>, origin = a.url) =>
  fetch(`${a.url}/admin/sync/conflicts/resolve`, {
    method: 'POST',
    redirect: 'manual',
    headers: { authorization, 'content-type': 'application/x-www-form-urlencoded', origin, 'sec-fetch-site': origin === a.url ? 'same-origin' : 'cross-site' },
    body: new URLSearchParams(form).toString(),
  });

describe('conflicts on the dashboard', () => {
  it('lists a lost edit with both versions and settles it with the lost version, refusing a foreign or tokenless post', async () => {
    const serverId = await registerPeer(a, b);
    const scan = async () => {
      const res = await a.call('/api/sync/catchup/scan', { method: 'POST', json: { server_ids: [serverId] } });
      expect(((await res.json()) as { results: CatchupResult[] }).results[0]!.errors).toEqual([]);
    };
    const { rows } = await a.ctx.pool.query<{ id: string }>(
      `INSERT INTO scouting_data (team_number, match_number, scouting_team_number, scouter) VALUES (1, 1, 254, 'start') RETURNING id::text`,
    );
    const id = rows[0]!.id;
    await scan();
    await a.ctx.pool.query(`UPDATE scouting_data SET scouter = 'climb <first>' WHERE id = $1`, [id]);
    await b.ctx.pool.query(`UPDATE scouting_data SET scouter = 'defend' WHERE id = $1`, [id]);
    await scan();

    const html = await conflictsPage();
    expect(html).toContain('scouter: climb &lt;first&gt;');
    expect(html).toContain('scouter: defend');
    const loser = /name="loser" value="([^"]+)"/.exec(html)![1]!;
    const csrf = /name="csrf" value="([^"]+)"/.exec(html)![1]!;
    expect((await settle({ kind: 'row', loser, keep: 'loser' })).status).toBe(403); // no token
    expect((await settle({ kind: 'row', loser, keep: 'loser', csrf }, 'http://evil.example')).status).toBe(403);
    expect((await settle({ kind: 'row', loser, keep: 'sideways', csrf })).status).toBe(400);
    const done = await settle({ kind: 'row', loser, keep: 'loser', csrf });
    expect(done.status).toBe(303);
    expect(done.headers.get('location')).toBe('/admin/sync/conflicts?settled=loser');
    expect(await conflictsPage()).toContain('No row conflict.');
    await scan();
    const scouter = async (node: TestApiNode) => (await node.ctx.pool.query('SELECT scouter FROM scouting_data WHERE id = $1', [id])).rows[0].scouter;
    expect(await scouter(a)).toBe('climb <first>');
    expect(await scouter(b)).toBe('climb <first>');
    expect((await settle({ kind: 'row', loser, keep: 'winner', csrf })).status).toBe(404);
  });
});

// Team isolation (issue #18 item 3) between real nodes over HTTP, paired with per-peer credentials:
// a scoped peer gets only its teams' rows, a row leaving its scope reaches it as a delete and one entering
// as an insert, counts stay exact, what it may not write is refused, and a relay through a third node
// never leaks a row to a peer outside its scope.
import { describe, expect, it } from 'vitest';
import { type TestApiNode, useApiNodes } from './nodes.ts';

// hub: the alliance's main server (every team). partner: team 254's server, scoped to 254 on hub.
// relay: another full server paired with hub; leaf: a team 254 laptop that only reaches relay.
const [hub, partner, relay, leaf] = (await useApiNodes(4, 'teams')) as [TestApiNode, TestApiNode, TestApiNode, TestApiNode];

const OURS = 254;
const THEIRS = 1678;

const portOf = (node: TestApiNode) => Number(new URL(node.url).port);

async function expectJson<T>(res: Promise<Response>, status: number): Promise<T> {
  const answered = await res;
  const text = await answered.text();
  expect(answered.status, text).toBe(status);
  return JSON.parse(text) as T;
}

/**
 * Pairs two nodes with credentials each issues the other, and scopes each side's view of the other:
 * `teams` on `x` for `y` (what y may see and write), and on `y` for `x` likewise.
 */
async function pair(x: TestApiNode, y: TestApiNode, teams: { yOnX: number[] | null; xOnY: number[] | null }): Promise<{ yOnX: number; xOnY: number }> {
  const added = await expectJson<{ id: number; credential: { token: string } }>(
    x.call('/api/sync/servers', { method: 'POST', json: { name: y.name, host: '127.0.0.1', port: portOf(y), issue_credential: true, team_scope: teams.yOnX } }),
    201,
  );
  const back = await expectJson<{ id: number; credential: { token: string } }>(
    y.call('/api/sync/servers', {
      method: 'POST',
      json: { name: x.name, host: '127.0.0.1', port: portOf(x), api_key: added.credential.token, issue_credential: true, team_scope: teams.xOnY },
    }),
    201,
  );
  await expectJson(x.call(`/api/sync/servers/${added.id}`, { method: 'PUT', json: { api_key: back.credential.token } }), 200);
  return { yOnX: added.id, xOnY: back.id };
}

interface ScanBody {
  results: { success: boolean; errors: string[]; database_changes: { sent: number; received: number; applied: number } }[];
}

async function scan(from: TestApiNode, serverId: number) {
  const body = await expectJson<ScanBody>(from.call('/api/sync/catchup/scan', { method: 'POST', json: { server_ids: [serverId] } }), 200);
  expect(body.results).toHaveLength(1);
  return body.results[0]!;
}

async function scanOk(from: TestApiNode, serverId: number) {
  const result = await scan(from, serverId);
  expect(result.errors).toEqual([]);
  expect(result.success).toBe(true);
  return result;
}

async function missingFor(from: TestApiNode, serverId: number): Promise<number> {
  const status = await expectJson<{ servers_needing_catchup: { id: number; missing_changes: number }[] }>(from.call('/api/sync/catchup/status'), 200);
  return status.servers_needing_catchup.find((s) => s.id === serverId)?.missing_changes ?? 0;
}

const rowsOf = async (node: TestApiNode) =>
  (
    await node.ctx.pool.query<{ id: string; scouter: string; team: number }>(
      'SELECT id::text, scouter, scouting_team_number AS team FROM scouting_data ORDER BY scouter',
    )
  ).rows;

/** Everything a node's log holds, images included, as text: what a leak would show up in. */
const logText = async (node: TestApiNode) => JSON.stringify((await node.ctx.pool.query('SELECT change_data, old_data FROM database_changes')).rows);

async function insert(node: TestApiNode, scouter: string, team: number): Promise<string> {
  const { rows } = await node.ctx.pool.query<{ id: string }>(
    `INSERT INTO scouting_data (team_number, match_number, scouting_team_number, scouter, data)
     VALUES (1, 1, $2, $1, jsonb_build_object('secret', $1 || ' notes')) RETURNING id::text`,
    [scouter, team],
  );
  return rows[0]!.id;
}

describe('team isolation between real nodes', () => {
  let ids: { yOnX: number; xOnY: number };
  let ourRow = '';
  let theirRow = '';

  it('sends a scoped peer only its teams’ rows, with the count detection promised', async () => {
    ids = await pair(hub, partner, { yOnX: [OURS], xOnY: [OURS] });
    ourRow = await insert(hub, 'ours', OURS);
    theirRow = await insert(hub, 'theirs', THEIRS);
    await insert(hub, 'theirs too', THEIRS);
    const missing = await missingFor(hub, ids.yOnX);
    expect(missing).toBe(1);
    const result = await scanOk(hub, ids.yOnX);
    expect(result.database_changes.sent).toBe(missing);
    expect(await rowsOf(partner)).toEqual([{ id: ourRow, scouter: 'ours', team: OURS }]);
    expect(await logText(partner)).not.toContain('theirs');
    expect(await missingFor(hub, ids.yOnX)).toBe(0);
  });

  it('answers the peer’s own reads of the log through its scope, and lets its position move over what it may not see', async () => {
    // partner pulls from hub (hub reads its log with partner's credential): nothing of team 1678 comes.
    await insert(hub, 'theirs again', THEIRS);
    const result = await scanOk(partner, ids.xOnY);
    expect(result.database_changes.applied).toBe(0); // the one row in scope came already
    expect(await logText(partner)).not.toContain('theirs');
  });

  it('answers a scoped peer’s held checks within its scope: of other teams’ rows it tells nothing', async () => {
    const partnerKey = (await partner.ctx.db.syncServer.findUniqueOrThrow({ where: { id: ids.xOnY } })).apiKey!;
    const asPartner = (path: string, body?: unknown) =>
      fetch(`${hub.url}/api/sync${path}`, {
        method: body === undefined ? 'GET' : 'POST',
        headers: { 'x-api-key': partnerKey, 'content-type': 'application/json' },
        ...(body === undefined ? {} : { body: JSON.stringify(body) }),
      });
    const { rows: inserts } = await hub.ctx.pool.query<{ origin: string; sequence: string; hlc: string; scouter: string }>(
      `SELECT origin_node_id AS origin, origin_sequence::text AS sequence, hlc::text AS hlc, change_data->>'scouter' AS scouter
         FROM database_changes WHERE table_name = 'scouting_data' AND operation = 'insert'`,
    );
    const ours = inserts.find((i) => i.scouter === 'ours')!;
    const theirs = inserts.find((i) => i.scouter === 'theirs too')!;
    // hub holds both; the other team's insert is answered as one it lacks, as if it had never seen it.
    const held = await expectJson<{ lacked: unknown[]; held: number }>(
      asPartner('/changes/held', { from: 'partner', origins: [ours, theirs].map((i) => ({ node_id: i.origin, sequences: [i.sequence], hlcs: [i.hlc] })) }),
      200,
    );
    expect(held).toMatchObject({ held: 1, lacked: [{ node_id: theirs.origin, sequences: [theirs.sequence] }] });
    // A page's identities are the scoped page's, and selecting the other team's insert reads nothing.
    const page = await expectJson<{ origins: { node_id: string; sequences: string[] }[] }>(asPartner('/changes/identities?after=0'), 200);
    const listed = page.origins.flatMap((g) => g.sequences.map((s) => `${g.node_id}/${s}`));
    expect(listed).toContain(`${ours.origin}/${ours.sequence}`);
    expect(listed).not.toContain(`${theirs.origin}/${theirs.sequence}`);
    const chosen = await expectJson<{ changes: unknown[] }>(
      asPartner('/changes/select', { after: '0', up_to: '1000000', origins: [{ node_id: theirs.origin, sequences: [theirs.sequence] }] }),
      200,
    );
    expect(chosen.changes).toEqual([]);
  });

  it('deletes a row that leaves the scope and inserts one that enters it', async () => {
    await hub.ctx.pool.query(`UPDATE scouting_data SET scouting_team_number = $2, scouter = 'ours, given away' WHERE id = $1`, [ourRow, THEIRS]);
    await hub.ctx.pool.query(`UPDATE scouting_data SET scouting_team_number = $2, scouter = 'theirs, given to us' WHERE id = $1`, [theirRow, OURS]);
    expect(await missingFor(hub, ids.yOnX)).toBe(2);
    await scanOk(hub, ids.yOnX);
    expect(await rowsOf(partner)).toEqual([{ id: theirRow, scouter: 'theirs, given to us', team: OURS }]);
    // What the row held while it was another team's never arrives (its old image is withheld).
    expect(await logText(partner)).not.toContain('"scouter": "theirs"');
    expect(await logText(partner)).not.toContain('given away');
  });

  it('refuses what the peer may not write, names the team, and applies nothing of it', async () => {
    // A batch partner posts with its own credential: a team 1678 row, and an overwrite of hub's 1678 row.
    const partnerKey = (await partner.ctx.db.syncServer.findUniqueOrThrow({ where: { id: ids.xOnY } })).apiKey!;
    const foreign = await insert(partner, 'forged', THEIRS);
    const batch = (await partner.ctx.pool.query(`SELECT * FROM database_changes WHERE record_id = $1`, [foreign])).rows;
    const before = await hub.ctx.pool.query('SELECT count(*)::int AS n FROM database_changes');
    const posted = await fetch(`${hub.url}/api/sync/changes`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', 'x-api-key': partnerKey },
      body: JSON.stringify({
        changes: batch.map((c) => ({
          table_name: c.table_name,
          record_id: c.record_id,
          operation: c.operation,
          change_data: c.change_data,
          old_data: null,
          timestamp: new Date(c.timestamp).toISOString(),
          origin_node_id: c.origin_node_id,
          origin_sequence: String(c.origin_sequence),
          hlc: String(c.hlc),
        })),
      }),
    });
    expect(posted.status).toBe(400);
    expect(((await posted.json()) as { message: string }).message).toMatch(/scouting_team_number: team 1678 is outside the teams this peer may write \(254\)/);
    expect((await hub.ctx.pool.query('SELECT count(*)::int AS n FROM database_changes')).rows).toEqual(before.rows);

    // The same row reaches hub by a catch-up partner runs: refused there too, and said so in the result.
    const pushed = await scan(partner, ids.xOnY);
    expect(pushed.success).toBe(true); // partner's own scope for hub (254) leaves the row out of what it sends
    expect((await rowsOf(hub)).some((r) => r.scouter === 'forged')).toBe(false);
  });

  it('reports a refused batch when the peer’s side does not filter, until its scope is set', async () => {
    // partner lets hub see everything (no scope on its side): its 1678 row goes, and hub refuses the batch.
    await expectJson(partner.call(`/api/sync/servers/${ids.xOnY}`, { method: 'PUT', json: { team_scope: null } }), 200);
    const refused = await scan(partner, ids.xOnY);
    expect(refused.success).toBe(false);
    expect(refused.errors.join('; ')).toMatch(/team 1678 is outside the teams this peer may write \(254\)/);
    expect((await rowsOf(hub)).some((r) => r.scouter === 'forged')).toBe(false);
    // Pulled by hub instead, the page is refused alike.
    const pulled = await scan(hub, ids.yOnX);
    expect(pulled.success).toBe(false);
    expect(pulled.errors.join('; ')).toMatch(/team 1678 is outside/);
    // Scoped again on partner's side, catch-up goes on (the refused row stays where it was written).
    await expectJson(partner.call(`/api/sync/servers/${ids.xOnY}`, { method: 'PUT', json: { team_scope: [OURS] } }), 200);
    expect(await missingFor(partner, ids.xOnY)).toBe(0);
    const settled = await expectJson<ScanBody>(hub.call('/api/sync/catchup/scan', { method: 'POST', json: { server_ids: [ids.yOnX] } }), 200);
    expect(settled.results.every((r) => r.success)).toBe(true);
    expect((await rowsOf(hub)).some((r) => r.scouter === 'forged')).toBe(false);
  });

  it('never leaks a row through a relay to a peer outside its scope', async () => {
    const hubRelay = await pair(hub, relay, { yOnX: null, xOnY: null });
    const relayLeaf = await pair(relay, leaf, { yOnX: [OURS], xOnY: [OURS] });
    await scanOk(hub, hubRelay.yOnX);
    // relay holds everything of hub's; leaf, through relay, only team 254's.
    expect((await rowsOf(relay)).map((r) => r.scouter).sort()).toEqual((await rowsOf(hub)).map((r) => r.scouter).sort());
    await scanOk(relay, relayLeaf.yOnX);
    const onLeaf = await rowsOf(leaf);
    expect(onLeaf.every((r) => r.team === OURS)).toBe(true);
    expect(onLeaf.map((r) => r.id)).toEqual((await rowsOf(hub)).filter((r) => r.team === OURS).map((r) => r.id));
    expect(await logText(leaf)).not.toContain(String(THEIRS));
    // A row moving out of scope on hub reaches leaf through relay as a delete.
    await hub.ctx.pool.query(`UPDATE scouting_data SET scouting_team_number = $2 WHERE id = $1`, [theirRow, THEIRS]);
    await scanOk(hub, hubRelay.yOnX);
    await scanOk(relay, relayLeaf.yOnX);
    expect((await rowsOf(leaf)).some((r) => r.id === theirRow)).toBe(false);
    expect(await logText(leaf)).not.toContain(String(THEIRS));
  });

  it('takes a team scope only as a list of team numbers or null (400 naming the field), changing nothing', async () => {
    const before = await hub.ctx.db.syncServer.findUniqueOrThrow({ where: { id: ids.yOnX } });
    for (const bad of [['254'], [-1], 254, [1.5]]) {
      const res = await hub.call(`/api/sync/servers/${ids.yOnX}`, { method: 'PUT', json: { team_scope: bad } });
      expect(res.status).toBe(400);
      expect(((await res.json()) as { message: string }).message).toMatch(/team_scope/);
    }
    expect(await hub.ctx.db.syncServer.findUniqueOrThrow({ where: { id: ids.yOnX } })).toEqual(before);
  });
});

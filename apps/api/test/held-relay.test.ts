// No duplicate relays (issue #19 item 6) between real nodes over HTTP: a change a peer holds by another
// route is neither sent to it nor read from it, the counts say so and cursors still move; a peer that does
// not answer held checks (404, as a node of an older version) is caught up as before; several peers
// catching a returning node up at once send each change about once; a change another peer is delivering
// is sent once its lease ran out, before the range is acknowledged; a failed batch holds the cursor (I8).
import { describe, expect, it } from 'vitest';
import type { CatchupResult } from '@catchup/engine';
import { registerPeer, type TestApiNode, useApiNodes } from './nodes.ts';

const [a, b, c, d, e] = (await useApiNodes(5, 'held', { SCAN_WAIT_SECONDS: '120', CATCHUP_BATCH_SIZE: '50' })) as [
  TestApiNode,
  TestApiNode,
  TestApiNode,
  TestApiNode,
  TestApiNode,
];

async function expectJson<T>(res: Promise<Response>, status: number): Promise<T> {
  const answered = await res;
  const text = await answered.text();
  expect(answered.status, text).toBe(status);
  return JSON.parse(text) as T;
}

/** Server ids, by the registering node's name then the peer's. */
const ids = new Map<string, number>();
const idOf = (on: TestApiNode, peer: TestApiNode) => ids.get(`${on.name}>${peer.name}`)!;

async function pairUp(x: TestApiNode, y: TestApiNode): Promise<void> {
  ids.set(`${x.name}>${y.name}`, await registerPeer(x, y));
  ids.set(`${y.name}>${x.name}`, await registerPeer(y, x));
}

async function scan(from: TestApiNode, peers: TestApiNode[]): Promise<CatchupResult[]> {
  const body = await expectJson<{ results: CatchupResult[] }>(
    from.call('/api/sync/catchup/scan', { method: 'POST', json: { server_ids: peers.map((p) => idOf(from, p)) } }),
    200,
  );
  for (const r of body.results) expect(r.errors, `${from.name} → ${r.server_name}`).toEqual([]);
  return body.results;
}

async function writeRows(node: TestApiNode, count: number, label: string): Promise<void> {
  await node.ctx.pool.query(
    `INSERT INTO scouting_data (team_number, match_number, scouting_team_number, scouter, data)
     SELECT g, g % 80, 1678, $2, jsonb_build_object('note', $2 || g) FROM generate_series(1, $1) g`,
    [count, label],
  );
}

const rows = async (node: TestApiNode) =>
  (await node.ctx.pool.query<{ r: unknown }>('SELECT to_jsonb(t) AS r FROM scouting_data t ORDER BY id')).rows.map((r) => r.r);

const latest = async (node: TestApiNode) =>
  (await node.ctx.pool.query<{ n: string }>('SELECT coalesce(max(sequence), 0)::text AS n FROM database_changes')).rows[0]!.n;

/** Every change identity a node's log holds. */
const identities = async (node: TestApiNode) =>
  new Set((await node.ctx.pool.query<{ i: string }>(`SELECT origin_node_id || '/' || origin_sequence AS i FROM database_changes`)).rows.map((r) => r.i));

const cursors = async (on: TestApiNode, peer: TestApiNode) => {
  const s = await on.ctx.db.syncServer.findUniqueOrThrow({ where: { id: idOf(on, peer) } });
  return { sent: s.sentCursor.toString(), received: s.receivedCursor.toString() };
};

const moved = (results: CatchupResult[]) => results.reduce((n, r) => n + r.database_changes.sent + r.database_changes.received, 0);

/** The identities of a node's newest `count` log entries, with their stamps, grouped as the route takes them. */
async function newestOf(node: TestApiNode, count: number) {
  const { rows: entries } = await node.ctx.pool.query<{ origin: string; sequence: string; hlc: string }>(
    `SELECT origin_node_id AS origin, origin_sequence::text AS sequence, hlc::text AS hlc FROM database_changes d ORDER BY d.sequence DESC LIMIT $1`,
    [count],
  );
  return entries;
}

describe('held checks between real nodes', () => {
  it('the route: 401 without a credential, 400 naming the field, lacked changes leased to the first asker', async () => {
    const unauthenticated = await fetch(`${a.url}/api/sync/changes/held`, {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ from: 'x', origins: [] }),
    });
    expect(unauthenticated.status).toBe(401);
    const bad = async (body: unknown, field: RegExp) => {
      const answer = await expectJson<{ message: string }>(a.call('/api/sync/changes/held', { method: 'POST', json: body }), 400);
      expect(answer.message).toMatch(field);
    };
    await bad({ from: 'x', origins: [{ node_id: 'n', sequences: ['1', '2'], hlcs: ['5'] }] }, /body\.origins\.0\.hlcs: one stamp per sequence/);
    await bad({ from: 'x', origins: [{ node_id: 'n', sequences: ['01'], hlcs: ['5'] }] }, /body\.origins\.0\.sequences\.0/);
    await bad({ origins: [] }, /body\.from/);
    const many = Array.from({ length: 10_001 }, (_, i) => String(i + 1));
    await bad({ from: 'x', origins: [{ node_id: 'n', sequences: many, hlcs: many }] }, /body\.origins: at most 10000 identities/);
    expect((await a.call('/api/sync/changes/select', { method: 'POST', json: { after: '0', up_to: 'x', origins: [] } })).status).toBe(400);

    await writeRows(a, 3, 'route');
    const held = await newestOf(a, 3);
    const ask = (from: string, extra: { origin: string; sequence: string; hlc: string }[]) => {
      const all = [...held, ...extra];
      return expectJson<{ lacked: { node_id: string; sequences: string[] }[]; pending: { node_id: string; sequences: string[] }[]; held: number }>(
        a.call('/api/sync/changes/held', {
          method: 'POST',
          json: {
            from,
            origins: [...new Set(all.map((i) => i.origin))].map((origin) => ({
              node_id: origin,
              sequences: all.filter((i) => i.origin === origin).map((i) => i.sequence),
              hlcs: all.filter((i) => i.origin === origin).map((i) => i.hlc),
            })),
          },
        }),
        200,
      );
    };
    const unknown = { origin: 'elsewhere', sequence: '7', hlc: '123' };
    expect(await ask('first', [unknown])).toEqual({ lacked: [{ node_id: 'elsewhere', sequences: ['7'] }], pending: [], held: 3 });
    // Another asker is told it is on its way; the first asking again gets it back.
    expect(await ask('second', [unknown])).toEqual({ lacked: [], pending: [{ node_id: 'elsewhere', sequences: ['7'] }], held: 3 });
    expect(await ask('first', [unknown])).toEqual({ lacked: [{ node_id: 'elsewhere', sequences: ['7'] }], pending: [], held: 3 });
    // A change held with another stamp is lacked: it is sent, and the applier refuses it as an identity conflict (I12).
    const restamped = { ...held[0]!, hlc: String(BigInt(held[0]!.hlc) + 1n) };
    const answer = await ask('first', [restamped]); // in place of the held one
    expect(answer.held).toBe(2);
    expect(answer.lacked).toEqual([{ node_id: restamped.origin, sequences: [restamped.sequence] }]);

    const page = await expectJson<{ origins: { node_id: string; sequences: string[] }[]; count: number; has_more: boolean }>(
      a.call('/api/sync/changes/identities?after=0&limit=2'),
      200,
    );
    expect(page.count).toBe(2);
    expect(page.has_more).toBe(true);
    const chosen = await expectJson<{ changes: { origin_sequence: string }[] }>(
      a.call('/api/sync/changes/select', {
        method: 'POST',
        json: { after: '0', up_to: await latest(a), origins: [{ node_id: held[1]!.origin, sequences: [held[1]!.sequence] }] },
      }),
      200,
    );
    expect(chosen.changes.map((ch) => ch.origin_sequence)).toEqual([held[1]!.sequence]);
  });

  it('a change the receiver holds by another route is not sent nor read; the counts say so and cursors move', async () => {
    await pairUp(a, b);
    await pairUp(a, c);
    await pairUp(b, c);
    await writeRows(a, 40, 'from a');
    await scan(b, [a]);
    await scan(c, [a]);
    // c's log holds a's changes as relays, and so does b's: neither has anything the other lacks.
    const [result] = await scan(c, [b]);
    expect(result!.database_changes).toMatchObject({ sent: 0, received: 0, applied: 0 });
    const { held_by_peer: heldByB, held_here: heldHere } = result!.database_changes;
    expect(heldByB).toBeGreaterThanOrEqual(40);
    expect(heldHere).toBeGreaterThanOrEqual(40);
    expect(await cursors(c, b)).toEqual({ sent: await latest(c), received: await latest(b) });
    // a never sent its changes to b itself: b got them by reading a's log. a's own catch-up of b sends none.
    const [fromA] = await scan(a, [b]);
    expect(fromA!.database_changes.sent).toBe(0);
    expect(fromA!.database_changes.held_by_peer).toBeGreaterThanOrEqual(40);
    expect((await cursors(a, b)).sent).toBe(await latest(a));
    expect(await rows(b)).toEqual(await rows(a));
    expect(await rows(c)).toEqual(await rows(a));
  });

  it('a peer that does not answer held checks (404, as an older version) is caught up as before', async () => {
    await expectJson(d.call('/api/sync/config', { method: 'PUT', json: { catchup_held_check: false } }), 200);
    expect((await d.call('/api/sync/changes/identities')).status).toBe(404);
    await pairUp(c, d);
    const [toD] = await scan(c, [d]);
    expect(toD!.database_changes.sent).toBe((await identities(c)).size);
    expect(toD!.database_changes.held_by_peer ?? 0).toBe(0);
    // d reads c's log the ordinary way: what it received from c's push comes again, as duplicates.
    const [fromC] = await scan(d, [c]);
    expect(fromC!.database_changes.received).toBe((await identities(c)).size);
    expect(fromC!.database_changes.skipped_duplicate).toBe((await identities(c)).size);
    expect(await rows(d)).toEqual(await rows(c));
    await scan(c, [d]);
    expect(await cursors(c, d)).toEqual({ sent: await latest(c), received: await latest(d) });
  });

  it('several peers catching a returning node up at once send each change about once', async () => {
    for (const x of [a, b, c]) await pairUp(x, e);
    await writeRows(a, 120, 'episode a');
    await writeRows(b, 120, 'episode b');
    await writeRows(c, 120, 'episode c');
    await writeRows(e, 80, 'episode e, written while away');
    // a, b and c exchange among themselves while e is away.
    const trio = [a, b, c];
    for (let round = 0; round < 2; round++)
      await Promise.all(
        trio.map((x) =>
          scan(
            x,
            trio.filter((y) => y !== x),
          ),
        ),
      );
    const [ia, ib, ic] = await Promise.all(trio.map(identities));
    expect(ib).toEqual(ia);
    expect(ic).toEqual(ia);

    const everyone = [a, b, c, e];
    const union = new Set([...ia!, ...(await identities(e))]);
    let lacked = 0;
    for (const x of everyone) lacked += union.size - (await identities(x)).size;
    expect(lacked).toBeGreaterThanOrEqual(3 * 80 + 360);
    // e returns: every node scans every peer at once, then once more (what e received it would relay).
    let total = 0;
    for (let round = 0; round < 2; round++) {
      const results = await Promise.all(
        everyone.map((x) =>
          scan(
            x,
            everyone.filter((y) => y !== x),
          ),
        ),
      );
      total += moved(results.flat());
    }
    for (const x of everyone) expect(await identities(x)).toEqual(union);
    for (const x of [b, c, e]) expect(await rows(x)).toEqual(await rows(a));
    console.log(`[held] changes moved ${total}, lacked ${lacked}: ${(total / lacked).toFixed(3)}×`);
    expect(total).toBeGreaterThanOrEqual(lacked);
    expect(total).toBeLessThanOrEqual(Math.ceil(lacked * 1.1));
    for (const x of everyone) {
      for (const y of everyone.filter((p) => p !== x)) expect((await cursors(x, y)).received).toBe(await latest(y));
    }
  }, 120_000);

  it('a change another peer is delivering is sent once its lease ran out, and only then is the range acknowledged', async () => {
    await writeRows(a, 5, 'leased');
    const [first] = await newestOf(a, 1);
    // A deliverer that never comes: its lease on b runs for 3 seconds.
    await b.ctx.pool.query(
      `INSERT INTO change_delivery_leases (origin_node_id, origin_sequence, holder, expires_at) VALUES ($1, $2, 'push:ghost', now() + interval '3 seconds')`,
      [first!.origin, first!.sequence],
    );
    const started = Date.now();
    const [result] = await scan(a, [b]);
    expect(Date.now() - started).toBeGreaterThanOrEqual(2500);
    expect(result!.database_changes.sent).toBe(5);
    expect((await identities(b)).has(`${first!.origin}/${first!.sequence}`)).toBe(true);
    expect((await cursors(a, b)).sent).toBe(await latest(a));
    // The run's leases ended as their changes arrived (leases other catch-ups left behind only run out: see held.ts).
    const sent = await newestOf(a, 5);
    const { rows: running } = await b.ctx.pool.query(
      `SELECT 1 FROM change_delivery_leases l JOIN unnest($1::text[], $2::bigint[]) AS s(origin_node_id, origin_sequence)
          USING (origin_node_id, origin_sequence) WHERE l.expires_at > now()`,
      [sent.map((i) => i.origin), sent.map((i) => i.sequence)],
    );
    expect(running).toEqual([]);
  }, 60_000);

  it('a failed batch leaves the cursor before it (I8); the next catch-up sends the rest', async () => {
    await expectJson(a.call('/api/sync/config', { method: 'PUT', json: { catchup_retry_attempts: 1 } }), 200);
    await b.ctx.pool.query(`CREATE FUNCTION refuse_poison() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN IF NEW.scouter = 'poison' THEN RAISE EXCEPTION 'poisoned row'; END IF; RETURN NEW; END $$`);
    await b.ctx.pool.query('CREATE TRIGGER refuse_poison BEFORE INSERT ON scouting_data FOR EACH ROW EXECUTE FUNCTION refuse_poison()');
    const before = await latest(a);
    await writeRows(a, 30, 'ok before');
    await writeRows(a, 1, 'poison');
    const poisonAt = await latest(a);
    await writeRows(a, 30, 'ok after');
    const body = await expectJson<{ results: CatchupResult[] }>(a.call('/api/sync/catchup/scan', { method: 'POST', json: { server_ids: [idOf(a, b)] } }), 200);
    expect(body.results[0]!.success).toBe(false);
    const sent = BigInt((await cursors(a, b)).sent);
    expect(sent).toBeGreaterThanOrEqual(BigInt(before));
    expect(sent).toBeLessThan(BigInt(poisonAt));
    await b.ctx.pool.query('DROP TRIGGER refuse_poison ON scouting_data');
    await expectJson(a.call('/api/sync/config', { method: 'PUT', json: { catchup_retry_attempts: 5 } }), 200);
    const [again] = await scan(a, [b]);
    expect(again!.success).toBe(true);
    expect((await cursors(a, b)).sent).toBe(await latest(a));
    expect(await rows(b)).toEqual(await rows(a));
  }, 60_000);
});

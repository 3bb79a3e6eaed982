import { describe, expect, it } from 'vitest';
import { changesToApply, PeerClient, PeerError } from '@catchup/peer-client';
import { applyIncoming, BatchRejectedError, changeOutputSchema, readChangesJson, type Change } from '@catchup/changelog';
import { useApiNodes } from './nodes.ts';

const [a, b] = await useApiNodes(2, 'peer');

async function digest(node: typeof a) {
  const { rows } = await node!.ctx.pool.query(`SELECT to_jsonb(t) AS row FROM teams t ORDER BY id`);
  return rows.map((r) => r.row);
}
async function logCount(node: typeof a) {
  const { rows } = await node!.ctx.pool.query<{ n: string }>('SELECT count(*)::text AS n FROM database_changes');
  return Number(rows[0]!.n);
}
const clientFor = (node: typeof a, key = node!.apiKey) =>
  new PeerClient({ host: '127.0.0.1', port: Number(new URL(node!.url).port), apiKey: key }, { timeoutSeconds: 5 });

describe('peer API between two nodes', () => {
  it('ping tells node id, name, version, latest sequence and server time', async () => {
    const ping = await clientFor(a).ping();
    expect(ping.node_id).toBe(a!.ctx.engine.nodeId);
    expect(ping.node_name).toBe('peer-a');
    expect(ping.version).toMatch(/^\d+\.\d+\.\d+/);
    expect(ping.latest_sequence).toBe('0');
    expect(Math.abs(Date.parse(ping.server_time) - Date.now())).toBeLessThan(5000);
  });

  it('reads changes by cursor in pages, then pushes them to a peer, and the tables match', async () => {
    for (let i = 0; i < 5; i++) {
      await a!.ctx.db.team.create({ data: { teamNumber: 100 + i, name: `team ${i}`, scoutingTeamNumber: 1 } });
    }
    const client = clientFor(a);
    const first = await client.fetchChanges({ after: '0', limit: 3 });
    expect(first.changes).toHaveLength(3);
    expect(first.has_more).toBe(true);
    const second = await client.fetchChanges({ after: first.next_cursor, limit: 3 });
    expect(second.changes).toHaveLength(2);
    expect(second.has_more).toBe(false);
    expect(second.next_cursor).toBe(second.latest_sequence);
    // The page is sent as PostgreSQL built it, not through the response serializer: it must still be
    // exactly the documented shape, with 64-bit numbers as strings and times in UTC.
    for (const change of [...first.changes, ...second.changes]) {
      expect(changeOutputSchema.strict().parse(change)).toEqual(change);
      expect(change.timestamp).toMatch(/^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/);
    }
    expect(first.changes.map((c) => c.change_data?.name)).toEqual(['team 0', 'team 1', 'team 2']);

    const pushed = await clientFor(b).postChanges([...first.changes, ...second.changes]);
    expect(pushed).toEqual({ received: 5, applied: 5, skipped_duplicate: 0, skipped_stale: 0 });
    expect(await digest(b)).toEqual(await digest(a));
  });

  it('leaves out only the named origin, whatever characters its id holds', async () => {
    const all = await clientFor(a).fetchChanges({ after: '0', limit: 1000 });
    expect(all.changes.length).toBeGreaterThan(0);
    for (const odd of [`x'); DROP TABLE teams; --`, 'back\\slash', "quote''d"]) {
      expect((await clientFor(a).fetchChanges({ after: '0', limit: 1000, excludeOrigin: odd })).changes).toHaveLength(all.changes.length);
    }
    expect((await clientFor(a).fetchChanges({ after: '0', limit: 1000, excludeOrigin: a!.ctx.engine.nodeId })).changes).toHaveLength(0);
  });

  it('pulls a batch the other way and the round trip leaves both equal', async () => {
    await b!.ctx.db.team.create({ data: { teamNumber: 200, name: 'made on b', scoutingTeamNumber: 1 } });
    const page = await clientFor(b).fetchChanges({ after: '0', limit: 100, excludeOrigin: a!.ctx.engine.nodeId });
    expect(page.changes.map((c) => c.change_data?.name)).toEqual(['made on b']);
    const applied = await clientFor(a).postChanges(page.changes);
    expect(applied.applied).toBe(1);
    expect(await digest(a)).toEqual(await digest(b));
    // Pushing the same batch again is harmless.
    expect(await clientFor(a).postChanges(page.changes)).toMatchObject({ applied: 0, skipped_duplicate: 1 });
  });
});

describe('row images travel as written', () => {
  it('a pushed batch keeps numbers JSON.parse would round (integers past 2^53, trailing zeros)', async () => {
    await a!.ctx.pool.query(
      `INSERT INTO scouting_data (team_number, match_number, scouting_team_number, data)
       VALUES (7, 1, 1, '{"big": 12345678901234567890, "ratio": 1.50}')`,
    );
    const page = await readChangesJson(a!.ctx.pool, { after: '0', limit: 100, excludeOrigin: b!.ctx.engine.nodeId });
    expect(await clientFor(b).postChanges(page.body)).toMatchObject({ applied: 1 });
    const dataOn = async (node: typeof a) => (await node!.ctx.pool.query(`SELECT data::text FROM scouting_data WHERE team_number = 7`)).rows[0]?.data;
    expect(await dataOn(b)).toBe('{"big": 12345678901234567890, "ratio": 1.50}');
    expect(await dataOn(b)).toBe(await dataOn(a));
  });

  it('so does a pulled page', async () => {
    const after = (await clientFor(b).ping()).latest_sequence;
    await b!.ctx.pool.query(
      `INSERT INTO scouting_data (team_number, match_number, scouting_team_number, data) VALUES (8, 1, 1, '{"big": 98765432109876543210, "x": 2.000}')`,
    );
    const page = await clientFor(b).fetchChangesToApply({ after, limit: 100, excludeOrigin: a!.ctx.engine.nodeId });
    expect(page.changes).toHaveLength(1);
    expect(page.has_more).toBe(false);
    expect(await applyIncoming(a!.ctx.pool, page.changes, { nodeId: a!.ctx.engine.nodeId, maxClockSkewMs: 300_000 })).toMatchObject({ applied: 1 });
    const { rows } = await a!.ctx.pool.query(`SELECT data::text FROM scouting_data WHERE team_number = 8`);
    expect(rows[0]?.data).toBe('{"x": 2.000, "big": 98765432109876543210}');
  });

  it('a pulled page with a faulty change is refused as a batch, with the change named', () => {
    const id = '7d3b8f4e-1c2a-4b5d-9e6f-0a1b2c3d4e5f';
    const change = {
      table_name: 'teams',
      record_id: id,
      operation: 'insert',
      change_data: { id },
      timestamp: '2026-11-26T10:00:00Z',
      origin_node_id: 'x',
      origin_sequence: '5',
      hlc: 'soon',
    };
    const page = JSON.stringify({ changes: [change], next_cursor: '5', has_more: false, latest_sequence: '5' });
    expect(() => changesToApply(page, 'http://peer')).toThrow(BatchRejectedError);
    expect(() => changesToApply(page, 'http://peer')).toThrow(/hlc.*x\/5|x\/5.*hlc/s);
    expect(() => changesToApply('{"changes": [', 'http://peer')).toThrow(/not JSON/);
    expect(() => changesToApply('{"changes": []}', 'http://peer')).toThrow(/next_cursor/);
  });
});

describe('authentication', () => {
  it.each([
    ['no key', {}],
    ['a wrong key', { 'x-api-key': 'wrong-key-wrong-key' }],
    ['a wrong bearer token', { authorization: 'Bearer wrong-key-wrong-key' }],
    ['an empty bearer token', { authorization: 'Bearer ' }],
  ])('refuses %s with a generic 401', async (_label, headers) => {
    const res = await fetch(`${a!.url}/api/sync/ping`, { headers });
    expect(res.status).toBe(401);
    expect(await res.json()).toEqual({ statusCode: 401, error: 'Unauthorized', message: 'Missing or invalid API key' });
  });

  it('accepts Authorization: Bearer', async () => {
    const res = await fetch(`${a!.url}/api/sync/ping`, { headers: { authorization: `Bearer ${a!.apiKey}` } });
    expect(res.status).toBe(200);
  });

  it('guards every /api route, including admin ones', async () => {
    for (const path of ['/api/sync/catchup/status', '/api/sync/servers', '/api/sync/config', '/api/sync/logs', '/api/sync/changes']) {
      expect((await fetch(`${a!.url}${path}`)).status).toBe(401);
    }
  });

  it('the peer client classifies a bad key as rejected (not worth retrying)', async () => {
    const err = await clientFor(a, 'not-the-key-at-all')
      .ping()
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PeerError);
    expect((err as PeerError).kind).toBe('rejected');
    expect((err as PeerError).status).toBe(401);
    expect((err as PeerError).retryable).toBe(false);
  });
});

describe('bad input changes nothing', () => {
  async function validChange(): Promise<Change> {
    const id = crypto.randomUUID();
    return {
      table_name: 'teams',
      record_id: id,
      operation: 'insert',
      change_data: { id, team_number: 1, name: 'x', scouting_team_number: 1, is_active: true, updated_at: new Date().toISOString() },
      old_data: null,
      timestamp: new Date().toISOString(),
      origin_node_id: 'elsewhere',
      origin_sequence: String(Math.floor(Math.random() * 1e9)),
      hlc: (BigInt(Date.now()) * 65536n).toString(),
    };
  }

  it.each([
    ['a change without record_id', async () => ({ ...(await validChange()), record_id: undefined }), /body\.changes\.1\.record_id/],
    ['a bad operation', async () => ({ ...(await validChange()), operation: 'merge' }), /body\.changes\.1\.operation/],
    [
      'a SQL-looking table name',
      async () => ({ ...(await validChange()), table_name: "teams'; DROP TABLE teams; --" }),
      /change #1 .*unknown or unsynced table/,
    ],
    [
      'an unknown column',
      async () => {
        const c = await validChange();
        return { ...c, change_data: { ...c.change_data, robot_colour: 'red' } };
      },
      /change #1 .*change_data\.robot_colour: unknown column/,
    ],
    [
      'a wrongly typed value',
      async () => {
        const c = await validChange();
        return { ...c, change_data: { ...c.change_data, team_number: 'lots' } };
      },
      /change #1 .*invalid input syntax for type integer/,
    ],
  ])('a batch with %s is refused with 400 naming the change, and nothing is applied', async (_label, bad, message) => {
    const before = { log: await logCount(b), rows: await digest(b) };
    const res = await b!.call('/api/sync/changes', { method: 'POST', json: { changes: [await validChange(), await bad()] } });
    expect(res.status).toBe(400);
    const body = (await res.json()) as { message: string; error: string };
    expect(body.error).toBe('Bad Request');
    expect(body.message).toMatch(message);
    expect(await logCount(b)).toBe(before.log);
    expect(await digest(b)).toEqual(before.rows);
  });

  it('refuses a body without changes, naming the field', async () => {
    const res = await b!.call('/api/sync/changes', { method: 'POST', json: { batch: [] } });
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/body\.changes/);
  });

  it('refuses malformed JSON', async () => {
    const res = await b!.call('/api/sync/changes', { method: 'POST', body: '{"changes": [', headers: { 'content-type': 'application/json' } });
    expect(res.status).toBe(400);
  });

  it('refuses a wrongly typed query parameter, naming it', async () => {
    const res = await a!.call('/api/sync/changes?after=abc');
    expect(res.status).toBe(400);
    expect(((await res.json()) as { message: string }).message).toMatch(/querystring\.after/);
    const limit = await a!.call('/api/sync/changes?limit=0');
    expect(((await limit.json()) as { message: string }).message).toMatch(/querystring\.limit/);
  });

  it('answers 404 in the same format for an unknown route', async () => {
    const res = await a!.call('/api/sync/nothing-here');
    expect(res.status).toBe(404);
    expect(await res.json()).toEqual({ statusCode: 404, error: 'Not Found', message: 'Route GET /api/sync/nothing-here not found' });
  });
});

describe('the peer client', () => {
  it('classifies a closed port as unreachable', async () => {
    const { createServer } = await import('node:net');
    const server = createServer().listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as { port: number }).port;
    await new Promise((r) => server.close(r));
    const err = await new PeerClient({ host: '127.0.0.1', port, apiKey: 'k' }, { timeoutSeconds: 2 }).ping().catch((e: unknown) => e);
    expect((err as PeerError).kind).toBe('unreachable');
    expect((err as PeerError).retryable).toBe(true);
  });

  it('classifies a peer that accepts but never answers as a timeout', async () => {
    const { createServer } = await import('node:net');
    const sockets: import('node:net').Socket[] = [];
    const server = createServer((s) => sockets.push(s)).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as { port: number }).port;
    try {
      const started = Date.now();
      const err = await new PeerClient({ host: '127.0.0.1', port, apiKey: 'k' }, { timeoutSeconds: 1 }).ping().catch((e: unknown) => e);
      expect((err as PeerError).kind).toBe('timeout');
      expect(Date.now() - started).toBeLessThan(5000);
    } finally {
      for (const s of sockets) s.destroy();
      server.close();
    }
  });

  it('classifies a 5xx answer as a server error (retryable)', async () => {
    // A stand-in peer that fails: the one fault we cannot cause on a real node from outside.
    const { createServer } = await import('node:http');
    const server = createServer((_req, res) => {
      res.writeHead(503, { 'content-type': 'application/json' });
      res.end('{"message":"database is restarting"}');
    }).listen(0, '127.0.0.1');
    await new Promise((r) => server.once('listening', r));
    const port = (server.address() as { port: number }).port;
    try {
      const err = await new PeerClient({ host: '127.0.0.1', port, apiKey: 'k' }, { timeoutSeconds: 2 }).ping().catch((e: unknown) => e);
      expect((err as PeerError).kind).toBe('server_error');
      expect((err as PeerError).status).toBe(503);
      expect((err as PeerError).message).toMatch(/database is restarting/);
    } finally {
      server.close();
    }
  });
});

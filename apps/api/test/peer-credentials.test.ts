// Per-peer credentials (issue #18 item 1) between two real nodes over HTTP: pairing with credentials each
// node issued to the other, a catch-up both ways attributed to the peer that delivered it, the peer API
// only (403 elsewhere), rotation with an overlap, revocation at once, and bad input changing nothing.
import { mkdir, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { describe, expect, it } from 'vitest';
import { ADMIN_OPERATIONS, DELIVERY_OPERATIONS, tokenHash } from '@catchup/engine';
import { PEER_CREDENTIAL_REFUSED } from '../src/auth.ts';
import { type TestApiNode, useApiNodes } from './nodes.ts';
import { call, tableRows, until, writeRows } from './two-nodes.ts';

// The refusals below come from one address: more than AUTH_FAILURE_LIMIT's default would block it.
const [a, b] = (await useApiNodes(2, 'creds', { AUTH_FAILURE_LIMIT: '100' })) as [TestApiNode, TestApiNode];
const [limited] = (await useApiNodes(1, 'creds-limit', { AUTH_FAILURE_LIMIT: '3', RUN_WORKERS: 'false' })) as [TestApiNode];

interface IssuedBody {
  id: number;
  server_id: number;
  label: string;
  state: string;
  token: string;
  expires_at: string | null;
  expiring: { id: number; label: string; state: string; expires_at: string | null }[];
}

const expectStatus = async (res: Promise<Response>, status: number) => {
  const answered = await res;
  expect(answered.status, await answered.clone().text()).toBe(status);
  return answered;
};
const json = async <T>(res: Promise<Response>, status: number): Promise<T> => (await (await expectStatus(res, status)).json()) as T;
const portOf = (node: TestApiNode) => Number(new URL(node.url).port);
/** The status a token gets on the peer API of a node. */
const pingWith = async (node: TestApiNode, token: string) => (await call(node, token)('/api/sync/ping')).status;
const credentialsOf = (node: TestApiNode) => node.ctx.pool.query('SELECT * FROM peer_credentials ORDER BY id').then((r) => r.rows);
const allLogs = (node: TestApiNode) => node.ctx.db.syncLog.findMany({ orderBy: { id: 'asc' } });

async function scan(from: TestApiNode, serverId: number) {
  const body = await json<{ results: { success: boolean; errors: string[] }[] }>(
    from.call('/api/sync/catchup/scan', { method: 'POST', json: { server_ids: [serverId] } }),
    200,
  );
  expect(body.results).toHaveLength(1);
  expect(body.results[0], body.results[0]?.errors.join('; ')).toMatchObject({ success: true });
}

describe('per-peer credentials between two real nodes', () => {
  /** B on A, and A on B. */
  let bOnA = 0;
  let aOnB = 0;
  /** What B presents to A (A issued it), and what A presents to B (B issued it). */
  let tokenOfB = '';
  let tokenOfA = '';
  const tokens: string[] = [];

  it('pairs in three calls: each node issues the credential the other presents; a catch-up completes both ways, attributed to the peer', async () => {
    // 1. On A: add B, issuing the credential B will present to A.
    const bAdded = await json<{ id: number; api_key_set: boolean; credential: IssuedBody }>(
      a.call('/api/sync/servers', { method: 'POST', json: { name: b.name, host: '127.0.0.1', port: portOf(b), issue_credential: true } }),
      201,
    );
    bOnA = bAdded.id;
    tokenOfB = bAdded.credential.token;
    expect(bAdded.api_key_set).toBe(false);
    expect(bAdded.credential).toMatchObject({ server_id: bOnA, label: `cred-${bAdded.credential.id}`, state: 'active', expires_at: null });
    expect(tokenOfB).toMatch(/^cus_[A-Za-z0-9_-]{43}$/);
    // 2. On B: add A with that token as the key B presents, issuing the credential A will present to B.
    const aAdded = await json<{ id: number; api_key_set: boolean; credential: IssuedBody }>(
      b.call('/api/sync/servers', { method: 'POST', json: { name: a.name, host: '127.0.0.1', port: portOf(a), api_key: tokenOfB, issue_credential: true } }),
      201,
    );
    aOnB = aAdded.id;
    tokenOfA = aAdded.credential.token;
    expect(aAdded.api_key_set).toBe(true);
    // 3. On A: B's token as the key A presents to B.
    await expectStatus(a.call(`/api/sync/servers/${bOnA}`, { method: 'PUT', json: { api_key: tokenOfA } }), 200);
    tokens.push(tokenOfA, tokenOfB);

    // Only the hash is stored, and listing never shows the token.
    const stored = await credentialsOf(a);
    expect(stored).toHaveLength(1);
    expect(stored[0]).toMatchObject({ server_id: bOnA, secret_hash: tokenHash(tokenOfB) });
    expect(JSON.stringify(stored)).not.toContain(tokenOfB);
    const listed = await a.call(`/api/sync/servers/${bOnA}/credentials`);
    const listedText = await listed.text();
    expect(listed.status).toBe(200);
    expect(JSON.parse(listedText)).toEqual({
      credentials: [expect.objectContaining({ id: bAdded.credential.id, label: bAdded.credential.label, state: 'active' })],
    });
    expect(listedText).not.toContain(tokenOfB);
    expect(listedText).not.toContain(tokenHash(tokenOfB));

    // A catch-up from A: its rows and a file reach B, sent with the credential B issued to A.
    await writeRows(a, 40, 'written on A');
    const uploads = path.join(a.ctx.config.dataDir, 'uploads');
    await mkdir(uploads, { recursive: true });
    await writeFile(path.join(uploads, 'robot-254.jpg'), 'photo of 254');
    await scan(a, bOnA);
    expect(await tableRows(b)).toEqual(await tableRows(a));
    expect((await tableRows(b)).length).toBe(40);

    const actorOfA = `peer ${a.name} (credential ${aAdded.credential.label})`;
    const batches = await b.ctx.db.syncLog.findMany({ where: { operation: DELIVERY_OPERATIONS.batchReceived } });
    expect(batches.length).toBeGreaterThan(0);
    for (const row of batches) {
      expect(row).toMatchObject({ serverId: aOnB, status: 'completed' });
      expect(row.result).toMatchObject({ actor: actorOfA, credential_id: aAdded.credential.id, credential: aAdded.credential.label });
    }
    expect(batches.reduce((sum, row) => sum + (row.result as { applied: number }).applied, 0)).toBe(40);
    const files = await b.ctx.db.syncLog.findMany({ where: { operation: DELIVERY_OPERATIONS.filesReceived } });
    expect(files.map((row) => ({ serverId: row.serverId, actor: (row.result as { actor: string }).actor }))).toEqual([{ serverId: aOnB, actor: actorOfA }]);
    expect(JSON.stringify(files[0]!.result)).toContain('robot-254.jpg');
    // The log listing shows who delivered what.
    const deliveries = await json<{ logs: { operation: string; server_name: string; actor: string }[] }>(
      b.call('/api/sync/logs?kind=delivery&page_size=200'),
      200,
    );
    expect(deliveries.logs.length).toBe(batches.length + files.length);
    expect(new Set(deliveries.logs.map((l) => `${l.server_name} ${l.actor}`))).toEqual(new Set([`${a.name} ${actorOfA}`]));

    // And the other way: B's rows reach A with the credential A issued to B, attributed to B on A.
    await b.ctx.pool.query(`INSERT INTO teams (team_number, name, scouting_team_number) VALUES (1678, 'written on B', 1678)`);
    await scan(b, aOnB);
    expect(await tableRows(a, 'teams')).toEqual(await tableRows(b, 'teams'));
    const onA = await a.ctx.db.syncLog.findMany({ where: { operation: DELIVERY_OPERATIONS.batchReceived } });
    expect(onA.length).toBeGreaterThan(0);
    for (const row of onA)
      expect(row).toMatchObject({ serverId: bOnA, result: expect.objectContaining({ actor: `peer ${b.name} (credential ${bAdded.credential.label})` }) });
    // Each credential's use is noted.
    expect((await credentialsOf(a))[0]!.last_used_at).toBeInstanceOf(Date);
  }, 120_000);

  it('a batch posted under a peer credential is attributed to that peer; one posted with the node key is not logged as a delivery', async () => {
    const before = await b.ctx.db.syncLog.count({ where: { operation: DELIVERY_OPERATIONS.batchReceived } });
    // A change read from A's own change log, as GET /changes serves it, posted by hand to B under A's credential.
    const page = await json<{ changes: unknown[] }>(call(a, a.apiKey)('/api/sync/changes?after=0&limit=1'), 200);
    expect(page.changes).toHaveLength(1);
    const posted = await json<{ received: number }>(call(b, tokenOfA)('/api/sync/changes', { method: 'POST', json: { changes: page.changes } }), 200);
    expect(posted.received).toBe(1);
    const added = await b.ctx.db.syncLog.findMany({ where: { operation: DELIVERY_OPERATIONS.batchReceived }, orderBy: { id: 'asc' }, skip: before });
    expect(added).toHaveLength(1);
    expect(added[0]).toMatchObject({
      serverId: aOnB,
      details: expect.stringMatching(new RegExp(`^Batch of 1 change\\(s\\) from ${a.name}: 0 applied, 1 duplicate`)),
    });
    // With the node's API key (an operator) the batch is applied as before, not logged as a peer's delivery.
    await expectStatus(b.call('/api/sync/changes', { method: 'POST', json: { changes: page.changes } }), 200);
    expect(await b.ctx.db.syncLog.count({ where: { operation: DELIVERY_OPERATIONS.batchReceived } })).toBe(before + 1);
  });

  it('a peer credential opens the peer API only: admin routes answer 403 and do nothing', async () => {
    const peer = call(b, tokenOfA);
    expect((await peer('/api/sync/ping')).status).toBe(200);
    expect((await peer('/api/sync/changes?after=0&limit=1')).status).toBe(200);
    expect((await peer('/api/sync/files/checksums?directory=uploads')).status).toBe(200);
    const bearer = await fetch(`${b.url}/api/sync/ping`, { headers: { authorization: `Bearer ${tokenOfA}` } });
    expect(bearer.status).toBe(200);

    const logsBefore = (await allLogs(b)).length;
    const serversBefore = await b.ctx.db.syncServer.findMany({ orderBy: { id: 'asc' } });
    const admin: [string, string, unknown?][] = [
      ['GET', '/api/sync/servers'],
      ['GET', `/api/sync/servers/${aOnB}`],
      ['POST', '/api/sync/servers', { name: 'sneaky', host: '127.0.0.1', port: 1 }],
      ['PUT', `/api/sync/servers/${aOnB}`, { api_key: 'stolen' }],
      ['DELETE', `/api/sync/servers/${aOnB}`],
      ['POST', `/api/sync/servers/${aOnB}/credentials`, {}],
      ['GET', `/api/sync/servers/${aOnB}/credentials`],
      ['GET', '/api/sync/config'],
      ['PUT', '/api/sync/config', { catchup_batch_size: 10 }],
      ['GET', '/api/sync/logs'],
      ['GET', '/api/sync/catchup/status'],
      ['POST', '/api/sync/catchup/scan', {}],
      ['GET', '/api/sync/tables'],
      ['DELETE', '/api/sync/tables/teams'],
      ['POST', '/api/sync/maintenance/prune'],
    ];
    for (const [method, url, body] of admin) {
      const res = await peer(url, { method, ...(body !== undefined ? { json: body } : {}) });
      expect({ url, method, status: res.status, body: await res.json() }).toEqual({
        url,
        method,
        status: 403,
        body: { statusCode: 403, error: 'Forbidden', message: PEER_CREDENTIAL_REFUSED },
      });
    }
    expect((await allLogs(b)).length).toBe(logsBefore);
    expect(await b.ctx.db.syncServer.findMany({ orderBy: { id: 'asc' } })).toEqual(serversBefore);
  });

  it('rotation: the new and the old credential both work during the overlap; the old is refused once it expires', async () => {
    const [old] = await credentialsOf(b);
    const rotated = await json<IssuedBody>(b.call(`/api/sync/servers/${aOnB}/credentials`, { method: 'POST', json: { expire_others_in_seconds: 3 } }), 201);
    tokens.push(rotated.token);
    expect(rotated).toMatchObject({ server_id: aOnB, state: 'active', expires_at: null });
    expect(rotated.expiring).toEqual([expect.objectContaining({ id: old.id, label: old.label, state: 'expiring' })]);
    const expiresAt = new Date(rotated.expiring[0]!.expires_at!).getTime();
    // During the overlap: both.
    expect(await pingWith(b, tokenOfA)).toBe(200);
    expect(await pingWith(b, rotated.token)).toBe(200);
    // A takes the new one and catches up with it.
    await expectStatus(a.call(`/api/sync/servers/${bOnA}`, { method: 'PUT', json: { api_key: rotated.token } }), 200);
    await writeRows(a, 5, 'after rotation');
    await scan(a, bOnA);
    expect(await tableRows(b)).toEqual(await tableRows(a));
    const last = await b.ctx.db.syncLog.findFirst({ where: { operation: DELIVERY_OPERATIONS.batchReceived }, orderBy: { id: 'desc' } });
    expect(last!.result).toMatchObject({ actor: `peer ${a.name} (credential ${rotated.label})` });

    await until('the old credential to be refused', async () => (await pingWith(b, tokenOfA)) === 401, 10_000, 200);
    expect(Date.now()).toBeGreaterThanOrEqual(expiresAt - 1000);
    expect(await pingWith(b, rotated.token)).toBe(200);
    const listed = await json<{ credentials: { id: number; state: string }[] }>(b.call(`/api/sync/servers/${aOnB}/credentials`), 200);
    expect(listed.credentials.map((c) => [c.id, c.state])).toEqual([
      [old.id, 'expired'],
      [rotated.id, 'active'],
    ]);
    const audit = await b.ctx.db.syncLog.findFirst({ where: { operation: ADMIN_OPERATIONS.credentialRotated } });
    expect(audit).toMatchObject({ serverId: aOnB, result: expect.objectContaining({ actor: 'node api key', credential: rotated.label }) });
    expect(audit!.details).toContain(`still valid: ${old.label} until`);
    tokenOfA = rotated.token;
  }, 60_000);

  it('revocation: a revoked credential is refused on its next request, alone, and revoking it again changes nothing', async () => {
    const second = await json<IssuedBody>(a.call(`/api/sync/servers/${bOnA}/credentials`, { method: 'POST' }), 201);
    tokens.push(second.token);
    expect(second.expiring).toEqual([]);
    expect(await pingWith(a, second.token)).toBe(200);
    expect(await pingWith(a, tokenOfB)).toBe(200);

    const revoked = await json<{ id: number; state: string; revoked_at: string }>(
      a.call(`/api/sync/servers/${bOnA}/credentials/${second.id}`, { method: 'DELETE' }),
      200,
    );
    expect(revoked).toMatchObject({ id: second.id, state: 'revoked' });
    const refused = await call(a, second.token)('/api/sync/ping');
    expect({ status: refused.status, body: await refused.json() }).toEqual({
      status: 401,
      body: { statusCode: 401, error: 'Unauthorized', message: 'Missing or invalid API key' },
    });
    // The other credential of the same peer still works.
    expect(await pingWith(a, tokenOfB)).toBe(200);

    const audits = () => a.ctx.db.syncLog.count({ where: { operation: ADMIN_OPERATIONS.credentialRevoked } });
    expect(await audits()).toBe(1);
    const again = await json<{ revoked_at: string }>(a.call(`/api/sync/servers/${bOnA}/credentials/${second.id}`, { method: 'DELETE' }), 200);
    expect(again.revoked_at).toBe(revoked.revoked_at);
    expect(await audits()).toBe(1);
  });

  it('a revocation written by another process of the node holds at the next request (no cache)', async () => {
    const third = await json<IssuedBody>(a.call(`/api/sync/servers/${bOnA}/credentials`, { method: 'POST' }), 201);
    tokens.push(third.token);
    expect(await pingWith(a, third.token)).toBe(200);
    await a.ctx.pool.query('UPDATE peer_credentials SET revoked_at = now() WHERE id = $1', [third.id]);
    expect(await pingWith(a, third.token)).toBe(401);
  });

  it('bad input (unknown peer or credential, a bad body) is refused and changes nothing', async () => {
    const credentialsBefore = await credentialsOf(b);
    const logsBefore = (await allLogs(b)).length;
    const serversBefore = await b.ctx.db.syncServer.count();
    const [credentialOnA] = await credentialsOf(a);

    const refusals: [string, string, unknown, number, RegExp][] = [
      ['POST', '/api/sync/servers/99999/credentials', {}, 404, /Server 99999/],
      ['GET', '/api/sync/servers/99999/credentials', undefined, 404, /Server 99999/],
      ['DELETE', `/api/sync/servers/99999/credentials/${credentialsBefore[0].id}`, undefined, 404, /Server 99999/],
      ['DELETE', `/api/sync/servers/${aOnB}/credentials/99999`, undefined, 404, /Credential 99999/],
      // The id of a credential of B's own on A names nothing on B, nor does another peer's on B.
      ['DELETE', `/api/sync/servers/${aOnB}/credentials/${credentialOnA.id + 1000}`, undefined, 404, /Credential/],
      ['DELETE', `/api/sync/servers/${aOnB}/credentials/abc`, undefined, 400, /credentialId/],
      ['POST', `/api/sync/servers/${aOnB}/credentials`, { expire_others_in_seconds: -1 }, 400, /expire_others_in_seconds/],
      ['POST', `/api/sync/servers/${aOnB}/credentials`, { expire_others_in_seconds: 'soon' }, 400, /expire_others_in_seconds/],
      ['POST', `/api/sync/servers/${aOnB}/credentials`, { expire_others_in_seconds: 1.5 }, 400, /expire_others_in_seconds/],
      ['POST', `/api/sync/servers/${aOnB}/credentials`, { label: 'mine' }, 400, /label|unrecognized/i],
      ['POST', '/api/sync/servers', { name: 'another', host: '127.0.0.1', port: 1, issue_credential: 'yes' }, 400, /issue_credential/],
    ];
    for (const [method, url, body, status, message] of refusals) {
      const res = await b.call(url, { method, ...(body !== undefined ? { json: body } : {}) });
      const answer = (await res.json()) as { message: string };
      expect({ url, body, status: res.status }).toEqual({ url, body, status });
      expect(answer.message).toMatch(message);
    }
    expect(await credentialsOf(b)).toEqual(credentialsBefore);
    expect((await allLogs(b)).length).toBe(logsBefore);
    expect(await b.ctx.db.syncServer.count()).toBe(serversBefore);

    // A credential of one peer is not revoked through another peer's path.
    const other = await json<{ id: number; credential: IssuedBody }>(
      b.call('/api/sync/servers', { method: 'POST', json: { name: 'third-node', host: '127.0.0.1', port: 1, issue_credential: true } }),
      201,
    );
    tokens.push(other.credential.token);
    await expectStatus(b.call(`/api/sync/servers/${aOnB}/credentials/${other.credential.id}`, { method: 'DELETE' }), 404);
    expect(await pingWith(b, other.credential.token)).toBe(200);
    // Removing a peer removes its credentials: its token is refused from then on.
    await expectStatus(b.call(`/api/sync/servers/${other.id}`, { method: 'DELETE' }), 204);
    expect(await pingWith(b, other.credential.token)).toBe(401);
    expect((await credentialsOf(b)).map((c) => c.server_id)).not.toContain(other.id);
  });

  it('the audit trail records each issue, rotation and revocation with the credential, never a token or its hash', async () => {
    const audit = await json<{ logs: { operation: string; actor: string; server_id: number | null; details: string }[] }>(
      a.call('/api/sync/logs?kind=audit&page_size=200'),
      200,
    );
    expect(audit.logs.filter((l) => l.operation === ADMIN_OPERATIONS.credentialIssued).map((l) => [l.actor, l.server_id])).toEqual([
      ['node api key', bOnA],
      ['node api key', bOnA],
      ['node api key', bOnA],
    ]);
    expect(audit.logs.filter((l) => l.operation === ADMIN_OPERATIONS.credentialRevoked)).toHaveLength(1);
    const operations = (await b.ctx.db.syncLog.findMany({ where: { operation: { startsWith: 'credential' } } })).map((l) => l.operation);
    expect(operations).toEqual([ADMIN_OPERATIONS.credentialIssued, ADMIN_OPERATIONS.credentialRotated, ADMIN_OPERATIONS.credentialIssued]);
    for (const node of [a, b]) {
      const text = JSON.stringify(await allLogs(node));
      for (const token of tokens) {
        expect(text).not.toContain(token);
        expect(text).not.toContain(tokenHash(token));
      }
    }
  });
});

describe('failed authentication with peer credentials', () => {
  it('a peer credential on an admin route is not a failed attempt; a refused token is, up to the limit (429)', async () => {
    const peer = await json<{ id: number; credential: IssuedBody }>(
      limited.call('/api/sync/servers', { method: 'POST', json: { name: 'some-peer', host: '127.0.0.1', port: 1, issue_credential: true } }),
      201,
    );
    const token = peer.credential.token;
    for (let i = 0; i < 5; i++) expect((await call(limited, token)('/api/sync/servers')).status).toBe(403);
    expect(await pingWith(limited, token)).toBe(200);
    await expectStatus(limited.call(`/api/sync/servers/${peer.id}/credentials/${peer.credential.id}`, { method: 'DELETE' }), 200);
    // A revoked token, then well-formed and malformed unknown ones: three failures.
    expect(await pingWith(limited, token)).toBe(401);
    expect(await pingWith(limited, `cus_${'x'.repeat(43)}`)).toBe(401);
    expect(await pingWith(limited, 'not-a-token')).toBe(401);
    const blocked = await limited.call('/api/sync/ping');
    expect(blocked.status).toBe(429);
  });
});

// TLS between real nodes, with certificates made in the test: two nodes serving HTTPS under one CA catch
// up rows and a file; a node whose certificate the CA did not sign is refused until its fingerprint is
// pinned (pairing); a wrong pin is refused, naming both fingerprints; a plain-http peer still syncs.
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { request } from 'node:https';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { loadNodeConfig } from '@catchup/config';
import type { CatchupResult } from '@catchup/engine';
import { PeerClient, PeerError } from '@catchup/peer-client';
import { createTestPki, freePort, useTestDatabases, type TestCertificate } from '@catchup/testing';
import { testNodeEnv } from './two-nodes.ts';
import { startNode, type RunningNode } from '../src/node.ts';

const pki = await createTestPki();
const ca = await pki.createCa('tls-test-ca');
const otherCa = await pki.createCa('tls-test-other-ca');
const certA = await ca.issue('tls-a');
const certB = await ca.issue('tls-b');
const certC = await pki.selfSigned('tls-c');
const certD = await otherCa.issue('tls-d');

interface TlsNode {
  node: RunningNode;
  name: string;
  port: number;
  key: string;
  dataDir: string;
}

const started: TlsNode[] = [];
afterAll(async () => {
  await Promise.all(started.map((n) => n.node.close()));
  for (const n of started) await rm(n.dataDir, { recursive: true, force: true });
  await pki.remove();
});

const dbs = await useTestDatabases(5, 'tls');
async function startTlsNode(side: string, index: number, env: Record<string, string>): Promise<TlsNode> {
  const name = `tls-${side}`;
  const port = await freePort();
  const key = `${name}-key-0123456789abcdef`;
  const dataDir = await mkdtemp(path.join(tmpdir(), `catchup-${name}-`));
  const config = loadNodeConfig({
    ...testNodeEnv({ name, databaseUrl: dbs[index]!.url, port, key, dataDir }),
    CATCHUP_SCHEDULER_ENABLED: 'false',
    SCAN_WAIT_SECONDS: '120',
    ...env,
  });
  const node: TlsNode = { node: await startNode(config), name, port, key, dataDir };
  started.push(node);
  return node;
}
const serving = (cert: TestCertificate) => ({ TLS_CERT_FILE: cert.certFile, TLS_KEY_FILE: cert.keyFile });

// A and B: certificates of the CA, and the CA as the only trust for peers. C: self-signed. D: signed by
// another CA. E: plain http.
const a = await startTlsNode('a', 0, { ...serving(certA), TLS_CA_FILE: ca.certFile });
const b = await startTlsNode('b', 1, { ...serving(certB), TLS_CA_FILE: ca.certFile });
const c = await startTlsNode('c', 2, serving(certC));
const d = await startTlsNode('d', 3, serving(certD));
const e = await startTlsNode('e', 4, {});

/** Calls A's API, trusting A's certificate by the CA (as an operator's client would). */
async function callA(method: 'GET' | 'POST' | 'PUT', route: string, json?: unknown): Promise<{ status: number; body: Record<string, unknown> }> {
  const url = new URL(`${a.node.url}${route}`);
  const cafile = await readFile(ca.certFile);
  return new Promise((resolve, reject) => {
    const req = request(
      url,
      { method, ca: cafile, headers: { 'x-api-key': a.key, ...(json === undefined ? {} : { 'content-type': 'application/json' }) } },
      (res) => {
        let text = '';
        res.setEncoding('utf8');
        res.on('data', (chunk: string) => (text += chunk));
        res.on('end', () => resolve({ status: res.statusCode!, body: text ? JSON.parse(text) : {} }));
      },
    );
    req.on('error', reject);
    req.end(json === undefined ? undefined : JSON.stringify(json));
  });
}

async function register(peer: TlsNode, extra: Record<string, unknown> = {}): Promise<number> {
  const res = await callA('POST', '/api/sync/servers', { name: peer.name, host: '127.0.0.1', port: peer.port, api_key: peer.key, protocol: 'https', ...extra });
  expect(res.status, JSON.stringify(res.body)).toBe(201);
  return res.body.id as number;
}

async function scan(serverId: number): Promise<CatchupResult & { errors: string[] }> {
  const res = await callA('POST', '/api/sync/catchup/scan', { server_ids: [serverId] });
  expect(res.status).toBe(200);
  return (res.body.results as (CatchupResult & { errors: string[] })[])[0]!;
}

async function writeRow(node: TlsNode, scouter: string): Promise<void> {
  await node.node.ctx.pool.query(`INSERT INTO scouting_data (team_number, match_number, scouting_team_number, scouter) VALUES (254, 1, 1678, $1)`, [scouter]);
}
const hasRow = async (node: TlsNode, scouter: string) =>
  (await node.node.ctx.pool.query('SELECT 1 FROM scouting_data WHERE scouter = $1', [scouter])).rowCount === 1;

describe('TLS between nodes', () => {
  it('serves HTTPS and shows its certificate fingerprint on ping', async () => {
    expect(a.node.url).toMatch(/^https:\/\/127\.0\.0\.1:\d+$/);
    const ping = await callA('GET', '/api/sync/ping');
    expect(ping.body.tls_fingerprint).toBe(certA.fingerprint);
    expect(a.node.ctx.config.tls?.fingerprint).toBe(certA.fingerprint);
    // A plain-http node has no fingerprint to show.
    const plain = await fetch(`${e.node.url}/api/sync/ping`, { headers: { 'x-api-key': e.key } });
    expect(((await plain.json()) as Record<string, unknown>).tls_fingerprint).toBeUndefined();
  });

  it('catches up rows and a file both ways with a peer whose certificate the configured CA signed', async () => {
    const idB = await register(b);
    await b.node.ctx.db.syncServer.create({ data: { name: a.name, host: '127.0.0.1', port: a.port, apiKey: a.key, protocol: 'https' } });
    await writeRow(a, 'written on a');
    await writeRow(b, 'written on b');
    await mkdir(path.join(a.dataDir, 'uploads'), { recursive: true });
    await writeFile(path.join(a.dataDir, 'uploads', 'robot.jpg'), 'photo over tls');
    const result = await scan(idB);
    expect(result.errors).toEqual([]);
    expect(result.success).toBe(true);
    expect(result.database_changes).toMatchObject({ sent: 1, received: 1 });
    expect(result.file_changes).toMatchObject({ uploaded: 1 });
    expect(await hasRow(b, 'written on a')).toBe(true);
    expect(await hasRow(a, 'written on b')).toBe(true);
    expect(await readFile(path.join(b.dataDir, 'uploads', 'robot.jpg'), 'utf8')).toBe('photo over tls');
  });

  it('refuses a peer whose certificate the configured CA did not sign, and does not retry it as transient', async () => {
    const idD = await register(d);
    await writeRow(a, 'not for d');
    const result = await scan(idD);
    expect(result.success).toBe(false);
    expect(result.errors[0]).toMatch(/its TLS certificate is not trusted \((UNABLE_TO_VERIFY_LEAF_SIGNATURE|UNABLE_TO_GET_ISSUER_CERT_LOCALLY)/);
    expect(await hasRow(d, 'not for d')).toBe(false);
    const server = await a.node.ctx.db.syncServer.findUniqueOrThrow({ where: { id: idD } });
    expect(server).toMatchObject({ pingSuccess: false, sentCursor: 0n });
    const err = await new PeerClient({ protocol: 'https', host: '127.0.0.1', port: d.port, apiKey: d.key }, { timeoutSeconds: 5, ca: a.node.ctx.config.peerCa })
      .ping()
      .catch((caught: unknown) => caught);
    expect(err).toBeInstanceOf(PeerError);
    expect(err).toMatchObject({ kind: 'untrusted', retryable: false });
  });

  it('pairs with a self-signed peer by its pinned fingerprint, read from the peer itself', async () => {
    const idC = await register(c);
    await writeRow(a, 'for c once pinned');
    // Not signed by the CA: refused.
    expect((await scan(idC)).errors[0]).toMatch(/its TLS certificate is not trusted \(DEPTH_ZERO_SELF_SIGNED_CERT/);
    // Pairing: C shows its fingerprint (start-up log and ping); the operator registers it on A.
    const shown = c.node.ctx.config.tls!.fingerprint;
    expect(shown).toBe(certC.fingerprint);
    const pinned = await callA('PUT', `/api/sync/servers/${idC}`, { tls_fingerprint: shown.replaceAll(':', '').toLowerCase() });
    expect(pinned.status).toBe(200);
    expect(pinned.body.tls_fingerprint).toBe(shown);
    const result = await scan(idC);
    expect(result.errors).toEqual([]);
    expect(await hasRow(c, 'for c once pinned')).toBe(true);
    expect(await readFile(path.join(c.dataDir, 'uploads', 'robot.jpg'), 'utf8')).toBe('photo over tls');
    // The pinned peer's ping, through a pinned client, shows the same fingerprint.
    const ping = await new PeerClient(
      { protocol: 'https', host: '127.0.0.1', port: c.port, apiKey: c.key, tlsFingerprint: shown },
      { timeoutSeconds: 5 },
    ).ping();
    expect(ping.tls_fingerprint).toBe(shown);
  });

  it('refuses a peer that presents another certificate than the pinned one, naming both fingerprints', async () => {
    // B's certificate is signed by the CA A trusts, but the pin says C's: the pin wins.
    const id = await register({ ...b, name: 'tls-b-pinned-wrong' }, { tls_fingerprint: certC.fingerprint });
    await writeRow(a, 'not for a wrong pin');
    const result = await scan(id);
    expect(result.success).toBe(false);
    expect(result.errors[0]).toContain(`presented a TLS certificate with fingerprint ${certB.fingerprint}, not the pinned ${certC.fingerprint}`);
    const server = await a.node.ctx.db.syncServer.findUniqueOrThrow({ where: { id } });
    expect(server.lastError).toContain(certB.fingerprint);
    const err = await new PeerClient(
      { protocol: 'https', host: '127.0.0.1', port: b.port, apiKey: b.key, tlsFingerprint: certC.fingerprint },
      { timeoutSeconds: 5 },
    )
      .ping()
      .catch((caught: unknown) => caught);
    expect(err).toMatchObject({ kind: 'untrusted', retryable: false });
  });

  it('validates the fingerprint the servers API takes', async () => {
    const bad = await callA('POST', '/api/sync/servers', { name: 'bad-pin', host: '127.0.0.1', port: 1, protocol: 'https', tls_fingerprint: 'abc' });
    expect(bad.status).toBe(400);
    expect(bad.body.message).toMatch(/tls_fingerprint/);
    const overHttp = await callA('POST', '/api/sync/servers', {
      name: 'http-pin',
      host: '127.0.0.1',
      port: 1,
      protocol: 'http',
      tls_fingerprint: certC.fingerprint,
    });
    expect(overHttp.status).toBe(400);
    expect(overHttp.body.message).toMatch(/tls_fingerprint: a pinned TLS fingerprint requires protocol https/);
    const listed = await callA('GET', '/api/sync/servers');
    expect((listed.body.servers as { name: string }[]).map((s) => s.name)).not.toContain('http-pin');
  });

  it('still catches up with a plain-http peer', async () => {
    const res = await callA('POST', '/api/sync/servers', { name: e.name, host: '127.0.0.1', port: e.port, api_key: e.key, protocol: 'http' });
    expect(res.status).toBe(201);
    await writeRow(a, 'for e over http');
    const result = await scan(res.body.id as number);
    expect(result.errors).toEqual([]);
    expect(await hasRow(e, 'for e over http')).toBe(true);
  });
});

// Two real nodes (A and B) for catch-up tests: own databases, Redis prefixes, fixed ports so that a node
// can be stopped and started again where its peer expects it.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { loadNodeConfig, type NodeConfig } from '@catchup/config';
import { freePort, useQueuePrefix, useTestDatabases } from '@catchup/testing';
import { startNode, type RunningNode } from '../src/node.ts';

export { freePort };

export interface NodeSpec {
  name: string;
  url: string;
  port: number;
  key: string;
  env: Record<string, string>;
  config(extra?: Record<string, string>): NodeConfig;
}

export interface Pair {
  specA: NodeSpec;
  specB: NodeSpec;
  a: RunningNode;
  b: RunningNode | undefined;
  bServerIdOnA: number;
  startB(): Promise<RunningNode>;
  stopB(): Promise<void>;
}

/** The environment of a test node: its database, port, key, queue prefix and data folder, logs silent. */
export function testNodeEnv(node: { name: string; databaseUrl: string; port: number; key: string; dataDir: string }): Record<string, string> {
  return {
    DATABASE_URL: node.databaseUrl,
    HOST: '127.0.0.1',
    PORT: String(node.port),
    NODE_NAME: node.name,
    SYNC_API_KEY: node.key,
    QUEUE_PREFIX: useQueuePrefix(node.name),
    LOG_LEVEL: 'silent',
    DATA_DIR: node.dataDir,
  };
}

export async function useTwoNodes(label: string, env: Record<string, string> = {}, envA: Record<string, string> = {}): Promise<Pair> {
  const [dbA, dbB] = await useTestDatabases(2, label);
  const dataDirs: string[] = [];
  const spec = async (side: 'a' | 'b', url: string, extraEnv: Record<string, string>): Promise<NodeSpec> => {
    const name = `${label}-${side}`;
    const port = await freePort();
    const key = `${name}-key-0123456789abcdef`;
    const dataDir = await mkdtemp(path.join(tmpdir(), `catchup-${name}-`));
    dataDirs.push(dataDir);
    const nodeEnv = { ...testNodeEnv({ name, databaseUrl: url, port, key, dataDir }), ...env, ...extraEnv };
    return { name, url, port, key, env: nodeEnv, config: (extra = {}) => loadNodeConfig({ ...nodeEnv, ...extra }) };
  };
  const specA = await spec('a', dbA!.url, envA);
  const specB = await spec('b', dbB!.url, {});
  const pair: Pair = {
    specA,
    specB,
    a: await startNode(specA.config()),
    b: await startNode(specB.config()),
    bServerIdOnA: 0,
    async startB() {
      pair.b = await startNode(specB.config());
      return pair.b;
    },
    async stopB() {
      await pair.b?.close();
      pair.b = undefined;
    },
  };
  pair.bServerIdOnA = (await pair.a.ctx.db.syncServer.create({ data: { name: specB.name, host: '127.0.0.1', port: specB.port, apiKey: specB.key } })).id;
  await pair.b!.ctx.db.syncServer.create({ data: { name: specA.name, host: '127.0.0.1', port: specA.port, apiKey: specA.key } });
  afterAll(async () => {
    await pair.a.close();
    await pair.b?.close();
    // The default data folders (a test may point DATA_DIR elsewhere, and cleans that up itself).
    for (const dir of dataDirs) await rm(dir, { recursive: true, force: true });
  });
  return pair;
}

export async function until(what: string, check: () => Promise<boolean>, timeoutMs = 60_000, interval = 100): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await check()) return;
    await new Promise((r) => setTimeout(r, interval));
  }
  throw new Error(`timed out waiting for ${what}`);
}

export async function tableRows(node: RunningNode, table = 'scouting_data'): Promise<unknown[]> {
  return (await node.ctx.pool.query(`SELECT to_jsonb(t) AS r FROM ${table} t ORDER BY id`)).rows.map((r) => r.r);
}

export async function latestSequence(node: RunningNode): Promise<string> {
  return (await node.ctx.pool.query<{ n: string }>('SELECT coalesce(max(sequence),0)::text AS n FROM database_changes')).rows[0]!.n;
}

export async function writeRows(node: RunningNode, count: number, label: string): Promise<void> {
  await node.ctx.pool.query(
    `INSERT INTO scouting_data (team_number, match_number, scouting_team_number, scouter, data)
     SELECT g, g % 80, 1678, $2, jsonb_build_object('note', $2 || g) FROM generate_series(1, $1) g`,
    [count, label],
  );
}

export function call(node: RunningNode, key: string) {
  return (path: string, init: RequestInit & { json?: unknown } = {}) => {
    const { json, ...rest } = init;
    return fetch(`${node.url}${path}`, {
      ...rest,
      headers: {
        ...(rest.headers as Record<string, string> | undefined),
        'x-api-key': key,
        ...(json !== undefined ? { 'content-type': 'application/json' } : {}),
      },
      ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
    });
  };
}

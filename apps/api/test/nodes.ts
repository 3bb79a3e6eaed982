// In-process test nodes: each its own database and Fastify server on a random port.
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { afterAll } from 'vitest';
import { loadNodeConfig } from '@catchup/config';
import { useQueuePrefix, useTestDatabases } from '@catchup/testing';
import { startNode, type RunningNode } from '../src/node.ts';

export interface TestApiNode extends RunningNode {
  name: string;
  apiKey: string;
  /** fetch against this node with its key (unless headers say otherwise). */
  call(path: string, init?: RequestInit & { json?: unknown }): Promise<Response>;
}

export async function useApiNodes(count: number, label = 'api', env: Record<string, string> = {}): Promise<TestApiNode[]> {
  const dbs = await useTestDatabases(count, label);
  const nodes: TestApiNode[] = [];
  const dataDirs: string[] = [];
  for (const [i, database] of dbs.entries()) {
    const name = `${label}-${String.fromCharCode(97 + i)}`;
    const apiKey = `key-of-${name}-0123456789abcdef`;
    const dataDir = await mkdtemp(path.join(tmpdir(), `catchup-${name}-`));
    dataDirs.push(dataDir);
    const config = loadNodeConfig({
      DATABASE_URL: database.url,
      HOST: '127.0.0.1',
      PORT: '0',
      NODE_NAME: name,
      SYNC_API_KEY: apiKey,
      LOG_LEVEL: 'silent',
      QUEUE_PREFIX: useQueuePrefix(name),
      DATA_DIR: dataDir,
      // Detection runs when a test asks for it, never behind its back.
      CATCHUP_SCHEDULER_ENABLED: 'false',
      // Test files run side by side on one PostgreSQL server: five nodes of pools of 10 could ask for 120
      // connections of its 100.
      DATABASE_POOL_SIZE: '6',
      ...env,
    });
    const node = await startNode(config);
    nodes.push({
      ...node,
      name,
      apiKey,
      call(path, init = {}) {
        const { json, headers, ...rest } = init;
        return fetch(`${node.url}${path}`, {
          ...rest,
          headers: { 'x-api-key': apiKey, ...(json !== undefined ? { 'content-type': 'application/json' } : {}), ...headers },
          ...(json !== undefined ? { body: JSON.stringify(json) } : {}),
        });
      },
    });
  }
  afterAll(async () => {
    await Promise.all(nodes.map((n) => n.close()));
    // Unless a test pointed DATA_DIR elsewhere (and cleans that up itself).
    for (const dir of dataDirs) await rm(dir, { recursive: true, force: true });
  });
  return nodes;
}

export async function registerPeer(on: TestApiNode, peer: TestApiNode, extra: Record<string, unknown> = {}): Promise<number> {
  const port = Number(new URL(peer.url).port);
  const res = await on.call('/api/sync/servers', { method: 'POST', json: { name: peer.name, host: '127.0.0.1', port, api_key: peer.apiKey, ...extra } });
  if (res.status !== 201) throw new Error(`registering ${peer.name} on ${on.name}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: number }).id;
}

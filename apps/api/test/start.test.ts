import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { once } from 'node:events';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { freePort, useQueuePrefix, useTestDatabases, waitForHealth } from '@catchup/testing';

const main = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../src/main.ts');
const [node, fresh] = await useTestDatabases(2, 'start');
const queuePrefix = useQueuePrefix('start');
const dataDir = await mkdtemp(path.join(tmpdir(), 'catchup-start-'));

function startNode(env: Record<string, string>) {
  const child = spawn(process.execPath, [main], {
    env: { ...process.env, LOG_LEVEL: 'warn', NODE_NAME: 'start-test', QUEUE_PREFIX: queuePrefix, DATA_DIR: dataDir, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let output = '';
  child.stdout.on('data', (d) => (output += d));
  child.stderr.on('data', (d) => (output += d));
  return { child, output: () => output };
}

describe('a node process', () => {
  it('serves /health and exits 0 on SIGTERM', async () => {
    const port = await freePort();
    const { child, output } = startNode({ DATABASE_URL: node!.url, PORT: String(port), HOST: '127.0.0.1' });
    try {
      let body: unknown;
      for (let i = 0; i < 100 && body === undefined; i++) {
        try {
          const res = await fetch(`http://127.0.0.1:${port}/health`);
          expect(res.status).toBe(200);
          body = await res.json();
        } catch (err) {
          if (child.exitCode !== null) throw new Error(`node exited early: ${output()}`);
          if (!(err instanceof TypeError)) throw err;
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      expect(body).toMatchObject({ status: 'ok', node: 'start-test' });
      child.kill('SIGTERM');
      const [code] = await once(child, 'exit');
      expect(code).toBe(0);
    } finally {
      if (child.exitCode === null) child.kill('SIGKILL');
    }
  });

  it('generates an inbound key at first start, prints it once, and keeps it across restarts', async () => {
    const run = async () => {
      const port = await freePort();
      const started = startNode({ DATABASE_URL: fresh!.url, PORT: String(port), HOST: '127.0.0.1', SYNC_API_KEY: '' });
      await waitForHealth(`http://127.0.0.1:${port}`, started.child, 'node', 30_000).catch((err: Error) => {
        throw new Error(`${err.message}: ${started.output()}`);
      });
      return { port, ...started };
    };
    const first = await run();
    try {
      const key = /SYNC_API_KEY=(\S+)/.exec(first.output())?.[1];
      expect(key).toBeDefined();
      expect((await fetch(`http://127.0.0.1:${first.port}/api/sync/ping`, { headers: { 'x-api-key': key! } })).status).toBe(200);
      expect((await fetch(`http://127.0.0.1:${first.port}/api/sync/ping`)).status).toBe(401);
      first.child.kill('SIGTERM');
      await once(first.child, 'exit');

      const second = await run();
      try {
        expect(second.output()).not.toContain('SYNC_API_KEY=');
        expect((await fetch(`http://127.0.0.1:${second.port}/api/sync/ping`, { headers: { 'x-api-key': key! } })).status).toBe(200);
      } finally {
        second.child.kill('SIGTERM');
        await once(second.child, 'exit');
      }
    } finally {
      if (first.child.exitCode === null) first.child.kill('SIGKILL');
    }
  }, 90_000);

  it('says in one line that PostgreSQL is unreachable, where it looked and how to start it', async () => {
    const port = await freePort();
    const { child, output } = startNode({ DATABASE_URL: `postgresql://postgres@127.0.0.1:${port}/catchup`, PORT: '0' });
    const [code] = await once(child, 'exit');
    expect(code).toBe(1);
    expect(output().trim()).toMatch(
      new RegExp(`^PostgreSQL is not reachable at postgresql://postgres@127\\.0\\.0\\.1:${port}/catchup \\(DATABASE_URL\\).*docker compose up -d`),
    );
  });

  it('says in one line that Redis is unreachable, where it looked and how to start it', async () => {
    const port = await freePort();
    const { child, output } = startNode({ DATABASE_URL: node!.url, REDIS_URL: `redis://127.0.0.1:${port}`, PORT: '0' });
    const [code] = await once(child, 'exit');
    expect(code).toBe(1);
    expect(output().trim()).toMatch(
      new RegExp(`^Redis is not reachable at redis://127\\.0\\.0\\.1:${port} \\(REDIS_URL\\): ECONNREFUSED\\. .*docker compose up -d redis`),
    );
  });

  it('refuses an invalid configuration naming the variable', async () => {
    const { child, output } = startNode({ DATABASE_URL: node!.url, CATCHUP_BATCH_SIZE: 'many' });
    const [code] = await once(child, 'exit');
    expect(code).toBe(1);
    expect(output()).toMatch(/CATCHUP_BATCH_SIZE: expected an integer from 1 to 10000, got "many"/);
  });
});

import { spawn } from 'node:child_process';
import { mkdtemp } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { once } from 'node:events';
import { connect, createServer } from 'node:net';
import { Writable } from 'node:stream';
import { afterAll, describe, expect, it } from 'vitest';
import { loadNodeConfig } from '@catchup/config';
import { createLogger } from '@catchup/logger';
import { useQueuePrefix, useTestDatabases } from '@catchup/testing';
import { startNode } from '../src/node.ts';

const [database] = await useTestDatabases(1, 'logging');
const lines: string[] = [];
const sink = new Writable({
  write(chunk, _enc, done) {
    lines.push(String(chunk));
    done();
  },
});
const key = 'inbound-secret-key-0123456789';
const DATA_DIR = await mkdtemp(path.join(tmpdir(), 'catchup-logging-'));
const node = await startNode(
  loadNodeConfig({
    DATABASE_URL: database!.url,
    HOST: '127.0.0.1',
    PORT: '0',
    NODE_NAME: 'logging',
    DATA_DIR,
    SYNC_API_KEY: key,
    QUEUE_PREFIX: useQueuePrefix('logging'),
    CATCHUP_SCHEDULER_ENABLED: 'false',
  }),
  { logger: createLogger({ level: 'trace', destination: sink }) },
);
afterAll(() => node.close());

describe('readiness', () => {
  it('/ready answers 503 naming Redis when Redis stops answering', async () => {
    const port = await new Promise<number>((resolve) => {
      const probe = createServer().listen(0, '127.0.0.1', () => {
        const { port } = probe.address() as { port: number };
        probe.close(() => resolve(port));
      });
    });
    // A Redis of this test's own, so that it can be stopped.
    const redis = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
    try {
      for (let i = 0; i < 50; i++) {
        const up = await new Promise<boolean>((r) =>
          connect(port, '127.0.0.1')
            .once('connect', function (this: import('node:net').Socket) {
              this.destroy();
              r(true);
            })
            .once('error', () => r(false)),
        );
        if (up) break;
        await new Promise((r) => setTimeout(r, 100));
      }
      const node = await startNode(
        loadNodeConfig({
          DATABASE_URL: database!.url,
          HOST: '127.0.0.1',
          PORT: '0',
          NODE_NAME: 'ready',
          DATA_DIR,
          SYNC_API_KEY: key,
          LOG_LEVEL: 'silent',
          REDIS_URL: `redis://127.0.0.1:${port}`,
          RUN_WORKERS: 'false',
          QUEUE_PREFIX: 'test-ready-private-redis',
        }),
      );
      try {
        expect((await fetch(`${node.url}/ready`)).status).toBe(200);
        redis.kill('SIGKILL');
        await once(redis, 'exit');
        const res = await fetch(`${node.url}/ready`);
        expect(res.status).toBe(503);
        expect(await res.json()).toEqual({ status: 'not ready', postgres: true, redis: false, detection_scheduler: 'unknown' });
      } finally {
        await node.close();
      }
    } finally {
      if (redis.exitCode === null) redis.kill('SIGKILL');
    }
  });

  it('a node refuses to start when Redis does not answer', async () => {
    await expect(
      startNode(
        loadNodeConfig({
          DATABASE_URL: database!.url,
          HOST: '127.0.0.1',
          PORT: '0',
          NODE_NAME: 'no-redis',
          DATA_DIR,
          SYNC_API_KEY: key,
          LOG_LEVEL: 'silent',
          REDIS_URL: 'redis://127.0.0.1:1',
        }),
      ),
    ).rejects.toMatchObject({ name: 'RedisUnreachableError', code: 'ECONNREFUSED' });
  });
});

describe('logs', () => {
  it('are JSON lines that never contain an API key, inbound or outbound', async () => {
    await fetch(`${node.url}/api/sync/ping`, { headers: { 'x-api-key': key } });
    await fetch(`${node.url}/api/sync/ping`, { headers: { authorization: `Bearer ${key}` } });
    await fetch(`${node.url}/api/sync/servers`, {
      method: 'POST',
      headers: { 'x-api-key': key, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'p', host: '127.0.0.9', port: 1, api_key: 'outbound-secret-987654321' }),
    });
    await fetch(`${node.url}/api/sync/ping`, { headers: { 'x-api-key': 'a-wrong-key-that-was-tried' } });
    const text = lines.join('');
    expect(lines.length).toBeGreaterThan(4);
    for (const line of lines) expect(() => JSON.parse(line)).not.toThrow();
    expect(text).toContain('/api/sync/ping');
    expect(text).not.toContain(key);
    expect(text).not.toContain('outbound-secret-987654321');
    expect(text).not.toContain('a-wrong-key-that-was-tried');
  });

  it('never contain a key put in the URL: query parameters named like a key, token or password are redacted', async () => {
    const secrets = ['url-secret-api-key-111', 'url-secret-apikey-222', 'url-secret-key-333', 'url-secret-token-444', 'url-secret-password-555'];
    const before = lines.length;
    const refused = await fetch(`${node.url}/api/sync/ping?api_key=${secrets[0]}`);
    expect(refused.status).toBe(401);
    const query = `APIKEY=${secrets[1]}&Key=${secrets[2]}&access_token=${secrets[3]}&password=${secrets[4]}&path=config`;
    expect((await fetch(`${node.url}/api/sync/files/checksums?${query}`, { headers: { 'x-api-key': key } })).status).toBe(200);
    const text = lines.slice(before).join('');
    for (const secret of secrets) expect(text).not.toContain(secret);
    expect(text).toContain('/api/sync/ping?api_key=[redacted]');
    expect(text).toContain('/api/sync/files/checksums?APIKEY=[redacted]&Key=[redacted]&access_token=[redacted]&password=[redacted]&path=config');
  });
});

// A redis-server of a test's own (its own port, nothing persisted), so that a test can kill it and start
// it again empty under a node without touching the shared Redis.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { redisAnswers } from '@catchup/queue';
import { afterAll } from 'vitest';
import { freePort } from './services.ts';

export interface PrivateRedis {
  port: number;
  /** redis:// URL of this server. */
  url: string;
  /** SIGKILLs the server (everything in it is gone: nothing is persisted). */
  kill(): Promise<void>;
  /** Starts the server again on the same port, empty. */
  start(): Promise<void>;
  /** Kills the server if it runs. */
  remove(): Promise<void>;
}

/** Starts `redis-server` (from PATH) on a free port with persistence off; it answers within ~100 ms. */
async function startPrivateRedis(): Promise<PrivateRedis> {
  const port = await freePort();
  const url = `redis://127.0.0.1:${port}`;
  let server: ChildProcess | undefined;
  const redis: PrivateRedis = {
    port,
    url,
    async start() {
      const child = spawn('redis-server', ['--port', String(port), '--bind', '127.0.0.1', '--save', '', '--appendonly', 'no'], { stdio: 'ignore' });
      server = child;
      // Not left behind by a test process that ends without its afterAll hooks.
      const killOnExit = () => child.kill('SIGKILL');
      process.once('exit', killOnExit);
      child.once('exit', () => process.off('exit', killOnExit));
      const end = Date.now() + 10_000;
      while (!(await redisAnswers(url))) {
        if (child.exitCode !== null) throw new Error(`redis-server on port ${port} exited with ${child.exitCode}`);
        if (Date.now() > end) throw new Error(`redis-server on port ${port} did not answer within 10 s`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
    async kill() {
      const child = server;
      server = undefined;
      if (!child || child.exitCode !== null || child.signalCode !== null) return;
      const exited = once(child, 'exit');
      child.kill('SIGKILL');
      await exited;
    },
    remove: () => redis.kill(),
  };
  await redis.start();
  return redis;
}

/** A private redis-server for this test file, killed after the file's last test. */
export async function usePrivateRedis(): Promise<PrivateRedis> {
  const redis = await startPrivateRedis();
  afterAll(() => redis.remove());
  return redis;
}

import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

// Where the test suite finds the real PostgreSQL and Redis it runs against.
export const testPostgresUrl = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
export const testRedisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Every database the harness creates starts with this, so leftovers of a killed run can be swept. */
export const TEST_DB_PREFIX = 'catchup_test_';

export function databaseUrl(name: string): string {
  const url = new URL(testPostgresUrl);
  url.pathname = `/${name}`;
  return url.toString();
}

/** A TCP port that was free a moment ago (for servers that must keep their port across restarts). */
export async function freePort(): Promise<number> {
  return new Promise((resolve) => {
    const probe = createServer().listen(0, '127.0.0.1', () => {
      const { port } = probe.address() as { port: number };
      probe.close(() => resolve(port));
    });
  });
}

/** Waits until a node process answers GET /health; fails early if the process exits. */
export async function waitForHealth(url: string, child: ChildProcess, what: string, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (child.exitCode !== null) throw new Error(`${what} exited with ${child.exitCode}`);
    if (await fetch(`${url}/health`).then((r) => r.ok, () => false)) return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not start within ${timeoutMs / 1000}s`);
}

import type { ChildProcess } from 'node:child_process';
import { createServer } from 'node:net';

// Where the test suite finds the real PostgreSQL and Redis it runs against.
export const testPostgresUrl = process.env.TEST_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres';
export const testRedisUrl = process.env.TEST_REDIS_URL ?? 'redis://127.0.0.1:6379';

/** Every database the harness creates starts with this, so leftovers of a killed run can be swept. */
export const TEST_DB_PREFIX = 'catchup_test_';

/**
 * The name of a test database owned by the process `ownerPid` (a test run's main process, or a chaos
 * run): `catchup_test_<pid>_<label>`. A sweep drops only databases whose owner is gone, so runs going
 * on at the same time never drop each other's databases.
 */
export function testDatabaseName(ownerPid: number, label: string): string {
  return `${TEST_DB_PREFIX}${ownerPid}_${label}`.slice(0, 63);
}

/** The owner's pid of a test database name; undefined for a name without one. */
export function testDatabaseOwner(name: string): number | undefined {
  const match = new RegExp(`^${TEST_DB_PREFIX}(\\d+)_`).exec(name);
  return match ? Number(match[1]) : undefined;
}

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
    if (
      await fetch(`${url}/health`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await new Promise((r) => setTimeout(r, 100));
  }
  throw new Error(`${what} did not start within ${timeoutMs / 1000}s`);
}

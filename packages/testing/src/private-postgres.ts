// A throwaway PostgreSQL cluster of a test's own (initdb into a temp folder, its own port), so that a
// test can restart or stop the database under a node without touching the shared server.
import { execFile, execFileSync } from 'node:child_process';
import { rmSync } from 'node:fs';
import { chown, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir, userInfo } from 'node:os';
import path from 'node:path';
import { promisify } from 'node:util';
import { afterAll } from 'vitest';
import { freePort } from './services.ts';

const run = promisify(execFile);

/** Where the PostgreSQL server binaries are (PG_BIN overrides; Debian's layout otherwise). */
const pgBin = process.env.PG_BIN ?? '/usr/lib/postgresql/15/bin';

/** PostgreSQL refuses to run as root: as root, the cluster belongs to and runs as this OS user. */
const CLUSTER_USER = 'postgres';

export interface PrivatePostgres {
  port: number;
  /** postgresql:// URL of database `name` in this cluster (create it with ensureDatabase or migrateDeploy). */
  url(name: string): string;
  /** Kills every connection at once (`-m immediate`, like a crash) and starts the server again. */
  restartImmediate(): Promise<void>;
  /** Stops the server at once (`-m immediate`). */
  stop(): Promise<void>;
  start(): Promise<void>;
  /** Stops the server and removes its folder. */
  remove(): Promise<void>;
}

function clusterUserCommand(command: string, args: string[]): [string, string[]] {
  const file = path.join(pgBin, command);
  return userInfo().uid === 0 ? ['runuser', ['-u', CLUSTER_USER, '--', file, ...args]] : [file, args];
}

async function asClusterUser(command: string, args: string[]): Promise<void> {
  await run(...clusterUserCommand(command, args));
}

/** initdb (trust, fsync off) into a temp folder and start it on a free port: about a second. */
async function startPrivatePostgres(label = 'pg'): Promise<PrivatePostgres> {
  const dir = await mkdtemp(path.join(tmpdir(), `catchup-${label}-`));
  const dataDir = path.join(dir, 'data');
  if (userInfo().uid === 0) {
    const { stdout } = await run('id', ['-u', CLUSTER_USER]);
    const { stdout: gid } = await run('id', ['-g', CLUSTER_USER]);
    await chown(dir, Number(stdout.trim()), Number(gid.trim()));
  }
  const port = await freePort();
  await asClusterUser('initdb', ['-A', 'trust', '-U', 'postgres', '-D', dataDir, '--no-sync', '-E', 'UTF8', '--locale=C']);
  // fsync off is safe here: a restart `-m immediate` kills the server, not the machine, so what reached
  // the OS survives. synchronous_commit stays on: off, the server acknowledges commits it has not yet
  // written, and an immediate restart loses them — a lost acknowledged write the tests would blame on
  // the product.
  const options = `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c full_page_writes=off`;
  const pgCtl = (...args: string[]) => asClusterUser('pg_ctl', ['-D', dataDir, '-l', path.join(dir, 'server.log'), '-o', options, ...args]);
  let running = false;
  // Not left behind by a test process that ends without its afterAll hooks.
  const removeOnExit = () => {
    if (running) {
      try {
        execFileSync(...clusterUserCommand('pg_ctl', ['-D', dataDir, 'stop', '-m', 'immediate', '-w']), { stdio: 'ignore' });
      } catch {
        // already stopped
      }
    }
    rmSync(dir, { recursive: true, force: true });
  };
  process.once('exit', removeOnExit);
  const cluster: PrivatePostgres = {
    port,
    url: (name) => `postgresql://postgres@127.0.0.1:${port}/${name}`,
    async restartImmediate() {
      await pgCtl('restart', '-m', 'immediate', '-w');
      running = true;
    },
    async stop() {
      await pgCtl('stop', '-m', 'immediate', '-w');
      running = false;
    },
    async start() {
      await pgCtl('start', '-w');
      running = true;
    },
    async remove() {
      process.off('exit', removeOnExit);
      if (running) await cluster.stop().catch(() => {});
      await rm(dir, { recursive: true, force: true });
    },
  };
  try {
    await cluster.start();
  } catch (err) {
    await cluster.remove();
    throw err;
  }
  return cluster;
}

/** A private cluster for this test file, removed after the file's last test. */
export async function usePrivatePostgres(label = 'pg'): Promise<PrivatePostgres> {
  const cluster = await startPrivatePostgres(label);
  afterAll(() => cluster.remove());
  return cluster;
}

// A node as its own process (apps/api/src/main.ts), for faults that must show as a crash: an unhandled
// error kills the child, where in-process it would kill the test runner. A node keeps its port, data
// folder and environment across restarts, so that its peers find it where they expect it.
import { spawn, type ChildProcess } from 'node:child_process';
import { once } from 'node:events';
import { mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll } from 'vitest';
import { freePort, waitForHealth } from '@catchup/testing';

const main = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/main.ts');

export interface NodeProcess {
  name: string;
  key: string;
  port: number;
  url: string;
  /** Its DATA_DIR (instance/, config/, uploads/ below it). */
  dataDir: string;
  /** The running (or last) child process. */
  readonly child: ChildProcess;
  /** What the process wrote to stderr and stdout so far, over every start (its crash message, if any). */
  output(): string;
  alive(): boolean;
  /** fetch against the node with its key; JSON body when `json` is given. */
  call(route: string, json?: unknown): Promise<Response>;
  /**
   * Sends `signal` and resolves with the exit code and how long the exit took; a process still running
   * after `killAfterMs` is SIGKILLed (code null).
   */
  stop(signal?: NodeJS.Signals, killAfterMs?: number): Promise<{ code: number | null; ms: number }>;
  /** Starts the process again (same port, data folder, environment plus `env`); resolves once /health answers. */
  start(env?: Record<string, string>): Promise<void>;
}

/**
 * Starts a node process on an already migrated database; killed after the file's last test if still
 * running. Call at the top level of a test file (it registers an afterAll hook).
 */
export async function startNodeProcess(name: string, env: Record<string, string>): Promise<NodeProcess> {
  const node = await nodeProcess(name, env);
  await node.start();
  return node;
}

/** A node process that is not started yet (call start()); killed and cleaned up after the file's tests. */
export async function nodeProcess(name: string, env: Record<string, string>): Promise<NodeProcess> {
  const port = await freePort();
  const key = `${name}-key-0123456789abcdef`;
  const dataDir = await mkdtemp(path.join(tmpdir(), `catchup-${name}-`));
  const url = `http://127.0.0.1:${port}`;
  let child: ChildProcess | undefined;
  let output = '';
  const alive = () => child !== undefined && child.exitCode === null && child.signalCode === null;
  afterAll(async () => {
    if (alive()) {
      const exited = once(child!, 'exit');
      child!.kill('SIGKILL');
      await exited;
    }
    await rm(dataDir, { recursive: true, force: true });
  });
  const node: NodeProcess = {
    name,
    key,
    port,
    url,
    dataDir,
    get child() {
      if (!child) throw new Error(`${name} was never started`);
      return child;
    },
    output: () => output,
    alive,
    call: (route, json) =>
      fetch(`${url}${route}`, {
        method: json === undefined ? 'GET' : 'POST',
        headers: { 'x-api-key': key, ...(json === undefined ? {} : { 'content-type': 'application/json' }) },
        ...(json === undefined ? {} : { body: JSON.stringify(json) }),
      }),
    async stop(signal = 'SIGTERM', killAfterMs = 15_000) {
      const started = Date.now();
      if (!alive()) return { code: child?.exitCode ?? null, ms: 0 };
      const exited = once(child!, 'exit');
      child!.kill(signal);
      const timer = setTimeout(() => child!.kill('SIGKILL'), killAfterMs);
      const [code] = (await exited) as [number | null];
      clearTimeout(timer);
      return { code, ms: Date.now() - started };
    },
    async start(extra = {}) {
      if (alive()) throw new Error(`${name} is running already`);
      const spawned = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', main], {
        env: {
          ...process.env,
          HOST: '127.0.0.1',
          PORT: String(port),
          NODE_NAME: name,
          SYNC_API_KEY: key,
          DATA_DIR: dataDir,
          LOG_LEVEL: 'warn',
          ...env,
          ...extra,
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = spawned;
      spawned.stdout!.on('data', (d: Buffer) => (output += d.toString()));
      spawned.stderr!.on('data', (d: Buffer) => (output += d.toString()));
      try {
        await waitForHealth(url, spawned, name, 30_000);
      } catch (err) {
        throw new Error(`${(err as Error).message}\n${output}`);
      }
    },
  };
  return node;
}

const workerMain = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../../worker/src/main.ts');

export interface WorkerProcess {
  name: string;
  output(): string;
  alive(): boolean;
  /** Starts the process (as `npm run worker` does); resolves once it says its workers started. */
  start(): Promise<void>;
  stop(signal?: NodeJS.Signals): Promise<void>;
}

/** A worker process of a node (apps/worker/src/main.ts) with the node's environment; killed after the file's tests. */
export function workerProcess(name: string, env: Record<string, string>): WorkerProcess {
  let child: ChildProcess | undefined;
  let output = '';
  const alive = () => child !== undefined && child.exitCode === null && child.signalCode === null;
  const stop = async (signal: NodeJS.Signals = 'SIGTERM') => {
    if (!alive()) return;
    const exited = once(child!, 'exit');
    child!.kill(signal);
    const timer = setTimeout(() => child!.kill('SIGKILL'), 15_000);
    await exited;
    clearTimeout(timer);
  };
  afterAll(() => stop('SIGKILL'));
  return {
    name,
    output: () => output,
    alive,
    stop,
    async start() {
      if (alive()) throw new Error(`${name} is running already`);
      const spawned = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', workerMain], {
        env: { ...process.env, NODE_NAME: name, ...env, LOG_LEVEL: 'info' },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child = spawned;
      const started = output.length;
      spawned.stdout!.on('data', (d: Buffer) => (output += d.toString()));
      spawned.stderr!.on('data', (d: Buffer) => (output += d.toString()));
      const end = Date.now() + 30_000;
      while (!output.slice(started).includes('workers for')) {
        if (spawned.exitCode !== null) throw new Error(`${name} exited with ${spawned.exitCode}\n${output.slice(started)}`);
        if (Date.now() > end) throw new Error(`${name} did not start within 30 s\n${output.slice(started)}`);
        await new Promise((r) => setTimeout(r, 50));
      }
    },
  };
}

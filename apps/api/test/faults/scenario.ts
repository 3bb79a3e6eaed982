// What the fault scenarios share: node processes on real services, writers whose acknowledged writes are
// tracked, a seeded random, and the closing checks — every node has the same tables and file trees, and
// no acknowledged write is lost (SPEC I4, I14, F3).
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { afterAll, expect, onTestFailed } from 'vitest';
import { createPool, type Pool } from '@catchup/db';
import { mulberry32, sampleTablesDigest, useQueuePrefix } from '@catchup/testing';
import { nodeProcess, type NodeProcess } from './node-process.ts';

export const LONG = process.env.FAULTS_LONG === '1';
export const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/**
 * A seeded random (mulberry32). The seed comes from FAULTS_SEED when set (to replay a failure) and is
 * printed when the test fails.
 */
export function seededRandom(label: string): { seed: number; next(): number; between(lo: number, hi: number): number } {
  const seed = process.env.FAULTS_SEED ? Number(process.env.FAULTS_SEED) : Math.floor(Math.random() * 2 ** 31);
  onTestFailed(() => {
    console.error(`[${label}] failed with seed ${seed}: replay with FAULTS_SEED=${seed}`);
  });
  const next = mulberry32(seed);
  return { seed, next, between: (lo, hi) => lo + Math.floor(next() * (hi - lo + 1)) };
}

/** A node process and a pool on its database (for writers and checks). */
export interface FaultNode extends NodeProcess {
  databaseUrl: string;
  /** The node's environment (for worker processes of the same node). */
  env: Record<string, string>;
  pool: Pool;
}

/** The settings every scenario's nodes run with: quick retries, quick stalled-job recovery, detection every second. */
export function nodeEnv(name: string, extra: Record<string, string> = {}): Record<string, string> {
  return {
    QUEUE_PREFIX: useQueuePrefix(name),
    CATCHUP_SCHEDULER_ENABLED: 'true',
    CATCHUP_CHECK_INTERVAL: '1',
    CATCHUP_BATCH_SIZE: '500',
    CATCHUP_RETRY_DELAY_MS: '200',
    CATCHUP_RETRY_ATTEMPTS: '4',
    CATCHUP_CONNECTION_TIMEOUT: '5',
    WORKER_CONCURRENCY: '2',
    JOB_LOCK_SECONDS: '3',
    SCAN_WAIT_SECONDS: '0',
    ...extra,
  };
}

/** A node process (not started) on the database at `databaseUrl`. */
export async function faultNode(name: string, databaseUrl: string, env: Record<string, string> = {}): Promise<FaultNode> {
  const fullEnv = { DATABASE_URL: databaseUrl, ...nodeEnv(name, env) };
  const proc = await nodeProcess(name, fullEnv);
  const pool = createPool(databaseUrl, 3);
  afterAll(() => pool.end());
  return Object.assign(proc, { databaseUrl, env: fullEnv, pool });
}

/** Registers `peer` on `on`, reached at `port` (the peer's own, or a proxy's). */
export async function register(on: NodeProcess, peer: NodeProcess, port = peer.port): Promise<number> {
  const res = await on.call('/api/sync/servers', { name: peer.name, host: '127.0.0.1', port, api_key: peer.key });
  if (res.status !== 201) throw new Error(`registering ${peer.name} on ${on.name}: ${res.status} ${await res.text()}`);
  return ((await res.json()) as { id: number }).id;
}

export async function scan(node: NodeProcess): Promise<void> {
  await node.call('/api/sync/catchup/scan', {}).catch(() => undefined);
}

export async function rowCount(node: FaultNode, where = 'true'): Promise<number> {
  const { rows } = await node.pool.query<{ n: number }>(`SELECT count(*)::int AS n FROM scouting_data WHERE ${where}`);
  return rows[0]!.n;
}

/** `count` rows on `node`'s database in one transaction, their scouter `label`. */
export async function bulkRows(node: FaultNode, count: number, label: string): Promise<void> {
  await node.pool.query(
    `INSERT INTO scouting_data (team_number, match_number, scouting_team_number, scouter, data)
     SELECT g, g % 80, 1678, $2, jsonb_build_object('note', repeat('x', 200), 'n', g) FROM generate_series(1, $1) g`,
    [count, label],
  );
}

/**
 * Where a catch-up fault scenario puts its fault: `a` and `b` each other's peers, `rows.a` and `rows.b`
 * bulk rows on them (scouters bulk-a, bulk-b), a writer on each, and a catch-up asked for on both.
 */
export async function catchupUnderWrites(a: FaultNode, b: FaultNode, random: () => number, rows: { a: number; b: number }): Promise<Writer[]> {
  await register(a, b);
  await register(b, a);
  await bulkRows(a, rows.a, 'bulk-a');
  if (rows.b > 0) await bulkRows(b, rows.b, 'bulk-b');
  const writers = [new Writer('writer-a', a, random), new Writer('writer-b', b, random)];
  for (const w of writers) w.start();
  await Promise.all([scan(a), scan(b)]);
  return writers;
}

/**
 * The application writing to a node's database while the scenario runs: inserts a few rows at a time and
 * updates rows it wrote before. Every write whose commit was acknowledged is remembered with the value it
 * left; a write whose outcome is unknown (the connection broke before the answer) leaves either value
 * acceptable. Writers touch only their own rows, so no other write can supersede theirs.
 */
export class Writer {
  /** Row id → values the row may end with (the last acknowledged one, plus any unknown outcome after it). */
  readonly expected = new Map<string, string[]>();
  acknowledged = 0;
  failed = 0;
  private running = false;
  private loop: Promise<void> | undefined;
  private counter = 0;

  readonly name: string;
  private readonly node: FaultNode;
  private readonly random: () => number;
  private readonly pauseMs: number;

  constructor(name: string, node: FaultNode, random: () => number, pauseMs = 40) {
    this.name = name;
    this.node = node;
    this.random = random;
    this.pauseMs = pauseMs;
  }

  start(): void {
    this.running = true;
    this.loop = (async () => {
      while (this.running) {
        await this.step();
        await sleep(this.pauseMs);
      }
    })();
  }

  async stop(): Promise<void> {
    this.running = false;
    await this.loop;
  }

  /** One write: an insert of 1–5 rows, or (once there are rows) an update of one of them. */
  async step(): Promise<void> {
    const value = `${this.name}-${++this.counter}`;
    const ids = [...this.expected.keys()];
    if (ids.length > 0 && this.random() < 0.4) {
      const id = ids[Math.floor(this.random() * ids.length)]!;
      try {
        await this.node.pool.query(`UPDATE scouting_data SET data = jsonb_build_object('v', $2::text), match_number = match_number + 1 WHERE id = $1`, [
          id,
          value,
        ]);
        this.expected.set(id, [value]);
        this.acknowledged++;
      } catch {
        this.expected.get(id)!.push(value);
        this.failed++;
      }
      return;
    }
    const count = 1 + Math.floor(this.random() * 5);
    try {
      const { rows } = await this.node.pool.query<{ id: string }>(
        `INSERT INTO scouting_data (team_number, match_number, scouting_team_number, scouter, data)
         SELECT 9000 + g, 0, 1678, $2, jsonb_build_object('v', $3::text) FROM generate_series(1, $1) g RETURNING id`,
        [count, this.name, value],
      );
      for (const { id } of rows) this.expected.set(id, [value]);
      this.acknowledged++;
    } catch {
      // Unknown outcome: if it committed, convergence still requires it on every node.
      this.failed++;
    }
  }
}

/** Acknowledged writes missing from `node` (or standing at a value no acknowledged write left). */
export async function lostWrites(node: FaultNode, writers: Writer[]): Promise<string[]> {
  const lost: string[] = [];
  for (const writer of writers) {
    const ids = [...writer.expected.keys()];
    const { rows } = await node.pool.query<{ id: string; v: string }>(`SELECT id::text, data->>'v' AS v FROM scouting_data WHERE id = ANY($1::uuid[])`, [ids]);
    const found = new Map(rows.map((r) => [r.id, r.v]));
    for (const [id, values] of writer.expected) {
      const v = found.get(id);
      if (v === undefined) lost.push(`${writer.name}: row ${id} (${values.join('|')}) missing on ${node.name}`);
      else if (!values.includes(v)) lost.push(`${writer.name}: row ${id} is ${v} on ${node.name}, expected ${values.join('|')}`);
    }
  }
  return lost;
}

/** sha256 of every file under the node's synced folders (temp files of running transfers left out). */
export async function fileTree(node: NodeProcess): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  const walk = async (rel: string) => {
    for (const e of await readdir(path.join(node.dataDir, rel), { withFileTypes: true }).catch(() => [])) {
      const child = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(child);
      else if (e.isFile() && !e.name.startsWith('.catchup-tmp-')) {
        out[child] = createHash('sha256')
          .update(await readFile(path.join(node.dataDir, child)))
          .digest('hex');
      }
    }
  };
  for (const dir of ['instance', 'config', 'uploads']) await walk(dir);
  return out;
}

/** Writes seeded pseudo-random files under the node's uploads folder; returns path → sha256. */
export async function writeFiles(node: NodeProcess, random: () => number, files: { name: string; bytes: number }[]): Promise<Record<string, string>> {
  const out: Record<string, string> = {};
  for (const { name, bytes } of files) {
    const buf = Buffer.alloc(bytes);
    for (let i = 0; i < bytes; i += 4) buf.writeUInt32LE(Math.floor(random() * 2 ** 32), Math.min(i, bytes - 4));
    const file = path.join(node.dataDir, 'uploads', name);
    await mkdir(path.dirname(file), { recursive: true });
    await writeFile(file, buf);
    out[`uploads/${name}`] = createHash('sha256').update(buf).digest('hex');
  }
  return out;
}

export interface Snapshot {
  tables: string;
  files: Record<string, string>;
}

async function snapshot(node: FaultNode, files: boolean): Promise<Snapshot> {
  const tables = createHash('sha256')
    .update(JSON.stringify(await sampleTablesDigest(node.pool)))
    .digest('hex');
  return { tables, files: files ? await fileTree(node) : {} };
}

/**
 * Waits until every node has the same tables (and file trees when `files`), with every process alive,
 * then checks that no acknowledged write is lost on any node. Detection runs on each node's schedule;
 * `nudge` scans every few seconds as well (the schedule is part of what a scenario may test).
 */
export async function expectConvergence(
  nodes: FaultNode[],
  writers: Writer[],
  { files = false, timeoutMs = 60_000, nudge = true }: { files?: boolean; timeoutMs?: number; nudge?: boolean } = {},
): Promise<number> {
  const started = Date.now();
  let last: Snapshot[] = [];
  let lastNudge = Date.now();
  for (;;) {
    for (const node of nodes) {
      if (!node.alive()) throw new Error(`${node.name} died:\n${node.output().slice(-4000)}`);
    }
    last = await Promise.all(nodes.map((n) => snapshot(n, files)));
    const same = last.every((s) => s.tables === last[0]!.tables && JSON.stringify(s.files) === JSON.stringify(last[0]!.files));
    if (same) break;
    if (Date.now() - started > timeoutMs) {
      const counts = await Promise.all(
        nodes.map(async (n) => `${n.name}: ${await rowCount(n)} rows, ${Object.keys(last[nodes.indexOf(n)]!.files).length} files`),
      );
      const logs = await Promise.all(
        nodes.map(
          async (n) =>
            `${n.name}: ${JSON.stringify(
              (await n.pool.query(`SELECT status, details, error_message FROM sync_logs ORDER BY id DESC LIMIT 3`)).rows,
            )}\n${JSON.stringify(
              (
                await n.pool.query(
                  `SELECT state, wait_event_type, wait_event, now() - xact_start AS age, left(query, 80) AS q FROM pg_stat_activity
          WHERE datname = current_database() AND pid <> pg_backend_pid() AND state <> 'idle'`,
                )
              ).rows,
            )}\n${n.output().slice(-1500)}`,
        ),
      );
      throw new Error(`the nodes did not converge within ${timeoutMs / 1000} s (${counts.join('; ')})\n${logs.join('\n')}`);
    }
    if (nudge && Date.now() - lastNudge > 3000) {
      lastNudge = Date.now();
      await Promise.all(nodes.map(scan));
    }
    await sleep(250);
  }
  for (const node of nodes) expect(await lostWrites(node, writers), `acknowledged writes lost on ${node.name}`).toEqual([]);
  for (const node of nodes)
    expect(node.output(), `${node.name} logged an unhandled error`).not.toMatch(/Unhandled 'error' event|uncaughtException|unhandledRejection/);
  return Date.now() - started;
}

/** Polls `check` until true; fails naming `what` after `ms`. */
export async function until(what: string, check: () => Promise<boolean>, ms = 30_000, every = 50): Promise<void> {
  const end = Date.now() + ms;
  while (!(await check().catch(() => false))) {
    if (Date.now() > end) throw new Error(`timed out waiting for ${what}`);
    await sleep(every);
  }
}

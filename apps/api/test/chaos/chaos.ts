// The randomized chaos run (Jepsen-style): three real node processes (API + workers), each with its own
// database on the shared PostgreSQL, its own queue prefix on the shared Redis and its own data folder,
// registered as each other's peers through one TCP proxy per directed link. A seeded schedule of writes
// (rows inserted and updated, files written into uploads/), partitions (links cut, stalled, healed),
// SIGKILLs and restarts of node processes, and operator scans runs for N seconds; then everything heals,
// writing stops, and scheduled detection must bring the three nodes level within a bounded time. The
// checker then verifies convergence, that no acknowledged write was lost, that no file is partial or
// unverified, and that every node process is alive. No vitest in here: `npm run chaos` runs it as a
// script, and apps/api/test/chaos/chaos.test.ts runs a short one in CI.
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { createWriteStream, type WriteStream } from 'node:fs';
import { mkdir, mkdtemp, readdir, readFile, rename, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { fileURLToPath } from 'node:url';
import { createPool, dropDatabase, type Pool } from '@catchup/db';
import { migrateDeploy } from '@catchup/db/migrations';
import { deleteKeysWithPrefix, mulberry32, openTcpProxy, rowsWithoutTheirLoggedVersion, type TcpProxy } from '@catchup/testing';
import { nodeProcessEnv, nodeProcessFlags } from '@catchup/testing/node-process';
import { databaseUrl, freePort, testDatabaseName, testRedisUrl } from '@catchup/testing/services';

const main = path.resolve(path.dirname(fileURLToPath(import.meta.url)), '../../src/main.ts');
const TABLES = ['teams', 'events', 'matches', 'scouting_data'] as const;
const NAMES = ['chaos-a', 'chaos-b', 'chaos-c'] as const;

export interface ChaosOptions {
  /** Seconds of chaos (writes, faults) before healing. */
  seconds: number;
  /** The PRNG seed; a random one when absent. The same seed replays the same schedule. */
  seed?: number;
  /** Upper bound for the three nodes to become level after healing. */
  settleSeconds?: number;
  /** Progress lines (default: console.log). */
  log?: (line: string) => void;
  /** Keep databases, data folders and logs after a failed run (they are removed after a passing one). */
  keepOnFailure?: boolean;
}

export interface ChaosReport {
  ok: boolean;
  seed: number;
  seconds: number;
  /** Failed checks, each with its first differing rows or files. */
  failures: string[];
  stats: Record<string, number>;
  /** Seconds from healing to all three nodes level (null when they never were). */
  settleSeconds: number | null;
  /** Every operation executed, with its time in ms from the start of the chaos. */
  schedule: string[];
  /**
   * What the checker found and accepted, with the reason (printed with every report): temp files that a
   * SIGKILL left mid-transfer, which the product removes an hour later (ARCHITECTURE, Files).
   */
  notes: string[];
  /** Where node logs and data were kept (a failed run). */
  kept?: string;
}

// ---------- seeded PRNG (mulberry32) ----------

export function prng(seed: number) {
  const next = mulberry32(seed);
  return {
    next,
    int: (lo: number, hi: number) => lo + Math.floor(next() * (hi - lo + 1)),
    pick: <T>(items: readonly T[]): T => items[Math.floor(next() * items.length)]!,
    bytes(n: number): Buffer {
      const out = Buffer.allocUnsafe(n);
      let i = 0;
      for (; i + 4 <= n; i += 4) out.writeUInt32LE((next() * 4294967296) >>> 0, i);
      for (; i < n; i++) out[i] = (next() * 256) | 0;
      return out;
    },
    uuid(): string {
      const h = Array.from({ length: 32 }, () => Math.floor(next() * 16).toString(16));
      h[12] = '4';
      h[16] = '89ab'[Math.floor(next() * 4)]!;
      const s = h.join('');
      return `${s.slice(0, 8)}-${s.slice(8, 12)}-${s.slice(12, 16)}-${s.slice(16, 20)}-${s.slice(20)}`;
    },
  };
}

// ---------- the schedule ----------

type Op =
  | { kind: 'insert'; node: number; table: 'teams' | 'scouting_data'; id: string; value: string }
  | { kind: 'update'; node: number; table: 'teams' | 'scouting_data'; id: string; value: string }
  | { kind: 'file'; node: number; path: string; size: number; fileSeed: number }
  | { kind: 'link'; from: number; to: number; action: 'cut' | 'stall' | 'heal' }
  | { kind: 'kill'; node: number }
  | { kind: 'restart'; node: number }
  | { kind: 'scan'; node: number };

interface Step {
  at: number;
  op: Op;
}

function describeOp(op: Op): string {
  switch (op.kind) {
    case 'insert':
    case 'update':
      return `${op.kind} ${op.table} ${op.id} = ${op.value} on ${NAMES[op.node]}`;
    case 'file':
      return `write uploads/${op.path} (${op.size} bytes, seed ${op.fileSeed}) on ${NAMES[op.node]}`;
    case 'link':
      return `${op.action} link ${NAMES[op.from]} → ${NAMES[op.to]}`;
    case 'kill':
      return `SIGKILL ${NAMES[op.node]}`;
    case 'restart':
      return `restart ${NAMES[op.node]}`;
    case 'scan':
      return `operator scan on ${NAMES[op.node]}`;
  }
}

/** The whole schedule, decided up front from the seed (so that a seed replays the same operations). */
export function makeSchedule(seed: number, seconds: number): Step[] {
  const rng = prng(seed);
  const steps: Step[] = [];
  const end = seconds * 1000;
  const inserted: { table: 'teams' | 'scouting_data'; id: string }[] = [];
  const downUntil = new Map<number, number>();
  const linkBusyUntil = new Map<string, number>();
  let value = 0;
  // Faults are added as pairs (cut/stall … heal, kill … restart), with the healing half at a later time.
  for (let t = 200; t < end; t += rng.int(40, 260)) {
    const r = rng.next();
    const node = rng.int(0, 2);
    if (r < 0.4) {
      const table = rng.next() < 0.7 ? 'scouting_data' : 'teams';
      const id = rng.uuid();
      inserted.push({ table, id });
      steps.push({ at: t, op: { kind: 'insert', node, table, id, value: `v${++value}` } });
    } else if (r < 0.62 && inserted.length) {
      // Recent rows more often: their updates race with their own delivery.
      const recent = rng.next() < 0.6 ? inserted.slice(-10) : inserted;
      const row = rng.pick(recent);
      steps.push({ at: t, op: { kind: 'update', node, table: row.table, id: row.id, value: `v${++value}` } });
    } else if (r < 0.8) {
      const big = rng.next() < 0.12;
      const size = big ? rng.int(300_000, 2_500_000) : rng.int(0, 40_000);
      // Few paths (3 folders × 8 small + 3 large names), so that nodes often write the same file while
      // apart (conflicts, conflict copies) as well as add new ones.
      const k = rng.int(0, 7);
      const p = `${rng.pick(['photos', 'docs', 'photos/robots'])}/${big ? `big${k % 3}.bin` : `f${k}.${['jpg', 'json', 'txt'][k % 3]}`}`;
      steps.push({ at: t, op: { kind: 'file', node, path: p, size, fileSeed: rng.int(1, 2 ** 31 - 1) } });
    } else if (r < 0.88) {
      const other = (node + rng.int(1, 2)) % 3;
      const key = [Math.min(node, other), Math.max(node, other)].join('-');
      if ((linkBusyUntil.get(key) ?? 0) > t) continue;
      const action = rng.next() < 0.65 ? 'cut' : 'stall';
      const both = rng.next() < 0.7;
      const heal = t + rng.int(1500, 9000);
      linkBusyUntil.set(key, heal + 100);
      steps.push({ at: t, op: { kind: 'link', from: node, to: other, action } });
      if (both) steps.push({ at: t + 1, op: { kind: 'link', from: other, to: node, action } });
      if (heal < end) {
        steps.push({ at: heal, op: { kind: 'link', from: node, to: other, action: 'heal' } });
        if (both) steps.push({ at: heal + 1, op: { kind: 'link', from: other, to: node, action: 'heal' } });
      }
    } else if (r < 0.915) {
      // One node down at a time; a node killed near the end is restarted by the healing.
      if ([...downUntil.values()].some((back) => back > t)) continue;
      const back = t + rng.int(1500, 6000);
      steps.push({ at: t, op: { kind: 'kill', node } });
      if (back < end) steps.push({ at: back, op: { kind: 'restart', node } });
      downUntil.set(node, back < end ? back : Infinity);
    } else if (r < 0.97) {
      steps.push({ at: t, op: { kind: 'scan', node } });
    }
  }
  return steps.sort((x, y) => x.at - y.at);
}

// ---------- nodes ----------

interface ChaosNode {
  index: number;
  name: string;
  port: number;
  key: string;
  url: string;
  dataDir: string;
  databaseUrl: string;
  queuePrefix: string;
  checkInterval: number;
  child: ChildProcess | null;
  log: WriteStream;
  pool: Pool;
  /** Why the process ended when the schedule did not end it (a crash). */
  crashes: string[];
  /** When the schedule SIGKILLed it (ms since the epoch). */
  kills: number[];
}

/** Processes the run SIGKILLed itself: their exit is no crash. */
const killedByUs = new WeakSet<ChildProcess>();

/** Node processes still running: killed when this process exits, however it exits (a timeout, Ctrl-C). */
const running = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of running) child.kill('SIGKILL');
});

function spawnNode(node: ChaosNode): ChildProcess {
  const child = spawn(process.execPath, ['--disable-warning=ExperimentalWarning', ...nodeProcessFlags(), main], {
    env: {
      ...process.env,
      ...nodeProcessEnv(),
      DATABASE_URL: node.databaseUrl,
      REDIS_URL: testRedisUrl,
      HOST: '127.0.0.1',
      PORT: String(node.port),
      NODE_NAME: node.name,
      SYNC_API_KEY: node.key,
      DATA_DIR: node.dataDir,
      QUEUE_PREFIX: node.queuePrefix,
      CATCHUP_SCHEDULER_ENABLED: 'true',
      CATCHUP_CHECK_INTERVAL: String(node.checkInterval),
      CATCHUP_RETRY_DELAY_MS: '200',
      // A stalled link must not hold a job for the default minute.
      CATCHUP_CONNECTION_TIMEOUT: '5',
      // A SIGKILLed process's jobs are handed back after this long.
      JOB_LOCK_SECONDS: '5',
      SCAN_WAIT_SECONDS: '3',
      LOG_LEVEL: 'warn',
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  child.stdout!.pipe(node.log, { end: false });
  child.stderr!.pipe(node.log, { end: false });
  node.child = child;
  running.add(child);
  child.once('exit', (code, signal) => {
    running.delete(child);
    if (!killedByUs.has(child)) node.crashes.push(`${node.name} exited by itself (code ${code}, signal ${signal})`);
  });
  return child;
}

const alive = (node: ChaosNode) => !!node.child && node.child.exitCode === null && node.child.signalCode === null;

async function waitHealthy(node: ChaosNode, timeoutMs = 30_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (!alive(node)) throw new Error(`${node.name} exited while starting (see ${node.log.path})`);
    if (
      await fetch(`${node.url}/health`).then(
        (r) => r.ok,
        () => false,
      )
    )
      return;
    await sleep(100);
  }
  throw new Error(`${node.name} did not answer /health within ${timeoutMs / 1000}s`);
}

async function kill(node: ChaosNode): Promise<void> {
  if (!alive(node)) return;
  killedByUs.add(node.child!);
  node.kills.push(Date.now());
  const exited = once(node.child!, 'exit');
  node.child!.kill('SIGKILL');
  await exited;
}

async function call(node: ChaosNode, route: string, json?: unknown): Promise<Response> {
  return fetch(`${node.url}${route}`, {
    method: json === undefined ? 'GET' : 'POST',
    headers: { 'x-api-key': node.key, ...(json === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(json === undefined ? {} : { body: JSON.stringify(json) }),
    signal: AbortSignal.timeout(20_000),
  });
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));
const sha256 = (b: Buffer) => createHash('sha256').update(b).digest('hex');

function fileContent(size: number, fileSeed: number): Buffer {
  return prng(fileSeed).bytes(size);
}

// ---------- observing the nodes ----------

async function tableRows(node: ChaosNode): Promise<Record<string, Map<string, string>>> {
  const out: Record<string, Map<string, string>> = {};
  for (const table of TABLES) {
    const { rows } = await node.pool.query<{ id: string; r: string }>(`SELECT id::text AS id, to_jsonb(t)::text AS r FROM ${table} t ORDER BY id`);
    out[table] = new Map(rows.map((row) => [row.id, row.r]));
  }
  return out;
}

const isTemp = (rel: string) => path.basename(rel).startsWith('.catchup-tmp-');

/**
 * Every file under a folder that peers are offered: relative path → sha256. The product's own temp files
 * (`.catchup-tmp-*`) are never offered; `tempFiles` lists them for check (3).
 */
async function tree(dir: string): Promise<Map<string, string>> {
  const out = new Map<string, string>();
  const walk = async (rel: string) => {
    for (const e of await readdir(path.join(dir, rel), { withFileTypes: true }).catch(() => [])) {
      const child = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(child);
      else if (isTemp(child)) continue;
      else if (e.isFile()) out.set(child, sha256(await readFile(path.join(dir, child)).catch(() => Buffer.from('<vanished>'))));
      else out.set(child, `<${e.isSymbolicLink() ? 'symlink' : 'special'}>`);
    }
  };
  await walk('');
  return out;
}

/** The product's temp files under a folder, with when each was last written or renamed (ctime). */
async function tempFiles(dir: string): Promise<{ rel: string; ctimeMs: number; size: number }[]> {
  const out: { rel: string; ctimeMs: number; size: number }[] = [];
  const walk = async (rel: string) => {
    for (const e of await readdir(path.join(dir, rel), { withFileTypes: true }).catch(() => [])) {
      const child = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(child);
      else if (isTemp(child)) {
        const st = await stat(path.join(dir, child)).catch(() => null);
        if (st) out.push({ rel: child, ctimeMs: st.ctimeMs, size: st.size });
      }
    }
  };
  await walk('');
  return out;
}

async function level(nodes: ChaosNode[]): Promise<boolean> {
  const tables = await Promise.all(nodes.map(tableRows));
  const trees = await Promise.all(nodes.map((n) => tree(path.join(n.dataDir, 'uploads'))));
  const same = (a: Map<string, string>, b: Map<string, string>) => a.size === b.size && [...a].every(([k, v]) => b.get(k) === v);
  return (
    TABLES.every((t) => same(tables[0]![t]!, tables[1]![t]!) && same(tables[0]![t]!, tables[2]![t]!)) &&
    same(trees[0]!, trees[1]!) &&
    same(trees[0]!, trees[2]!)
  );
}

/** The first differences between two maps, for a failure message. */
function firstDifferences(label: string, names: string[], maps: Map<string, string>[], limit = 5): string[] {
  const keys = new Set(maps.flatMap((m) => [...m.keys()]));
  const out: string[] = [];
  for (const key of [...keys].sort()) {
    const values = maps.map((m) => m.get(key));
    if (values.every((v) => v === values[0])) continue;
    out.push(`${label} ${key}: ${names.map((n, i) => `${n}=${values[i] === undefined ? 'absent' : values[i]!.slice(0, 160)}`).join(' | ')}`);
    if (out.length >= limit) break;
  }
  return out;
}

// A conflict copy's name (conflictCopyName); a copy of a copy carries two. Stripping them all gives the
// path whose version the copy keeps.
const CONFLICT = /\.sync-conflict-\d{8}T\d{6}Z-[^/.]+/g;

// ---------- the run ----------

export async function runChaos(options: ChaosOptions): Promise<ChaosReport> {
  const seed = (options.seed ?? randomBytes(4).readUInt32BE(0)) >>> 0;
  const log = options.log ?? ((line: string) => console.log(line));
  const settleLimit = (options.settleSeconds ?? 180) * 1000;
  log(`chaos: seed ${seed} (replay with CHAOS_SEED=${seed}), ${options.seconds}s of chaos`);
  const steps = makeSchedule(seed, options.seconds);
  const executed: string[] = [];
  const failures: string[] = [];
  const notes: string[] = [];
  const stats: Record<string, number> = {};
  const count = (key: string) => (stats[key] = (stats[key] ?? 0) + 1);

  const root = await mkdtemp(path.join(tmpdir(), `catchup-chaos-${seed}-`));
  const staging = path.join(root, 'staging');
  await mkdir(staging, { recursive: true });
  const runId = randomBytes(3).toString('hex');
  const nodes: ChaosNode[] = [];
  const proxies = new Map<string, TcpProxy>();
  let settleSeconds: number | null = null;

  try {
    const rng = prng(seed ^ 0x5eed);
    for (const [index, name] of NAMES.entries()) {
      const dataDir = path.join(root, name);
      await mkdir(path.join(dataDir, 'uploads'), { recursive: true });
      const url = databaseUrl(testDatabaseName(process.pid, `chaos_${runId}_${index}`));
      const port = await freePort();
      nodes.push({
        index,
        name,
        port,
        key: `${name}-key-${runId}-0123456789`,
        url: `http://127.0.0.1:${port}`,
        dataDir,
        databaseUrl: url,
        queuePrefix: `chaos-${runId}-${name}`,
        checkInterval: rng.int(1, 2),
        child: null,
        log: createWriteStream(path.join(root, `${name}.log`)),
        pool: createPool(url, 4),
        crashes: [],
        kills: [],
      });
    }
    const t0 = Date.now();
    await Promise.all(nodes.map((n) => migrateDeploy(n.databaseUrl)));
    for (const n of nodes) spawnNode(n);
    await Promise.all(nodes.map((n) => waitHealthy(n)));
    // One proxy per directed link: `from` reaches `to` at proxy from→to.
    for (const from of nodes) {
      for (const to of nodes) {
        if (from === to) continue;
        const proxy = await openTcpProxy({ port: to.port });
        proxies.set(`${from.index}>${to.index}`, proxy);
        const res = await call(from, '/api/sync/servers', { name: to.name, host: '127.0.0.1', port: proxy.port, api_key: to.key });
        if (res.status !== 201) throw new Error(`registering ${to.name} on ${from.name}: ${res.status} ${await res.text()}`);
      }
    }
    log(
      `chaos: three nodes up in ${((Date.now() - t0) / 1000).toFixed(1)}s (detection every ${nodes.map((n) => `${n.checkInterval}s`).join('/')}), ${steps.length} scheduled operations; logs in ${root}`,
    );

    // What the writers were told: acknowledged values per row, versions per file path.
    const acked = new Map<string, { table: string; values: Set<string>; inserted: boolean }>();
    // Writes whose answer was an error: they may have committed all the same (an answer lost on the way).
    const maybe = new Map<string, Set<string>>();
    const versions = new Map<string, Set<string>>();
    // The newest version written to each path (writes run one at a time, so the last one is the newest,
    // by mtime too): nothing may overwrite it, so it must stand at its path, or at least as a conflict copy.
    const newest = new Map<string, { hash: string; node: string; at: number }>();
    const restarts: Promise<void>[] = [];
    const scans: Promise<void>[] = [];
    const scanErrors: string[] = [];

    const runOp = async (op: Op): Promise<string> => {
      switch (op.kind) {
        case 'insert': {
          const n = nodes[op.node]!;
          const sql =
            op.table === 'teams'
              ? `INSERT INTO teams (id, team_number, name, scouting_team_number) VALUES ($1, 254, $2, 1678)`
              : `INSERT INTO scouting_data (id, team_number, match_number, scouting_team_number, scouter, data) VALUES ($1, 254, 1, 1678, 'chaos', jsonb_build_object('v', $2::text))`;
          try {
            await n.pool.query(sql, [op.id, op.value]);
            acked.set(op.id, { table: op.table, values: new Set([op.value]), inserted: true });
            count('inserts acknowledged');
            return 'ok';
          } catch (err) {
            count('inserts failed');
            return `failed: ${(err as Error).message}`;
          }
        }
        case 'update': {
          const n = nodes[op.node]!;
          const sql =
            op.table === 'teams'
              ? `UPDATE teams SET name = $2, updated_at = now() WHERE id = $1`
              : `UPDATE scouting_data SET data = jsonb_build_object('v', $2::text), updated_at = now() WHERE id = $1`;
          try {
            const res = await n.pool.query(sql, [op.id, op.value]);
            if (res.rowCount === 1) {
              acked.get(op.id)?.values.add(op.value);
              count('updates acknowledged');
              return 'ok';
            }
            count('updates of rows not there yet');
            return 'row not on this node yet (0 rows)';
          } catch (err) {
            if (!maybe.has(op.id)) maybe.set(op.id, new Set());
            maybe.get(op.id)!.add(op.value);
            count('updates failed');
            return `failed: ${(err as Error).message}`;
          }
        }
        case 'file': {
          const n = nodes[op.node]!;
          const content = fileContent(op.size, op.fileSeed);
          const hash = sha256(content);
          const target = path.join(n.dataDir, 'uploads', op.path);
          // Written the way a careful application does: whole, then renamed into place.
          const temp = path.join(staging, `${n.name}-${op.fileSeed}`);
          await writeFile(temp, content);
          await mkdir(path.dirname(target), { recursive: true });
          // Recorded before it appears: a sync may copy it the moment it is there.
          let set = versions.get(op.path);
          if (!set) {
            set = new Set();
            versions.set(op.path, set);
          }
          set.add(hash);
          try {
            await rename(temp, target);
          } catch (err) {
            // A folder where the file goes, or the like: the write did not happen.
            await rm(temp, { force: true });
            count('file writes refused');
            return `failed: ${(err as Error).message}`;
          }
          newest.set(op.path, { hash, node: n.name, at: Date.now() - chaosStart });
          count('files written');
          return `sha256 ${hash.slice(0, 12)}`;
        }
        case 'link': {
          const proxy = proxies.get(`${op.from}>${op.to}`)!;
          proxy[op.action]();
          count(`links ${op.action}`);
          return 'ok';
        }
        case 'kill': {
          const n = nodes[op.node]!;
          if (!alive(n)) return 'already down';
          await kill(n);
          count('kills');
          return 'ok';
        }
        case 'restart': {
          const n = nodes[op.node]!;
          if (alive(n)) return 'already up';
          const child = spawnNode(n);
          count('restarts');
          const started = Date.now();
          restarts.push(
            waitHealthy(n).then(
              () => void executed.push(`  (${n.name} healthy ${Date.now() - started} ms after restart)`),
              (err: Error) =>
                // Killed again by the schedule before it was up: no failure of the restart.
                killedByUs.has(child)
                  ? void executed.push(`  (${n.name} killed again ${Date.now() - started} ms after restart, before it answered /health)`)
                  : void n.crashes.push(`restart of ${n.name} failed: ${err.message}`),
            ),
          );
          return 'spawned';
        }
        case 'scan': {
          const n = nodes[op.node]!;
          if (!alive(n)) return 'node down, skipped';
          count('scans');
          const at = Date.now() - t0;
          scans.push(
            call(n, '/api/sync/catchup/scan', {}).then(
              async (res) => {
                count(`scan answers ${res.status}`);
                const body = await res.text();
                if (res.status >= 500) scanErrors.push(`scan on ${n.name} at ${at} ms answered ${res.status}: ${body.slice(0, 300)}`);
                executed.push(`  (scan on ${n.name} at ${at} ms answered ${res.status}${res.status >= 500 ? `: ${body.slice(0, 200)}` : ''})`);
              },
              (err: Error) => {
                // The process may have been killed under the request.
                count('scans without answer');
                executed.push(`  (scan on ${n.name} at ${at} ms: no answer: ${err.message})`);
              },
            ),
          );
          return 'sent';
        }
      }
    };

    // ---- chaos ----
    const chaosStart = Date.now();
    for (const step of steps) {
      const wait = chaosStart + step.at - Date.now();
      if (wait > 0) await sleep(wait);
      const outcome = await runOp(step.op);
      executed.push(`${String(step.at).padStart(7)} ms  ${describeOp(step.op)}: ${outcome}`);
    }
    const remaining = chaosStart + options.seconds * 1000 - Date.now();
    if (remaining > 0) await sleep(remaining);
    log(
      `chaos: ${options.seconds}s done (${Object.entries(stats)
        .map(([k, v]) => `${v} ${k}`)
        .join(', ')})`,
    );

    // ---- heal ----
    for (const proxy of proxies.values()) proxy.heal();
    executed.push(`${String(Date.now() - chaosStart).padStart(7)} ms  heal every link, restart every node that is down; writing stops`);
    const healed = Date.now();
    await Promise.all(restarts);
    for (const n of nodes) {
      if (!alive(n)) {
        spawnNode(n);
        await waitHealthy(n).catch((err: Error) => n.crashes.push(`restart of ${n.name} failed: ${err.message}`));
      }
    }
    await Promise.all(scans);
    const settleEnd = healed + settleLimit;
    let levelSince: number | null = null;
    while (Date.now() < settleEnd) {
      if (await level(nodes).catch(() => false)) {
        levelSince ??= Date.now();
        // Level twice, a few detection periods apart: nothing was still on its way.
        if (Date.now() - levelSince >= 5000) break;
      } else {
        levelSince = null;
      }
      await sleep(1000);
    }
    if (levelSince !== null && Date.now() - levelSince >= 5000) settleSeconds = Math.round((levelSince - healed) / 100) / 10;
    log(settleSeconds === null ? `chaos: NOT level ${settleLimit / 1000}s after healing` : `chaos: level ${settleSeconds}s after healing`);

    // ---- check ----
    const names = nodes.map((n) => n.name);
    const tables = await Promise.all(nodes.map(tableRows));
    const trees = await Promise.all(nodes.map((n) => tree(path.join(n.dataDir, 'uploads'))));

    // (1) convergence
    for (const table of TABLES) {
      const diffs = firstDifferences(
        `${table} row`,
        names,
        tables.map((t) => t[table]!),
      );
      if (diffs.length)
        failures.push(
          `(1) convergence: ${table} differs between nodes (${tables.map((t, i) => `${names[i]} ${t[table]!.size} rows`).join(', ')}); first differences:\n    ${diffs.join('\n    ')}`,
        );
    }
    const fileDiffs = firstDifferences('uploads/', names, trees);
    if (fileDiffs.length)
      failures.push(
        `(1) convergence: uploads/ differs between nodes (${trees.map((t, i) => `${names[i]} ${t.size} files`).join(', ')}); first differences:\n    ${fileDiffs.join('\n    ')}`,
      );

    // (2) no lost acknowledged write
    const lost: string[] = [];
    const wrong: string[] = [];
    for (const [id, row] of acked) {
      for (const [i, t] of tables.entries()) {
        const json = t[row.table]!.get(id);
        if (json === undefined) {
          if (lost.length < 5) lost.push(`${row.table} ${id} missing on ${names[i]}`);
          else lost.push('');
          continue;
        }
        const parsed = JSON.parse(json) as { name?: string; data?: { v?: string } };
        const value = row.table === 'teams' ? parsed.name : parsed.data?.v;
        if (!row.values.has(value ?? '') && !maybe.get(id)?.has(value ?? '')) {
          if (wrong.length < 5) wrong.push(`${row.table} ${id} on ${names[i]} reads ${value}, acknowledged: ${[...row.values].join(', ')}`);
          else wrong.push('');
        }
      }
    }
    if (lost.length) failures.push(`(2) lost acknowledged insert: ${lost.length} (row, node) pairs; first:\n    ${lost.filter(Boolean).join('\n    ')}`);
    if (wrong.length)
      failures.push(
        `(2) a row's final value is none of its acknowledged writes: ${wrong.length} (row, node) pairs; first:\n    ${wrong.filter(Boolean).join('\n    ')}`,
      );
    stats['rows checked'] = acked.size;

    // (3) no partial or unverified file, no temp file left
    for (const [i, n] of nodes.entries()) {
      const bad: string[] = [];
      for (const [rel, hash] of trees[i]!) {
        const base = rel.replace(CONFLICT, '');
        if (base !== rel) count('conflict copies');
        if (!versions.get(base)?.has(hash)) bad.push(`uploads/${rel} (sha256 ${hash.slice(0, 16)}) is no version written to uploads/${base}`);
      }
      // Temp files anywhere in the node's folders. One last written before a SIGKILL of this node is a
      // transfer the kill cut short: the product leaves it (a starting process cannot tell it from another
      // process's running transfer) and its scan removes it once its ctime is an hour old. It is accepted
      // and reported as a note; any other temp file fails the check.
      for (const dir of ['uploads', 'instance', 'config']) {
        for (const temp of await tempFiles(path.join(n.dataDir, dir))) {
          const kill = n.kills.find((k) => temp.ctimeMs <= k + 1000);
          if (kill === undefined)
            bad.push(
              `temp file left: ${dir}/${temp.rel} (${temp.size} bytes, last written ${new Date(temp.ctimeMs).toISOString()}, no SIGKILL of ${n.name} after it)`,
            );
          else {
            count('temp files left by a SIGKILL');
            notes.push(
              `${n.name}: ${dir}/${temp.rel} (${temp.size} bytes) left by the SIGKILL at ${kill - chaosStart} ms (last written ${Math.round(kill - temp.ctimeMs)} ms before it); removed by a scan an hour later`,
            );
          }
        }
      }
      if (bad.length) failures.push(`(3) partial, unverified or temp file on ${n.name}: ${bad.length}; first:\n    ${bad.slice(0, 5).join('\n    ')}`);
    }
    stats['files on each node'] = trees[0]!.size;

    // (2) for files: the newest write of every path is not lost (F4: the newer change wins; a loser is
    // kept as a conflict copy)
    for (const [i, n] of nodes.entries()) {
      const lostFiles: string[] = [];
      for (const [p, v] of newest) {
        if (trees[i]!.get(p) === v.hash) continue;
        const copy = [...trees[i]!].find(([rel, hash]) => hash === v.hash && rel.replace(CONFLICT, '') === p);
        if (copy) {
          // Not lost, but not the winner either, though no later write of the path exists (F4: the newer
          // change wins): reported, with the path's version, in every report.
          count('newest versions kept only as a conflict copy');
          notes.push(
            `${n.name}: uploads/${p}: the newest write (sha256 ${v.hash.slice(0, 16)}, on ${v.node} at ${v.at} ms) is kept only as the conflict copy uploads/${copy[0]}; the path holds ${trees[i]!.get(p)?.slice(0, 16) ?? 'nothing'}`,
          );
          continue;
        }
        lostFiles.push(
          `uploads/${p}: newest write (sha256 ${v.hash.slice(0, 16)}, on ${v.node} at ${v.at} ms) is gone; the path holds ${trees[i]!.get(p)?.slice(0, 16) ?? 'nothing'}`,
        );
      }
      if (lostFiles.length) failures.push(`(2) lost file write on ${n.name}: ${lostFiles.length} path(s); first:\n    ${lostFiles.slice(0, 5).join('\n    ')}`);
    }

    // (5) every row is the version its log holds under the identity it came with (I12)
    for (const n of nodes) {
      const drifted = await rowsWithoutTheirLoggedVersion(n.pool);
      if (drifted) failures.push(`(5) integrity: ${drifted} row(s) on ${n.name} are not their newest logged version`);
    }

    // (6) an operator's scan of a live node answers (200 or 202), whatever the links are doing
    if (scanErrors.length)
      failures.push(`(6) operator scans answered with a server error: ${scanErrors.length}; first:\n    ${scanErrors.slice(0, 5).join('\n    ')}`);

    // (4) every node process alive, never crashed
    for (const n of nodes) {
      if (n.crashes.length)
        failures.push(
          `(4) ${n.crashes.join('; ')} (log: ${n.log.path}):\n${await readFile(String(n.log.path), 'utf8').then(
            (t) => t.split('\n').slice(-15).join('\n'),
            () => '',
          )}`,
        );
      else if (
        !alive(n) ||
        !(await fetch(`${n.url}/health`).then(
          (r) => r.ok,
          () => false,
        ))
      )
        failures.push(`(4) ${n.name} is not alive and healthy at the end`);
    }
    if (settleSeconds === null && !failures.length)
      failures.push(`(1) convergence: the nodes were level but not for 5 s in a row within ${settleLimit / 1000}s`);
  } catch (err) {
    failures.push(`the run itself failed: ${(err as Error).stack ?? String(err)}`);
  } finally {
    for (const n of nodes) await kill(n).catch(() => {});
    for (const proxy of proxies.values()) await proxy.close().catch(() => {});
    for (const n of nodes) {
      await n.pool.end().catch(() => {});
      n.log.end();
      await deleteKeysWithPrefix(n.queuePrefix).catch(() => {});
    }
  }

  const ok = failures.length === 0;
  const report: ChaosReport = { ok, seed, seconds: options.seconds, failures, stats, settleSeconds, schedule: executed, notes };
  if (ok || !options.keepOnFailure) {
    for (const n of nodes) await dropDatabase(n.databaseUrl).catch(() => {});
    await rm(root, { recursive: true, force: true });
  } else {
    report.kept = root;
    await writeFile(path.join(root, 'schedule.txt'), `${formatReport({ ...report, schedule: [] })}\n\n${executed.join('\n')}\n`).catch(() => {});
  }
  return report;
}

/** The report as text: what failed, with the seed and the schedule so far. */
export function formatReport(report: ChaosReport, scheduleLines = 60): string {
  const lines = [
    `chaos ${report.ok ? 'PASSED' : 'FAILED'}: seed ${report.seed}, ${report.seconds}s of chaos, ${report.settleSeconds === null ? 'never level' : `level ${report.settleSeconds}s after healing`}`,
    `  ${Object.entries(report.stats)
      .map(([k, v]) => `${k}: ${v}`)
      .join(', ')}`,
  ];
  for (const note of report.notes) lines.push(`  note: ${note}`);
  if (!report.ok) {
    lines.push(`  replay: CHAOS_SEED=${report.seed} npm run chaos -- --seconds ${report.seconds}  (or --seed ${report.seed})`);
    for (const f of report.failures) lines.push(`  FAILED ${f}`);
    const shown = report.schedule.slice(-scheduleLines);
    lines.push(`  schedule so far (${report.schedule.length} lines${shown.length < report.schedule.length ? `, last ${shown.length}` : ''}):`);
    for (const s of shown) lines.push(`    ${s}`);
    if (report.kept) lines.push(`  node logs, data and the whole schedule (schedule.txt) kept in ${report.kept}`);
  }
  return lines.join('\n');
}

// npm run demo — three nodes on this machine, an offline episode, and the catch-up that follows.
// Each node is a real `apps/api/src/main.ts` process (API + workers) with its own database, Redis
// prefix, data folder and port. `--exit` ends the demo when it has converged (for scripts).
import { spawn, type ChildProcess } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdir, readdir, readFile, rename, rm, utimes, writeFile } from 'node:fs/promises';
import path from 'node:path';
import { Redis } from 'ioredis';
import pg from 'pg';
import { dropDatabase } from '@catchup/db';
import { migrateDeploy } from '@catchup/db/migrations';
import { nodeProcessEnv, nodeProcessFlags } from '@catchup/testing/node-process';
import { waitForHealth } from '@catchup/testing/services';

const exitAtEnd = process.argv.includes('--exit');
const server = new URL(process.env.DEMO_DATABASE_URL ?? 'postgresql://postgres@127.0.0.1:5432/postgres');
const redisUrl = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379';
const root = path.resolve('data', 'demo');
const names = ['site-a', 'site-b', 'site-c'] as const;
type Name = (typeof names)[number];

interface DemoNode {
  name: Name;
  port: number;
  key: string;
  url: string;
  dataDir: string;
  databaseUrl: string;
  child?: ChildProcess;
}

const nodes: Record<Name, DemoNode> = Object.fromEntries(
  names.map((name, i) => {
    const db = new URL(server);
    db.pathname = `/catchup_demo_${name.replace('-', '_')}`;
    return [
      name,
      {
        name,
        port: 5101 + i,
        key: `demo-key-${name}-0123456789`,
        url: `http://127.0.0.1:${5101 + i}`,
        dataDir: path.join(root, name),
        databaseUrl: db.toString(),
      },
    ];
  }),
) as Record<Name, DemoNode>;

const say = (text: string) => console.log(`\n\x1b[1m== ${text}\x1b[0m`);
const DEMO_BOARD_PASSWORD = 'demo-board-password';
const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

function start(node: DemoNode): Promise<void> {
  // Started with the flags `npm start` uses (package.json's config), as a user's node runs.
  const child = spawn(process.execPath, [...nodeProcessFlags(), 'apps/api/src/main.ts'], {
    env: {
      ...process.env,
      ...nodeProcessEnv(),
      DATABASE_URL: node.databaseUrl,
      REDIS_URL: redisUrl,
      PORT: String(node.port),
      HOST: '127.0.0.1',
      NODE_NAME: node.name,
      SYNC_API_KEY: node.key,
      // Bull Board takes its own password, never the API key (it is off without one).
      ADMIN_PASSWORD: DEMO_BOARD_PASSWORD,
      DATA_DIR: node.dataDir,
      QUEUE_PREFIX: `catchup-demo:${node.name}`,
      CATCHUP_CHECK_INTERVAL: '2',
      CATCHUP_RETRY_DELAY_MS: '300',
      LOG_LEVEL: 'info',
    },
    stdio: ['ignore', 'pipe', 'inherit'],
  });
  node.child = child;
  // Narrate: the catch-up lines of the seed (emoji first), prefixed with the node's name.
  let buffer = '';
  child.stdout!.on('data', (chunk: Buffer) => {
    buffer += chunk.toString();
    const lines = buffer.split('\n');
    buffer = lines.pop()!;
    for (const line of lines) {
      try {
        const msg = (JSON.parse(line) as { msg?: string }).msg ?? '';
        if (/^\p{Extended_Pictographic}/u.test(msg) && !msg.startsWith('🔍')) console.log(`  [${node.name}] ${msg}`);
      } catch {
        /* not a log line */
      }
    }
  });
  return waitForHealth(node.url, child, node.name);
}

async function stop(node: DemoNode): Promise<void> {
  const child = node.child;
  if (!child || child.exitCode !== null) return;
  child.kill('SIGTERM');
  await new Promise((r) => child.once('exit', r));
}

async function api(node: DemoNode, route: string, json?: unknown, method = json === undefined ? 'GET' : 'POST') {
  const res = await fetch(`${node.url}${route}`, {
    method,
    headers: { 'x-api-key': node.key, ...(json === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(json === undefined ? {} : { body: JSON.stringify(json) }),
  });
  if (!res.ok) throw new Error(`${node.name} ${route}: ${res.status} ${await res.text()}`);
  return res.json();
}

/** Registers x and y with each other, each presenting the credential the other issued it. */
async function pair(x: DemoNode, y: DemoNode) {
  type Added = { id: number; credential: { token: string } };
  const yOnX = (await api(x, '/api/sync/servers', { name: y.name, host: '127.0.0.1', port: y.port, issue_credential: true })) as Added;
  const xOnY = (await api(y, '/api/sync/servers', {
    name: x.name,
    host: '127.0.0.1',
    port: x.port,
    api_key: yOnX.credential.token,
    issue_credential: true,
  })) as Added;
  await api(x, `/api/sync/servers/${yOnX.id}`, { api_key: xOnY.credential.token }, 'PUT');
}

async function sql(node: DemoNode, text: string, values: unknown[] = []) {
  const client = new pg.Client({ connectionString: node.databaseUrl });
  await client.connect();
  try {
    return (await client.query(text, values)).rows;
  } finally {
    await client.end();
  }
}

async function tableDigest(node: DemoNode): Promise<string> {
  const hash = createHash('sha256');
  for (const table of ['teams', 'events', 'matches', 'scouting_data']) {
    for (const row of await sql(node, `SELECT to_jsonb(t)::text AS r FROM ${table} t ORDER BY id`)) hash.update(String(row.r));
  }
  return hash.digest('hex').slice(0, 16);
}

async function treeDigest(dir: string): Promise<{ hash: string; files: number }> {
  const entries: string[] = [];
  const walk = async (rel: string) => {
    for (const e of await readdir(path.join(dir, rel), { withFileTypes: true }).catch(() => [])) {
      const child = rel ? `${rel}/${e.name}` : e.name;
      if (e.isDirectory()) await walk(child);
      else if (e.isFile() && !e.name.startsWith('.catchup-tmp-'))
        entries.push(
          `${child}:${createHash('sha256')
            .update(await readFile(path.join(dir, child)))
            .digest('hex')}`,
        );
    }
  };
  await walk('');
  return { hash: createHash('sha256').update(entries.sort().join('\n')).digest('hex').slice(0, 16), files: entries.length };
}

async function converged(among: DemoNode[]): Promise<boolean> {
  const tables = await Promise.all(among.map(tableDigest));
  const trees = await Promise.all(among.map((n) => treeDigest(n.dataDir)));
  return tables.every((t) => t === tables[0]) && trees.every((t) => t.hash === trees[0]!.hash);
}

async function waitForConvergence(among: DemoNode[], timeoutMs = 120_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  while (Date.now() < end) {
    if (await converged(among)) return;
    await sleep(1000);
  }
  throw new Error(`no convergence among ${among.map((n) => n.name).join(', ')} within ${timeoutMs / 1000}s`);
}

/** Waits until no node has a catch-up job waiting or running (read from each node's /metrics). */
async function waitForQuiet(among: DemoNode[], timeoutMs = 60_000): Promise<void> {
  const end = Date.now() + timeoutMs;
  let quietRounds = 0;
  while (Date.now() < end && quietRounds < 2) {
    const busy = await Promise.all(
      among.map(async (n) => {
        const text = await (await fetch(`${n.url}/metrics`)).text();
        return [...text.matchAll(/^catchup_queue_jobs\{queue="[^"]+",state="(waiting|active|delayed|waiting-children)"\} (\d+)$/gm)].some(
          (m) => Number(m[2]) > 0,
        );
      }),
    );
    quietRounds = busy.some(Boolean) ? 0 : quietRounds + 1;
    await sleep(500);
  }
}

/**
 * Writes a file as an editor saving it does: whole, with its modification time, in one rename (a scan in
 * between writing and dating it would see a version no one made). The temp name is one sync never takes.
 */
async function writeFileAt(node: DemoNode, rel: string, content: string, mtime?: Date) {
  const file = path.join(node.dataDir, rel);
  await mkdir(path.dirname(file), { recursive: true });
  const temp = path.join(path.dirname(file), `${path.basename(file)}.tmp`);
  await writeFile(temp, content);
  if (mtime) await utimes(temp, mtime, mtime);
  await rename(temp, file);
}

/** Leftovers of an earlier demo run (jobs, schedulers) would show in Bull Board: start clean. */
async function clearQueues(): Promise<void> {
  const redis = new Redis(redisUrl, { maxRetriesPerRequest: 1 });
  try {
    let cursor = '0';
    do {
      const [next, keys] = await redis.scan(cursor, 'MATCH', 'catchup-demo:*', 'COUNT', 1000);
      cursor = next;
      if (keys.length) await redis.del(...keys);
    } while (cursor !== '0');
  } finally {
    redis.disconnect();
  }
}

async function main() {
  say('Preparing three nodes: databases, data folders, ports 5101-5103');
  await rm(root, { recursive: true, force: true });
  await clearQueues();
  for (const node of Object.values(nodes)) {
    await dropDatabase(node.databaseUrl);
    await migrateDeploy(node.databaseUrl);
  }
  await Promise.all(Object.values(nodes).map(start));
  const [a, b, c] = [nodes['site-a'], nodes['site-b'], nodes['site-c']];
  say('Pairing them: each node issues every peer a credential of its own (README: Pairing two nodes)');
  await pair(a, b);
  await pair(a, c);
  await pair(b, c);

  say('Everyone scouts: rows and photos on all three nodes');
  const teams = await sql(
    a,
    `INSERT INTO teams (team_number, name, scouting_team_number) VALUES (254, 'The Cheesy Poofs', 1678), (1678, 'Citrus Circuits', 1678) RETURNING id`,
  );
  await sql(b, `INSERT INTO events (code, name, scouting_team_number) VALUES ('2026casj', 'Silicon Valley Regional', 1678)`);
  await sql(
    c,
    `INSERT INTO scouting_data (team_number, match_number, scouting_team_number, scouter, data)
                SELECT 254, g, 1678, 'scout-c', jsonb_build_object('auto', g % 5, 'teleop', g % 17) FROM generate_series(1, 40) g`,
  );
  await writeFileAt(a, 'uploads/robots/254.jpg', 'photo of 254 (site A)');
  await writeFileAt(b, 'config/event.json', '{"event":"2026casj"}');
  await writeFileAt(c, 'instance/notes.md', '# pit notes from site C');
  await waitForConvergence([a, b, c]);
  say('All three nodes agree');

  say('site-c goes offline (a laptop at the event without network)');
  await stop(c);
  await sql(
    a,
    `INSERT INTO scouting_data (team_number, match_number, scouting_team_number, scouter, data)
                SELECT 1678, g, 1678, 'scout-a', jsonb_build_object('auto', g % 3) FROM generate_series(1, 200) g`,
  );
  await sql(b, `INSERT INTO matches (match_number, comp_level, scouting_team_number) SELECT g, 'qm', 1678 FROM generate_series(1, 60) g`);
  // The same row edited on A and B while apart: the later write (by hybrid logical clock) wins everywhere.
  await sql(a, `UPDATE teams SET name = 'Poofs (renamed on A)' WHERE id = $1`, [teams[0]!.id]);
  await sleep(50);
  await sql(b, `UPDATE teams SET name = 'Poofs (renamed on B, later)' WHERE id = $1`, [teams[0]!.id]);
  // The same file edited on A and B: the newer wins, the other is kept as a conflict copy.
  await writeFileAt(a, 'config/event.json', '{"event":"2026casj","field":"edited on A"}', new Date(Date.now() - 60_000));
  await writeFileAt(b, 'config/event.json', '{"event":"2026casj","field":"edited on B, later"}');
  await writeFileAt(a, 'uploads/robots/1678.jpg', 'photo of 1678 (site A)');
  await waitForConvergence([a, b]);
  say('site-a and site-b agree; site-c missed all of it');

  say('site-c comes back: detection finds it and catches it up');
  await start(c);
  await waitForConvergence([a, b, c]);
  await waitForQuiet([a, b, c]);

  say('Converged');
  const rows = await Promise.all(
    [a, b, c].map(async (n) => ({ n, table: await tableDigest(n), tree: await treeDigest(n.dataDir), status: await api(n, '/api/sync/catchup/status') })),
  );
  console.log('  node     tables            files  file tree         runs logged');
  for (const { n, table, tree, status } of rows) {
    console.log(
      `  ${n.name}  ${table}  ${String(tree.files).padStart(5)}  ${tree.hash}  ${(status as { recent_catchup_logs: unknown[] }).recent_catchup_logs.length}`,
    );
  }
  say('Verifying: site-a compares its tables and folders with each peer by digests (npm run catchup -- verify)');
  const peers = (await api(a, '/api/sync/servers')) as { servers: { id: number; name: string }[] };
  for (const peer of peers.servers) {
    const report = (await api(a, '/api/sync/verify', { server_id: peer.id })) as { level: boolean; seconds: number };
    console.log(`  site-a ⇄ ${peer.name}: ${report.level ? 'level' : 'NOT level'} (${report.seconds.toFixed(2)} s)`);
    if (!report.level) throw new Error(`verify found site-a and ${peer.name} not level`);
  }
  const name = (await sql(c, 'SELECT name FROM teams WHERE id = $1', [teams[0]!.id]))[0]!.name;
  console.log(`\n  The row edited on both sides reads "${name}" on every node.`);
  console.log(`  Dashboard:  ${a.url}/admin/sync (user admin, password ${DEMO_BOARD_PASSWORD})`);
  console.log(`  Bull Board: ${a.url}/admin/queues (same credentials)`);
  console.log(`  API docs:   ${a.url}/docs`);
  if (exitAtEnd) return;
  console.log('\nThe nodes keep running; Ctrl-C to stop them.');
  await new Promise<void>((resolve) => process.once('SIGINT', () => resolve()));
}

try {
  await main();
} catch (err) {
  console.error(`demo failed: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
} finally {
  await Promise.all(Object.values(nodes).map(stop));
}

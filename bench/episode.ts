// Benchmark: a five-node episode (issue #19 item 6, no duplicate relays). Five nodes, each registered with
// every other; E goes offline, A–D write BENCH_EPISODE_CHANGES changes each and exchange them among
// themselves, E's application writes as many while its node is down; then E returns and every node scans
// every peer at once, round after round until a round moves nothing. Run twice in the same run: held
// checks off (catchup_held_check=false: every change past a cursor is sent, relays arrive as duplicates)
// and on. Counted: changes moved (sent + received bodies, from the runs' results), bytes on the wire (every
// peer call crosses a counting link on loopback), and the changes each node actually lacked.
import { freePort } from '@catchup/testing/services';
import { openThrottledLink } from '@catchup/testing/throttled-link';
import { type NodeProcess, row, sql, startNodeProcess, stop } from './catchup.ts';
import { dropBenchDatabases, freshMigratedDatabase } from './databases.ts';
import { printTable, timed } from './report.ts';

const PREFIX = 'catchup_bench_episode_';
const NAMES = ['a', 'b', 'c', 'd', 'e'] as const;

interface EpisodeFigures {
  lacked: number;
  moved: number;
  heldSkipped: number;
  bytes: number;
  rounds: number;
  seconds: number;
}

interface ScanResult {
  success: boolean;
  errors: string[];
  database_changes: { sent: number; received: number; held_by_peer?: number; held_here?: number };
}

async function api<T>(node: NodeProcess, path: string, method: string, body?: unknown): Promise<{ status: number; body: T }> {
  const res = await fetch(`http://127.0.0.1:${node.port}${path}`, {
    method,
    headers: { 'x-api-key': node.key, ...(body === undefined ? {} : { 'content-type': 'application/json' }) },
    ...(body === undefined ? {} : { body: JSON.stringify(body) }),
    signal: AbortSignal.timeout(280_000),
  });
  return { status: res.status, body: (await res.json()) as T };
}

/** One scan of `peers` (server ids on `node`), waited for; its runs' results. */
async function scan(node: NodeProcess, serverIds: number[]): Promise<ScanResult[]> {
  const { status, body } = await api<{ results: ScanResult[] }>(node, '/api/sync/catchup/scan', 'POST', { server_ids: serverIds });
  const failed = body.results?.filter((r) => !r.success) ?? [];
  if (status !== 200 || failed.length) throw new Error(`scan: ${status} ${JSON.stringify(failed.length ? failed : body).slice(0, 500)}`);
  return body.results;
}

/** Every change identity in a node's log. */
async function identities(db: string): Promise<Set<string>> {
  const rows = await sql<{ i: string }>(db, `SELECT origin_node_id || '/' || origin_sequence AS i FROM database_changes`);
  return new Set(rows.map((r) => r.i));
}

function writeSql(label: string, count: number): string {
  return `INSERT INTO scouting_data (id, team_number, match_number, event_id, scouting_team_number, scouter, data, is_active, updated_at)
          SELECT (r).* FROM (SELECT ROW${row(`md5('${label}' || g)::uuid`, 'g')}::scouting_data AS r FROM generate_series(1, ${count}) g) s`;
}

async function episode(perNode: number, heldCheck: boolean): Promise<EpisodeFigures> {
  await dropBenchDatabases(PREFIX);
  const link = await openThrottledLink({ mbit: 100_000, rttMs: 0 });
  const nodes: NodeProcess[] = [];
  try {
    const dbs = NAMES.map((n) => `${PREFIX}${n}`);
    await Promise.all(dbs.map((db) => freshMigratedDatabase(db)));
    // Five nodes share one PostgreSQL server (100 connections by default): pools of 6 keep them at most
    // 5 × (2 × 6 + 4) = 80 connections; pools of 10 could ask for 120.
    const env = { CATCHUP_HELD_CHECK: String(heldCheck), CATCHUP_RETRY_DELAY_MS: '200', DATABASE_POOL_SIZE: '6' };
    const ports = await Promise.all(NAMES.map(() => freePort()));
    // Names (and so queue prefixes) of their own per run: nothing of the other run's jobs is found in Redis.
    const name = (n: string) => `episode-${heldCheck ? 'on' : 'off'}-${n}`;
    nodes.push(...(await Promise.all(NAMES.map((n, i) => startNodeProcess(name(n), dbs[i]!, ports[i]!, env)))));
    // Every peer is registered at the link's port in front of it: all peer traffic is counted.
    const linkPorts = await Promise.all(nodes.map((n) => link.expose({ port: n.port }, 'b')));
    const ids = new Map<string, number>();
    for (const [i, on] of nodes.entries()) {
      for (const [j, peer] of nodes.entries()) {
        if (i === j) continue;
        const { status, body } = await api<{ id: number }>(on, '/api/sync/servers', 'POST', {
          name: name(NAMES[j]!),
          host: '127.0.0.1',
          port: linkPorts[j],
          api_key: peer.key,
        });
        if (status !== 201) throw new Error(`register: ${status} ${JSON.stringify(body)}`);
        ids.set(`${i}>${j}`, body.id);
      }
    }
    const peersOf = (i: number, among: number[]) => among.filter((j) => j !== i).map((j) => ids.get(`${i}>${j}`)!);
    const e = nodes[4]!;
    await stop(e);
    // E's application writes while its node is down; A–D write and exchange among themselves.
    await Promise.all(dbs.map((db, i) => sql(db, writeSql(`episode-${NAMES[i]}`, perNode))));
    const four = [0, 1, 2, 3];
    for (let round = 0; round < 4; round++) {
      const results = await Promise.all(four.map((i) => scan(nodes[i]!, peersOf(i, four))));
      if (results.flat().every((r) => r.database_changes.sent + r.database_changes.received === 0)) break;
    }
    const sets = await Promise.all(dbs.map(identities));
    const union = new Set(sets.flatMap((s) => [...s]));
    const lacked = sets.reduce((n, s) => n + union.size - s.size, 0);

    // E returns; every node scans every peer at once, round after round until a round moves nothing.
    nodes[4] = await startNodeProcess(name('e'), dbs[4]!, ports[4]!, env);
    const all = [0, 1, 2, 3, 4];
    const before = link.bytes();
    let moved = 0;
    let heldSkipped = 0;
    let rounds = 0;
    const seconds = await timed(async () => {
      for (; rounds < 6; ) {
        rounds++;
        const results = (await Promise.all(all.map((i) => scan(nodes[i]!, peersOf(i, all))))).flat();
        const inRound = results.reduce((n, r) => n + r.database_changes.sent + r.database_changes.received, 0);
        moved += inRound;
        heldSkipped += results.reduce((n, r) => n + (r.database_changes.held_by_peer ?? 0) + (r.database_changes.held_here ?? 0), 0);
        if (inRound === 0) break;
      }
    });
    const after = link.bytes();
    const final = await Promise.all(dbs.map(identities));
    if (final.some((s) => s.size !== union.size)) throw new Error(`not converged: logs hold ${final.map((s) => s.size).join(', ')} of ${union.size}`);
    const digests = await Promise.all(
      dbs.map(async (db) => (await sql<{ h: string }>(db, `SELECT md5(string_agg(to_jsonb(t)::text, ',' ORDER BY id)) AS h FROM scouting_data t`))[0]!.h),
    );
    if (new Set(digests).size !== 1) throw new Error(`not converged: table digests differ (${digests.join(', ')})`);
    return { lacked, moved, heldSkipped, bytes: after.aToB - before.aToB + (after.bToA - before.bToA), rounds, seconds };
  } finally {
    await Promise.all(nodes.map((n) => stop(n)));
    await link.close();
    await dropBenchDatabases(PREFIX);
  }
}

export async function benchEpisode(): Promise<void> {
  const perNode = Number(process.env.BENCH_EPISODE_CHANGES ?? 2000);
  console.log(`\n## Five-node episode: no duplicate relays (${perNode.toLocaleString('en')} changes written on each node)`);
  console.log(
    'Five nodes, each registered with every other. E is offline while A–D write and exchange among themselves and E’s ' +
      'application writes too; then E returns and every node scans every peer at once, round after round until a round ' +
      'moves nothing. Moved: change bodies sent or read (each run’s sent + received); bytes: every peer call’s bodies and ' +
      'headers both ways, counted by a link on loopback; lacked: per node, the changes of the union of all logs it did not hold.',
  );
  const rows: string[][] = [];
  const figures: Record<'off' | 'on', EpisodeFigures> = {} as never;
  for (const heldCheck of [false, true]) {
    const f = await episode(perNode, heldCheck);
    figures[heldCheck ? 'on' : 'off'] = f;
    rows.push([
      heldCheck ? 'held checks on (default)' : 'held checks off (as before)',
      f.lacked.toLocaleString('en'),
      f.moved.toLocaleString('en'),
      (f.moved / f.lacked).toFixed(3),
      f.heldSkipped.toLocaleString('en'),
      (f.bytes / 1e6).toFixed(2),
      String(f.rounds),
      f.seconds.toFixed(2),
    ]);
  }
  printTable(['path', 'lacked', 'changes moved', 'moved / lacked', 'left out as held', 'MB on the wire', 'rounds', 'seconds'], rows);
  console.log(
    `changes moved / lacked with held checks: ${(figures.on.moved / figures.on.lacked).toFixed(3)} (target ≤ 1.1); ` +
      `before: ${(figures.off.moved / figures.off.lacked).toFixed(3)}; bytes ${(figures.off.bytes / 1e6).toFixed(2)} → ${(figures.on.bytes / 1e6).toFixed(2)} MB`,
  );
}

// Verify at scale (issue #20 item 2): POST /api/sync/verify between two nodes that hold the same
// 1,000,000 rows, against a baseline measured in the same run on the same data: one plain
// md5(string_agg(...)) over the whole table on one node — the least a digest of the table costs. Then one
// row is changed outside capture on one node and verify is timed again: the drill-down finds it.
import { freePort } from '@catchup/testing/services';
import pg from 'pg';
import { benchUrl, dropBenchDatabases, freshMigratedDatabase } from './databases.ts';
import { startNodeProcess, stop } from './catchup.ts';
import { printTable, timed } from './report.ts';

const ROWS = Number(process.env.BENCH_VERIFY_ROWS ?? 1_000_000);

async function withClient<T>(url: string, work: (client: pg.Client) => Promise<T>): Promise<T> {
  const client = new pg.Client({ connectionString: url });
  await client.connect();
  try {
    return await work(client);
  } finally {
    await client.end();
  }
}

/**
 * The same rows on each node: ids and values derived from the series (md5-based UUIDs), one INSERT …
 * SELECT, written with capture out of the way (as the applier writes): the figure is about reading them.
 */
async function fill(url: string): Promise<void> {
  await withClient(url, async (client) => {
    await client.query(`BEGIN; SET LOCAL catchup.applying = 'on'`);
    await client.query(
      `INSERT INTO scouting_data (id, team_number, match_number, scouting_team_number, scouter, data, is_active, updated_at)
       SELECT md5('row ' || g)::uuid, g % 9000, g % 120, 1678, 'scouter ' || (g % 40),
              jsonb_build_object('auto', g % 7, 'teleop', g % 31, 'note', 'match note ' || g), true,
              timestamptz '2026-03-01 12:00:00+00' + g * interval '1 second'
         FROM generate_series(1, $1::int) g`,
      [ROWS],
    );
    await client.query('COMMIT');
    await client.query('VACUUM ANALYZE scouting_data');
  });
}

/** The baseline: one digest of the whole table in one pass, as plain as it gets. */
async function plainDigest(url: string): Promise<number> {
  return withClient(url, async (client) =>
    timed(() => client.query(`SELECT md5(string_agg(t.id::text || ':' || md5(to_jsonb(t)::text), ',' ORDER BY t.id)) FROM scouting_data t`)),
  );
}

interface VerifyAnswer {
  level: boolean;
  tables: { table_name: string; differing_rows: unknown[] }[];
}

async function verify(port: number, key: string, serverId: number): Promise<{ seconds: number; answer: VerifyAnswer }> {
  let answer: VerifyAnswer | undefined;
  const seconds = await timed(async () => {
    const res = await fetch(`http://127.0.0.1:${port}/api/sync/verify`, {
      method: 'POST',
      headers: { 'x-api-key': key, 'content-type': 'application/json' },
      body: JSON.stringify({ server_id: serverId }),
    });
    if (res.status !== 200) throw new Error(`verify answered ${res.status}: ${await res.text()}`);
    answer = (await res.json()) as VerifyAnswer;
  });
  return { seconds, answer: answer! };
}

export async function benchVerify(): Promise<void> {
  console.log(`\n## Verify of ${ROWS.toLocaleString('en')} identical rows on two nodes`);
  const [dbA, dbB] = ['bench_verify_a', 'bench_verify_b'];
  await Promise.all([freshMigratedDatabase(dbA), freshMigratedDatabase(dbB)]);
  const fillSeconds = await timed(() => Promise.all([fill(benchUrl(dbA)), fill(benchUrl(dbB))]));
  console.log(`filled both nodes in ${fillSeconds.toFixed(1)} s`);
  const [a, b] = await Promise.all([
    startNodeProcess('verify-a', dbA, await freePort(), { RUN_WORKERS: 'false' }),
    startNodeProcess('verify-b', dbB, await freePort(), { RUN_WORKERS: 'false' }),
  ]);
  try {
    const res = await fetch(`http://127.0.0.1:${a.port}/api/sync/servers`, {
      method: 'POST',
      headers: { 'x-api-key': a.key, 'content-type': 'application/json' },
      body: JSON.stringify({ name: 'verify-b', host: '127.0.0.1', port: b.port, api_key: b.key }),
    });
    if (res.status !== 201) throw new Error(`registering the peer answered ${res.status}: ${await res.text()}`);
    const serverId = ((await res.json()) as { id: number }).id;

    const plain = await plainDigest(benchUrl(dbA));
    const level = await verify(a.port, a.key, serverId);
    if (!level.answer.level) throw new Error('verify found identical nodes not level');

    const changedId = await withClient(benchUrl(dbB), async (client) => {
      await client.query(`BEGIN; SET LOCAL catchup.applying = 'on'`);
      const { rows } = await client.query<{ id: string }>(`UPDATE scouting_data SET scouter = 'changed' WHERE id = md5('row 4242')::uuid RETURNING id::text`);
      await client.query('COMMIT');
      return rows[0]!.id;
    });
    const oneOff = await verify(a.port, a.key, serverId);
    const found = oneOff.answer.tables.flatMap((t) => t.differing_rows as { id: string }[]);
    if (found.length !== 1 || found[0]!.id !== changedId) throw new Error(`verify found ${JSON.stringify(found)}, not the changed row ${changedId}`);

    printTable(
      ['what', 'seconds'],
      [
        ['verify, identical (digests of both nodes, compared)', level.seconds.toFixed(2)],
        ['verify, one row changed on the peer (found by drill-down)', oneOff.seconds.toFixed(2)],
        ['baseline: plain md5(string_agg) of the table on one node', plain.toFixed(2)],
      ],
    );
    console.log(
      `ratio verify / plain digest: ${(level.seconds / plain).toFixed(2)} (both nodes digest at once, on the same cores); target: seconds, not minutes`,
    );
  } finally {
    await Promise.all([stop(a), stop(b)]);
    await dropBenchDatabases('bench_verify');
  }
}

// `npm run catchup -- verify --server ID [--repair]` against real nodes: level exits 0; a row changed
// outside capture is named and exits 1; --repair re-logs it, and after a scan the nodes are level again.
import { describe, expect, it } from 'vitest';
import { runCli } from '../src/cli.ts';
import { type TestApiNode, registerPeer, useApiNodes } from '../../api/test/nodes.ts';

const [a, b] = (await useApiNodes(2, 'cliverify')) as [TestApiNode, TestApiNode];

async function cli(...args: string[]) {
  const out: string[] = [];
  const err: string[] = [];
  const code = await runCli(args, { out: (t) => out.push(t), err: (t) => err.push(t), env: { CATCHUP_URL: a.url, SYNC_API_KEY: a.apiKey } });
  return { code, out: out.join('\n'), err: err.join('\n') };
}

describe('npm run catchup -- verify', () => {
  it('says level (exit 0), names a differing row (exit 1), repairs it, and is level after a scan', async () => {
    await a.ctx.pool.query(`INSERT INTO teams (team_number, name, scouting_team_number) SELECT g, 't' || g, 254 FROM generate_series(1, 20) g`);
    const id = await registerPeer(a, b);
    expect((await cli('scan', '--server', String(id))).code).toBe(0);
    const level = await cli('verify', '--server', String(id));
    expect(level.code).toBe(0);
    expect(level.out).toMatch(/^cliverify-b \(server \d+\): level \([\d.]+ s\)\ntable events: level \(0 rows\)/);
    expect(level.out).toMatch(/table teams: level \(20 rows\)/);
    expect(level.out).toMatch(/folder uploads: level \(0 files\)/);

    const { rows } = await b.ctx.pool.query<{ id: string }>(`SELECT id::text AS id FROM teams ORDER BY id LIMIT 1`);
    const row = rows[0]!.id;
    const client = await b.ctx.pool.connect();
    await client.query(`BEGIN; SET LOCAL catchup.applying = 'on'; UPDATE teams SET name = 'corrupted' WHERE id = '${row}'; COMMIT`);
    client.release();

    const found = await cli('verify', '--server', String(id));
    expect(found.code).toBe(1);
    expect(found.out).toMatch(/NOT level/);
    expect(found.out).toMatch(/table teams: 1 differing row\(s\) \(20 here, 20 there\)/);
    expect(found.out).toMatch(new RegExp(`${row}\\s+differs\\s+relog\\s*$`, 'm'));
    expect(found.out).toMatch(/next: verify --repair/);

    const repaired = await cli('verify', '--server', String(id), '--repair');
    expect(repaired.code).toBe(1); // not level until the scan carries the row
    expect(repaired.out).toMatch(new RegExp(`${row}\\s+differs\\s+relog\\s+yes`));
    expect(repaired.out).toMatch(/repair: 1 row\(s\) and 0 delete\(s\) re-logged as this node's changes, 0 left/);
    expect((await cli('scan', '--server', String(id))).code).toBe(0);
    expect((await cli('verify', '--server', String(id))).code).toBe(0);
  });

  it('needs --server, and says what is wrong with it', async () => {
    expect((await cli('verify')).err).toMatch(/verify needs --server ID/);
    expect((await cli('verify', '--server', 'x')).err).toMatch(/--server: a peer's id/);
    const unknown = await cli('verify', '--server', '9999');
    expect(unknown.code).toBe(1);
    expect(unknown.err).toMatch(/404: Server 9999 not found/);
  });
});

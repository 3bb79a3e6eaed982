// Pages of changes and the peer's body limit: a batch to a peer with a team scope travels as one JSON
// body, whose size follows its rows'. A page the peer refuses as too large (413) goes again in halves;
// a single change larger than the peer takes fails the run with the peer's answer, and nothing moves
// past it (I8).
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { registerPeer, type TestApiNode, useApiNodes } from './nodes.ts';

const BODY_LIMIT = 64 * 1024;
const [a, b] = (await useApiNodes(2, 'pages', { BODY_LIMIT_BYTES: String(BODY_LIMIT), SCAN_WAIT_SECONDS: '60' })) as [TestApiNode, TestApiNode];
const TEAM = 254;
// B sees team 254 only: A sends it pages, not log streams.
const bOnA = await registerPeer(a, b, { team_scope: [TEAM] });
await registerPeer(b, a);

/** Rows of team 254 whose notes are `bytes` of hex each: incompressible enough that a page's size is its rows'. */
async function insertRows(count: number, bytes: number): Promise<void> {
  for (let i = 0; i < count; i++) {
    await a.ctx.pool.query(
      `INSERT INTO scouting_data (team_number, match_number, scouting_team_number, scouter, data) VALUES ($1, 1, $2, $3, jsonb_build_object('notes', $4::text))`,
      [i + 1, TEAM, `scouter-${bytes}-${i}`, randomBytes(bytes / 2).toString('hex')],
    );
  }
}

interface ScanResult {
  success: boolean;
  errors: string[];
  database_changes: { sent: number };
}

async function scan(): Promise<ScanResult> {
  const res = await a.call('/api/sync/catchup/scan', { method: 'POST', json: { server_ids: [bOnA] } });
  expect(res.status).toBe(200);
  return ((await res.json()) as { results: ScanResult[] }).results[0]!;
}

const rowsOnB = async () => Number((await b.ctx.pool.query<{ n: string }>('SELECT count(*) AS n FROM scouting_data')).rows[0]!.n);
const sentCursor = async () =>
  (await a.ctx.pool.query<{ sent_cursor: string }>('SELECT sent_cursor::text FROM sync_servers WHERE id = $1', [bOnA])).rows[0]!.sent_cursor;

describe('pages of changes larger than the peer takes', () => {
  it('sends a batch over the peer’s body limit in smaller pages: every row arrives, the cursor moves over all', async () => {
    // 30 rows of 6 KB: about 190 KB of JSON in one batch of the default 1,000, three times the limit.
    await insertRows(30, 6000);
    const result = await scan();
    expect(result.errors).toEqual([]);
    expect(result.success).toBe(true);
    expect(result.database_changes.sent).toBe(30);
    expect(await rowsOnB()).toBe(30);
    const { rows } = await a.ctx.pool.query<{ latest: string }>('SELECT max(sequence)::text AS latest FROM database_changes');
    expect(await sentCursor()).toBe(rows[0]!.latest);
  });

  it('fails the run on a single change over the limit, names the refusal, and leaves the cursor before it', async () => {
    const before = await sentCursor();
    await insertRows(1, 2 * BODY_LIMIT);
    const result = await scan();
    expect(result.success).toBe(false);
    expect(result.errors.join('\n')).toMatch(/413/);
    expect(await rowsOnB()).toBe(30);
    expect(await sentCursor()).toBe(before);
  });
});

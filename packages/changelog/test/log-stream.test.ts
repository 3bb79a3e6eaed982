import { Readable } from 'node:stream';
import { describe, expect, it } from 'vitest';
import { createPool } from '@catchup/db';
import {
  applyIncoming,
  applyLogStream,
  BatchRejectedError,
  IdentityConflictError,
  latestSequence,
  LogStreamTooLargeError,
  openLogStream,
  type ApplyResult,
} from '@catchup/changelog';
import { teamChange } from '@catchup/testing';
import { logCount, logIdentities, MAX_CLOCK_SKEW_MS, tableDigest, useNodes, type TestNode } from './nodes.ts';
import { streamLine } from './stream-lines.ts';

const [a, b, c, d, e, f, g, h] = await useNodes(8, 'logstream');

/** Applies a stream on `node` as its peer API would, counting the chunks that went through the applier. */
async function applyStream(node: TestNode, body: AsyncIterable<Buffer | string>, chunkRows = 7, chunkBytes?: number) {
  let throughApplier = 0;
  const result = await applyLogStream(node.pool, body, {
    nodeId: node.nodeId,
    maxClockSkewMs: MAX_CLOCK_SKEW_MS,
    chunkRows,
    ...(chunkBytes ? { chunkBytes } : {}),
    applyChanges: (changes): Promise<ApplyResult> => {
      throughApplier++;
      return applyIncoming(node.pool, changes, { nodeId: node.nodeId, maxClockSkewMs: MAX_CLOCK_SKEW_MS });
    },
  });
  return { result, throughApplier };
}

/** `from`'s whole log but `to`'s own changes, as the stream a full baseline sends. */
async function streamOf(from: TestNode, to: TestNode): Promise<Readable> {
  return openLogStream(from.pool, { after: '0', upTo: await latestSequence(from.pool), excludeOrigin: to.nodeId, order: 'row key' });
}

async function bytesOf(stream: Readable): Promise<Buffer> {
  const parts: Buffer[] = [];
  for await (const part of stream) parts.push(part as Buffer);
  return Buffer.concat(parts);
}

const teamNames = async (node: TestNode) => (await node.pool.query<{ name: string }>('SELECT name FROM teams ORDER BY name')).rows.map((r) => r.name);

describe('a log stream', () => {
  it('brings an empty node level in bulk, chunk by chunk', async () => {
    await a!.pool.query(`INSERT INTO teams (team_number, name, scouting_team_number) SELECT g, 'team ' || g, 1 FROM generate_series(1, 30) g`);
    await a!.pool.query(`INSERT INTO events (code, name, scouting_team_number, start_date) VALUES ('2026cmp', $1, 1, now())`, [
      'Worlds, "Houston"\t\\ tab\nline\r',
    ]);
    const { result, throughApplier } = await applyStream(b!, await streamOf(a!, b!), 7);
    expect(result).toEqual({ received: 31, applied: 31, skipped_duplicate: 0, skipped_stale: 0, deletes: 0 });
    expect(throughApplier).toBe(0);
    expect(await tableDigest(b!.pool)).toEqual(await tableDigest(a!.pool));
    expect(await logIdentities(b!.pool)).toEqual(await logIdentities(a!.pool));
  });

  it('writes each row at its newest version, applies deletes, logs every entry under its identity, and moves the clock past them', async () => {
    await a!.pool.query(`UPDATE teams SET name = name || ' (edited)' WHERE team_number <= 10`);
    await a!.pool.query(`DELETE FROM teams WHERE team_number > 25`);
    // Pieces cut every few bytes: lines (and their escapes) span pieces.
    const bytes = await bytesOf(await streamOf(a!, c!));
    const pieces = Readable.from(Array.from({ length: Math.ceil(bytes.length / 5) }, (_, i) => bytes.subarray(i * 5, i * 5 + 5)));
    const { result, throughApplier } = await applyStream(c!, pieces, 1000);

    expect(result).toEqual({ received: 46, applied: 31, skipped_duplicate: 0, skipped_stale: 15, deletes: 5 });
    expect(throughApplier).toBe(0);
    expect(await tableDigest(c!.pool)).toEqual(await tableDigest(a!.pool));
    expect(await logIdentities(c!.pool)).toEqual(await logIdentities(a!.pool));
    // C's next write orders after every stamp received (I5).
    await c!.pool.query(`UPDATE teams SET name = 'after' WHERE team_number = 1`);
    const { rows } = await c!.pool.query<{ newest: boolean }>(
      `SELECT (SELECT max(hlc) FROM database_changes WHERE origin_node_id = $1) > (SELECT max(hlc) FROM database_changes WHERE origin_node_id = $2) AS newest`,
      [c!.nodeId, a!.nodeId],
    );
    expect(rows[0]!.newest).toBe(true);
  });

  it('sends changes the node holds already through the applier: duplicates skipped, newer versions applied, its own newer writes kept', async () => {
    // B holds A's first 31 entries: the rest win over them, the rest are duplicates.
    const b2 = await applyStream(b!, await streamOf(a!, b!));
    expect(b2.result).toEqual({ received: 46, applied: 15, skipped_duplicate: 31, skipped_stale: 0, deletes: 5 });
    expect(b2.throughApplier).toBe(7);
    expect(await tableDigest(b!.pool)).toEqual(await tableDigest(a!.pool));

    // E holds part of A's log and wrote over one of those rows since: the stream does not undo its write.
    const halfway = (await a!.pool.query<{ s: string }>('SELECT sequence::text AS s FROM database_changes ORDER BY sequence OFFSET 19 LIMIT 1')).rows[0]!.s;
    await applyStream(e!, await openLogStream(a!.pool, { after: '0', upTo: halfway, excludeOrigin: e!.nodeId, order: 'row key' }), 1000);
    await e!.pool.query(`UPDATE teams SET name = 'kept by E' WHERE team_number = 12`);
    const rest = await applyStream(e!, await streamOf(a!, e!));
    expect(rest.throughApplier).toBeGreaterThan(0);
    expect(rest.result).toMatchObject({ received: 46, skipped_duplicate: 20 });
    const expected = (await teamNames(a!)).map((n) => (n === 'team 12' ? 'kept by E' : n)).sort();
    expect((await teamNames(e!)).sort()).toEqual(expected);
  });

  it('settles rows the node holds in bulk, last writer wins: an older version logged as stale, a newer one applied; equal stamps go to the applier', async () => {
    await f!.pool.query(`INSERT INTO teams (team_number, name, scouting_team_number) VALUES (1, 'kept', 1), (2, 'replaced', 1)`);
    const { rows } = await f!.pool.query<{ id: string; name: string; hlc: string }>(
      `SELECT t.id::text, t.name, d.hlc::text FROM teams t JOIN database_changes d ON d.record_id = t.id::text`,
    );
    const standing = (name: string) => rows.find((r) => r.name === name)!;
    const update = (sequence: number, row: { id: string }, name: string, hlc: bigint) => {
      const c = teamChange('peer-v', sequence, name, hlc);
      return { ...c, record_id: row.id, operation: 'update', change_data: { ...c.change_data, id: row.id } };
    };
    const older = update(1, standing('kept'), 'older', BigInt(standing('kept').hlc) - 65536n);
    const newer = update(2, standing('replaced'), 'newer', BigInt(standing('replaced').hlc) + 65536n);
    const fresh = teamChange('peer-v', 3, 'fresh');
    const { result, throughApplier } = await applyStream(f!, Readable.from([streamLine(older) + streamLine(newer) + streamLine(fresh)]), 1000);
    expect(result).toEqual({ received: 3, applied: 2, skipped_duplicate: 0, skipped_stale: 1, deletes: 0 });
    expect(throughApplier).toBe(0);
    expect((await teamNames(f!)).sort()).toEqual(['fresh', 'kept', 'newer']);
    expect(await logCount(f!.pool)).toBe(5);

    // The same stamp as the standing version: the applier orders the two node ids.
    const tie = update(4, standing('kept'), 'tied', BigInt(standing('kept').hlc));
    const tied = await applyStream(f!, Readable.from([streamLine(tie)]), 1000);
    expect(tied.throughApplier).toBe(1);
    expect(await teamNames(f!)).toContain('peer-v' > f!.nodeId ? 'tied' : 'kept');
  });

  it('ends the delivery leases of the changes it carried, in bulk and through the applier (see held.ts)', async () => {
    const bulk = teamChange('peer-l', 1, 'leased, bulk');
    const judged = teamChange('nœud-l', 1, 'leased, judged'); // beyond ASCII: the applier's
    const other = { origin: 'peer-l', sequence: '99' };
    for (const i of [{ origin: 'peer-l', sequence: '1' }, { origin: 'nœud-l', sequence: '1' }, other]) {
      await f!.pool.query(
        `INSERT INTO change_delivery_leases (origin_node_id, origin_sequence, holder, expires_at) VALUES ($1, $2, 'push:x', now() + interval '1 minute')`,
        [i.origin, i.sequence],
      );
    }
    expect((await applyStream(f!, Readable.from([streamLine(bulk)]), 1000)).throughApplier).toBe(0);
    expect((await applyStream(f!, Readable.from([streamLine(judged)]), 1000)).throughApplier).toBe(1);
    const { rows } = await f!.pool.query<{ origin: string; sequence: string }>(
      'SELECT origin_node_id AS origin, origin_sequence::text AS sequence FROM change_delivery_leases',
    );
    expect(rows).toEqual([other]);
  });

  it('sends chunks through the applier with a pool no larger than the chunks in flight (each gives its connection back first)', async () => {
    const small = createPool(f!.database.url, 2);
    try {
      // Node ids beyond ASCII: every chunk goes to the applier, which takes a connection of its own.
      const lines = [1, 2, 3, 4].map((i) => streamLine(teamChange('nœud-p', i, `pooled ${i}`))).join('');
      const options = { nodeId: f!.nodeId, maxClockSkewMs: MAX_CLOCK_SKEW_MS };
      const result = await applyLogStream(small, Readable.from([lines]), {
        ...options,
        chunkRows: 1,
        parallel: 2,
        applyChanges: (changes) => applyIncoming(small, changes, options),
      });
      expect(result).toEqual({ received: 4, applied: 4, skipped_duplicate: 0, skipped_stale: 0, deletes: 0 });
    } finally {
      await small.end();
    }
  }, 20_000);

  it('refuses a line PostgreSQL cannot read, naming it, and applies nothing of its chunk', async () => {
    const good = teamChange('peer-x', 1, 'good');
    const bad = { ...teamChange('peer-x', 2, 'bad'), record_id: 'not-a-uuid' };
    const before = await logCount(d!.pool);
    const refusal = applyStream(d!, Readable.from([streamLine(good) + streamLine(bad)]));
    await expect(refusal).rejects.toThrow(BatchRejectedError);
    await expect(refusal).rejects.toThrow(/line 2, record_id: invalid input syntax for type uuid/);
    expect(await logCount(d!.pool)).toBe(before);
    expect(await teamNames(d!)).not.toContain('good');
  });

  it('refuses through the applier what a batch would be refused for, with its words, and applies nothing of the chunk', async () => {
    const cases: { lines: Record<string, unknown>[]; error: RegExp; kind: typeof BatchRejectedError }[] = [
      { lines: [{ ...teamChange('peer-y', 1, 'x'), change_data: { id: 'x', colour: 'red' } }], error: /change_data|id/, kind: BatchRejectedError },
      (() => {
        const c1 = teamChange('peer-y', 2, 'x');
        return {
          lines: [{ ...c1, change_data: { ...c1.change_data, colour: 'red' } }],
          error: /change_data\.colour: unknown column of teams/,
          kind: BatchRejectedError,
        };
      })(),
      { lines: [teamChange(d!.nodeId, 999, 'mine?')], error: /claims to come from this node/, kind: IdentityConflictError },
      { lines: [teamChange('peer-y', 3, 'future', BigInt(Date.now() + 3_600_000) * 65536n)], error: /ahead of this node's clock/, kind: BatchRejectedError },
      { lines: [teamChange('peer-y', 4, 'one'), teamChange('peer-y', 4, 'other')], error: /twice with different content/, kind: IdentityConflictError },
      { lines: [{ ...teamChange('peer-y', 5, 'x'), table_name: 'payroll' }], error: /unknown or unsynced table "payroll"/, kind: BatchRejectedError },
    ];
    for (const { lines, error, kind } of cases) {
      const before = await logCount(d!.pool);
      const refusal = applyStream(d!, Readable.from([lines.map(streamLine).join('')]));
      await expect(refusal).rejects.toThrow(kind);
      await expect(refusal).rejects.toThrow(error);
      expect(await logCount(d!.pool)).toBe(before);
    }
  });

  it('applies what the bulk way leaves to the applier when it is valid: a node id beyond ASCII, a delete of a row never here', async () => {
    const accented = teamChange('nœud-été', 1, 'from afar');
    const gone = { ...teamChange('peer-z', 1, 'gone'), operation: 'delete', change_data: null };
    const { result, throughApplier } = await applyStream(d!, Readable.from([streamLine(accented) + streamLine(gone)]));
    expect(result).toEqual({ received: 2, applied: 2, skipped_duplicate: 0, skipped_stale: 0, deletes: 1 });
    expect(throughApplier).toBe(1);
    expect(await teamNames(d!)).toContain('from afar');
  });

  it('cuts a stream arriving in pieces that split its lines into whole lines, by rows and by bytes, losing and doubling none', async () => {
    await g!.pool.query(`INSERT INTO teams (team_number, name, scouting_team_number) SELECT n, 'team ' || repeat('x', n * 7), 1 FROM generate_series(1, 40) n`);
    const whole = await bytesOf(await streamOf(g!, h!));
    const longest = Math.max(
      ...whole
        .toString('utf8')
        .split('\n')
        .map((line) => Buffer.byteLength(line) + 1),
    );
    // Seven-byte pieces: every line arrives split; chunks end at 4 lines or at about three of the longest.
    const pieces = Array.from({ length: Math.ceil(whole.length / 7) }, (_, i) => whole.subarray(i * 7, i * 7 + 7));
    const { result } = await applyStream(h!, Readable.from(pieces), 4, 3 * longest);
    expect(result.received).toBe(40);
    expect(result.applied).toBe(40);
    expect(await tableDigest(h!.pool)).toEqual(await tableDigest(g!.pool));
    expect(await logIdentities(h!.pool)).toEqual(await logIdentities(g!.pool));
  });

  it('refuses a line longer than a chunk may hold (413)', async () => {
    const huge = teamChange('peer-w', 1, 'x'.repeat(5000));
    await expect(applyStream(d!, Readable.from([streamLine(huge)]), 7, 4096)).rejects.toThrow(LogStreamTooLargeError);
  });
});

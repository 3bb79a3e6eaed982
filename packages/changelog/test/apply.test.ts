import { randomUUID } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { acknowledgeRange, BatchRejectedError, IdentityConflictError, countMissingChanges, getCursor, readChanges, type Change } from '@catchup/changelog';
import { createPool } from '@catchup/db';
import { rowsWithoutTheirLoggedVersion, teamChange } from '@catchup/testing';
import { applyTo, logCount, logIdentities, tableDigest, useNodes, type TestNode } from './nodes.ts';

const [a, b, c] = await useNodes(3, 'apply');

async function logOf(node: TestNode, excludeOrigin?: string): Promise<Change[]> {
  return (await readChanges(node.pool, { after: '0', limit: 1_000_000, ...(excludeOrigin ? { excludeOrigin } : {}) })).changes;
}

/** Sends everything `from` has that `to` did not originate. */
async function sync(from: TestNode, to: TestNode, maxClockSkewMs?: number) {
  return applyTo(to, await logOf(from, to.nodeId), maxClockSkewMs);
}

describe('applying a batch', () => {
  it('brings a peer level and is idempotent (I3, I6)', async () => {
    await a!.database.db.team.createMany({
      data: [
        { teamNumber: 254, name: 'Cheesy Poofs', scoutingTeamNumber: 1 },
        { teamNumber: 1678, name: 'Citrus Circuits', scoutingTeamNumber: 1 },
      ],
    });
    const first = await a!.database.db.team.findFirstOrThrow({ where: { teamNumber: 254 } });
    await a!.database.db.team.update({ where: { id: first.id }, data: { name: 'Poofs' } });

    const sent = await logOf(a!);
    const result = await sync(a!, b!);
    expect(result).toEqual({ received: 3, applied: 2, skipped_duplicate: 0, skipped_stale: 1 });
    expect(await tableDigest(b!.pool)).toEqual(await tableDigest(a!.pool));

    // Applying added A's changes to B's log under A's identity, and nothing of B's own (no echo).
    expect(await logIdentities(b!.pool)).toEqual(await logIdentities(a!.pool));
    const bLog = await logOf(b!);
    expect(bLog.every((ch) => ch.origin_node_id === a!.nodeId)).toBe(true);

    // The same batch again, whole or split: every change is a duplicate, nothing changes.
    const again = await applyTo(b!, sent);
    expect(again).toEqual({ received: 3, applied: 0, skipped_duplicate: 3, skipped_stale: 0 });
    expect(await applyTo(b!, [...sent, ...sent])).toMatchObject({ skipped_duplicate: 6 });
    expect(await logCount(b!.pool)).toBe(3);
  });

  it("relays: C learns A's changes from B, with their original identity", async () => {
    await sync(b!, c!);
    expect(await tableDigest(c!.pool)).toEqual(await tableDigest(a!.pool));
    expect(await logIdentities(c!.pool)).toEqual(await logIdentities(a!.pool));
    // Later, A sending directly is all duplicates.
    expect(await sync(a!, c!)).toMatchObject({ applied: 0, skipped_duplicate: 3 });
  });

  it('resolves concurrent edits by hybrid logical clock then node id, on every node (I4)', async () => {
    const team = await a!.database.db.team.findFirstOrThrow({ where: { teamNumber: 1678 } });
    await a!.database.db.team.update({ where: { id: team.id }, data: { name: 'edited on A' } });
    await b!.database.db.team.update({ where: { id: team.id }, data: { name: 'edited on B' } });
    await c!.database.db.team.delete({ where: { id: team.id } });

    for (let round = 0; round < 2; round++) {
      for (const from of [a!, b!, c!]) for (const to of [a!, b!, c!]) if (from !== to) await sync(from, to);
    }
    const digest = await tableDigest(a!.pool);
    expect(await tableDigest(b!.pool)).toEqual(digest);
    expect(await tableDigest(c!.pool)).toEqual(digest);
    // C's delete was the last write: it wins everywhere.
    expect(digest.teams!.some((t) => (t as { id: string }).id === team.id)).toBe(false);
  });

  it("lets a node's later edit win even when its clock is an hour behind (I5)", async () => {
    const [x, y] = [a!, b!];
    await y.pool.query(`ALTER DATABASE "${y.database.name}" SET catchup.clock_offset_ms = '-3600000'`);
    const skewed = createPool(y.database.url, 1);
    try {
      const { rows } = await x.pool.query<{ id: string }>(`INSERT INTO events (code, name, scouting_team_number) VALUES ('2026cc', 'from X', 1) RETURNING id`);
      const id = rows[0]!.id;
      await sync(x, y, 2 * 3_600_000); // X's stamps are an hour ahead of Y's clock
      await skewed.query(`UPDATE events SET name = 'edited on Y after X' WHERE id = $1`, [id]);
      const yChange = (await logOf(y)).at(-1)!;
      expect(yChange.origin_node_id).toBe(y.nodeId);
      const wall = BigInt(Date.now() - 3_600_000) * 65536n;
      expect(BigInt(yChange.hlc) > wall + 60_000n * 65536n).toBe(true); // not the skewed wall clock

      await sync(y, x);
      for (const node of [x, y]) {
        const { rows: names } = await node.pool.query<{ name: string }>('SELECT name FROM events WHERE id = $1', [id]);
        expect(names[0]!.name).toBe('edited on Y after X');
      }
    } finally {
      await skewed.end();
      await y.pool.query(`ALTER DATABASE "${y.database.name}" RESET catchup.clock_offset_ms`);
    }
  });

  it('gives the same result whatever the order of delivery', async () => {
    const id = randomUUID();
    await a!.pool.query(`INSERT INTO matches (id, match_number, scouting_team_number) VALUES ($1, 1, 1)`, [id]);
    await a!.pool.query(`UPDATE matches SET match_number = 2 WHERE id = $1`, [id]);
    await a!.pool.query(`UPDATE matches SET is_active = false WHERE id = $1`, [id]);
    const changes = (await logOf(a!)).filter((ch) => ch.record_id === id);
    expect(changes.map((ch) => ch.operation)).toEqual(['insert', 'update', 'soft_delete']);
    // Newest first, one change per batch.
    for (const ch of changes.reverse()) await applyTo(b!, [ch]);
    const { rows } = await b!.pool.query('SELECT match_number, is_active FROM matches WHERE id = $1', [id]);
    expect(rows).toEqual([{ match_number: 2, is_active: false }]);
  });

  it('keeps a local edit that commits while an older remote change of the same row is being applied', async () => {
    const id = randomUUID();
    await a!.pool.query(`INSERT INTO matches (id, match_number, scouting_team_number) VALUES ($1, 1, 1)`, [id]);
    await sync(a!, b!);
    await a!.pool.query(`UPDATE matches SET match_number = 10 WHERE id = $1`, [id]);
    const remote = (await logOf(a!)).filter((ch) => ch.record_id === id).at(-1)!;

    // B's application holds the row, uncommitted; its change is stamped at commit, after A's.
    const local = await b!.pool.connect();
    try {
      await local.query('BEGIN');
      await local.query(`UPDATE matches SET match_number = 20 WHERE id = $1`, [id]);
      const applying = applyTo(b!, [remote]);
      // Wait until the batch is blocked on the row, i.e. it read the standing version before B's commit.
      for (let waited = 0; ; waited += 20) {
        const { rows } = await b!.pool.query<{ n: string }>(
          `SELECT count(*)::text AS n FROM pg_stat_activity WHERE datname = current_database() AND wait_event_type = 'Lock'`,
        );
        if (rows[0]!.n !== '0') break;
        if (waited > 5000) throw new Error('the batch never waited for the row');
        await new Promise((r) => setTimeout(r, 20));
      }
      await local.query('COMMIT');
      expect(await applying).toEqual({ received: 1, applied: 0, skipped_duplicate: 0, skipped_stale: 1 });
    } finally {
      local.release();
    }
    const { rows } = await b!.pool.query('SELECT match_number FROM matches WHERE id = $1', [id]);
    expect(rows).toEqual([{ match_number: 20 }]);
    // And A, told of B's edit, agrees.
    await sync(b!, a!);
    const { rows: onA } = await a!.pool.query('SELECT match_number FROM matches WHERE id = $1', [id]);
    expect(onA).toEqual([{ match_number: 20 }]);
  });
});

describe('what a batch carries reaches the row and the log exactly', () => {
  it('keeps tabs, line breaks, backslashes and quotes in row images and node ids', async () => {
    const awkward = 'tab\there\nnew line\r\\back\\\\slashes "quoted" \\N \u00e9\u2028';
    const change = teamChange(`node\twith\\odd\nname`, '7', awkward);
    expect(await applyTo(c!, [change])).toMatchObject({ applied: 1 });
    const { rows } = await c!.pool.query('SELECT name FROM teams WHERE id = $1', [change.record_id]);
    expect(rows).toEqual([{ name: awkward }]);
    const logged = (await logOf(c!)).find((ch) => ch.record_id === change.record_id)!;
    expect(logged.origin_node_id).toBe(change.origin_node_id);
    expect(logged.change_data).toEqual(change.change_data);
    // And it is still a duplicate when it comes again.
    expect(await applyTo(c!, [change])).toMatchObject({ skipped_duplicate: 1 });
  });

  it('recognises changes already logged however their sequences are spread', async () => {
    const origin = `spread-${randomUUID()}`;
    const first = ['1', '2', '3', '10', '4000000000'].map((sequence) => teamChange(origin, sequence, `team ${sequence}`));
    expect(await applyTo(c!, first)).toMatchObject({ applied: 5, skipped_duplicate: 0 });
    const logBefore = await logCount(c!.pool);
    // The same identities mixed with new ones in and around their runs.
    const again = [
      first[1]!,
      first[3]!,
      first[4]!,
      teamChange(origin, '4', 'team 4'),
      teamChange(origin, '9', 'team 9'),
      teamChange(origin, '3999999999', 'team 3999999999'),
    ];
    expect(await applyTo(c!, again)).toEqual({ received: 6, applied: 3, skipped_duplicate: 3, skipped_stale: 0 });
    expect(await logCount(c!.pool)).toBe(logBefore + 3);
    // One new change twice in a batch.
    const twice = teamChange(origin, '11', 'team 11');
    expect(await applyTo(c!, [twice, twice])).toEqual({ received: 2, applied: 1, skipped_duplicate: 1, skipped_stale: 0 });
  });
});

describe("a peer's batch cannot split the tables or stop local writes (I12, I13)", () => {
  async function expectRefused(batch: unknown[], error: typeof BatchRejectedError, message: RegExp) {
    const before = { log: await logIdentities(c!.pool), rows: await tableDigest(c!.pool) };
    const attempt = applyTo(c!, batch);
    await expect(attempt).rejects.toThrow(error);
    await expect(attempt).rejects.toThrow(message);
    expect(await logIdentities(c!.pool)).toEqual(before.log);
    expect(await tableDigest(c!.pool)).toEqual(before.rows);
  }

  async function localInsertWorks(): Promise<string> {
    const { rows } = await c!.pool.query<{ id: string }>(
      `INSERT INTO events (code, name, scouting_team_number) VALUES ('local', 'local write', 1) RETURNING id`,
    );
    const { rows: logged } = await c!.pool.query<{ hlc: string }>(`SELECT hlc::text FROM database_changes WHERE record_id = $1`, [rows[0]!.id]);
    return logged[0]!.hlc;
  }

  it("refuses a stamp at bigint's end or in the year 3000, and local writes go on", async () => {
    const origin = `clock-${randomUUID()}`;
    const atTheEnd = teamChange(origin, '1', 'poison', 9223372036854775807n);
    await expectRefused(
      [teamChange(origin, '2', 'fine'), atTheEnd],
      BatchRejectedError,
      /change #1 \(clock-[^)]+\/1\): hlc: 9223372036854775807 is \d+ days ahead of this node's clock, beyond catchup_max_clock_skew_seconds \(300 s\)/,
    );
    const year3000 = BigInt(Date.UTC(3000, 0, 1)) * 65536n;
    await expectRefused([teamChange(origin, '3', 'future', year3000)], BatchRejectedError, /hlc: \d+ is \d+ days ahead/);
    const justAhead = BigInt(Date.now() + 400_000) * 65536n;
    // Stamped 400 s ahead; the message measures from when the batch is applied, a moment later.
    await expectRefused([teamChange(origin, '4', 'a little ahead', justAhead)], BatchRejectedError, /is (3[5-9]\d|400)\.\d s ahead of this node's clock/);
    // Within the bound: applied, and the clock moves past it (I5).
    const withinBound = BigInt(Date.now() + 60_000) * 65536n;
    expect(await applyTo(c!, [teamChange(origin, '5', 'a minute ahead', withinBound)])).toMatchObject({ applied: 1 });
    const local = await localInsertWorks();
    expect(BigInt(local) > withinBound).toBe(true);
    expect(BigInt(local) < BigInt(Date.now() + 120_000) * 65536n).toBe(true);
  });

  it('refuses numbers that are not canonical decimals within bigint', async () => {
    const origin = `numbers-${randomUUID()}`;
    await expectRefused(
      [teamChange(origin, '0000000000000000303', 'padded')],
      BatchRejectedError,
      /change #0 .*origin_sequence: a non-negative integer that fits bigint/,
    );
    await expectRefused(
      [teamChange(origin, '9223372036854775808', 'past bigint')],
      BatchRejectedError,
      /origin_sequence: a non-negative integer that fits bigint/,
    );
    await expectRefused(
      [{ ...teamChange(origin, '1', 'hlc past bigint'), hlc: '99999999999999999999' }],
      BatchRejectedError,
      /hlc: a non-negative integer that fits bigint/,
    );
  });

  it('skips a true duplicate but refuses an identity reused for other content, in the table or the batch', async () => {
    const origin = `reuse-${randomUUID()}`;
    const original = teamChange(origin, '303', 'the original');
    expect(await applyTo(c!, [original])).toEqual({ received: 1, applied: 1, skipped_duplicate: 0, skipped_stale: 0 });
    // Relayed again, its row image spelled differently (spaces, key order): the same change.
    const respelled = { ...original, change_data: Object.fromEntries(Object.entries(original.change_data!).reverse()) };
    expect(await applyTo(c!, [respelled])).toEqual({ received: 1, applied: 0, skipped_duplicate: 1, skipped_stale: 0 });

    const otherRow = teamChange(origin, '303', 'another row under the same identity', BigInt(original.hlc) + 65536n);
    await expectRefused(
      [otherRow],
      IdentityConflictError,
      new RegExp(`change #0 \\(${origin}/303\\): identity conflict: ${origin}/303 is already logged as insert of teams ${original.record_id}`),
    );
    const otherContent = { ...original, hlc: String(BigInt(original.hlc) + 65536n), change_data: { ...original.change_data!, name: 'rewritten' } };
    await expectRefused([otherContent], IdentityConflictError, /identity conflict/);
    const sameStampOtherName = { ...original, change_data: { ...original.change_data!, name: 'same stamp, other name' } };
    await expectRefused([sameStampOtherName], IdentityConflictError, /identity conflict/);
    const fresh = teamChange(origin, '304', 'new');
    await expectRefused(
      [fresh, { ...fresh, change_data: { ...fresh.change_data!, name: 'new, twice' } }],
      IdentityConflictError,
      /change #1 .*carries .*\/304 twice with different content/,
    );
    expect(await rowsWithoutTheirLoggedVersion(c!.pool)).toBe(0);
  });

  it('settles two changes of a row that one origin stamped alike the same way on every node, whatever the order', async () => {
    const origin = `same-stamp-${randomUUID()}`;
    const first = teamChange(origin, '1', 'first');
    const stamp = first.hlc;
    const second = { ...first, origin_sequence: '2', operation: 'update' as const, change_data: { ...first.change_data!, name: 'second' } };
    await applyTo(a!, [first]);
    await applyTo(a!, [second]);
    await applyTo(b!, [second]);
    await applyTo(b!, [first]);
    for (const node of [a!, b!]) {
      const { rows } = await node.pool.query('SELECT name FROM teams WHERE id = $1', [first.record_id]);
      expect(rows, node.name).toEqual([{ name: 'second' }]);
    }
    expect(second.hlc).toBe(stamp);
  });

  it("refuses a change claiming this node's identity that it never made, and skips one it did", async () => {
    const local = await localInsertWorks();
    const own = (await logOf(c!)).find((ch) => ch.hlc === local)!;
    expect(own.origin_node_id).toBe(c!.nodeId);
    // Our own change relayed back: a duplicate.
    expect(await applyTo(c!, [own])).toEqual({ received: 1, applied: 0, skipped_duplicate: 1, skipped_stale: 0 });
    // A change under our identity at the sequence our next local write takes: refused, and that write does not collide.
    const { rows } = await c!.pool.query<{ next: string }>('SELECT (max(sequence) + 1)::text AS next FROM database_changes');
    const nextSequence = rows[0]!.next;
    await expectRefused([teamChange(c!.nodeId, nextSequence, 'spoofed')], IdentityConflictError, /claims to come from this node .* which never made change/);
    await localInsertWorks();
    expect(await rowsWithoutTheirLoggedVersion(c!.pool)).toBe(0);
  });
});

describe('rejecting a bad batch applies nothing (I7)', () => {
  async function validChange(): Promise<Change> {
    const id = randomUUID();
    return {
      table_name: 'teams',
      record_id: id,
      operation: 'insert',
      change_data: { id, team_number: 9999, name: 'valid', scouting_team_number: 1, is_active: true, updated_at: new Date().toISOString() },
      old_data: null,
      timestamp: new Date().toISOString(),
      origin_node_id: 'remote-node',
      origin_sequence: String(Math.floor(Math.random() * 1e12)),
      hlc: (BigInt(Date.now()) * 65536n).toString(),
    };
  }

  const cases: [string, (ch: Change) => unknown, RegExp][] = [
    [
      'unknown table',
      (ch) => ({ ...ch, table_name: 'no_such_table' }),
      /change #1 \(remote-node\/\d+\): table_name: unknown or unsynced table "no_such_table"/,
    ],
    ['SQL-looking table name', (ch) => ({ ...ch, table_name: 'teams; DROP TABLE teams' }), /change #1.*unknown or unsynced table/],
    ['internal table', (ch) => ({ ...ch, table_name: 'sync_servers' }), /change #1.*unknown or unsynced table "sync_servers"/],
    ['unknown column', (ch) => ({ ...ch, change_data: { ...ch.change_data, colour: 'red' } }), /change #1.*change_data\.colour: unknown column of teams/],
    [
      'wrong type',
      (ch) => ({ ...ch, change_data: { ...ch.change_data, team_number: 'many' } }),
      /change #1 \(remote-node\/\d+\): teams [0-9a-f-]{36}: invalid input syntax for type integer: "many"/,
    ],
    ['missing record id', (ch) => ({ ...ch, record_id: undefined }), /change #1.*record_id/],
    ['record id that is not a UUID', (ch) => ({ ...ch, record_id: '42' }), /change #1.*record_id: a UUID/],
    ['bad operation', (ch) => ({ ...ch, operation: 'upsert' }), /change #1.*operation/],
    [
      'row image for another record',
      (ch) => ({ ...ch, change_data: { ...ch.change_data, id: randomUUID() } }),
      /change #1.*change_data\.id: must equal record_id/,
    ],
    ['constraint failure', (ch) => ({ ...ch, change_data: { ...ch.change_data, name: null } }), /change #1.*null value in column "name"/],
    ['not an object', () => 'DROP TABLE teams', /change #1.*expected object/],
  ];

  it.each(cases)('%s', async (_label, spoil, message) => {
    const good = await validChange();
    const bad = spoil(await validChange());
    const before = { log: await logCount(c!.pool), rows: await tableDigest(c!.pool) };
    const attempt = applyTo(c!, [good, bad]);
    await expect(attempt).rejects.toThrow(BatchRejectedError);
    await expect(applyTo(c!, [good, bad])).rejects.toThrow(message);
    expect(await logCount(c!.pool)).toBe(before.log);
    expect(await tableDigest(c!.pool)).toEqual(before.rows);
  });
});

describe('detection and cursors', () => {
  it('counts exactly the changes a peer has not acknowledged, leaving out its own (I10)', async () => {
    const server = await a!.database.db.syncServer.create({ data: { name: 'b', host: '127.0.0.1', port: 1, peerNodeId: b!.nodeId } });
    const all = await logOf(a!);
    const notFromB = all.filter((ch) => ch.origin_node_id !== b!.nodeId);
    expect(await countMissingChanges(a!.pool, { sentCursor: '0', peerNodeId: b!.nodeId })).toBe(notFromB.length);
    expect(await countMissingChanges(a!.pool, { sentCursor: '0', peerNodeId: null })).toBe(all.length);
    const mid = all[Math.floor(all.length / 2)]!.sequence!;
    const after = notFromB.filter((ch) => BigInt(ch.sequence!) > BigInt(mid)).length;
    expect(await countMissingChanges(a!.pool, { sentCursor: mid, peerNodeId: b!.nodeId })).toBe(after);
    await a!.database.db.syncServer.delete({ where: { id: server.id } });
  });

  it('moves a cursor only over contiguous acknowledged ranges (I8)', async () => {
    const server = await a!.database.db.syncServer.create({ data: { name: 'cursor-peer', host: '127.0.0.1', port: 1 } });
    expect(await acknowledgeRange(a!.pool, server.id, 'sent', { from: '0', to: '100' })).toBe('100');
    expect(await acknowledgeRange(a!.pool, server.id, 'sent', { from: '200', to: '300' })).toBe('100');
    expect(await acknowledgeRange(a!.pool, server.id, 'sent', { from: '300', to: '400' })).toBe('100');
    expect(await getCursor(a!.pool, server.id, 'sent')).toBe('100');
    // The missing middle batch arrives: the cursor jumps over everything acknowledged.
    expect(await acknowledgeRange(a!.pool, server.id, 'sent', { from: '100', to: '200' })).toBe('400');
    // An old range again changes nothing; the other direction is separate.
    expect(await acknowledgeRange(a!.pool, server.id, 'sent', { from: '0', to: '100' })).toBe('400');
    expect(await getCursor(a!.pool, server.id, 'received')).toBe('0');
    const leftover = await a!.pool.query('SELECT * FROM sync_acks WHERE server_id = $1', [server.id]);
    expect(leftover.rowCount).toBe(0);
  });

  it('reaches the end when many batches acknowledge at once, in any order', async () => {
    const server = await a!.database.db.syncServer.create({ data: { name: 'concurrent-peer', host: '127.0.0.1', port: 1 } });
    const ranges = Array.from({ length: 80 }, (_, i) => ({ from: String(i * 50), to: String(i * 50 + 50) }));
    for (let i = ranges.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [ranges[i], ranges[j]] = [ranges[j]!, ranges[i]!];
    }
    // Leave one out: the cursor must stop right before it.
    const missing = ranges.find((r) => r.from === '1350')!;
    await Promise.all(ranges.filter((r) => r !== missing).map((r) => acknowledgeRange(a!.pool, server.id, 'sent', r)));
    expect(await getCursor(a!.pool, server.id, 'sent')).toBe('1350');
    await acknowledgeRange(a!.pool, server.id, 'sent', missing);
    expect(await getCursor(a!.pool, server.id, 'sent')).toBe('4000');
  });
});

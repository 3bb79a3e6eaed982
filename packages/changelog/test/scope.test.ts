// Team isolation in the log: what a scoped reader gets of each kind of entry (the SQL decides as the pure
// scopeAction does), counts that match what is read, scope exits that stand on the receiver but are never
// read again, and what a scoped sender may not write.
import { describe, expect, it } from 'vitest';
import {
  applyBatch,
  filterColumns,
  measureBacklog,
  readChanges,
  readChangesByKeyJson,
  scopeAction,
  teamOfImage,
  writeRefusal,
  type Change,
  type TeamScope,
} from '@catchup/changelog';
import { MAX_CLOCK_SKEW_MS, useNodes } from './nodes.ts';

const [origin, scoped] = await useNodes(2, 'scope');
const db = origin!.database.db;

const columns = new Map([
  ['scouting_data', 'scouting_team_number'],
  ['teams', 'scouting_team_number'],
]);
const scope: TeamScope = { teams: [254, 971], columns };

describe('the scope decision (pure)', () => {
  const decide = (operation: string, newTeam?: string, oldTeam?: string, table = 'scouting_data') =>
    scopeAction(scope, { table_name: table, operation, newTeam, oldTeam });

  it('sends what is in scope, without an old image from outside it', () => {
    expect(decide('insert', '254')).toBe('send_without_old'); // an insert has no old image
    expect(decide('update', '254', '971')).toBe('send');
    expect(decide('update', '254', '1678')).toBe('send_without_old');
    expect(decide('reactivate', '971', undefined)).toBe('send_without_old');
  });

  it('leaves out an insert out of scope, and makes any other change out of scope a scope exit', () => {
    expect(decide('insert', '1678')).toBe('leave_out');
    expect(decide('insert', undefined)).toBe('leave_out');
    expect(decide('update', '1678', '254')).toBe('exit');
    // Its origin saw the row out of scope before, but the reader may hold an older version in scope.
    expect(decide('update', '1678', '1678')).toBe('exit');
    expect(decide('soft_delete', '1678', '1678')).toBe('exit');
  });

  it('sends every delete, its old image only from inside the scope', () => {
    expect(decide('delete', undefined, '254')).toBe('send');
    expect(decide('delete', undefined, '1678')).toBe('send_without_old');
    expect(decide('delete', undefined, undefined)).toBe('send_without_old');
  });

  it('does not filter a table without a filter column', () => {
    expect(decide('insert', '1678', undefined, 'events')).toBe('send');
  });

  it('finds filter columns by name, with table.column pairs first', () => {
    const tables = new Map([
      ['teams', { columns: ['id', 'team_number', 'scouting_team_number'] }],
      ['pit', { columns: ['id', 'team'] }],
      ['notes', { columns: ['id', 'text'] }],
    ]);
    expect(filterColumns('scouting_team_number, pit.team', tables)).toEqual(
      new Map([
        ['teams', 'scouting_team_number'],
        ['pit', 'team'],
      ]),
    );
    expect(filterColumns('', tables).size).toBe(0);
  });

  it('reads a team number from an image as text, numbers and strings alike', () => {
    expect(teamOfImage('{"id":"x","t":254}', 't')).toBe('254');
    expect(teamOfImage('{"id":"x","t":"254"}', 't')).toBe('254');
    expect(teamOfImage('{"id":"x","t":null}', 't')).toBeUndefined();
    expect(teamOfImage(null, 't')).toBeUndefined();
  });

  it('refuses a scoped writer an image out of its teams, and a winning change over a row out of them', () => {
    const change = (operation: string, team: number | null) => ({
      table_name: 'scouting_data',
      record_id: 'r',
      operation,
      change_data_json: team === null ? null : JSON.stringify({ id: 'r', scouting_team_number: team }),
    });
    expect(writeRefusal(scope, change('insert', 254), true, { exists: false, team: undefined })).toBeUndefined();
    expect(writeRefusal(scope, change('insert', 1678), true, { exists: false, team: undefined })).toMatch(
      /^change_data.scouting_team_number: team 1678 is outside the teams this peer may write \(254, 971\)$/,
    );
    expect(writeRefusal(scope, change('update', 254), true, { exists: true, team: '1678' })).toMatch(/the row here belongs to team 1678/);
    // Losing, it replaces nothing.
    expect(writeRefusal(scope, change('update', 254), false, { exists: true, team: '1678' })).toBeUndefined();
    expect(writeRefusal(scope, change('delete', null), true, { exists: true, team: '1678' })).toMatch(/belongs to team 1678/);
    expect(writeRefusal(scope, change('delete', null), true, { exists: false, team: undefined })).toBeUndefined();
  });
});

describe('a scoped read of the log', () => {
  let changes: Change[] = [];

  it('gives each entry as scopeAction decides, and counts exactly what it gives', async () => {
    const mine = await db.scoutingData.create({ data: { teamNumber: 1, matchNumber: 1, scoutingTeamNumber: 254 } });
    const theirs = await db.scoutingData.create({ data: { teamNumber: 2, matchNumber: 1, scoutingTeamNumber: 1678 } });
    const leaving = await db.scoutingData.create({ data: { teamNumber: 3, matchNumber: 1, scoutingTeamNumber: 971 } });
    await db.scoutingData.update({ where: { id: theirs.id }, data: { scouter: 'still theirs' } }); // exit: the reader may hold an old version
    await db.scoutingData.update({ where: { id: leaving.id }, data: { scoutingTeamNumber: 1678 } }); // exit
    await db.scoutingData.update({ where: { id: theirs.id }, data: { scoutingTeamNumber: 254, scouter: 'now ours' } }); // in, old image withheld
    await db.scoutingData.delete({ where: { id: mine.id } }); // delete in scope
    await db.event.create({ data: { code: 'e', name: 'any team', scoutingTeamNumber: 1678 } }); // events not filtered here

    const all = (await readChanges(origin!.pool, { after: '0', limit: 1000 })).changes;
    const read = await readChanges(origin!.pool, { after: '0', limit: 1000, scope });
    changes = read.changes;
    const column = (c: Change, image: 'change_data' | 'old_data') => {
      const value = c[image]?.scouting_team_number;
      return value === undefined || value === null ? undefined : String(value);
    };
    const expected = all.flatMap((c) => {
      const action = scopeAction(scope, {
        table_name: c.table_name,
        operation: c.operation,
        newTeam: column(c, 'change_data'),
        oldTeam: column(c, 'old_data'),
      });
      if (action === 'leave_out') return [];
      if (action === 'exit') return [{ ...c, operation: 'delete' as const, change_data: null, old_data: null, scope_exit: true }];
      return [action === 'send' ? c : { ...c, old_data: null }];
    });
    expect(changes).toEqual(expected);
    expect(changes.map((c) => `${c.operation}${c.scope_exit ? ' exit' : ''}`)).toEqual([
      'insert',
      'insert',
      'delete exit',
      'delete exit',
      'update',
      'delete',
      'insert',
    ]);
    // Nothing of team 1678's images reaches the reader.
    expect(JSON.stringify(changes)).not.toContain('1678,');
    expect(JSON.stringify(changes)).not.toContain('still theirs');
    const backlog = await measureBacklog(origin!.pool, { sentCursor: '0', peerNodeId: null, scope });
    expect(backlog.missing).toBe(changes.length);
    expect((await measureBacklog(origin!.pool, { sentCursor: '0', peerNodeId: null })).missing).toBe(all.length);
  });

  it('pages by what it sends, and reads the same in row-key order', async () => {
    const paged: Change[] = [];
    let after = '0';
    for (;;) {
      const page = await readChanges(origin!.pool, { after, limit: 2, scope });
      paged.push(...page.changes);
      after = page.nextCursor;
      if (!page.hasMore) break;
    }
    expect(paged).toEqual(changes);
    const byKey = await readChangesByKeyJson(origin!.pool, { after: '0', limit: 1000, afterKey: { table: 'scouting_data' }, scope });
    const keyed = (JSON.parse(byKey.body.toString('utf8')) as { changes: Change[] }).changes;
    expect(new Set(keyed.map((c) => c.sequence))).toEqual(new Set(changes.filter((c) => c.table_name === 'scouting_data').map((c) => c.sequence)));
  });

  it('applies a scope exit as a delete that stands but is never read again, and takes the change it stands for as a duplicate', async () => {
    const apply = (batch: unknown[]) => applyBatch(scoped!.pool, batch, { nodeId: scoped!.nodeId, maxClockSkewMs: MAX_CLOCK_SKEW_MS });
    const first = (await readChanges(origin!.pool, { after: '0', limit: 1000 })).changes;
    // The reader held the row that left its scope, from before.
    const leavingInsert = first.find((c) => c.operation === 'insert' && c.change_data?.team_number === 3)!;
    expect((await apply([leavingInsert])).applied).toBe(1);
    const result = await apply(changes);
    expect(result.received).toBe(changes.length);
    const rows = await scoped!.pool.query<{ team_number: number; scouting_team_number: number }>(
      'SELECT team_number, scouting_team_number FROM scouting_data ORDER BY 1',
    );
    expect(rows.rows).toEqual([{ team_number: 2, scouting_team_number: 254 }]);
    const exits = await scoped!.pool.query('SELECT operation, change_data FROM database_changes WHERE scope_exit');
    expect(exits.rows).toEqual([
      { operation: 'delete', change_data: null },
      { operation: 'delete', change_data: null },
    ]);
    // Exits are never sent on, and never counted as work for anyone.
    const again = (await readChanges(scoped!.pool, { after: '0', limit: 1000 })).changes;
    expect(again.some((c) => c.scope_exit)).toBe(false);
    expect((await measureBacklog(scoped!.pool, { sentCursor: '0', peerNodeId: null })).missing).toBe(again.length);
    // The full change an exit stands for, should it come by another route, is a duplicate, not a conflict.
    const full = first.filter((c) => c.operation === 'update' && c.change_data?.team_number === 3);
    expect(await apply(full)).toMatchObject({ applied: 0, skipped_duplicate: 1 });
    expect((await apply(changes)).skipped_duplicate).toBe(changes.length);
  });

  it('refuses a batch from a scoped sender that writes out of its teams, and applies nothing of it', async () => {
    const senderScope: TeamScope = { teams: [254], columns };
    const before = await scoped!.pool.query('SELECT count(*)::int AS n FROM database_changes');
    const foreign = (await readChanges(origin!.pool, { after: '0', limit: 1000 })).changes.filter(
      (c) => c.operation === 'insert' && c.table_name === 'scouting_data',
    );
    await expect(applyBatch(scoped!.pool, foreign, { nodeId: scoped!.nodeId, maxClockSkewMs: MAX_CLOCK_SKEW_MS, senderScope })).rejects.toThrow(
      /change_data.scouting_team_number: team (1678|971) is outside the teams this peer may write \(254\)/,
    );
    expect((await scoped!.pool.query('SELECT count(*)::int AS n FROM database_changes')).rows).toEqual(before.rows);
  });
});

describe('a scope exit on the wire', () => {
  it('is a delete without change_data: anything else is refused naming scope_exit, and nothing is applied', async () => {
    const [exit] = (await readChanges(origin!.pool, { after: '0', limit: 1000, scope })).changes.filter((c) => c.scope_exit);
    const before = await scoped!.pool.query('SELECT count(*)::int AS n FROM database_changes');
    const forged = { ...exit!, origin_sequence: '999999', operation: 'update', change_data: { id: exit!.record_id } };
    await expect(applyBatch(scoped!.pool, [forged], { nodeId: scoped!.nodeId, maxClockSkewMs: MAX_CLOCK_SKEW_MS })).rejects.toThrow(
      /scope_exit: a scope exit is a delete without change_data/,
    );
    expect((await scoped!.pool.query('SELECT count(*)::int AS n FROM database_changes')).rows).toEqual(before.rows);
  });
});

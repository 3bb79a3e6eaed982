// The audit trail (issue #18): each admin action on a real node leaves one sync_logs row naming who did
// it and what it changed; no secret appears in any row; a refused action leaves none.
import { describe, expect, it } from 'vitest';
import { ADMIN_OPERATIONS, pruneNode } from '@catchup/engine';
import { useApiNodes } from './nodes.ts';

const [a] = await useApiNodes(1, 'audit');
const OUTBOUND_KEY = 'outbound-secret-key-0123456789';
const ROTATED_KEY = 'rotated-secret-key-9876543210';

interface AuditRow {
  id: number;
  server_id: number | null;
  operation: string;
  actor: string | null;
  details: string | null;
  result: { actor: string; changes?: Record<string, { before: unknown; after: unknown }> } & Record<string, unknown>;
}

const auditRows = async (): Promise<AuditRow[]> => {
  const res = await a!.call('/api/sync/logs?kind=audit&page_size=200');
  expect(res.status).toBe(200);
  return ((await res.json()) as { logs: AuditRow[] }).logs;
};

/** Runs an action and returns the audit rows it added (oldest first). */
async function rowsAddedBy(action: () => Promise<void>): Promise<AuditRow[]> {
  const before = new Set((await auditRows()).map((r) => r.id));
  await action();
  return (await auditRows()).filter((r) => !before.has(r.id)).reverse();
}

const expectStatus = async (res: Promise<Response>, status: number) => {
  const answered = await res;
  expect(answered.status, await answered.clone().text()).toBe(status);
  return answered;
};

describe('audit trail', () => {
  let peerId = 0;

  it('records a peer added, changed and removed, with the fields changed and the credential that did it', async () => {
    const [added] = await rowsAddedBy(async () => {
      const res = await expectStatus(
        a!.call('/api/sync/servers', { method: 'POST', json: { name: 'field-laptop', host: '127.0.0.9', port: 5001, api_key: OUTBOUND_KEY } }),
        201,
      );
      peerId = ((await res.json()) as { id: number }).id;
    }).then((rows) => {
      expect(rows).toHaveLength(1);
      return rows;
    });
    expect(added).toMatchObject({ operation: ADMIN_OPERATIONS.peerAdded, actor: 'node api key', server_id: peerId });
    expect(added!.result.changes).toMatchObject({
      name: { before: null, after: 'field-laptop' },
      host: { before: null, after: '127.0.0.9' },
      port: { before: null, after: 5001 },
      api_key: { before: null, after: '(set)' },
    });

    const changed = await rowsAddedBy(async () => {
      await expectStatus(a!.call(`/api/sync/servers/${peerId}`, { method: 'PUT', json: { port: 5002, api_key: ROTATED_KEY, sync_uploads: false } }), 200);
    });
    expect(changed).toHaveLength(1);
    expect(changed[0]).toMatchObject({ operation: ADMIN_OPERATIONS.peerChanged, actor: 'node api key', server_id: peerId });
    expect(changed[0]!.result.changes).toEqual({
      port: { before: 5001, after: 5002 },
      api_key: { before: '(set)', after: '(changed)' },
      sync_uploads: { before: true, after: false },
    });

    const removed = await rowsAddedBy(async () => {
      await expectStatus(a!.call(`/api/sync/servers/${peerId}`, { method: 'DELETE' }), 204);
    });
    expect(removed).toHaveLength(1);
    expect(removed[0]).toMatchObject({ operation: ADMIN_OPERATIONS.peerRemoved, actor: 'node api key', server_id: null });
    expect(removed[0]!.details).toContain('field-laptop');
    expect(removed[0]!.result.changes).toMatchObject({ name: { before: 'field-laptop', after: null }, api_key: { before: '(set)', after: null } });
  });

  it('records settings changed with their old and new values', async () => {
    const rows = await rowsAddedBy(async () => {
      await expectStatus(a!.call('/api/sync/config', { method: 'PUT', json: { max_catchup_days: 12, catchup_batch_size: 250 } }), 200);
    });
    expect(rows).toHaveLength(1);
    expect(rows[0]).toMatchObject({ operation: ADMIN_OPERATIONS.settingsChanged, actor: 'node api key' });
    const { max_catchup_days, catchup_batch_size } = a!.ctx.config.defaults;
    expect(rows[0]!.result.changes).toEqual({
      max_catchup_days: { before: max_catchup_days, after: 12 },
      catchup_batch_size: { before: catchup_batch_size, after: 250 },
    });
  });

  it('records a table put under sync and taken out', async () => {
    await a!.ctx.pool.query(`CREATE TABLE audit_notes (id uuid PRIMARY KEY DEFAULT gen_random_uuid(), note text)`);
    const added = await rowsAddedBy(async () => {
      await expectStatus(a!.call('/api/sync/tables', { method: 'POST', json: { name: 'audit_notes' } }), 201);
    });
    expect(added).toHaveLength(1);
    expect(added[0]).toMatchObject({
      operation: ADMIN_OPERATIONS.tableAdded,
      actor: 'node api key',
      result: { table: 'audit_notes', changes: { synced: { before: false, after: true } } },
    });
    const removed = await rowsAddedBy(async () => {
      await expectStatus(a!.call('/api/sync/tables/audit_notes', { method: 'DELETE' }), 204);
    });
    expect(removed).toHaveLength(1);
    expect(removed[0]).toMatchObject({
      operation: ADMIN_OPERATIONS.tableRemoved,
      actor: 'node api key',
      result: { changes: { synced: { before: true, after: false } } },
    });
  });

  it('records a manual scan and a prune with who asked; a scheduled prune is the scheduler', async () => {
    const scan = await rowsAddedBy(async () => {
      await expectStatus(a!.call('/api/sync/catchup/scan', { method: 'POST', json: {} }), 200);
    });
    expect(scan).toHaveLength(1);
    expect(scan[0]).toMatchObject({ operation: ADMIN_OPERATIONS.scanRequested, actor: 'node api key', details: 'Scan requested for every peer' });

    const prune = await rowsAddedBy(async () => {
      await expectStatus(a!.call('/api/sync/maintenance/prune', { method: 'POST' }), 200);
    });
    expect(prune).toHaveLength(1);
    expect(prune[0]).toMatchObject({ operation: 'prune', actor: 'node api key', result: { ran: true, removed: expect.any(Object) } });

    const scheduled = await rowsAddedBy(async () => {
      await pruneNode(a!.ctx.engine);
    });
    expect(scheduled.map((r) => [r.operation, r.actor])).toEqual([['prune', 'scheduler']]);
  });

  it('leaves no row for a refused action (400, 404, 409)', async () => {
    await expectStatus(a!.call('/api/sync/servers', { method: 'POST', json: { name: 'kept', host: '127.0.0.10', port: 5003, api_key: OUTBOUND_KEY } }), 201);
    const rows = await rowsAddedBy(async () => {
      await expectStatus(
        a!.call('/api/sync/servers', { method: 'POST', json: { name: 'bad port', host: '127.0.0.11', port: 70000, api_key: OUTBOUND_KEY } }),
        400,
      );
      await expectStatus(a!.call('/api/sync/servers', { method: 'POST', json: { name: 'kept', host: '127.0.0.12', port: 5004 } }), 409);
      await expectStatus(a!.call('/api/sync/servers/999999', { method: 'PUT', json: { port: 5005 } }), 404);
      await expectStatus(a!.call('/api/sync/servers/999999', { method: 'DELETE' }), 404);
      await expectStatus(a!.call('/api/sync/config', { method: 'PUT', json: { max_catchup_days: -1 } }), 400);
      await expectStatus(a!.call('/api/sync/tables', { method: 'POST', json: { name: 'No Such Table' } }), 400);
      await expectStatus(a!.call('/api/sync/catchup/scan', { method: 'POST', json: { server_ids: ['x'] } }), 400);
    });
    expect(rows).toEqual([]);
  });

  it('puts no secret in any sync_logs row', async () => {
    const all = await a!.ctx.db.syncLog.findMany();
    expect(all.length).toBeGreaterThan(5);
    const text = JSON.stringify(all);
    for (const secret of [OUTBOUND_KEY, ROTATED_KEY, a!.apiKey]) expect(text).not.toContain(secret);
  });

  it('lists the audit trail by kind and refuses an unknown kind', async () => {
    const rows = await auditRows();
    const operations = new Set(rows.map((r) => r.operation));
    for (const op of ['peer added', 'peer changed', 'peer removed', 'settings changed', 'table added', 'table removed', 'scan requested', 'prune'])
      expect(operations, op).toContain(op);
    expect(rows.every((r) => r.actor !== null)).toBe(true);
    const bad = await a!.call('/api/sync/logs?kind=everything');
    expect(bad.status).toBe(400);
    expect(((await bad.json()) as { message: string }).message).toMatch(/kind/);
    const onlyPrunes = (await (await a!.call('/api/sync/logs?kind=audit&operation=prune')).json()) as { logs: AuditRow[] };
    expect(onlyPrunes.logs.length).toBe(2);
  });
});

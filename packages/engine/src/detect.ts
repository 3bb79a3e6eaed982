// Detection (I10): which peers lack local changes, and exactly how many.
import { acknowledgeRange, measureBacklogs } from '@catchup/changelog';
import type { SyncServer } from '@catchup/db';
import type { EngineContext } from './context.ts';
import { teamScopeOf } from './team-scope.ts';

export interface PeerNeed {
  server: SyncServer;
  missingChanges: number;
}

/**
 * Active, sync-enabled peers with their exact count of unacknowledged local changes. When nothing is
 * missing but the log grew (with the peer's own changes, relayed back), the sent cursor moves over them.
 */
export async function measurePeers(ctx: EngineContext, only?: number[]): Promise<PeerNeed[]> {
  const servers = await ctx.db.syncServer.findMany({
    where: { isActive: true, syncEnabled: true, ...(only ? { id: { in: only } } : {}) },
    orderBy: { id: 'asc' },
  });
  const measured = servers.filter((s) => s.syncDatabase);
  const backlogs = await measureBacklogs(
    ctx.pool,
    await Promise.all(measured.map(async (s) => ({ sentCursor: s.sentCursor.toString(), peerNodeId: s.peerNodeId, scope: await teamScopeOf(ctx, s) }))),
  );
  const backlogOf = new Map(measured.map((s, i) => [s, backlogs[i]!]));
  const needs: PeerNeed[] = [];
  for (const server of servers) {
    const backlog = backlogOf.get(server);
    if (!backlog) {
      needs.push({ server, missingChanges: 0 });
      continue;
    }
    if (backlog.missing === 0 && server.peerNodeId && BigInt(backlog.latest) > server.sentCursor) {
      await acknowledgeRange(ctx.pool, server.id, 'sent', { from: server.sentCursor.toString(), to: backlog.latest });
    }
    needs.push({ server, missingChanges: backlog.missing });
  }
  return needs;
}

/**
 * Whether the peer's log holds changes this node lacks. Its log grows with our own changes relayed back,
 * so a higher position alone proves nothing: look at one page, and when only our own changes are there,
 * move the received cursor over them without a catch-up.
 */
export async function peerHasChangesForUs(ctx: EngineContext, server: SyncServer, peerLatest: string): Promise<boolean> {
  if (!server.syncDatabase || BigInt(peerLatest) <= server.receivedCursor) return false;
  const settings = await ctx.settings();
  const page = await ctx
    .peerClient(server, settings)
    .fetchChanges({ after: server.receivedCursor.toString(), limit: 1, upTo: peerLatest, excludeOrigin: ctx.nodeId })
    .catch(() => null);
  if (!page || page.changes.length) return true; // when in doubt, let a catch-up find out (and report)
  await acknowledgeRange(ctx.pool, server.id, 'received', { from: server.receivedCursor.toString(), to: page.next_cursor });
  return false;
}

// Detection (I10): which peers lack local changes, and exactly how many.
import { acknowledgeRange, measureBacklog } from '@catchup/changelog';
import type { SyncServer } from '@catchup/db';
import type { EngineContext } from './context.ts';

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
  const needs: PeerNeed[] = [];
  for (const server of servers) {
    if (!server.syncDatabase) {
      needs.push({ server, missingChanges: 0 });
      continue;
    }
    const cursor = server.sentCursor.toString();
    const backlog = await measureBacklog(ctx.pool, { sentCursor: cursor, peerNodeId: server.serverId });
    if (backlog.missing === 0 && server.serverId && BigInt(backlog.latest) > server.sentCursor) {
      await acknowledgeRange(ctx.pool, server.id, 'sent', { from: cursor, to: backlog.latest });
    }
    needs.push({ server, missingChanges: backlog.missing });
  }
  return needs;
}

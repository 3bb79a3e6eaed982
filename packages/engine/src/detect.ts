// Detection (I10): which peers lack local changes, and exactly how many.
import { countMissingChanges } from '@catchup/changelog';
import type { SyncServer } from '@catchup/db';
import type { EngineContext } from './context.ts';

export interface PeerNeed {
  server: SyncServer;
  missingChanges: number;
}

/** Active, sync-enabled peers with their exact count of unacknowledged local changes. */
export async function measurePeers(ctx: EngineContext, only?: number[]): Promise<PeerNeed[]> {
  const servers = await ctx.db.syncServer.findMany({
    where: { isActive: true, syncEnabled: true, ...(only ? { id: { in: only } } : {}) },
    orderBy: { id: 'asc' },
  });
  return Promise.all(
    servers.map(async (server) => ({
      server,
      missingChanges: server.syncDatabase
        ? await countMissingChanges(ctx.pool, { sentCursor: server.sentCursor.toString(), peerNodeId: server.serverId })
        : 0,
    })),
  );
}

export async function peersNeedingCatchup(ctx: EngineContext): Promise<PeerNeed[]> {
  return (await measurePeers(ctx)).filter((p) => p.missingChanges > 0);
}

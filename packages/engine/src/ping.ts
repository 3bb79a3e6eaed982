// Reachability: ping a peer and record the outcome on its sync_servers row.
import type { SyncServer } from '@catchup/db';
import { PeerError, type PingResponse } from '@catchup/peer-client';
import type { EngineContext } from './context.ts';

export type PingOutcome = { ok: true; ping: PingResponse } | { ok: false; error: PeerError };

export async function pingPeer(ctx: EngineContext, server: SyncServer): Promise<PingOutcome> {
  const settings = await ctx.settings();
  const client = ctx.peerClient(server, settings);
  try {
    const ping = await client.ping();
    if (ping.node_id === ctx.nodeId) {
      throw new PeerError('rejected', `${client.baseUrl} is this node itself (node id ${ping.node_id})`);
    }
    await ctx.db.syncServer.update({
      where: { id: server.id },
      data: {
        lastPing: new Date(),
        pingSuccess: true,
        serverId: ping.node_id,
        serverVersion: ping.version,
        lastError: null,
      },
    });
    return { ok: true, ping };
  } catch (err) {
    const error = err instanceof PeerError ? err : new PeerError('unreachable', String(err));
    await ctx.db.syncServer.update({
      where: { id: server.id },
      data: { lastPing: new Date(), pingSuccess: false, lastError: error.message, errorCount: { increment: 1 } },
    });
    return { ok: false, error };
  }
}

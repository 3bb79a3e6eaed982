// Reachability and the clock bound: ping a peer, measure its clock offset, and record the outcome on its
// sync_servers row. A peer whose clock is further off than catchup_max_clock_skew_seconds answered, but
// is not caught up with (SPEC I13).
import type { SyncServer } from '@catchup/db';
import { PeerError, type PingResponse } from '@catchup/peer-client';
import { clockOffsetMs, clockRefusal, nodeWallClock } from './clock.ts';
import type { EngineContext } from './context.ts';

export type PingOutcome =
  | { ok: true; ping: PingResponse; clockOffsetMs: number }
  /** answered: false — no usable answer (unreachable, refused the call, answered nonsense); true — its clock is beyond the bound. */
  | { ok: false; answered: boolean; reason: string };

export async function pingPeer(ctx: EngineContext, server: SyncServer): Promise<PingOutcome> {
  const settings = await ctx.settings();
  const client = ctx.peerClient(server, settings);
  const before = await nodeWallClock(ctx.pool);
  let ping: PingResponse;
  try {
    ping = await client.ping();
    if (ping.node_id === ctx.nodeId) {
      throw new PeerError('rejected', `${client.baseUrl} is this node itself (node id ${ping.node_id})`);
    }
  } catch (err) {
    const reason = err instanceof Error ? err.message : String(err);
    await ctx.db.syncServer.update({
      where: { id: server.id },
      data: { lastPing: new Date(), pingSuccess: false, lastError: reason, errorCount: { increment: 1 } },
    });
    return { ok: false, answered: false, reason };
  }
  const offset = clockOffsetMs(new Date(ping.server_time), before, await nodeWallClock(ctx.pool));
  const refusal = clockRefusal(offset, settings.catchup_max_clock_skew_seconds, server.name);
  await ctx.db.syncServer.update({
    where: { id: server.id },
    data: {
      lastPing: new Date(),
      pingSuccess: true,
      peerNodeId: ping.node_id,
      serverVersion: ping.version,
      contentEncodings: ping.content_encodings?.join(',') ?? null,
      clockOffsetMs: BigInt(offset),
      lastError: refusal,
    },
  });
  return refusal ? { ok: false, answered: true, reason: refusal } : { ok: true, ping, clockOffsetMs: offset };
}

/** One failed 'catch-up sync' row saying why a peer that answered is not caught up with. */
export async function recordRefusal(ctx: EngineContext, server: SyncServer, reason: string): Promise<void> {
  const now = new Date();
  await ctx.db.syncLog.create({
    data: {
      serverId: server.id,
      operation: 'catch-up sync',
      status: 'failed',
      startedAt: now,
      completedAt: now,
      details: `Not caught up with ${server.name}`,
      errorMessage: reason,
    },
  });
}

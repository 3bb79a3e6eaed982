// What peers deliver to this node's peer API under their own credentials — change batches, files, file
// deletes — each is one sync_logs row naming the peer (server_id) and the credential it came with, so
// that an operator can tell who sent what. Written after the delivery took effect (a refused one is
// answered with its error, and an identity conflict is an integrity alert instead).
import type { EngineContext } from './context.ts';
import type { PeerIdentity } from './credentials.ts';

/** The sync_logs operations of peer deliveries; GET /api/sync/logs?kind=delivery lists them. */
export const DELIVERY_OPERATIONS = {
  batchReceived: 'batch received',
  filesReceived: 'files received',
  fileDeleted: 'file deleted',
} as const;
export type DeliveryOperation = (typeof DELIVERY_OPERATIONS)[keyof typeof DELIVERY_OPERATIONS];
export const DELIVERY_OPERATION_NAMES: readonly DeliveryOperation[] = Object.values(DELIVERY_OPERATIONS);

/** How a request names the peer and credential it came with: its actor, and the `via` of what it delivers. */
export const peerActor = (peer: PeerIdentity): string => `peer ${peer.name} (credential ${peer.label})`;

export interface Delivery {
  operation: DeliveryOperation;
  peer: PeerIdentity;
  /** The one-line summary an operator reads. */
  details: string;
  startedAt: Date;
  /** Counts and names stored in the row's result beside the actor and the credential. */
  facts: Record<string, unknown>;
}

/** Writes one delivery to sync_logs, attributed to the peer and its credential. */
export async function recordPeerDelivery(ctx: Pick<EngineContext, 'db'>, delivery: Delivery): Promise<void> {
  const { peer } = delivery;
  await ctx.db.syncLog.create({
    data: {
      serverId: peer.serverId,
      operation: delivery.operation,
      status: 'completed',
      startedAt: delivery.startedAt,
      completedAt: new Date(),
      details: delivery.details,
      result: { ...delivery.facts, actor: peerActor(peer), credential_id: peer.credentialId, credential: peer.label },
    },
  });
}

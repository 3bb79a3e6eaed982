// A range of the log moved as one log stream (see @catchup/changelog log-stream.ts): pushed to a peer or
// pulled from one, between nodes of this version and for readers without a team scope. A full baseline
// goes in row-key order, an incremental range in position order.
import { openLogStream, type LogStreamOrder, type TeamScope } from '@catchup/changelog';
import type { PeerClient } from '@catchup/peer-client';
import type { EngineContext } from './context.ts';
import { applyPeerStream } from './integrity.ts';
import type { Range } from './ranges.ts';

/** The peer a range is sent to: its node id (its own changes are left out) and its team scope, if any. */
export interface SendingTo {
  peerNodeId: string;
  scope: TeamScope | undefined;
}

/** What every read of the log for `peer` leaves out: its own changes, and what its team scope does not show it. */
export const readingFor = (peer: SendingTo) => ({ excludeOrigin: peer.peerNodeId, ...(peer.scope ? { scope: peer.scope } : {}) });

export interface RangeSent {
  sent: number;
  /** Of them, deletes (tombstones). */
  tombstones: number;
}

export interface RangeApplied {
  received: number;
  applied: number;
  skippedDuplicate: number;
  skippedStale: number;
  /** Of the received, deletes (tombstones). */
  tombstones: number;
}

/** The range pushed as one log stream; null when the peer takes none (a node of an older version, or a line too long for it). */
export async function sendLogStream(
  ctx: EngineContext,
  client: PeerClient,
  peerNodeId: string,
  range: Range,
  order: LogStreamOrder,
): Promise<RangeSent | null> {
  const stream = await openLogStream(ctx.logReaders, { after: range.from, upTo: range.to, excludeOrigin: peerNodeId, order });
  try {
    const answer = await client.postLogStream(stream);
    return answer && { sent: answer.received, tombstones: answer.deletes };
  } finally {
    stream.destroy(); // after its end, nothing; before it (the peer went away), its connection is closed
  }
}

/**
 * The range pulled as one log stream and applied here; null when the peer serves none for it (a node of
 * an older version; or, asked in position order, a range that is a full baseline there, to be read in
 * pages that say so).
 */
export async function receiveLogStream(
  ctx: EngineContext,
  client: PeerClient,
  serverId: number,
  via: string,
  range: Range,
  order: LogStreamOrder,
): Promise<RangeApplied | null> {
  const stream = await client.fetchLogStream({ after: range.from, upTo: range.to, excludeOrigin: ctx.nodeId, order });
  if (!stream) return null;
  try {
    const result = await applyPeerStream(ctx, stream, { serverId, via });
    return {
      received: result.received,
      applied: result.applied,
      skippedDuplicate: result.skipped_duplicate,
      skippedStale: result.skipped_stale,
      tombstones: result.deletes,
    };
  } finally {
    stream.destroy();
  }
}

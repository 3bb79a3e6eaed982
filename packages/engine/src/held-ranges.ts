// Sending and reading a range without the changes the other side holds already (issue #19 item 6): a
// change relayed through several nodes would otherwise reach a returning node once from each. Per page,
// the identities go first — pushing, the peer says which it lacks (POST /changes/held); pulling, this
// node looks them up in its own log — and only the lacked changes follow (a page all lacked as one log
// stream, where the peer takes or serves one). Which side lacks what is decided by @catchup/changelog's
// claimLacked, with its leases: a change another peer is delivering at the same time is pending, and
// asked about again at the end of the range. The range is acknowledged (I8) only once every change of it
// is held by the receiver, sent by this run or by any other route.
import { setTimeout as sleep } from 'node:timers/promises';
import {
  claimLacked,
  rangeHoldsOtherOrigins,
  readIdentities,
  releaseLeases,
  type ChangeIdentity,
  type HeldAnswer,
  type StampedIdentity,
} from '@catchup/changelog';
import type { FetchChangesQuery, PeerClient } from '@catchup/peer-client';
import type { EngineContext } from './context.ts';
import { readsAsBaseline, type RangeReceived } from './full-baseline.ts';
import { readingFor, receiveLogStream, sendLogStream, type RangeApplied, type RangeSent, type SendingTo } from './log-stream-ranges.ts';
import { applyPeerBatch } from './integrity.ts';
import { sendNamedChanges, sendPages } from './send-pages.ts';
import type { Range } from './ranges.ts';

export interface HeldSkipped {
  /** Changes of the range the receiver held already (by another route): not sent. */
  skippedHeld: number;
}

const key = (i: ChangeIdentity) => `${i.origin}\u0000${i.sequence}`;

/** First and longest pause between asks about changes on their way from another peer. */
const FIRST_WAIT_MS = 100;
const LONGEST_WAIT_MS = 2000;

/**
 * Asks about the pending changes until none is: each is held (delivered by another peer), or its lease
 * ran out and it is leased to this run, which delivers it. Gives up (throwing: the range is not
 * acknowledged, the job retries) when changes are still pending well after any lease would have ended.
 */
async function settlePending(
  pending: Map<string, StampedIdentity>,
  leaseSeconds: number,
  what: string,
  ask: (identities: StampedIdentity[]) => Promise<HeldAnswer>,
  deliver: (lacked: ChangeIdentity[]) => Promise<void>,
  out: HeldSkipped,
): Promise<void> {
  const deadline = Date.now() + (4 * leaseSeconds + 60) * 1000;
  let wait = FIRST_WAIT_MS;
  while (pending.size) {
    if (Date.now() > deadline) {
      throw new Error(`${pending.size} change(s) of the range are still on their way to ${what} from another peer; the range is not acknowledged`);
    }
    await sleep(wait);
    wait = Math.min(wait * 2, LONGEST_WAIT_MS);
    const answer = await ask([...pending.values()]);
    out.skippedHeld += answer.held;
    if (answer.lacked.length) await deliver(answer.lacked);
    const still = new Set(answer.pending.map(key));
    for (const k of [...pending.keys()]) if (!still.has(k)) pending.delete(k);
  }
}

/** The pending ones of a page, with their stamps (an ask names them). */
function pendingOf(page: readonly StampedIdentity[], pending: readonly ChangeIdentity[], into: Map<string, StampedIdentity>): void {
  if (!pending.length) return;
  const named = new Set(pending.map(key));
  for (const i of page) if (named.has(key(i))) into.set(key(i), i);
}

/**
 * Whether a peer may hold some of the range's changes by another route, so that asking first can save
 * sending them: a third node may have passed them on — another peer this node has (pulling, that is the
 * only way), or (pushing) one that made some of them. Between two nodes alone, the asking is all cost.
 */
export async function heldElsewherePossible(ctx: EngineContext, serverId: number, pushed?: { peerNodeId: string; range: Range }): Promise<boolean> {
  if ((await ctx.db.syncServer.count({ where: { id: { not: serverId } } })) > 0) return true;
  if (!pushed) return false;
  return rangeHoldsOtherOrigins(ctx.pool, { after: pushed.range.from, upTo: pushed.range.to }, [ctx.nodeId, pushed.peerNodeId]);
}

/**
 * Sends the range's changes the peer lacks, page by page: the page's identities, the peer's answer, then
 * the lacked changes read from the log. Null when the peer does not answer held checks (a version before
 * them, or checks off there): the caller sends the range the ordinary way.
 */
export async function sendRangeSkippingHeld(
  ctx: EngineContext,
  client: PeerClient,
  peer: SendingTo,
  range: Range,
  pageSize: number,
  leaseSeconds: number,
): Promise<(RangeSent & HeldSkipped) | null> {
  const out: RangeSent & HeldSkipped = { sent: 0, tombstones: 0, skippedHeld: 0 };
  const options = { limit: pageSize, ...readingFor(peer) };
  const add = (sent: RangeSent) => {
    out.sent += sent.sent;
    out.tombstones += sent.tombstones;
  };
  /** The positions (after, upTo]: all of them (as one log stream to a peer without a team scope), or the `only` ones. */
  const send = async (after: string, upTo: string, only?: ChangeIdentity[]) => {
    const positions = { from: after, to: upTo };
    if (only) return add(await sendNamedChanges(ctx, client, peer, positions, only));
    const streamed = peer.scope ? null : await sendLogStream(ctx, client, peer.peerNodeId, positions, 'position');
    add(streamed ?? (await sendPages(ctx, client, peer, positions, pageSize)));
  };
  const pending = new Map<string, StampedIdentity>();
  let asked = false;
  let cursor = range.from;
  for (;;) {
    const ids = await readIdentities(ctx.pool, { ...options, after: cursor, upTo: range.to });
    if (ids.count) {
      const answer = await client.changesHeld(ctx.nodeId, ids.identities);
      if (!answer) {
        if (!asked) return null;
        throw new Error(`${client.baseUrl} stopped answering held checks in the middle of a range`);
      }
      asked = true;
      out.skippedHeld += answer.held;
      // All lacked (a peer that has been away): the page's positions as they are.
      if (answer.lacked.length) await send(cursor, ids.nextCursor, answer.lacked.length === ids.count ? undefined : answer.lacked);
      pendingOf(ids.identities, answer.pending, pending);
    }
    cursor = ids.nextCursor;
    if (!ids.hasMore) break;
  }
  await settlePending(
    pending,
    leaseSeconds,
    client.baseUrl,
    async (identities) => {
      const answer = await client.changesHeld(ctx.nodeId, identities);
      if (!answer) throw new Error(`${client.baseUrl} stopped answering held checks in the middle of a range`);
      return answer;
    },
    (lacked) => send(range.from, range.to, lacked),
    out,
  );
  return out;
}

/**
 * Pulls the range's changes this node lacks from the peer, page by page: the page's identities (GET
 * /changes/identities), claimed here (claimLacked: lacked, leased to this pull), then the lacked changes
 * (the page itself when all are lacked, else POST /changes/select). `ordinary` reads the range the
 * ordinary way (receivePages): used when the peer does not answer held checks, or when its pages say
 * the range is a full baseline (read in row-key order, without checks); what this pull applied first is
 * then skipped there as duplicate, and counted here.
 */
export async function receiveRangeSkippingHeld(
  ctx: EngineContext,
  client: PeerClient,
  peer: { serverId: number; peerNodeId: string; via: string },
  range: Range,
  pageSize: number,
  leaseSeconds: number,
  ordinary: () => Promise<RangeReceived>,
): Promise<RangeReceived & HeldSkipped> {
  const out: RangeReceived & HeldSkipped = {
    received: 0,
    applied: 0,
    skippedDuplicate: 0,
    skippedStale: 0,
    tombstones: 0,
    fullBaseline: false,
    skippedHeld: 0,
  };
  const claim = { holder: `pull:${peer.peerNodeId}`, leaseSeconds };
  const add = (applied: RangeApplied) => {
    out.received += applied.received;
    out.applied += applied.applied;
    out.skippedDuplicate += applied.skippedDuplicate;
    out.skippedStale += applied.skippedStale;
    out.tombstones += applied.tombstones;
  };
  const apply = async (read: () => ReturnType<PeerClient['fetchChangesToApply']>, delivered: ChangeIdentity[]) => {
    // Applied, refused or not read at all: the changes are no longer on their way (their leases end, so
    // that a peer waiting for them asks again at once).
    try {
      const page = await read();
      if (!page.changes.length) return;
      const result = await applyPeerBatch(ctx, page.changes, { serverId: peer.serverId, via: peer.via });
      add({
        received: result.received,
        applied: result.applied,
        skippedDuplicate: result.skipped_duplicate,
        skippedStale: result.skipped_stale,
        tombstones: page.changes.filter((c) => c.operation === 'delete').length,
      });
    } finally {
      await releaseLeases(ctx.pool, delivered);
    }
  };
  /** A page's positions all lacked: pulled as one log stream where the peer serves it, else as the page. */
  const applyAll = async (positions: Range, query: FetchChangesQuery, delivered: ChangeIdentity[]) => {
    const streamed = await receiveLogStream(ctx, client, peer.serverId, peer.via, positions, 'position').catch(async (err: unknown) => {
      await releaseLeases(ctx.pool, delivered);
      throw err;
    });
    if (!streamed) return apply(() => client.fetchChangesToApply(query), delivered);
    await releaseLeases(ctx.pool, delivered); // the chunks ended the leases of what they carried; this ends the rest
    add(streamed);
  };
  const pending = new Map<string, StampedIdentity>();
  let cursor = range.from;
  for (;;) {
    const query = { after: cursor, upTo: range.to, limit: pageSize, excludeOrigin: ctx.nodeId };
    const page = await client.fetchIdentities(query);
    if (!page || (page.pruned_through !== undefined && readsAsBaseline(range, page.pruned_through))) {
      const rest = await ordinary();
      return {
        ...rest,
        received: out.received + rest.received,
        applied: out.applied + rest.applied,
        skippedDuplicate: out.skippedDuplicate + rest.skippedDuplicate,
        skippedStale: out.skippedStale + rest.skippedStale,
        tombstones: out.tombstones + rest.tombstones,
        skippedHeld: out.skippedHeld,
      };
    }
    if (page.identities.length) {
      const answer = await claimLacked(ctx.pool, page.identities, claim);
      out.skippedHeld += answer.held;
      if (answer.lacked.length === page.identities.length) {
        await applyAll({ from: cursor, to: page.next_cursor }, { ...query, upTo: page.next_cursor }, answer.lacked);
      } else if (answer.lacked.length) {
        await apply(() => client.fetchSelected(cursor, page.next_cursor, answer.lacked), answer.lacked);
      }
      pendingOf(page.identities, answer.pending, pending);
    }
    // On in position order, as receivePages reads (nextPageQuery).
    if (!page.has_more || BigInt(page.next_cursor) >= BigInt(range.to)) break;
    cursor = page.next_cursor;
  }
  await settlePending(
    pending,
    leaseSeconds,
    'this node',
    (identities) => claimLacked(ctx.pool, identities, claim),
    (lacked) => apply(() => client.fetchSelected(range.from, range.to, lacked), lacked),
    out,
  );
  return out;
}

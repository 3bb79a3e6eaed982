// A full baseline (SPEC I11) moves the standing version of every row a peer lacks. It goes as one range
// of log positions read in row-key order (see readChangesByKeyJson): the receiver then writes its
// indexes at ascending keys instead of at random, which is what keeps a baseline of a large table from
// slowing down as the table outgrows the database's memory. The range is acknowledged once, after its
// last page (I8); a retry starts it again, and what already arrived is skipped as duplicate (I3).
import { needsFullBaseline, readChangesByKeyJson, type KeyOrderedPageJson, type RowKeyCursor } from '@catchup/changelog';
import type { PeerClient, FetchChangesQuery } from '@catchup/peer-client';
import type { EngineContext } from './context.ts';
import { applyPeerBatch } from './integrity.ts';
import { readingFor, receiveLogStream, sendLogStream, type RangeApplied, type RangeSent, type SendingTo } from './log-stream-ranges.ts';
import type { Range } from './ranges.ts';

/** The ranges of a direction that is a full baseline, as the one range that spans them. */
export function asOneRange(ranges: Range[]): Range[] {
  return ranges.length <= 1 ? ranges : [{ from: ranges[0]!.from, to: ranges[ranges.length - 1]!.to }];
}

/** Whether a range is read as a full baseline: it starts below the log's pruned horizon. */
export const readsAsBaseline = (range: Range, prunedThrough: string) => needsFullBaseline(range.from, prunedThrough);

/**
 * Sends the range's entries in row-key order: as one log stream to a peer that takes them (piped from
 * this database to the peer's, see @catchup/changelog log-stream.ts), otherwise page after page, the next
 * page read from the log while the peer applies the current one. A scoped peer gets pages: each of its
 * entries needs its scope action. One stream: the receiver then writes its indexes at one ascending
 * point (for a peer that lacks the rows, their right edge, where PostgreSQL appends without descending
 * the tree); streams over parts of the key space side by side cost the receiving database far more.
 */
export async function sendRangeByKey(ctx: EngineContext, client: PeerClient, peer: SendingTo, range: Range, pageSize: number): Promise<RangeSent> {
  if (!peer.scope) {
    const streamed = await sendLogStream(ctx, client, peer.peerNodeId, range, 'row key');
    if (streamed) return streamed;
  }
  const read = (afterKey: RowKeyCursor | null) =>
    readChangesByKeyJson(ctx.pool, {
      after: range.from,
      upTo: range.to,
      limit: pageSize,
      afterKey,
      ...readingFor(peer),
    });
  const out: RangeSent = { sent: 0, tombstones: 0 };
  let page: KeyOrderedPageJson | null = await read(null);
  while (page) {
    const next: Promise<KeyOrderedPageJson> | null = page.nextKey ? read(page.nextKey) : null;
    next?.catch(() => {}); // awaited on the next turn; this keeps a failure while the peer applies from going unhandled
    if (page.count) {
      await client.postChanges(page.body);
      out.sent += page.count;
      out.tombstones += page.deletes;
    }
    page = await next;
  }
  return out;
}

export interface RangeReceived extends RangeApplied {
  /** The peer's pages said its log was pruned past the range's start: what came was a baseline. */
  fullBaseline: boolean;
}

/** What a page of the peer says about where its range goes on (the fields fetchChangesToApply gives). */
export interface PageEnd {
  has_more: boolean;
  next_cursor: string;
  next_key?: string | undefined;
  pruned_through?: string | undefined;
}

/**
 * The next page to ask for, or null when the range is done. A range that starts below the peer's pruned
 * horizon is a baseline: once a page says so, the range is read again from its start in row-key order
 * (what arrived already is skipped as duplicate). A peer that reads only in position order answers
 * without next_key: reading goes on in position order.
 */
export function nextPageQuery(range: Range, query: FetchChangesQuery, page: PageEnd, keyOrderAsked: boolean): FetchChangesQuery | null {
  const positionOrder: FetchChangesQuery = {
    after: page.next_cursor,
    limit: query.limit,
    upTo: range.to,
    ...(query.excludeOrigin ? { excludeOrigin: query.excludeOrigin } : {}),
  };
  if (!keyOrderAsked && page.pruned_through !== undefined && readsAsBaseline(range, page.pruned_through) && page.has_more) {
    return { ...positionOrder, after: range.from, order: 'key' };
  }
  if (!page.has_more) return null;
  if (query.order === 'key' && page.next_key) return { ...query, afterKey: page.next_key };
  return BigInt(page.next_cursor) >= BigInt(range.to) ? null : positionOrder;
}

/** Pulls one range of the peer's log and applies it here, page after page (see nextPageQuery). */
export async function receivePages(
  ctx: EngineContext,
  client: PeerClient,
  serverId: number,
  via: string,
  range: Range,
  pageSize: number,
): Promise<RangeReceived> {
  const out: RangeReceived = { received: 0, applied: 0, skippedDuplicate: 0, skippedStale: 0, tombstones: 0, fullBaseline: false };
  let query: FetchChangesQuery | null = { after: range.from, upTo: range.to, limit: pageSize, excludeOrigin: ctx.nodeId };
  let keyOrderAsked = false;
  while (query) {
    const page = await client.fetchChangesToApply(query);
    if (page.pruned_through !== undefined && readsAsBaseline(range, page.pruned_through)) out.fullBaseline = true;
    const next = nextPageQuery(range, query, page, keyOrderAsked);
    // A page read in position order that turns the range into a baseline is left for the range read
    // again: as one log stream where the peer serves it, else in row-key order.
    const rereading: boolean = next?.order === 'key' && !keyOrderAsked;
    if (rereading) {
      const streamed = await receiveLogStream(ctx, client, serverId, via, range, 'row key');
      if (streamed) return { ...streamed, fullBaseline: true };
    }
    if (page.changes.length && !rereading) {
      const result = await applyPeerBatch(ctx, page.changes, { serverId, via });
      out.received += result.received;
      out.applied += result.applied;
      out.skippedDuplicate += result.skipped_duplicate;
      out.skippedStale += result.skipped_stale;
      for (const c of page.changes) if (c.operation === 'delete') out.tombstones++;
    }
    keyOrderAsked ||= rereading;
    query = next;
  }
  return out;
}

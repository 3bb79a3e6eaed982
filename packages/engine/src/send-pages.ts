// Sending changes as pages of JSON (to a peer with a team scope, or a node of an older version). A page
// is one request body, and its size follows its rows': a page the peer refuses as larger than its body
// limit (413) goes again in halves, down to one change. Nothing of a refused page was applied (I7), and
// the caller acknowledges the range only once every page went (I8).
import { readChangesJson, type ChangeIdentity } from '@catchup/changelog';
import { PeerError, type PeerClient } from '@catchup/peer-client';
import type { EngineContext } from './context.ts';
import { readingFor, type RangeSent, type SendingTo } from './log-stream-ranges.ts';
import type { Range } from './ranges.ts';

/** The peer refused the request body as larger than it takes. */
const refusedAsTooLarge = (err: unknown): boolean => err instanceof PeerError && err.status === 413;

/** How many changes the next page holds once a page of `count` was refused as too large; null: it cannot be split. */
export function smallerPage(count: number): number | null {
  return count > 1 ? Math.ceil(count / 2) : null;
}

/** The range page after page, in position order. */
export async function sendPages(ctx: EngineContext, client: PeerClient, peer: SendingTo, range: Range, pageSize: number): Promise<RangeSent> {
  const out: RangeSent = { sent: 0, tombstones: 0 };
  let cursor = range.from;
  let limit = pageSize;
  for (;;) {
    const page = await readChangesJson(ctx.pool, {
      after: cursor,
      upTo: range.to,
      limit,
      ...readingFor(peer),
    });
    if (page.count) {
      try {
        await client.postChanges(page.body);
      } catch (err) {
        const smaller = refusedAsTooLarge(err) ? smallerPage(page.count) : null;
        if (smaller === null) throw err;
        limit = smaller; // the rest of the range goes in pages of this size: its rows are likely as large
        continue;
      }
      out.sent += page.count;
      out.tombstones += page.deletes;
    }
    cursor = page.nextCursor;
    if (!page.hasMore) break;
  }
  return out;
}

/** The named changes of (after, upTo] as one page, or as halves of it when the peer refuses it as too large. */
export async function sendNamedChanges(ctx: EngineContext, client: PeerClient, peer: SendingTo, range: Range, only: ChangeIdentity[]): Promise<RangeSent> {
  const page = await readChangesJson(ctx.pool, {
    after: range.from,
    upTo: range.to,
    limit: Math.max(only.length, 1),
    only,
    ...readingFor(peer),
  });
  if (!page.count) return { sent: 0, tombstones: 0 };
  try {
    await client.postChanges(page.body);
  } catch (err) {
    const half = refusedAsTooLarge(err) ? smallerPage(only.length) : null;
    if (half === null) throw err;
    const first = await sendNamedChanges(ctx, client, peer, range, only.slice(0, half));
    const second = await sendNamedChanges(ctx, client, peer, range, only.slice(half));
    return { sent: first.sent + second.sent, tombstones: first.tombstones + second.tombstones };
  }
  return { sent: page.count, tombstones: page.deletes };
}

// Peers failing repeatedly: the catch-up runs with a peer since its last complete one that did not
// complete, read from the sync log (what alerting on repeated catch-up failures stands on).
import type { EngineContext } from './context.ts';

/**
 * For each server id, how many of its catch-up runs since its last complete one ended failed or partial
 * (refusals of a peer that answered count: they are failed runs). One statement; each peer's rows are
 * found by the (server_id, started_at) index, and stay few because a prune keeps only recent ones.
 */
export async function consecutiveFailures(ctx: Pick<EngineContext, 'pool'>, serverIds: number[]): Promise<number[]> {
  if (!serverIds.length) return [];
  const { rows } = await ctx.pool.query<{ n: number }>(
    `SELECT (SELECT count(*) FROM sync_logs l
              WHERE l.server_id = p.id AND l.operation = 'catch-up sync' AND l.status <> 'completed'
                AND (l.started_at, l.id) > coalesce(
                      (SELECT (c.started_at, c.id) FROM sync_logs c
                        WHERE c.server_id = p.id AND c.operation = 'catch-up sync' AND c.status = 'completed'
                        ORDER BY c.started_at DESC, c.id DESC LIMIT 1),
                      ('-infinity'::timestamptz, 0)))::int AS n
       FROM unnest($1::int[]) WITH ORDINALITY AS p(id, i)
      ORDER BY p.i`,
    [serverIds],
  );
  return rows.map((r) => r.n);
}

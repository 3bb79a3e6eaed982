// Bull Board at /admin/queues, an admin page (admin-auth.ts: HTTP basic auth with ADMIN_USER /
// ADMIN_PASSWORD, off without ADMIN_PASSWORD): the board can retry, promote and remove jobs.
import { ADMIN_OPERATIONS, recordAdminAction } from '@catchup/engine';
import type { FastifyInstance } from 'fastify';
import { registerAdminPage } from './admin-auth.ts';
import type { FailedAuthLimit } from './auth.ts';
import type { AppContext } from './context.ts';

export const BULL_BOARD_PATH = '/admin/queues';
/** The actor of a request Bull Board's credentials let in. */
export const BULL_BOARD_ACTOR = 'bull board';

export async function registerBullBoard(app: FastifyInstance, ctx: AppContext, limit: FailedAuthLimit): Promise<void> {
  const page = { path: BULL_BOARD_PATH, title: 'Bull Board', realm: 'Catch-up Sync queues', actor: BULL_BOARD_ACTOR };
  await registerAdminPage(app, ctx, limit, page, async (scope) => {
    // Loaded only when the board is on: its modules (lodash among them) take a few MB of every node's heap.
    const [{ createBullBoard }, { BullMQAdapter }, { FastifyAdapter }] = await Promise.all([
      import('@bull-board/api'),
      import('@bull-board/api/bullMQAdapter'),
      import('@bull-board/fastify'),
    ]);
    const serverAdapter = new FastifyAdapter();
    createBullBoard({
      queues: ctx.queues.allQueues().map((q) => new BullMQAdapter(q)),
      serverAdapter,
      options: { uiConfig: { boardTitle: `Catch-up Sync · ${ctx.config.nodeName}` } },
    });
    serverAdapter.setBasePath(BULL_BOARD_PATH);
    // What the board changes (retry, promote, clean, remove jobs; pause queues) goes to the audit trail.
    scope.addHook('onResponse', async (request, reply) => {
      if (request.method === 'GET' || request.method === 'HEAD' || reply.statusCode >= 400 || !request.actor) return;
      const path = request.url.slice(BULL_BOARD_PATH.length).split('?')[0]!;
      await recordAdminAction(ctx.engine, {
        operation: ADMIN_OPERATIONS.queueChanged,
        actor: request.actor,
        details: `${request.method} ${path} from Bull Board`,
        facts: { method: request.method, path },
      }).catch((err: unknown) => request.log.error({ err }, 'audit row of a Bull Board action not written'));
    });
    await scope.register(serverAdapter.registerPlugin() as never);
  });
}

// Bull Board at /admin/queues, behind HTTP basic auth with its own credentials (ADMIN_USER /
// ADMIN_PASSWORD). Without ADMIN_PASSWORD it is off: the board can retry, promote and remove jobs, so it
// never opens with a credential made for something else (the API key, which peers paired before per-peer credentials may still present).
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import { ADMIN_OPERATIONS, recordAdminAction } from '@catchup/engine';
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { authenticate, type FailedAuthLimit } from './auth.ts';
import type { AppContext } from './context.ts';

export const BULL_BOARD_PATH = '/admin/queues';
/** The actor of a request Bull Board's credentials let in. */
export const BULL_BOARD_ACTOR = 'bull board';

/** The "user:password" of Authorization: Basic. */
function basicCredentials(request: FastifyRequest): string | undefined {
  const [scheme, encoded] = (request.headers.authorization ?? '').split(' ');
  if (scheme !== 'Basic' || !encoded) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString();
  return decoded.includes(':') ? decoded : undefined;
}

export async function registerBullBoard(app: FastifyInstance, ctx: AppContext, limit: FailedAuthLimit): Promise<void> {
  if (!ctx.config.adminPassword) {
    ctx.logger.info(`Bull Board is off: set ADMIN_PASSWORD to serve it at ${BULL_BOARD_PATH}`);
    const off = { statusCode: 404, error: 'Not Found', message: 'Bull Board is off: set ADMIN_PASSWORD (and ADMIN_USER) to turn it on' };
    await app.register(
      async (scope) => {
        scope.all('/', async (_request, reply) => reply.code(404).send(off));
        scope.all('/*', async (_request, reply) => reply.code(404).send(off));
      },
      { prefix: BULL_BOARD_PATH },
    );
    return;
  }
  const serverAdapter = new FastifyAdapter();
  createBullBoard({
    queues: ctx.queues.allQueues().map((q) => new BullMQAdapter(q)),
    serverAdapter,
    options: { uiConfig: { boardTitle: `Catch-up Sync · ${ctx.config.nodeName}` } },
  });
  serverAdapter.setBasePath(BULL_BOARD_PATH);
  await app.register(
    async (scope) => {
      scope.addHook(
        'onRequest',
        authenticate(limit, {
          presented: basicCredentials,
          check: (credentials) => {
            const at = credentials.indexOf(':');
            return ctx.checkAdmin(credentials.slice(0, at), credentials.slice(at + 1));
          },
          actor: BULL_BOARD_ACTOR,
          refuse: (reply) =>
            reply
              .code(401)
              .header('www-authenticate', 'Basic realm="Catch-up Sync queues"')
              .send({ statusCode: 401, error: 'Unauthorized', message: 'Missing or invalid credentials' }),
        }),
      );
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
    },
    { prefix: BULL_BOARD_PATH },
  );
}

// Bull Board at /admin/queues, behind HTTP basic auth (ADMIN_USER / ADMIN_PASSWORD or the API key).
import { createBullBoard } from '@bull-board/api';
import { BullMQAdapter } from '@bull-board/api/bullMQAdapter';
import { FastifyAdapter } from '@bull-board/fastify';
import type { FastifyInstance } from 'fastify';
import type { AppContext } from './context.ts';

const BULL_BOARD_PATH = '/admin/queues';

export async function registerBullBoard(app: FastifyInstance, ctx: AppContext): Promise<void> {
  const serverAdapter = new FastifyAdapter();
  createBullBoard({
    queues: ctx.queues.allQueues().map((q) => new BullMQAdapter(q)),
    serverAdapter,
    options: { uiConfig: { boardTitle: `Catch-up Sync · ${ctx.config.nodeName}` } },
  });
  serverAdapter.setBasePath(BULL_BOARD_PATH);
  await app.register(
    async (scope) => {
      scope.addHook('onRequest', async (request, reply) => {
        const header = request.headers.authorization ?? '';
        const [scheme, encoded] = header.split(' ');
        const [user, ...rest] = scheme === 'Basic' && encoded ? Buffer.from(encoded, 'base64').toString().split(':') : [];
        if (!user || !ctx.checkAdmin(user, rest.join(':'))) {
          return reply
            .code(401)
            .header('www-authenticate', 'Basic realm="Catch-up Sync queues"')
            .send({ statusCode: 401, error: 'Unauthorized', message: 'Missing or invalid credentials' });
        }
      });
      await scope.register(serverAdapter.registerPlugin() as never);
    },
    { prefix: BULL_BOARD_PATH },
  );
}

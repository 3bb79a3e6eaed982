// The operators' browser pages (Bull Board at /admin/queues, the sync dashboard at /admin/sync) sit behind
// HTTP basic auth with their own credentials, ADMIN_USER / ADMIN_PASSWORD. Without ADMIN_PASSWORD every
// such page is off (404): they can change things (retry and remove jobs, start scans), so they never open
// with a credential made for something else (the API key, which peers paired before per-peer credentials
// may still present).
import type { FastifyInstance, FastifyRequest } from 'fastify';
import { authenticate, type FailedAuthLimit } from './auth.ts';
import type { AppContext } from './context.ts';

/** The "user:password" of Authorization: Basic. */
function basicCredentials(request: FastifyRequest): string | undefined {
  const [scheme, encoded] = (request.headers.authorization ?? '').split(' ');
  if (scheme !== 'Basic' || !encoded) return undefined;
  const decoded = Buffer.from(encoded, 'base64').toString();
  return decoded.includes(':') ? decoded : undefined;
}

export interface AdminPage {
  /** Where it is served, e.g. /admin/queues. */
  path: string;
  /** What it is called in the 404 while it is off and in the start-up log. */
  title: string;
  /** The basic-auth realm the browser's login prompt shows. */
  realm: string;
  /** The actor of a request its credentials let in (what the audit trail records). */
  actor: string;
}

/**
 * Registers an admin page at `page.path`: while ADMIN_PASSWORD is unset, a scope answering 404 on every
 * method and path under it (and `register` is not called); otherwise `register` inside a scope whose every
 * request must present ADMIN_USER / ADMIN_PASSWORD (401 with a Basic challenge otherwise; wrong ones count
 * toward the failed-authentication limit).
 */
export async function registerAdminPage(
  app: FastifyInstance,
  ctx: AppContext,
  limit: FailedAuthLimit,
  page: AdminPage,
  register: (scope: FastifyInstance) => Promise<void>,
): Promise<void> {
  if (!ctx.config.adminPassword) {
    ctx.logger.info(`${page.title} is off: set ADMIN_PASSWORD to serve it at ${page.path}`);
    const off = { statusCode: 404, error: 'Not Found', message: `${page.title} is off: set ADMIN_PASSWORD (and ADMIN_USER) to turn it on` };
    await app.register(
      async (scope) => {
        scope.all('/', async (_request, reply) => reply.code(404).send(off));
        scope.all('/*', async (_request, reply) => reply.code(404).send(off));
      },
      { prefix: page.path },
    );
    return;
  }
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
          actor: page.actor,
          refuse: (reply) =>
            reply
              .code(401)
              .header('www-authenticate', `Basic realm="${page.realm}"`)
              .send({ statusCode: 401, error: 'Unauthorized', message: 'Missing or invalid credentials' }),
        }),
      );
      await register(scope);
    },
    { prefix: page.path },
  );
}

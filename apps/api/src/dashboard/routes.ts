// The sync dashboard at /admin/sync: an admin page (admin-auth.ts, like Bull Board: ADMIN_USER /
// ADMIN_PASSWORD, off without ADMIN_PASSWORD) showing every peer and the recent catch-up runs, updated
// live, with scan buttons that queue a scan through requestScan, as POST /api/sync/catchup/scan does.
import type { FastifyInstance, FastifyReply } from 'fastify';
import { z } from 'zod';
import { ConflictNotFoundError, listConflicts, previewCatchup, resolveFileConflict, resolveRowConflict } from '@catchup/engine';
import { FILE_DIRECTORIES } from '@catchup/files';
import { registerAdminPage } from '../admin-auth.ts';
import type { FailedAuthLimit } from '../auth.ts';
import type { AppContext } from '../context.ts';
import { HttpError } from '../errors.ts';
import { requestScan } from '../scan.ts';
import { rowIdText } from '../schemas.ts';
import { DASHBOARD_CSS, DASHBOARD_JS } from './assets.ts';
import { foreignOrigin, issueCsrfToken, verifyCsrfToken } from './csrf.ts';
import { readDashboard } from './data.ts';
import { conflictsPage, DASHBOARD_PATH, dashboardPage, liveSection, messagePage, type Notice, planPage } from './view.ts';

/** The actor of a request the dashboard's (admin) credentials let in, as the audit trail names it. */
export const DASHBOARD_ACTOR = 'sync dashboard';
/** How often an open dashboard fetches its live part again. */
export const DASHBOARD_POLL_MS = 3000;

// No inline script or style, nothing from elsewhere; not framed (its buttons start scans).
const SECURITY_HEADERS = {
  'content-security-policy':
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self'; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'cache-control': 'no-store',
};

const scanForm = z.object({ csrf: z.string().optional(), server_id: z.union([z.literal(''), rowIdText]).optional() });
const settleForm = z.discriminatedUnion('kind', [
  z.object({ kind: z.literal('row'), csrf: z.string().optional(), loser: z.string().min(3).max(130), keep: z.enum(['winner', 'loser']) }),
  z.object({
    kind: z.literal('file'),
    csrf: z.string().optional(),
    directory: z.enum(FILE_DIRECTORIES),
    copy: z.string().min(1).max(4096),
    keep: z.enum(['winner', 'copy']),
  }),
]);
const noticeQuery = z.object({
  notice: z.enum(['scan', 'disabled']).optional(),
  job: z
    .string()
    .regex(/^\d{1,20}$/)
    .optional(),
});

export async function registerDashboard(app: FastifyInstance, ctx: AppContext, limit: FailedAuthLimit): Promise<void> {
  const page = { path: DASHBOARD_PATH, title: 'The sync dashboard', realm: 'Catch-up Sync dashboard', actor: DASHBOARD_ACTOR };
  await registerAdminPage(app, ctx, limit, page, async (scope) => {
    const admin = { user: ctx.config.adminUser, password: ctx.config.adminPassword ?? '' };
    const html = (reply: FastifyReply, status: number, body: string) => reply.code(status).type('text/html; charset=utf-8').send(body);
    scope.addHook('onSend', async (_request, reply, payload) => {
      reply.headers(SECURITY_HEADERS);
      return payload;
    });
    // The scan buttons post plain HTML forms; only this scope takes form bodies.
    scope.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: 4096 }, (_request, body, done) => {
      done(null, Object.fromEntries(new URLSearchParams(body as string)));
    });
    const hidden = { schema: { hide: true } };

    scope.get('/', hidden, async (request, reply) => {
      const query = noticeQuery.safeParse(request.query);
      const notice: Notice =
        query.success && query.data.notice === 'scan' && query.data.job
          ? { kind: 'scan', job: query.data.job }
          : query.success && query.data.notice === 'disabled'
            ? { kind: 'disabled' }
            : undefined;
      return html(reply, 200, dashboardPage(await readDashboard(ctx), issueCsrfToken(admin), notice, DASHBOARD_POLL_MS));
    });

    scope.get('/live', hidden, async (_request, reply) => html(reply, 200, liveSection(await readDashboard(ctx), issueCsrfToken(admin))));

    scope.get('/dashboard.css', hidden, async (_request, reply) => reply.type('text/css; charset=utf-8').send(DASHBOARD_CSS));
    scope.get('/dashboard.js', hidden, async (_request, reply) => reply.type('text/javascript; charset=utf-8').send(DASHBOARD_JS));

    scope.get('/plan', hidden, async (request, reply) => {
      const query = z.object({ server_id: rowIdText }).safeParse(request.query);
      if (!query.success) return html(reply, 400, messagePage('Bad request', 'server_id must be a peer id'));
      // On demand only: the plan pings the peer and lists its files.
      const plan = await previewCatchup(ctx.engine, query.data.server_id);
      if (!plan) return html(reply, 404, messagePage('Not found', `Server ${query.data.server_id} not found`));
      return html(reply, 200, planPage(ctx.config.nodeName, plan));
    });

    scope.get('/conflicts', hidden, async (request, reply) => {
      const settled = z.object({ settled: z.enum(['winner', 'loser', 'copy']).optional() }).safeParse(request.query);
      const note = settled.success && settled.data.settled ? `Settled: kept the ${settled.data.settled}.` : undefined;
      return html(reply, 200, conflictsPage(ctx.config.nodeName, await listConflicts(ctx.engine, 100), issueCsrfToken(admin), note));
    });

    scope.post('/conflicts/resolve', hidden, async (request, reply) => {
      const foreign = foreignOrigin(request);
      if (foreign) return html(reply, 403, messagePage('Forbidden', `Refused: posted by ${foreign}, not by this dashboard`));
      const form = settleForm.safeParse(request.body ?? {});
      if (!form.success)
        return html(
          reply,
          400,
          messagePage('Bad request', 'a row conflict needs loser and keep (winner or loser), a file one directory, copy and keep (winner or copy)'),
        );
      if (!verifyCsrfToken(admin, form.data.csrf)) {
        return html(reply, 403, messagePage('Forbidden', 'Refused: the form token is missing, wrong or expired; reload the page and try again'));
      }
      const settle = form.data;
      try {
        if (settle.kind === 'row') await resolveRowConflict(ctx.engine, settle.loser, settle.keep, request.actor);
        else await resolveFileConflict(ctx.engine, settle.directory, settle.copy, settle.keep, request.actor);
      } catch (err) {
        if (err instanceof ConflictNotFoundError) return html(reply, 404, messagePage('Not found', err.message));
        throw err;
      }
      return reply.code(303).header('location', `${DASHBOARD_PATH}/conflicts?settled=${settle.keep}`).send();
    });

    scope.post('/scan', hidden, async (request, reply) => {
      const foreign = foreignOrigin(request);
      if (foreign) return html(reply, 403, messagePage('Forbidden', `Refused: the scan was posted by ${foreign}, not by this dashboard`));
      const form = scanForm.safeParse(request.body ?? {});
      if (!form.success) return html(reply, 400, messagePage('Bad request', 'server_id must be a peer id'));
      if (!verifyCsrfToken(admin, form.data.csrf)) {
        return html(reply, 403, messagePage('Forbidden', 'Refused: the form token is missing, wrong or expired; reload the dashboard and try again'));
      }
      const serverId = form.data.server_id || undefined;
      try {
        const scan = await requestScan(ctx, serverId ? [serverId] : undefined, request.actor);
        const to = scan.enabled ? `${DASHBOARD_PATH}?notice=scan&job=${encodeURIComponent(scan.detectJobId)}` : `${DASHBOARD_PATH}?notice=disabled`;
        return reply.code(303).header('location', to).send();
      } catch (err) {
        if (err instanceof HttpError && err.statusCode === 404) return html(reply, 404, messagePage('Not found', err.message));
        throw err;
      }
    });
  });
}

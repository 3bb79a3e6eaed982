// A peer's inbound credentials: issued (the token shown once), listed (never the token), revoked. Each
// change is an admin action in the audit trail, which names the credential, never its token.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import {
  ADMIN_OPERATIONS,
  credentialSchema,
  issueCredential,
  issuedCredentialSchema,
  listCredentials,
  recordAdminAction,
  revokeCredential,
  type Issued,
} from '@catchup/engine';
import type { AppContext } from '../context.ts';
import { notFound } from '../errors.ts';
import { errorResponses, idParams, rowIdText } from '../schemas.ts';

/** The longest rotation overlap: a year (an older credential meant to stay valid longer is simply left alone). */
const MAX_OVERLAP_SECONDS = 365 * 24 * 3600;

export const issueBody = z
  .object({
    expire_others_in_seconds: z
      .number()
      .int()
      .min(0)
      .max(MAX_OVERLAP_SECONDS)
      .optional()
      .describe("rotation: the peer's other live credentials expire this many seconds from now (0: at once); absent: they stay as they are"),
  })
  .strict();

export const issuedAnswer = issuedCredentialSchema.extend({
  expiring: z.array(credentialSchema).describe('the other credentials this issue gave an expiry (a rotation)'),
});

/** Records the issue in the audit trail: 'credential rotated' when it gave other credentials an expiry. */
export async function auditIssue(ctx: AppContext, actor: string, server: { id: number; name: string }, issued: Issued): Promise<void> {
  const { credential, expiring } = issued;
  const rotated = expiring.length > 0;
  const until = expiring.map((c) => `${c.label} until ${c.expires_at}`).join(', ');
  await recordAdminAction(ctx.engine, {
    operation: rotated ? ADMIN_OPERATIONS.credentialRotated : ADMIN_OPERATIONS.credentialIssued,
    actor,
    serverId: server.id,
    details: `Credential ${credential.label} issued to peer ${server.name} (id ${server.id})${rotated ? `; still valid: ${until}` : ''}`,
    facts: {
      credential_id: credential.id,
      credential: credential.label,
      ...(rotated ? { expiring: expiring.map((c) => ({ credential_id: c.id, credential: c.label, expires_at: c.expires_at })) } : {}),
    },
  });
}

export const credentialRoutes =
  (ctx: AppContext): FastifyPluginAsyncZod =>
  async (app) => {
    const tags = ['credentials'];
    const serverOf = async (id: number) => {
      const server = await ctx.db.syncServer.findUnique({ where: { id }, select: { id: true, name: true } });
      if (!server) throw notFound(`Server ${id}`);
      return server;
    };

    app.post(
      '/servers/:id/credentials',
      {
        schema: {
          tags,
          summary: 'Issue a credential the peer presents to this node (the token is in this answer only)',
          params: idParams,
          // No body at all is the same as {}.
          body: issueBody.nullish(),
          response: { 201: issuedAnswer, ...errorResponses },
        },
      },
      async (request, reply) => {
        const server = await serverOf(request.params.id);
        const overlap = request.body?.expire_others_in_seconds;
        const issued = await issueCredential(ctx.engine, server.id, overlap === undefined ? {} : { expireOthersInSeconds: overlap });
        if (!issued) throw notFound(`Server ${server.id}`);
        await auditIssue(ctx, request.actor, server, issued);
        return reply.code(201).send({ ...issued.credential, expiring: issued.expiring });
      },
    );

    app.get(
      '/servers/:id/credentials',
      {
        schema: {
          tags,
          summary: "A peer's credentials, oldest first (never their tokens)",
          params: idParams,
          response: { 200: z.object({ credentials: z.array(credentialSchema) }), ...errorResponses },
        },
      },
      async (request) => {
        const credentials = await listCredentials(ctx.engine, request.params.id);
        if (!credentials) throw notFound(`Server ${request.params.id}`);
        return { credentials };
      },
    );

    app.delete(
      '/servers/:id/credentials/:credentialId',
      {
        schema: {
          tags,
          summary: "Revoke a peer's credential: refused from the peer's next request on (revoking it again changes nothing)",
          params: idParams.extend({ credentialId: rowIdText }),
          response: { 200: credentialSchema, ...errorResponses },
        },
      },
      async (request) => {
        const server = await serverOf(request.params.id);
        const revoked = await revokeCredential(ctx.engine, server.id, request.params.credentialId);
        if (!revoked) throw notFound(`Credential ${request.params.credentialId} of server ${server.id}`);
        if (revoked.changed) {
          await recordAdminAction(ctx.engine, {
            operation: ADMIN_OPERATIONS.credentialRevoked,
            actor: request.actor,
            serverId: server.id,
            details: `Credential ${revoked.credential.label} of peer ${server.name} (id ${server.id}) revoked`,
            facts: { credential_id: revoked.credential.id, credential: revoked.credential.label },
          });
        }
        return revoked.credential;
      },
    );
  };

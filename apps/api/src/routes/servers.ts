// Peer management. The outbound API key is write-only: responses say whether one is set, never what.
import type { FastifyPluginAsyncZod } from 'fastify-type-provider-zod';
import { z } from 'zod';
import { isPeerHostListed, peerHostProblem } from '@catchup/config';
import { readLogHorizon } from '@catchup/changelog';
import { teamNumbersSchema } from '@catchup/changelog';
import { Prisma, type SyncServer } from '@catchup/db';
import {
  ADMIN_OPERATIONS,
  fieldChanges,
  issueCredential,
  issuedCredentialSchema,
  peerRetentions,
  recordAdminAction,
  type PeerRetention,
} from '@catchup/engine';
import { normalizeFingerprint } from '@catchup/peer-client';
import type { AppContext } from '../context.ts';
import { HttpError, notFound } from '../errors.ts';
import { auditIssue } from './credentials.ts';
import { errorResponses, idParams, isoDate, nullableIso, toIso } from '../schemas.ts';

const serverSchema = z.object({
  id: z.number(),
  name: z.string(),
  host: z.string(),
  port: z.number(),
  protocol: z.string(),
  api_key_set: z.boolean(),
  tls_fingerprint: z.string().nullable().describe("the sha256 fingerprint the peer's TLS certificate must have (null: verified by CA)"),
  is_active: z.boolean(),
  sync_enabled: z.boolean(),
  sync_database: z.boolean(),
  sync_instance_files: z.boolean(),
  sync_config_files: z.boolean(),
  sync_uploads: z.boolean(),
  last_sync: nullableIso,
  last_ping: nullableIso,
  ping_success: z.boolean().nullable(),
  last_error: z.string().nullable(),
  error_count: z.number(),
  server_id: z.string().nullable(),
  server_version: z.string().nullable(),
  clock_offset_ms: z.number().nullable().describe("the peer's clock minus this node's, measured at its last answered ping"),
  team_scope: teamNumbersSchema.nullable(),
  compression_level: z.number().nullable().describe("the zstd level of bodies exchanged with it (0: none); null: this node's COMPRESSION_LEVEL"),
  sent_cursor: z.string(),
  received_cursor: z.string(),
  needs_full_baseline: z.boolean().describe("its sent cursor is below this node's pruned horizon: its next catch-up is a full baseline (SPEC I11)"),
  days_until_full_baseline: z
    .number()
    .nullable()
    .describe('days until the oldest change it lacks is older than max_catchup_days (0: already); null when it lacks nothing'),
  created_at: isoDate,
  updated_at: isoDate,
});

const writable = {
  name: z.string().regex(/^[A-Za-z0-9._-]{1,64}$/, 'letters, digits, dot, dash or underscore (1-64)'),
  host: z
    .string()
    .min(1)
    .max(255)
    .superRefine((host, check) => {
      const problem = peerHostProblem(host);
      if (problem) check.addIssue({ code: 'custom', message: problem });
    }),
  port: z.number().int().min(1).max(65535),
  protocol: z.enum(['http', 'https']),
  api_key: z.string().min(1).max(512).nullable(),
  tls_fingerprint: z
    .string()
    .refine((v) => normalizeFingerprint(v) !== null, 'a sha256 fingerprint: 64 hex digits, colons between pairs allowed')
    .nullable()
    .describe("pins the peer's TLS certificate (its ping's tls_fingerprint); requires protocol https"),
  is_active: z.boolean(),
  sync_enabled: z.boolean(),
  sync_database: z.boolean(),
  sync_instance_files: z.boolean(),
  sync_config_files: z.boolean(),
  sync_uploads: z.boolean(),
  compression_level: z
    .number()
    .int()
    .min(0)
    .max(19)
    .nullable()
    .describe("the compression chosen for the link to it: 0 for a fast link (same LAN), higher for a slow one; null: this node's COMPRESSION_LEVEL"),
  team_scope: teamNumbersSchema
    .nullable()
    .describe('team isolation: the scouting team numbers the peer may see and write (null: every team); a change resends its log from the start'),
};

const createBody = z
  .object({
    ...writable,
    protocol: writable.protocol.default('http'),
    api_key: writable.api_key.optional(),
    tls_fingerprint: writable.tls_fingerprint.optional(),
    team_scope: writable.team_scope.optional(),
    compression_level: writable.compression_level.optional(),
    issue_credential: z
      .boolean()
      .optional()
      .describe('also issue the credential the peer presents to this node: the answer holds its token (shown once), for the shortest pairing'),
  })
  .partial({ is_active: true, sync_enabled: true, sync_database: true, sync_instance_files: true, sync_config_files: true, sync_uploads: true })
  .strict();
const updateBody = z.object(writable).partial().strict();

function present(s: SyncServer, retention: PeerRetention): z.infer<typeof serverSchema> {
  return {
    id: s.id,
    name: s.name,
    host: s.host,
    port: s.port,
    protocol: s.protocol,
    api_key_set: Boolean(s.apiKey),
    tls_fingerprint: s.tlsFingerprint,
    is_active: s.isActive,
    sync_enabled: s.syncEnabled,
    sync_database: s.syncDatabase,
    sync_instance_files: s.syncInstanceFiles,
    sync_config_files: s.syncConfigFiles,
    sync_uploads: s.syncUploads,
    last_sync: toIso(s.lastSync),
    last_ping: toIso(s.lastPing),
    ping_success: s.pingSuccess,
    last_error: s.lastError,
    error_count: s.errorCount,
    server_id: s.peerNodeId,
    server_version: s.serverVersion,
    clock_offset_ms: s.clockOffsetMs === null ? null : Number(s.clockOffsetMs),
    team_scope: s.teamScope === null ? null : teamNumbersSchema.parse(s.teamScope),
    compression_level: s.compressionLevel,
    sent_cursor: s.sentCursor.toString(),
    received_cursor: s.receivedCursor.toString(),
    ...retention,
    created_at: s.createdAt.toISOString(),
    updated_at: s.updatedAt.toISOString(),
  };
}

/** A team scope as stored: each team once, in ascending order. */
const normalTeams = (teams: number[]) => [...new Set(teams)].sort((a, b) => a - b);

function toData(body: Partial<Record<keyof typeof writable, unknown>>) {
  const map: Record<string, string> = {
    api_key: 'apiKey',
    tls_fingerprint: 'tlsFingerprint',
    is_active: 'isActive',
    sync_enabled: 'syncEnabled',
    sync_database: 'syncDatabase',
    sync_instance_files: 'syncInstanceFiles',
    sync_config_files: 'syncConfigFiles',
    sync_uploads: 'syncUploads',
    team_scope: 'teamScope',
    compression_level: 'compressionLevel',
  };
  const value = (k: string, v: unknown) => {
    if (k === 'tls_fingerprint' && typeof v === 'string') return normalizeFingerprint(v);
    if (k === 'team_scope') return v === null ? Prisma.DbNull : normalTeams(v as number[]); // a JSON column takes DbNull for SQL NULL
    return v;
  };
  return Object.fromEntries(
    Object.entries(body)
      .filter(([, v]) => v !== undefined)
      .map(([k, v]) => [map[k] ?? k, value(k, v)]),
  );
}

/** A peer's writable fields as the API names them: what the audit trail compares (api_key shows only as set or changed). */
function auditedFields(s: SyncServer): Record<string, unknown> {
  const column = (field: string) => field.replace(/_(\w)/g, (_, c: string) => c.toUpperCase());
  return Object.fromEntries(Object.keys(writable).map((field) => [field, (s as unknown as Record<string, unknown>)[column(field)]]));
}

const isUniqueViolation = (err: unknown) => (err as { code?: string }).code === 'P2002';

/** A pinned fingerprint over plain http would pin nothing: refused (400) rather than silently unused. */
function assertPinNeedsHttps(protocol: string, fingerprint: string | null | undefined): void {
  if (fingerprint && protocol !== 'https') throw new HttpError(400, 'body.tls_fingerprint: a pinned TLS fingerprint requires protocol https');
}

/** A host off the PEER_HOSTS list is refused (400) on create and update; an empty list allows any. */
function assertHostListed(ctx: AppContext, host: string | undefined): void {
  if (host !== undefined && !isPeerHostListed(host, ctx.config.peerHosts)) throw new HttpError(400, `body.host: ${host} is not in PEER_HOSTS`);
}

export const serverRoutes =
  (ctx: AppContext): FastifyPluginAsyncZod =>
  async (app) => {
    const tags = ['servers'];
    /** Peers as the API shows them, with how each stands against this node's retention. */
    const presentAll = async (servers: SyncServer[]) => {
      const horizon = await readLogHorizon(ctx.pool);
      const retention = await peerRetentions(ctx.engine, servers, horizon);
      return servers.map((s, i) => present(s, retention[i]!));
    };
    const presentOne = async (s: SyncServer) => (await presentAll([s]))[0]!;
    app.get(
      '/servers',
      { schema: { tags, summary: 'List peers', response: { 200: z.object({ servers: z.array(serverSchema) }), 401: errorResponses[401] } } },
      async () => ({
        servers: await presentAll(await ctx.db.syncServer.findMany({ orderBy: { id: 'asc' } })),
      }),
    );

    app.get(
      '/servers/:id',
      { schema: { tags, summary: 'One peer', params: idParams, response: { 200: serverSchema, ...errorResponses } } },
      async (request) => {
        const server = await ctx.db.syncServer.findUnique({ where: { id: request.params.id } });
        if (!server) throw notFound(`Server ${request.params.id}`);
        return presentOne(server);
      },
    );

    app.post(
      '/servers',
      {
        schema: {
          tags,
          summary: 'Register a peer',
          body: createBody,
          response: {
            201: serverSchema.extend({
              credential: issuedCredentialSchema.optional().describe('with issue_credential: the credential the peer presents here'),
            }),
            409: errorResponses[400],
            ...errorResponses,
          },
        },
      },
      async (request, reply) => {
        assertHostListed(ctx, request.body.host);
        assertPinNeedsHttps(request.body.protocol, request.body.tls_fingerprint);
        const { issue_credential, ...fields } = request.body;
        try {
          const server = await ctx.db.syncServer.create({ data: toData(fields) as Parameters<typeof ctx.db.syncServer.create>[0]['data'] });
          await recordAdminAction(ctx.engine, {
            operation: ADMIN_OPERATIONS.peerAdded,
            actor: request.actor,
            serverId: server.id,
            details: `Peer ${server.name} (id ${server.id}) added at ${server.protocol}://${server.host}:${server.port}`,
            changes: fieldChanges(null, auditedFields(server)),
          });
          const issued = issue_credential ? await issueCredential(ctx.engine, server.id) : null;
          if (issued) await auditIssue(ctx, request.actor, server, issued);
          return reply.code(201).send({ ...(await presentOne(server)), ...(issued ? { credential: issued.credential } : {}) });
        } catch (err) {
          if (isUniqueViolation(err))
            return reply.code(409).send({ statusCode: 409, error: 'Conflict', message: `name: a server named ${request.body.name} exists` });
          throw err;
        }
      },
    );

    app.put(
      '/servers/:id',
      {
        schema: {
          tags,
          summary: 'Change a peer',
          params: idParams,
          body: updateBody,
          response: { 200: serverSchema, 409: errorResponses[400], ...errorResponses },
        },
      },
      async (request, reply) => {
        const exists = await ctx.db.syncServer.findUnique({ where: { id: request.params.id } });
        if (!exists) throw notFound(`Server ${request.params.id}`);
        assertHostListed(ctx, request.body.host);
        assertPinNeedsHttps(
          request.body.protocol ?? exists.protocol,
          request.body.tls_fingerprint === undefined ? exists.tlsFingerprint : request.body.tls_fingerprint,
        );
        // Other teams mean other rows to send: the peer's log is read again from the start (a full baseline
        // when this node's log was pruned), rows now in its scope reach it and rows that left it go as exits.
        const teams = request.body.team_scope;
        const scopeChanged = teams !== undefined && JSON.stringify(teams === null ? null : normalTeams(teams)) !== JSON.stringify(exists.teamScope);
        try {
          const server = await ctx.db.syncServer.update({
            where: { id: request.params.id },
            data: { ...toData(request.body), ...(scopeChanged ? { sentCursor: 0n } : {}) },
          });
          const changes = fieldChanges(auditedFields(exists), auditedFields(server));
          if (Object.keys(changes).length) {
            await recordAdminAction(ctx.engine, {
              operation: ADMIN_OPERATIONS.peerChanged,
              actor: request.actor,
              serverId: server.id,
              details: `Peer ${server.name} (id ${server.id}) changed: ${Object.keys(changes).join(', ')}`,
              changes,
            });
          }
          return presentOne(server);
        } catch (err) {
          if (isUniqueViolation(err))
            return reply.code(409).send({ statusCode: 409, error: 'Conflict', message: `name: a server named ${request.body.name} exists` });
          throw err;
        }
      },
    );

    app.delete(
      '/servers/:id',
      { schema: { tags, summary: 'Remove a peer', params: idParams, response: { 204: z.null(), ...errorResponses } } },
      async (request, reply) => {
        const server = await ctx.db.syncServer.findUnique({ where: { id: request.params.id } });
        const deleted = await ctx.db.syncServer.deleteMany({ where: { id: request.params.id } });
        if (!server || deleted.count === 0) throw notFound(`Server ${request.params.id}`);
        // The removal sets server_id to null in the peer's sync_logs rows: this row names the peer in details and result.
        await recordAdminAction(ctx.engine, {
          operation: ADMIN_OPERATIONS.peerRemoved,
          actor: request.actor,
          details: `Peer ${server.name} (id ${server.id}) removed; it was at ${server.protocol}://${server.host}:${server.port}`,
          changes: fieldChanges(auditedFields(server), null),
          facts: { server_id: server.id, server_name: server.name },
        });
        return reply.code(204).send(null);
      },
    );
  };

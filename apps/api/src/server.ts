// Builds the Fastify application of one node: schemas, auth, routes, OpenAPI.
import swagger from '@fastify/swagger';
import swaggerUi from '@fastify/swagger-ui';
import Fastify, { type FastifyInstance } from 'fastify';
import { jsonSchemaTransform, serializerCompiler, validatorCompiler, type ZodTypeProvider } from 'fastify-type-provider-zod';
import { verifyPeerToken } from '@catchup/engine';
import { registerAuthentication, requireSyncCredential } from './auth.ts';
import { registerBullBoard } from './bull-board.ts';
import { registerCompression } from './compression.ts';
import type { AppContext } from './context.ts';
import { registerDashboard } from './dashboard/routes.ts';
import { registerErrorHandling } from './errors.ts';
import { refuseNulBytes } from './nul-bytes.ts';
import { catchupRoutes } from './routes/catchup.ts';
import { configRoutes } from './routes/config.ts';
import { conflictRoutes } from './routes/conflicts.ts';
import { credentialRoutes } from './routes/credentials.ts';
import { fileRoutes } from './routes/files.ts';
import { logRoutes } from './routes/logs.ts';
import { maintenanceRoutes } from './routes/maintenance.ts';
import { opsRoutes } from './routes/ops.ts';
import { heldRoutes } from './routes/held.ts';
import { peerRoutes } from './routes/peer.ts';
import { logStreamRoutes } from './routes/log-stream.ts';
import { serverRoutes } from './routes/servers.ts';
import { tableRoutes } from './routes/tables.ts';
import { digestRoutes, verifyRoutes } from './routes/verify.ts';

/** A client has this long to send a request's headers; one trickling them in is disconnected (408) then. */
export const HEADERS_TIMEOUT_MS = 10_000;
/** How often connections are checked against HEADERS_TIMEOUT_MS (Node's default, 30 s, let a slow client stay 90 s). */
const CONNECTIONS_CHECK_MS = 1_000;

export async function buildServer(ctx: AppContext): Promise<FastifyInstance> {
  const connections = { headersTimeout: HEADERS_TIMEOUT_MS, connectionsCheckingInterval: CONNECTIONS_CHECK_MS };
  const served = ctx.config.tls;
  // With TLS_CERT_FILE and TLS_KEY_FILE the node serves HTTPS only; Fastify hands `https` (with the
  // connection limits, which https.createServer takes too) to https.createServer instead of `http`.
  const server = served ? { https: { cert: served.cert, key: served.key, ...connections } } : { http: connections };
  const app = Fastify({
    loggerInstance: ctx.logger,
    bodyLimit: ctx.config.bodyLimitBytes,
    ...(server as { http: typeof connections }),
  }).withTypeProvider<ZodTypeProvider>();
  app.setValidatorCompiler(validatorCompiler);
  app.setSerializerCompiler(serializerCompiler);
  registerErrorHandling(app as unknown as FastifyInstance);
  app.addHook('preValidation', refuseNulBytes);
  await registerCompression(app as unknown as FastifyInstance, ctx.config.compressionLevel);

  await app.register(swagger, {
    openapi: {
      info: { title: 'Catch-up Sync node API', version: ctx.version },
      components: {
        securitySchemes: {
          apiKey: { type: 'apiKey', in: 'header', name: 'X-API-Key' },
          bearer: { type: 'http', scheme: 'bearer' },
        },
      },
      security: [{ apiKey: [] }, { bearer: [] }],
    },
    transform: jsonSchemaTransform,
  });
  await app.register(swaggerUi, { routePrefix: '/docs' });

  const failedAuth = await registerAuthentication(app as unknown as FastifyInstance, ctx.config);
  await app.register(opsRoutes(ctx, failedAuth));
  await registerBullBoard(app as unknown as FastifyInstance, ctx, failedAuth);
  await registerDashboard(app as unknown as FastifyInstance, ctx, failedAuth);
  const credentials = { checkApiKey: ctx.checkApiKey, verifyPeerToken: (token: string) => verifyPeerToken(ctx.engine, token) };
  // The peer API (what another node calls during a catch-up): the node's API key or a peer's own credential.
  await app.register(
    async (api) => {
      api.addHook('onRequest', requireSyncCredential(credentials, failedAuth, { peerApi: true }));
      await api.register(peerRoutes(ctx));
      await api.register(logStreamRoutes(ctx));
      await api.register(heldRoutes(ctx));
      await api.register(fileRoutes(ctx));
      await api.register(digestRoutes(ctx));
    },
    { prefix: '/api/sync' },
  );
  // The admin API: the node's API key only (a peer credential is answered 403).
  await app.register(
    async (api) => {
      api.addHook('onRequest', requireSyncCredential(credentials, failedAuth, { peerApi: false }));
      await api.register(catchupRoutes(ctx));
      await api.register(serverRoutes(ctx));
      await api.register(credentialRoutes(ctx));
      await api.register(configRoutes(ctx));
      await api.register(logRoutes(ctx));
      await api.register(maintenanceRoutes(ctx));
      await api.register(tableRoutes(ctx));
      await api.register(verifyRoutes(ctx));
      await api.register(conflictRoutes(ctx));
    },
    { prefix: '/api/sync' },
  );
  return app as unknown as FastifyInstance;
}

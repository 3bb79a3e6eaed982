// Builds the Fastify application of one node.
import Fastify, { type FastifyInstance } from 'fastify';
import type { Logger } from '@catchup/logger';

export interface ServerDeps {
  logger: Logger;
  nodeName: string;
}

export async function buildServer(deps: ServerDeps): Promise<FastifyInstance> {
  const app = Fastify({ loggerInstance: deps.logger, bodyLimit: 10 * 1024 * 1024 });
  app.get('/health', async () => ({ status: 'ok', node: deps.nodeName, uptime_seconds: Math.round(process.uptime()) }));
  return app as unknown as FastifyInstance;
}

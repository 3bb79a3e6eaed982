// Entry point of a node: configuration, database, HTTP server; stops cleanly on SIGTERM/SIGINT.
import { loadNodeConfig, type NodeConfig } from '@catchup/config';
import { createDb } from '@catchup/db';
import { createLogger } from '@catchup/logger';
import { buildServer } from './server.ts';
import { describeStartupError } from './startup-errors.ts';

let config: NodeConfig | undefined;
try {
  config = loadNodeConfig();
  const logger = createLogger({ name: config.nodeName, level: config.logLevel });
  const db = createDb(config.databaseUrl);
  await db.$queryRaw`SELECT 1`;
  const app = await buildServer({ logger, nodeName: config.nodeName });
  await app.listen({ host: config.host, port: config.port });

  const stop = async (signal: string) => {
    logger.info({ signal }, 'shutting down');
    await app.close();
    await db.$disconnect();
    process.exit(0);
  };
  process.once('SIGTERM', () => void stop('SIGTERM'));
  process.once('SIGINT', () => void stop('SIGINT'));
} catch (err) {
  console.error(describeStartupError(err, { databaseUrl: config?.databaseUrl, redisUrl: config?.redisUrl }));
  process.exit(1);
}

// A worker process on its own: any number of them may run, on any machine that reaches the Redis and
// the node's database. SIGTERM/SIGINT: stop taking jobs, let running ones finish, close, exit 0.
import { loadNodeConfig, type NodeConfig } from '@catchup/config';
import { openEngine } from '@catchup/engine';
import { closeOnSignals, createLogger } from '@catchup/logger';
import { describeStartupError } from '@catchup/config';
import { runWorkers } from './run.ts';

let config: NodeConfig | undefined;
try {
  config = loadNodeConfig();
  const logger = createLogger({ name: `${config.nodeName}-worker`, level: config.logLevel });
  const opened = await openEngine(config);
  const workers = runWorkers(config, opened.engine, logger);
  logger.info({ node: config.nodeName, prefix: config.queuePrefix, concurrency: config.workerConcurrency }, `✅ workers for ${config.nodeName} started`);
  closeOnSignals(logger, 'stopping workers (running jobs finish first)', async () => {
    await workers.close();
    await opened.close();
  });
} catch (err) {
  console.error(describeStartupError(err, { databaseUrl: config?.databaseUrl, redisUrl: config?.redisUrl }));
  process.exit(1);
}

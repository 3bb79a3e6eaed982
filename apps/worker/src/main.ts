// A worker process on its own: any number of them may run, on any machine that reaches the Redis and
// the node's database. SIGTERM/SIGINT: stop taking jobs, let running ones finish, close, exit 0.
import { describeStartupError, loadNodeConfig, type NodeConfig } from '@catchup/config';
import { openEngine } from '@catchup/engine';
import { onConnectionLost } from '@catchup/db';
import { closeOnSignals, createLogger } from '@catchup/logger';
import { FaultLedger } from '@catchup/queue';
import { runWorkers } from '@catchup/jobs';

let config: NodeConfig | undefined;
try {
  config = loadNodeConfig();
  const logger = createLogger({ name: `${config.nodeName}-worker`, level: config.logLevel });
  const opened = await openEngine(config);
  const faults = new FaultLedger(config.redisUrl, config.queuePrefix);
  onConnectionLost(opened.engine.pool, () => faults.record('database_connection_lost'));
  const workers = runWorkers(config, opened.engine, logger, faults);
  logger.info({ node: config.nodeName, prefix: config.queuePrefix, concurrency: config.workerConcurrency }, `✅ workers for ${config.nodeName} started`);
  closeOnSignals(logger, 'stopping workers (running jobs finish first)', async () => {
    await workers.close();
    faults.close();
    await opened.close();
  });
} catch (err) {
  console.error(describeStartupError(err, { databaseUrl: config?.databaseUrl, redisUrl: config?.redisUrl }));
  process.exit(1);
}

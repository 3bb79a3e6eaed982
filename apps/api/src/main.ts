// Entry point of a node: configuration, then the node; stops cleanly on SIGTERM/SIGINT.
import { describeStartupError, loadNodeConfig, type NodeConfig } from '@catchup/config';
import { closeOnSignals } from '@catchup/logger';
import { startNode } from './node.ts';

let config: NodeConfig | undefined;
try {
  config = loadNodeConfig();
  const node = await startNode(config);
  if (node.generatedApiKey) {
    // Printed once, to the terminal only (never through the logger): peers need it to call this node.
    process.stdout.write(
      `\nNo SYNC_API_KEY was set, so this node generated one. Peers must present it; it is not shown again:\n\n  SYNC_API_KEY=${node.generatedApiKey}\n\n`,
    );
  }
  node.ctx.logger.info({ url: node.url, node: config.nodeName }, `✅ node ${config.nodeName} listening on ${node.url}`);
  if (config.tls) {
    // What a peer pins to trust this node (its tls_fingerprint); GET /api/sync/ping shows it too.
    node.ctx.logger.info({ tls_fingerprint: config.tls.fingerprint }, `🔒 serving HTTPS; certificate fingerprint (sha256) ${config.tls.fingerprint}`);
  }
  closeOnSignals(node.ctx.logger, 'shutting down (running jobs finish first)', () => node.close());
} catch (err) {
  console.error(describeStartupError(err, { databaseUrl: config?.databaseUrl, redisUrl: config?.redisUrl }));
  process.exit(1);
}

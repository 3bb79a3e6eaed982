// Opens what the engine needs for one node from its configuration.
import { getNodeIdentity } from '@catchup/changelog';
import { loadRuntimeSettings, type NodeConfig } from '@catchup/config';
import { createDb, createPool } from '@catchup/db';
import { DEFAULT_EXCLUDES, excluder } from '@catchup/files';
import { PeerClient } from '@catchup/peer-client';
import type { EngineContext } from './context.ts';

/** Log streams read at once (sent and served); more wait for one to end. */
const LOG_READERS = 4;

export interface OpenedEngine {
  engine: EngineContext;
  close(): Promise<void>;
}

export async function openEngine(config: NodeConfig): Promise<OpenedEngine> {
  // A process opens at most 2 × DATABASE_POOL_SIZE + LOG_READERS connections.
  const db = createDb(config.databaseUrl, { max: config.databasePoolSize });
  const pool = createPool(config.databaseUrl, config.databasePoolSize);
  const logReaders = createPool(config.databaseUrl, LOG_READERS);
  const close = async () => {
    await pool.end().catch(() => {});
    await logReaders.end().catch(() => {});
    await db.$disconnect().catch(() => {});
  };
  try {
    await pool.query('SELECT 1');
    const identity = await getNodeIdentity(pool, config.nodeName);
    // Settings are read from sync_config on each use, so an update applies without a restart.
    const settings = () => loadRuntimeSettings(db, config.defaults);
    await settings(); // refuse to start on an invalid sync_config row
    const engine: EngineContext = {
      db,
      pool,
      logReaders,
      nodeId: identity.nodeId,
      nodeName: config.nodeName,
      settings,
      dataDir: config.dataDir,
      fileExclude: excluder([...DEFAULT_EXCLUDES, ...config.syncExclude]),
      peerClient: (peer, s) =>
        new PeerClient(peer, { timeoutSeconds: s.catchup_connection_timeout, ca: config.peerCa, compressionLevel: config.compressionLevel }),
    };
    return { engine, close };
  } catch (err) {
    await close();
    throw err;
  }
}

import type { RuntimeSettings } from '@catchup/config';
import type { Db, Pool } from '@catchup/db';
import type { Excluder } from '@catchup/files';
import type { PeerAddress, PeerClient } from '@catchup/peer-client';

/** What the catch-up engine needs from the node it runs in. */
export interface EngineContext {
  db: Db;
  pool: Pool;
  /**
   * Connections that read log streams (openLogStream), apart from `pool`: a stream holds its connection
   * for as long as the peer takes to apply it, so it must never hold one that applying here needs — two
   * nodes streaming to each other would otherwise each wait for the other's pool, forever.
   */
  logReaders: Pool;
  nodeId: string;
  nodeName: string;
  settings: () => Promise<RuntimeSettings>;
  /** Holds the synced folders instance/, config/, uploads/. */
  dataDir: string;
  fileExclude: Excluder;
  /** Opens a client for a peer (tests may point it elsewhere). */
  peerClient: (peer: PeerAddress, settings: RuntimeSettings) => PeerClient;
}

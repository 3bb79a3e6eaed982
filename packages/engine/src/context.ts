import type { RuntimeSettings } from '@catchup/config';
import type { Db, Pool } from '@catchup/db';
import type { Excluder } from '@catchup/files';
import type { PeerAddress, PeerClient } from '@catchup/peer-client';

/** What the catch-up engine needs from the node it runs in. */
export interface EngineContext {
  db: Db;
  pool: Pool;
  nodeId: string;
  nodeName: string;
  settings: () => Promise<RuntimeSettings>;
  /** Holds the synced folders instance/, config/, uploads/. */
  dataDir: string;
  fileExclude: Excluder;
  /** Opens a client for a peer (tests may point it elsewhere). */
  peerClient: (peer: PeerAddress, settings: RuntimeSettings) => PeerClient;
}

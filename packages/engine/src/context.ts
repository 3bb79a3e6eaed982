import type { RuntimeSettings } from '@catchup/config';
import type { Db, Pool } from '@catchup/db';
import type { PeerAddress, PeerClient } from '@catchup/peer-client';

/** What the catch-up engine needs from the node it runs in. */
export interface EngineContext {
  db: Db;
  pool: Pool;
  nodeId: string;
  nodeName: string;
  settings: () => Promise<RuntimeSettings>;
  /** Opens a client for a peer (tests may point it elsewhere). */
  peerClient: (peer: PeerAddress, settings: RuntimeSettings) => PeerClient;
}

// Everything a request handler may use, built once per node.
import type { NodeConfig } from '@catchup/config';
import type { Db, Pool } from '@catchup/db';
import type { EngineContext } from '@catchup/engine';
import type { Logger } from '@catchup/logger';

export interface AppContext {
  config: NodeConfig;
  db: Db;
  pool: Pool;
  logger: Logger;
  engine: EngineContext;
  /** Accepts or refuses a presented inbound key (constant time). */
  checkApiKey: (presented: string) => boolean;
  /** Answers whether Redis is reachable (for /ready). */
  redisReady: () => Promise<boolean>;
  version: string;
}

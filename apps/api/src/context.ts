// Everything a request handler may use, built once per node.
import type { NodeConfig } from '@catchup/config';
import type { Db, Pool } from '@catchup/db';
import type { EngineContext } from '@catchup/engine';
import type { Logger } from '@catchup/logger';
import type { FaultLedger, NodeQueues } from '@catchup/queue';
import type { DetectionSchedulerState } from './detection-schedule.ts';

export interface AppContext {
  config: NodeConfig;
  db: Db;
  pool: Pool;
  logger: Logger;
  engine: EngineContext;
  queues: NodeQueues;
  /** Brings the detection job scheduler in line with the settings in force. */
  reschedule: () => Promise<void>;
  /** Whether Redis holds the detection job scheduler the settings ask for (for /ready). */
  detectionScheduler: () => Promise<DetectionSchedulerState>;
  /** Accepts or refuses a presented inbound key (constant time). */
  checkApiKey: (presented: string) => boolean;
  /** Accepts or refuses Bull Board credentials (constant time). */
  checkAdmin: (user: string, password: string) => boolean;
  /** Answers whether Redis is reachable (for /ready). */
  redisReady: () => Promise<boolean>;
  version: string;
  /** Faults the node's processes rode out, counted across them (for /metrics). */
  faults: FaultLedger;
}

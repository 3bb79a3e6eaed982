// What every job handler works with.
import type { EngineContext } from '@catchup/engine';
import type { Logger } from '@catchup/logger';
import type { NodeQueues, RetryPolicy } from '@catchup/queue';

export interface HandlerDeps {
  engine: EngineContext;
  queues: NodeQueues;
  logger: Logger;
}

/** Attempts and backoff of the jobs a handler adds, from the node's settings as they are now. */
export async function retryPolicy(engine: EngineContext): Promise<RetryPolicy> {
  const s = await engine.settings();
  return { attempts: s.catchup_retry_attempts, delayMs: s.catchup_retry_delay_ms };
}

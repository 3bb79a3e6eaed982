// The one place that decides job options: deduplication, attempts, backoff, retention.
import type { JobsOptions } from 'bullmq';
import type { JobName } from './jobs.ts';

export interface RetryPolicy {
  attempts: number;
  /** Base delay of the exponential backoff, ms. */
  delayMs: number;
}

const keep = { removeOnComplete: { count: 500 }, removeOnFail: { count: 1000 } };

/**
 * BullMQ priorities (a lower number goes first): what an operator asked for runs ahead of what the
 * schedule started, in every queue its jobs reach. Within a trigger's band, a batch's table rank (see
 * batchPriority) orders batches; the bands are far enough apart that no rank crosses into the next.
 */
export const TRIGGER_PRIORITY = { scan: 1, request: 1, schedule: 1000 } as const;
export type Trigger = keyof typeof TRIGGER_PRIORITY;

/** The most table ranks a band holds. */
const RANKS_PER_BAND = 900;

/** The priority of a batch of a catch-up started by `trigger` whose most urgent table has `tableRank` (0: first). */
export function batchPriority(trigger: Trigger, tableRank: number): number {
  return TRIGGER_PRIORITY[trigger] + Math.min(Math.max(0, tableRank), RANKS_PER_BAND);
}

export function jobOptions(name: JobName, retry: RetryPolicy, extra: { serverId?: number; priority?: number } = {}): JobsOptions {
  const priority = extra.priority === undefined ? {} : { priority: extra.priority };
  return { ...options(name, retry, extra), ...priority };
}

function options(name: JobName, retry: RetryPolicy, extra: { serverId?: number }): JobsOptions {
  switch (name) {
    case 'detect':
      return { ...keep, attempts: 1 };
    case 'prune':
      // One prune at a time: a prune asked for while one waits or runs is that one.
      return { ...keep, attempts: 1, deduplication: { id: 'prune' } };
    case 'catchup':
      // One catch-up per peer at a time: while one exists (waiting, active or waiting for its
      // children), adding another for the same peer returns the existing job.
      return { ...keep, attempts: 1, deduplication: { id: `peer-${extra.serverId}` } };
    case 'batch-send':
    case 'batch-receive':
    case 'file-sync':
      return {
        ...keep,
        attempts: retry.attempts,
        backoff: { type: 'exponential', delay: retry.delayMs },
        // A child that exhausts its attempts does not stop its siblings; the parent still finalizes.
        ignoreDependencyOnFailure: true,
      };
  }
}

// The one place that decides job options: deduplication, attempts, backoff, retention.
import type { JobsOptions } from 'bullmq';
import type { JobName } from './jobs.ts';

export interface RetryPolicy {
  attempts: number;
  /** Base delay of the exponential backoff, ms. */
  delayMs: number;
}

const keep = { removeOnComplete: { count: 500 }, removeOnFail: { count: 1000 } };

export function jobOptions(name: JobName, retry: RetryPolicy, extra: { serverId?: number } = {}): JobsOptions {
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

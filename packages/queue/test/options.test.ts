// Job options: which jobs retry with backoff, which are one per peer or one at a time.
import { describe, expect, it } from 'vitest';
import { jobOptions } from '../src/options.ts';

const retry = { attempts: 4, delayMs: 250 };

describe('job options', () => {
  it.each(['batch-send', 'batch-receive', 'file-sync'] as const)('%s retries with exponential backoff and does not stop its siblings', (name) => {
    expect(jobOptions(name, retry)).toMatchObject({
      attempts: 4,
      backoff: { type: 'exponential', delay: 250 },
      ignoreDependencyOnFailure: true,
    });
  });

  it('a catch-up runs once, one per peer at a time', () => {
    const opts = jobOptions('catchup', retry, { serverId: 7 });
    expect(opts).toMatchObject({ attempts: 1, deduplication: { id: 'peer-7' } });
    expect(opts.backoff).toBeUndefined();
    expect(jobOptions('catchup', retry, { serverId: 8 }).deduplication).not.toEqual(opts.deduplication);
  });

  it('a prune runs once, one at a time', () => {
    expect(jobOptions('prune', retry)).toMatchObject({ attempts: 1, deduplication: { id: 'prune' } });
  });

  it('detection runs once, without deduplication', () => {
    const opts = jobOptions('detect', retry);
    expect(opts.attempts).toBe(1);
    expect(opts.deduplication).toBeUndefined();
  });

  it('every job keeps a bounded history of completed and failed jobs', () => {
    for (const name of ['detect', 'catchup', 'batch-send', 'batch-receive', 'file-sync', 'prune'] as const) {
      expect(jobOptions(name, retry)).toMatchObject({ removeOnComplete: { count: 500 }, removeOnFail: { count: 1000 } });
    }
  });
});

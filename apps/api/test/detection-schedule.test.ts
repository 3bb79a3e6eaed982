// The periodic check of the detection scheduler and an operator's change of the settings never undo each
// other: each brings the scheduler in line with the settings as they are when its turn comes.
import { afterAll, describe, expect, it } from 'vitest';
import { loadNodeConfig, type RuntimeSettings } from '@catchup/config';
import { createLogger } from '@catchup/logger';
import { NodeQueues } from '@catchup/queue';
import { testRedisUrl, useQueuePrefix } from '@catchup/testing';
import { keepDetectionScheduled } from '../src/detection-schedule.ts';
import { until } from './two-nodes.ts';

const queues = new NodeQueues({ redisUrl: testRedisUrl, prefix: useQueuePrefix('schedule') });
afterAll(() => queues.close());

const defaults = loadNodeConfig({ NODE_NAME: 'schedule', SYNC_API_KEY: 'schedule-key-0123456789' }).defaults;

describe('keeping detection scheduled', () => {
  it('a check that read the settings before an operator changed them does not bring the old ones back', async () => {
    let current: RuntimeSettings = { ...defaults, catchup_scheduler_enabled: true, catchup_check_interval: 1 };
    let reads = 0;
    let releaseStaleRead!: () => void;
    let settingsHook: (snapshot: RuntimeSettings) => Promise<RuntimeSettings> = async (s) => s;
    const staleReadWaiting = new Promise<void>((waiting) => {
      // The check's second read (the one it applies) sees the settings as they were, then waits.
      settingsHook = async (snapshot) => {
        reads++;
        if (reads === 2) {
          waiting();
          await new Promise<void>((release) => (releaseStaleRead = release));
        }
        return snapshot;
      };
    });
    const settings = () => settingsHook(current);

    await queues.scheduleDetection(false, 1); // the scheduler is missing: the first check will put it back
    const schedule = keepDetectionScheduled(queues, settings, createLogger({ level: 'silent' }), 10);
    try {
      await staleReadWaiting;
      // The operator turns scheduled detection off meanwhile.
      current = { ...current, catchup_scheduler_enabled: false };
      const operator = schedule.reschedule();
      releaseStaleRead();
      await operator;
      expect(await queues.detectionSchedule()).toBeNull();
      expect(await schedule.state()).toBe('off');
    } finally {
      schedule.stop();
    }
  });

  it('puts the prune scheduler back when Redis lost it, and removes it when schedules are off', async () => {
    let current: RuntimeSettings = { ...defaults, catchup_scheduler_enabled: true, catchup_prune_interval: 60 };
    const schedule = keepDetectionScheduled(queues, async () => current, createLogger({ level: 'silent' }), 20);
    try {
      await schedule.reschedule();
      expect(await queues.pruneSchedule()).toEqual({ every: 60_000 });
      await queues.schedulePrune(false, 60); // as if Redis had been emptied
      expect(await schedule.pruneState()).toBe('missing');
      await until('the prune scheduler to be back', async () => (await queues.pruneSchedule()) !== null, 5000);
      expect(await schedule.pruneState()).toBe('present');
      current = { ...current, catchup_scheduler_enabled: false };
      await schedule.reschedule();
      expect(await queues.pruneSchedule()).toBeNull();
      expect(await schedule.pruneState()).toBe('off');
    } finally {
      schedule.stop();
    }
  });
});

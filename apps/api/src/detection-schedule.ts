// The detection job scheduler lives only in Redis, so a Redis that comes back empty (FLUSHALL, a restart
// without persistence) has lost it. This keeps it in line with the settings: it compares what Redis holds
// with what the settings ask for every few seconds, puts the scheduler back when it is missing, and tells
// /ready what it found.
import type { RuntimeSettings } from '@catchup/config';
import type { Logger } from '@catchup/logger';
import type { NodeQueues } from '@catchup/queue';

/** How often the scheduler in Redis is compared with the settings. */
export const SCHEDULE_CHECK_MS = 5000;

/**
 * present: scheduled as the settings ask; missing: the settings ask for scheduled detection and Redis
 * holds none; off: the settings turn it off; unknown: the settings or Redis could not be read.
 */
export type DetectionSchedulerState = 'present' | 'missing' | 'off' | 'unknown';

export interface DetectionSchedule {
  /** Brings the scheduler in line with the settings now. */
  reschedule(): Promise<void>;
  state(): Promise<DetectionSchedulerState>;
  /** Stops the periodic check. */
  stop(): void;
}

export function keepDetectionScheduled(
  queues: NodeQueues,
  settings: () => Promise<RuntimeSettings>,
  logger: Logger,
  checkEveryMs = SCHEDULE_CHECK_MS,
): DetectionSchedule {
  const wantedEvery = async (): Promise<number | null> => {
    const s = await settings();
    return s.catchup_enabled && s.catchup_scheduler_enabled ? s.catchup_check_interval * 1000 : null;
  };
  const applySettings = async () => {
    const s = await settings();
    await queues.scheduleDetection(s.catchup_enabled && s.catchup_scheduler_enabled, s.catchup_check_interval);
  };
  // One bring-in-line at a time, each reading the settings when its turn comes: a check that read the
  // settings just before an operator changed them would otherwise apply the old ones after the new.
  let turn: Promise<unknown> = Promise.resolve();
  const inTurn = <T>(work: () => Promise<T>): Promise<T> => {
    const run = turn.then(work, work);
    turn = run.catch(() => {});
    return run;
  };
  const reschedule = () => inTurn(applySettings);
  const compare = async (): Promise<{ state: DetectionSchedulerState; inLine: boolean }> => {
    let wanted: number | null;
    let held: { every: number } | null;
    try {
      [wanted, held] = await Promise.all([wantedEvery(), queues.detectionSchedule()]);
    } catch {
      return { state: 'unknown', inLine: true };
    }
    if (wanted === null) return { state: 'off', inLine: held === null };
    if (held === null) return { state: 'missing', inLine: false };
    return { state: 'present', inLine: held.every === wanted };
  };

  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const check = () =>
    inTurn(async () => {
      const { state, inLine } = await compare();
      if (inLine) return;
      await applySettings();
      if (state === 'missing') logger.warn('⏰ the detection scheduler was missing from Redis (emptied or restarted); scheduled it again');
    });
  const next = () => {
    if (stopped) return;
    timer = setTimeout(() => {
      check()
        .catch((err: unknown) => {
          if (!stopped) logger.warn({ err }, '⏰ could not check the detection scheduler');
        })
        .finally(next);
    }, checkEveryMs);
    timer.unref();
  };
  next();
  return {
    reschedule,
    state: async () => (await compare()).state,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

// The job schedulers — detection and the retention prune — live only in Redis, so a Redis that comes back
// empty (FLUSHALL, a restart without persistence) has lost them. This keeps them in line with the
// settings: it compares what Redis holds with what the settings ask for every few seconds, puts a
// scheduler back when it is missing, and tells /ready what it found for detection.
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
  /** The same for the retention prune's scheduler. */
  pruneState(): Promise<DetectionSchedulerState>;
  /** Stops the periodic check. */
  stop(): void;
}

/** One job scheduler kept in line with the settings. */
interface KeptScheduler {
  what: string;
  /** Milliseconds between runs the settings ask for, or null for none. */
  wantedEvery: (s: RuntimeSettings) => number | null;
  held: () => Promise<{ every: number } | null>;
  apply: (s: RuntimeSettings) => Promise<void>;
}

export function keepDetectionScheduled(
  queues: NodeQueues,
  settings: () => Promise<RuntimeSettings>,
  logger: Logger,
  checkEveryMs = SCHEDULE_CHECK_MS,
): DetectionSchedule {
  const kept: KeptScheduler[] = [
    {
      what: 'detection',
      wantedEvery: (s) => (s.catchup_enabled && s.catchup_scheduler_enabled ? s.catchup_check_interval * 1000 : null),
      held: () => queues.detectionSchedule(),
      apply: (s) => queues.scheduleDetection(s.catchup_enabled && s.catchup_scheduler_enabled, s.catchup_check_interval),
    },
    {
      // Retention is maintenance of this node's own log: it runs whenever schedules run, sync on or off.
      what: 'prune',
      wantedEvery: (s) => (s.catchup_scheduler_enabled ? s.catchup_prune_interval * 1000 : null),
      held: () => queues.pruneSchedule(),
      apply: (s) => queues.schedulePrune(s.catchup_scheduler_enabled, s.catchup_prune_interval),
    },
  ];
  const applySettings = async () => {
    const s = await settings();
    for (const k of kept) await k.apply(s);
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
  const compare = async (only?: KeptScheduler): Promise<{ state: DetectionSchedulerState; inLine: boolean }[]> => {
    const which = only ? [only] : kept;
    let s: RuntimeSettings;
    let held: ({ every: number } | null)[];
    try {
      [s, held] = await Promise.all([settings(), Promise.all(which.map((k) => k.held()))]);
    } catch {
      return which.map(() => ({ state: 'unknown', inLine: true }));
    }
    return which.map((k, i) => judge(k.wantedEvery(s), held[i]!));
  };
  const judge = (wanted: number | null, held: { every: number } | null): { state: DetectionSchedulerState; inLine: boolean } => {
    if (wanted === null) return { state: 'off', inLine: held === null };
    if (held === null) return { state: 'missing', inLine: false };
    return { state: 'present', inLine: held.every === wanted };
  };

  let timer: NodeJS.Timeout | undefined;
  let stopped = false;
  const check = () =>
    inTurn(async () => {
      const found = await compare();
      if (found.every((f) => f.inLine)) return;
      await applySettings();
      kept.forEach((k, i) => {
        if (found[i]!.state === 'missing') logger.warn(`⏰ the ${k.what} scheduler was missing from Redis (emptied or restarted); scheduled it again`);
      });
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
    state: async () => (await compare(kept[0]))[0]!.state,
    pruneState: async () => (await compare(kept[1]))[0]!.state,
    stop() {
      stopped = true;
      clearTimeout(timer);
    },
  };
}

// A node's queues, the jobs added to them (children of a running parent too), schedulers and workers.
import { Queue, QueueEvents, UnrecoverableError, Worker, WaitingChildrenError, type Job, type Processor } from 'bullmq';
import { closeConnections } from './close.ts';
import { queueConnection, redisAnswers, redisConnection } from './connection.ts';
import {
  DETECT_SCHEDULER_ID,
  JOB_NAMES,
  PRUNE_SCHEDULER_ID,
  JOB_QUEUE,
  QUEUE_NAMES,
  type ChildJobName,
  type JobName,
  type JobTypes,
  type QueueKey,
} from './jobs.ts';
import { jobOptions, TRIGGER_PRIORITY, type RetryPolicy, type Trigger } from './options.ts';

export { UnrecoverableError, WaitingChildrenError };
export type { Job };

export interface QueueSetOptions {
  redisUrl: string;
  /** Per-node key prefix: several nodes may share one Redis. */
  prefix: string;
  /** Connection errors of the queues and event streams (they reconnect by themselves). */
  onError?: (err: Error) => void;
}

/** Children added per Redis transaction: one addBulk builds its whole transaction in memory. */
const ADD_SLICE = 100;

/** A job could not be queued because Redis is not connected (the caller may say so: 503, not 500). */
export class QueueUnavailableError extends Error {
  constructor(cause: unknown) {
    super(`Redis is unreachable: ${cause instanceof Error ? cause.message : String(cause)}`, { cause });
    this.name = 'QueueUnavailableError';
  }
}

export class NodeQueues {
  readonly prefix: string;
  readonly queues: { [K in QueueKey]: Queue };
  readonly #redisUrl: string;
  readonly #onError: (err: Error) => void;
  #events: Partial<Record<QueueKey, QueueEvents>> = {};
  /** Who waits for which job (`queue:id`) to settle. */
  #waiters = new Map<string, Set<() => void>>();

  constructor(options: QueueSetOptions) {
    this.prefix = options.prefix;
    this.#redisUrl = options.redisUrl;
    this.#onError = options.onError ?? (() => {});
    const make = (key: QueueKey) => {
      const queue = new Queue(QUEUE_NAMES[key], { connection: queueConnection(options.redisUrl), prefix: options.prefix });
      queue.on('error', this.#onError);
      return queue;
    };
    this.queues = {
      detect: make('detect'),
      catchup: make('catchup'),
      batchSend: make('batchSend'),
      batchReceive: make('batchReceive'),
      fileSync: make('fileSync'),
      prune: make('prune'),
    };
  }

  async add<N extends JobName>(name: N, data: JobTypes[N]['data'], retry: RetryPolicy, extra: { serverId?: number; parent?: Job } = {}): Promise<Job> {
    const queue = this.queues[JOB_QUEUE[name]];
    // A job an operator asked for goes ahead of the schedule's (TRIGGER_PRIORITY).
    const trigger = (data as { trigger?: Trigger }).trigger;
    const opts = jobOptions(name, retry, { ...extra, ...(trigger ? { priority: TRIGGER_PRIORITY[trigger] } : {}) });
    if (extra.parent) opts.parent = { id: extra.parent.id!, queue: extra.parent.queueQualifiedName };
    try {
      return await queue.add(name, data, opts);
    } catch (err) {
      throw (await redisAnswers(this.#redisUrl, 500)) ? err : new QueueUnavailableError(err);
    }
  }

  /**
   * Adds many children of one running parent job (one round trip per queue), each with the priority
   * `priorityOf` gives it (by its place among `items`) and, when `jobIdOf` names it, under that id: adding
   * a child whose id exists adds nothing, so that a parent that runs again after a crash does not add it twice.
   */
  async addChildren<N extends ChildJobName>(
    name: N,
    items: JobTypes[N]['data'][],
    retry: RetryPolicy,
    parent: Job,
    how: { priorityOf?: (index: number) => number; jobIdOf?: (item: JobTypes[N]['data']) => string } = {},
  ): Promise<Job[]> {
    if (!items.length) return [];
    const parentRef = { id: parent.id!, queue: parent.queueQualifiedName };
    const optsOf = (data: JobTypes[N]['data'], index: number) => ({
      ...jobOptions(name, retry, how.priorityOf ? { priority: how.priorityOf(index) } : {}),
      parent: parentRef,
      ...(how.jobIdOf ? { jobId: how.jobIdOf(data) } : {}),
    });
    // In slices: a catch-up has a child per batch, without bound.
    const added: Job[] = [];
    for (let i = 0; i < items.length; i += ADD_SLICE) {
      const slice = items.slice(i, i + ADD_SLICE);
      added.push(...(await this.queues[JOB_QUEUE[name]].addBulk(slice.map((data, j) => ({ name, data, opts: optsOf(data, i + j) })))));
    }
    return added;
  }

  /** Runs detection every `intervalSeconds`, or stops it (enabled = false). Idempotent. */
  async scheduleDetection(enabled: boolean, intervalSeconds: number): Promise<void> {
    await this.#schedule(
      'detect',
      DETECT_SCHEDULER_ID,
      enabled ? intervalSeconds : null,
      jobOptions('detect', { attempts: 1, delayMs: 0 }, { priority: TRIGGER_PRIORITY.schedule }),
    );
  }

  async detectionSchedule(): Promise<{ every: number } | null> {
    return this.#scheduleOf('detect', DETECT_SCHEDULER_ID);
  }

  /** Runs the retention prune every `intervalSeconds`, or stops it (enabled = false). Idempotent. */
  async schedulePrune(enabled: boolean, intervalSeconds: number): Promise<void> {
    // A scheduler's jobs take no deduplication; the prune itself runs one at a time (a database lock).
    await this.#schedule(
      'prune',
      PRUNE_SCHEDULER_ID,
      enabled ? intervalSeconds : null,
      jobOptions('detect', { attempts: 1, delayMs: 0 }, { priority: TRIGGER_PRIORITY.schedule }),
    );
  }

  /** Puts the job scheduler `id` in place (a `name` job every `intervalSeconds`), or removes it (null). */
  async #schedule(name: 'detect' | 'prune', id: string, intervalSeconds: number | null, opts: ReturnType<typeof jobOptions>): Promise<void> {
    const queue = this.queues[JOB_QUEUE[name]];
    if (intervalSeconds === null) {
      await queue.removeJobScheduler(id);
      return;
    }
    await queue.upsertJobScheduler(id, { every: intervalSeconds * 1000 }, { name, data: { trigger: 'schedule' }, opts });
  }

  async pruneSchedule(): Promise<{ every: number } | null> {
    return this.#scheduleOf('prune', PRUNE_SCHEDULER_ID);
  }

  async #scheduleOf(key: QueueKey, id: string): Promise<{ every: number } | null> {
    const schedulers = await this.queues[key].getJobSchedulers();
    const mine = schedulers.find((s) => s.key === id || s.id === id);
    return mine?.every ? { every: Number(mine.every) } : null;
  }

  /** Resolves when the job completes or fails (as Redis announces it) or after `ms`, whichever is first. */
  async settledOrAfter(key: QueueKey, id: string, ms: number): Promise<void> {
    const events = this.#eventsOf(key);
    await events.waitUntilReady();
    const waiter = `${key}:${id}`;
    await new Promise<void>((resolve) => {
      const wake = () => {
        clearTimeout(timer);
        this.#waiters.get(waiter)?.delete(wake);
        if (!this.#waiters.get(waiter)?.size) this.#waiters.delete(waiter);
        resolve();
      };
      const timer = setTimeout(wake, ms);
      let set = this.#waiters.get(waiter);
      if (!set) {
        set = new Set();
        this.#waiters.set(waiter, set);
      }
      set.add(wake);
    });
  }

  #eventsOf(key: QueueKey): QueueEvents {
    let events = this.#events[key];
    if (!events) {
      events = new QueueEvents(QUEUE_NAMES[key], { connection: redisConnection(this.#redisUrl), prefix: this.prefix });
      events.on('error', this.#onError);
      const wake = ({ jobId }: { jobId: string }) => {
        for (const w of this.#waiters.get(`${key}:${jobId}`) ?? []) w();
      };
      events.on('completed', wake);
      events.on('failed', wake);
      this.#events[key] = events;
    }
    return events;
  }

  /**
   * A job's state with its outcome. The state is read first: completion stores the return value and
   * changes the state atomically, so a job seen completed always comes with its result.
   */
  async jobStatus(key: QueueKey, id: string): Promise<{ state: string; result?: unknown; failedReason?: string } | undefined> {
    const state = await this.queues[key].getJobState(id);
    if (state === 'unknown') return undefined;
    const job = await this.queues[key].getJob(id);
    if (!job) return undefined;
    return {
      state,
      ...(state === 'completed' ? { result: job.returnvalue } : {}),
      ...(state === 'failed' ? { failedReason: job.failedReason } : {}),
    };
  }

  /**
   * A queue's jobs not yet settled, at most `limit` of each kind: running now (active), waiting their turn
   * (waiting, prioritized, waiting for their children) and delayed (a retry's backoff, a scheduler's next
   * run). What the sync dashboard shows as in flight.
   */
  async unsettledJobs(key: QueueKey, limit = 100): Promise<{ running: Job[]; waiting: Job[]; delayed: Job[] }> {
    const queue = this.queues[key];
    const [running, waiting, delayed] = await Promise.all([
      queue.getJobs(['active'], 0, limit - 1),
      queue.getJobs(['waiting', 'prioritized', 'waiting-children'], 0, limit - 1),
      queue.getJobs(['delayed'], 0, limit - 1),
    ]);
    return { running, waiting, delayed };
  }

  /** How many worker processes listen on every queue of this node (workers register their connections). */
  async workersListening(): Promise<number> {
    const counts = await Promise.all(this.allQueues().map((q) => q.getWorkersCount()));
    return Math.min(...counts);
  }

  allQueues(): Queue[] {
    return Object.values(this.queues);
  }

  /** Closes every queue and event stream (at once when Redis does not answer). */
  async close(): Promise<void> {
    await closeConnections(this.#redisUrl, { queues: [...Object.values(this.#events), ...this.allQueues()] });
  }
}

export type Handlers = { [N in JobName]: (job: Job<JobTypes[N]['data']>, token?: string) => Promise<JobTypes[N]['result']> };

export interface WorkerSetOptions extends QueueSetOptions {
  concurrency: Partial<Record<QueueKey, number>>;
  /** Recorded on each job it processes (job.processedBy). */
  workerName: string;
  /** Lock on an active job; a job whose worker died is taken back after it expires. */
  lockMs: number;
}

/** Starts one worker per queue. Refuses to start when a job name has no handler. */
export function startWorkers(handlers: Handlers, options: WorkerSetOptions): { workers: Worker[]; close: () => Promise<void> } {
  const missing = JOB_NAMES.filter((name) => typeof (handlers as Record<string, unknown>)[name] !== 'function');
  if (missing.length) throw new Error(`no handler for job(s): ${missing.join(', ')}`);
  const workers = (Object.keys(QUEUE_NAMES) as QueueKey[]).map((key) => {
    const processor: Processor = async (job, token) => {
      const handler = (handlers as Record<string, (job: Job, token?: string) => Promise<unknown>>)[job.name];
      if (!handler || JOB_QUEUE[job.name as JobName] !== key) throw new UnrecoverableError(`unknown job ${job.name} on ${QUEUE_NAMES[key]}`);
      return handler(job, token);
    };
    return new Worker(QUEUE_NAMES[key], processor, {
      connection: redisConnection(options.redisUrl),
      prefix: options.prefix,
      concurrency: options.concurrency[key] ?? 1,
      name: options.workerName,
      lockDuration: options.lockMs,
      stalledInterval: options.lockMs,
    });
  });
  return {
    workers,
    // Stops taking jobs, lets running ones finish, then closes connections (at once when Redis does not answer).
    close: () => closeConnections(options.redisUrl, { workers }),
  };
}

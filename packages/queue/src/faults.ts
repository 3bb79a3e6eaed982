// The faults a node's processes rode out (SPEC I14), counted across all of them: the API process and any
// number of worker processes each add what they saw to one Redis hash per node, and /metrics reports the
// sums. Counts made while Redis is away wait in memory and are added once it answers again. A Redis that
// comes back empty starts the sums from zero, which Prometheus reads as a counter reset.
import { Redis } from 'ioredis';

export const FAULT_KINDS = ['job_retried', 'job_stalled', 'database_connection_lost', 'redis_reconnected'] as const;
export type FaultKind = (typeof FAULT_KINDS)[number];

export interface FaultCount {
  kind: FaultKind;
  /** The queue a job fault happened on; empty for faults of a connection. */
  queue: string;
  count: number;
}

const FLUSH_RETRY_MS = 2000;
const SEPARATOR = '|';

export class FaultLedger {
  readonly #redis: Redis;
  readonly #key: string;
  readonly #pending = new Map<string, number>();
  #flushing = false;
  #retry: NodeJS.Timeout | undefined;
  #readies = 0;

  constructor(redisUrl: string, prefix: string) {
    this.#key = `${prefix}:faults`;
    // Reconnects by itself for as long as the process lives; each reconnection after the first counts.
    this.#redis = new Redis(redisUrl, { maxRetriesPerRequest: 1, enableOfflineQueue: false });
    this.#redis.on('error', () => {});
    this.#redis.on('ready', () => {
      if (this.#readies++ > 0) this.record('redis_reconnected');
      else this.#flush();
    });
  }

  record(kind: FaultKind, queue = ''): void {
    const field = `${kind}${SEPARATOR}${queue}`;
    this.#pending.set(field, (this.#pending.get(field) ?? 0) + 1);
    this.#flush();
  }

  /** The node's counts, summed over its processes; throws when Redis does not answer. */
  async totals(): Promise<FaultCount[]> {
    const stored = await this.#redis.hgetall(this.#key);
    const sums = new Map<string, number>(Object.entries(stored).map(([field, n]) => [field, Number(n)]));
    // This process's counts not yet added are part of the truth too.
    for (const [field, n] of this.#pending) sums.set(field, (sums.get(field) ?? 0) + n);
    return [...sums].flatMap(([field, count]) => {
      const [kind, queue = ''] = field.split(SEPARATOR) as [FaultKind, string?];
      return FAULT_KINDS.includes(kind) ? [{ kind, queue, count }] : [];
    });
  }

  close(): void {
    clearTimeout(this.#retry);
    this.#redis.disconnect();
  }

  #flush(): void {
    if (this.#flushing || !this.#pending.size || this.#redis.status !== 'ready') return;
    this.#flushing = true;
    const batch = [...this.#pending];
    this.#pending.clear();
    const tx = this.#redis.multi();
    for (const [field, n] of batch) tx.hincrby(this.#key, field, n);
    tx.exec()
      .then((replies) => {
        if (!replies || replies.some(([err]) => err)) throw new Error('not counted');
        this.#flushing = false;
        this.#flush();
      })
      .catch(() => {
        this.#flushing = false;
        for (const [field, n] of batch) this.#pending.set(field, (this.#pending.get(field) ?? 0) + n);
        clearTimeout(this.#retry);
        this.#retry = setTimeout(() => this.#flush(), FLUSH_RETRY_MS).unref();
      });
  }
}

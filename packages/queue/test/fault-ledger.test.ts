// The fault ledger sums what every process of a node counted, and keeps counts made while Redis is away.
import { afterAll, describe, expect, it } from 'vitest';
import { usePrivateRedis } from '@catchup/testing';
import { FaultLedger, type FaultCount } from '../src/faults.ts';

const redis = await usePrivateRedis();
const ledgers: FaultLedger[] = [];
afterAll(() => {
  for (const l of ledgers) l.close();
});

const ledger = (prefix: string) => {
  const l = new FaultLedger(redis.url, prefix);
  ledgers.push(l);
  return l;
};
const sorted = (counts: FaultCount[]) => [...counts].sort((x, y) => `${x.kind}${x.queue}`.localeCompare(`${y.kind}${y.queue}`));
async function eventually(check: () => Promise<boolean>, timeoutMs = 10_000): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error('not within time');
    await new Promise((r) => setTimeout(r, 50));
  }
}

describe('fault ledger', () => {
  it("sums the counts of a node's processes and keeps nodes apart", async () => {
    const [api, worker, otherNode] = [ledger('node-a'), ledger('node-a'), ledger('node-b')];
    api.record('database_connection_lost');
    worker.record('job_retried', 'batch-send');
    worker.record('job_retried', 'batch-send');
    worker.record('job_stalled', 'file-sync');
    otherNode.record('job_retried', 'batch-send');
    const expected = [
      { kind: 'database_connection_lost', queue: '', count: 1 },
      { kind: 'job_retried', queue: 'batch-send', count: 2 },
      { kind: 'job_stalled', queue: 'file-sync', count: 1 },
    ];
    await eventually(async () => JSON.stringify(sorted(await api.totals())) === JSON.stringify(expected));
    expect(sorted(await worker.totals())).toEqual(expected);
    expect(await otherNode.totals()).toEqual([{ kind: 'job_retried', queue: 'batch-send', count: 1 }]);
  });

  it('keeps counts made while Redis is away and adds them, with the reconnection, once it is back', async () => {
    const worker = ledger('node-c');
    const api = ledger('node-c');
    await eventually(async () => (await api.totals()).length === 0);
    await redis.kill();
    worker.record('database_connection_lost');
    worker.record('job_retried', 'catch-up');
    await expect(api.totals()).rejects.toThrow();
    await redis.start();
    await eventually(async () => {
      const counts = sorted(await api.totals());
      return (
        JSON.stringify(counts.filter((c) => c.kind !== 'redis_reconnected')) ===
        JSON.stringify([
          { kind: 'database_connection_lost', queue: '', count: 1 },
          { kind: 'job_retried', queue: 'catch-up', count: 1 },
        ])
      );
    });
    // Both ledgers' connections came back: each counts its own reconnection.
    await eventually(async () => (await api.totals()).find((c) => c.kind === 'redis_reconnected')?.count === 2);
  });
});

// Bounded concurrency for file work: many small disk operations at once keep libuv's threads busy,
// without opening more files than a folder sync or a bundle may hold.

/**
 * Runs `work` on every item, at most `limit` at once, and waits for all of them, even after one failed
 * (so that nothing is still running when the caller cleans up). The outcomes come back in item order.
 */
export async function settleInParallel<T, R>(
  items: readonly T[],
  limit: number,
  work: (item: T, index: number) => Promise<R>,
): Promise<PromiseSettledResult<R>[]> {
  const outcomes: PromiseSettledResult<R>[] = new Array(items.length);
  let next = 0;
  await Promise.all(
    Array.from({ length: Math.min(limit, items.length) }, async () => {
      while (next < items.length) {
        const index = next++;
        try {
          outcomes[index] = { status: 'fulfilled', value: await work(items[index]!, index) };
        } catch (reason) {
          outcomes[index] = { status: 'rejected', reason };
        }
      }
    }),
  );
  return outcomes;
}

/** The first failure among `outcomes` (in item order), thrown; nothing when all succeeded. */
export function throwFirstFailure(outcomes: readonly PromiseSettledResult<unknown>[]): void {
  const failed = outcomes.find((o) => o.status === 'rejected');
  if (failed) throw failed.reason;
}

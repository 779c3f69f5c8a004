// A bounded-concurrency map that keeps input order (images in parallel up to --jobs).

/**
 * Run `worker` over `items` with at most `limit` at once, keeping the input order in the result.
 * When a worker throws, no new item starts, the workers already running are awaited (nothing is left
 * running behind the caller's back), and then the first error is thrown.
 */
export async function pool<T, R>(items: readonly T[], limit: number, worker: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failure: { error: unknown } | undefined;
  const lanes = Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, async () => {
    while (next < items.length && !failure) {
      const i = next++;
      try {
        results[i] = await worker(items[i]!, i);
      } catch (error) {
        failure ??= { error };
      }
    }
  });
  await Promise.all(lanes);
  if (failure) throw failure.error;
  return results;
}

// `Promise.all` over a list with at most `limit` calls in flight: per-tag manifest fetches run side by side
// without opening a request per tag at once against a registry that may rate-limit.

/** Maps `items` with `fn`, at most `limit` at a time; results keep the order of `items`. The first failure rejects. */
export async function mapBounded<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results = new Array<R>(items.length);
  let next = 0;
  let failed = false;
  const worker = async (): Promise<void> => {
    // Once one call failed the answer is an error anyway: start no more calls.
    while (!failed && next < items.length) {
      const index = next++;
      try {
        results[index] = await fn(items[index]!, index);
      } catch (error) {
        failed = true;
        throw error;
      }
    }
  };
  await Promise.all(Array.from({ length: Math.max(1, Math.min(limit, items.length)) }, worker));
  return results;
}

/**
 * Runs `fn` over `items` with at most `limit` calls in flight, results in order. For a task's independent storage
 * calls (a plan's batches, a pass's batches), which DynamoDB serves in parallel as readily as one by one.
 * Hand-written: p-limit, the usual package, is ESM-only since version 4 and the tasks are CommonJS bundles.
 */
export async function mapLimit<T, R>(items: readonly T[], limit: number, fn: (item: T, index: number) => Promise<R>): Promise<R[]> {
  const results: R[] = new Array(items.length);
  let next = 0;
  const worker = async () => {
    while (next < items.length) {
      const i = next++;
      results[i] = await fn(items[i], i);
    }
  };
  await Promise.all(Array.from({ length: Math.min(limit, items.length) }, worker));
  return results;
}

/**
 * Scan-all over a backend's boards (BMCs, Redfish services), in parallel,
 * within one time budget: a board whose scan has not finished when the
 * budget runs out is listed as `fallback(i)` (as it last answered, or with
 * its fixed devices), so one slow or dead board neither fails, hides nor
 * delays the others. A scan that fails is listed the same way; scans still
 * running carry on and serve the next scan-all. Scans start in `order`
 * (default: board order); a limit inside `scan` may hold some back.
 */
export async function scanWithinBudget<T> (
  count: number,
  budgetMs: number,
  scan: (index: number) => Promise<T>,
  fallback: (index: number) => T,
  order: number[] = Array.from({ length: count }, (_, i) => i)
): Promise<T[]> {
  let timer: ReturnType<typeof setTimeout> | undefined
  const budget = new Promise<undefined>((resolve) => { timer = setTimeout(resolve, budgetMs, undefined) })
  const scans = new Map(order.map((i) => [i, scan(i).catch(() => undefined)]))
  try {
    return await Promise.all(Array.from({ length: count }, async (_, i) => (await Promise.race([scans.get(i), budget])) ?? fallback(i)))
  } finally {
    clearTimeout(timer)
  }
}

/**
 * A synthetic poller for in-process benches (bench/scrape.ts): `rate`
 * pieces of work a second, each `costUs` of CPU on the event loop, due
 * evenly and queued as the poller's answers are (each its own callback), so
 * that a long task on the loop makes them wait and then run all together.
 * At most `rate / 20` wait at once (the poller's concurrency bound): on a
 * machine that cannot keep up, the rest are skipped, not queued without
 * end. It reports how long the work waited past when it was due.
 */
export interface LoopLoad {
  stop: () => { done: number, skipped: number, perSecond: number, waitP50Ms: number, waitP99Ms: number, waitMaxMs: number }
}

function spin (us: number): void {
  const end = performance.now() + us / 1000
  while (performance.now() < end) { /* CPU, as a read's decode and bookkeeping */ }
}

export function loopLoad (rate: number, costUs: number): LoopLoad {
  const start = performance.now()
  let queued = 0
  let waiting = 0
  let skipped = 0
  const most = Math.max(1, Math.round(rate / 20))
  const waits: number[] = []
  const timer = setInterval(() => {
    const due = Math.floor((performance.now() - start) * rate / 1000)
    for (; queued < due; queued++) {
      if (waiting >= most) {
        skipped++
        continue
      }
      const dueAt = start + queued * 1000 / rate
      waiting++
      setImmediate(() => {
        waiting--
        waits.push(performance.now() - dueAt)
        spin(costUs)
      })
    }
  }, 5)
  return {
    stop: () => {
      clearInterval(timer)
      const seconds = (performance.now() - start) / 1000
      const sorted = [...waits].sort((a, b) => a - b)
      const at = (q: number): number => Math.round((sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] ?? 0) * 10) / 10
      return { done: waits.length, skipped, perSecond: Math.round(waits.length / seconds), waitP50Ms: at(0.5), waitP99Ms: at(0.99), waitMaxMs: at(1) }
    }
  }
}

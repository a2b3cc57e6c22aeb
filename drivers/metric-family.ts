import type { MetricFamily } from './bus.js'

/**
 * Scrape-time metric families over a list of labelled items: each family's
 * samples are the items' values as they are now, so nothing is counted
 * twice. A gauge whose value is undefined is left out.
 */
export function metricFamilies<T, L extends string> (labelNames: readonly L[], items: Array<[Record<L, string>, T]>): {
  counter: (name: string, help: string, value: (item: T) => number) => MetricFamily
  gauge: (name: string, help: string, value: (item: T) => number | undefined) => MetricFamily
} {
  const family = (type: 'counter' | 'gauge') => (name: string, help: string, value: (item: T) => number | undefined): MetricFamily => {
    const samples: MetricFamily['samples'] = []
    for (const [labels, item] of items) {
      const v = value(item)
      if (v !== undefined) samples.push({ labels, value: v })
    }
    return { name, help, type, labelNames, samples }
  }
  return { counter: family('counter'), gauge: family('gauge') }
}

import { setImmediate as nextTurn } from 'node:timers/promises'
import { createGzip, type Gzip, type ZlibOptions } from 'node:zlib'
import fp from 'fastify-plugin'
import { Type } from '@sinclair/typebox'
import { Registry, collectDefaultMetrics } from 'prom-client'
import type { MetricFamily } from '../drivers/bus.js'
import { PIECE, renderChunks, SCRAPE_GZIP } from '../monitoring/exposition.js'
import { ScrapeRenderer } from '../monitoring/scrape-renderer.js'
import { declarationOf, readOnly } from './route-config.js'

export { renderChunks, renderFamilies } from '../monitoring/exposition.js'

interface MetricsOptions {
  /** Where Prometheus scrapes (default /metrics, outside the API prefix). */
  path?: string
  /** false: requests are not counted (a diagnostic, bench/breakdown.ts); default true. */
  countRequests?: boolean
  /**
   * Where the body is written: 'worker' (default), a worker thread
   * (monitoring/scrape-renderer.ts); 'loop', on the event loop in 50 ms
   * slices (a diagnostic and the benchmarks' baseline).
   */
  render?: 'worker' | 'loop'
  /** How long a render in the worker may take before the scrape answers 500 (ms; default 30,000). */
  renderTimeoutMs?: number
}

declare module 'fastify' {
  interface FastifyInstance {
    /** This service's Prometheus registry: its own, never prom-client's global one. */
    metricsRegistry: Registry
    /** Adds scrape-time metric families besides the backends' (the poller's per-sensor series). */
    addMetricFamilies: (source: () => MetricFamily[]) => void
  }
}

/** Latency buckets (seconds): emulator reads take ~1 ms, a bus timeout 250 ms, a retried read up to ~1 s. */
const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/**
 * Whether an Accept-Encoding header takes gzip (Prometheus sends "gzip"):
 * named, or '*', with no q=0.
 */
export function acceptsGzip (header: string | undefined): boolean {
  if (header === undefined) return false
  for (const part of header.split(',')) {
    const [coding, ...params] = part.trim().toLowerCase().split(';')
    if (coding !== 'gzip' && coding !== 'x-gzip' && coding !== '*') continue
    const q = params.map((p) => p.trim()).find((p) => p.startsWith('q='))
    return q === undefined || Number(q.slice(2)) > 0
  }
  return false
}

/** How long a scrape writes before the event loop turns (the poller's answers wait at most this long). */
const SLICE_MS = 50

/** The scrape route's command: scrapes are not counted. */
const METRICS_COMMAND = 'metrics'

const REQUESTS = {
  name: 'opendcre_http_requests_total',
  help: 'HTTP requests answered, by command (as the route declares it, or unknown), method and status code.'
}
const LATENCY = {
  name: 'opendcre_http_request_duration_seconds',
  help: 'Time from receiving a request to answering it, by command and method.'
}

/** One command and method: answers by status, and the latency histogram. */
interface Series {
  labels: Record<'command' | 'method', string>
  byStatus: Map<number, { labels: Record<string, string>, count: number }>
  /** Per bucket, the answers whose latency fell in it (not cumulative); the last: above every bound. */
  buckets: number[]
  /** Each bucket's labels (`le` added), made once: the scrape caches label text by object. */
  bucketLabels: Array<Record<string, string>>
  sum: number
  count: number
}

/**
 * Requests answered, counted in plain numbers when each answer goes out, and
 * written as Prometheus families when scraped. Counting through prom-client
 * (a labelled child's inc() and a histogram's observe()) hashes the label
 * values on every call: measured 3 µs of server CPU per request, as much as
 * the access line (docs/benchmarks.md). Here a request costs two map lookups
 * and a bucket search; the label objects are made once per series.
 */
export class RequestTally {
  private readonly series = new Map<string, Map<string, Series>>()

  record (command: string, method: string, status: number, seconds: number): void {
    let byMethod = this.series.get(command)
    if (byMethod === undefined) {
      byMethod = new Map()
      this.series.set(command, byMethod)
    }
    let series = byMethod.get(method)
    if (series === undefined) {
      const labels = { command, method }
      series = {
        labels,
        byStatus: new Map(),
        buckets: new Array<number>(LATENCY_BUCKETS.length + 1).fill(0),
        bucketLabels: [...LATENCY_BUCKETS.map(String), '+Inf'].map((le) => ({ ...labels, le })),
        sum: 0,
        count: 0
      }
      byMethod.set(method, series)
    }
    let answered = series.byStatus.get(status)
    if (answered === undefined) {
      answered = { labels: { command, method, status_code: String(status) }, count: 0 }
      series.byStatus.set(status, answered)
    }
    answered.count++
    let bucket = 0
    while (bucket < LATENCY_BUCKETS.length && seconds > LATENCY_BUCKETS[bucket]) bucket++
    series.buckets[bucket]++
    series.sum += seconds
    series.count++
  }

  /** The two families as they are now: requests by status, and the latency histogram (cumulative buckets). */
  families (): MetricFamily[] {
    const requests: MetricFamily = { ...REQUESTS, type: 'counter', labelNames: ['command', 'method', 'status_code'], samples: [] }
    const latency: MetricFamily = { ...LATENCY, type: 'histogram', labelNames: ['command', 'method', 'le'], samples: [] }
    for (const byMethod of this.series.values()) {
      for (const series of byMethod.values()) {
        for (const answered of series.byStatus.values()) requests.samples.push({ labels: answered.labels, value: answered.count })
        let cumulative = 0
        for (const [i, le] of series.bucketLabels.entries()) {
          cumulative += series.buckets[i]
          latency.samples.push({ labels: le, value: cumulative, suffix: '_bucket' })
        }
        latency.samples.push({ labels: series.labels, value: series.sum, suffix: '_sum' })
        latency.samples.push({ labels: series.labels, value: series.count, suffix: '_count' })
      }
    }
    return [requests, latency]
  }
}

/**
 * Prometheus metrics at GET /metrics:
 *
 * - opendcre_http_requests_total{command,method,status_code} and
 *   opendcre_http_request_duration_seconds{command,method}: command is the
 *   one the route declares (routes/declaration.ts: power, read, scan, ...),
 *   'unknown' for a request no route matched (RequestTally);
 * - opendcre_device_bus_*{bus}, opendcre_ipmi_*{board,bmc}: each backend's
 *   own counters (Bus.status().metrics), read when scraped;
 * - sources added with addMetricFamilies: the poller's per-sensor series
 *   (opendcre_temperature_celsius, ..., opendcre_board_up), from kept values;
 * - prom-client's default process and Node.js metrics, and the
 *   authentication counters, in a registry of this app's own (so several
 *   apps in one process never clash).
 *
 * The body is written and gzipped in a worker thread
 * (monitoring/scrape-renderer.ts) unless `render: 'loop'`.
 */
export default fp<MetricsOptions>(async (fastify, opts) => {
  const path = opts.path ?? '/metrics'
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  fastify.addHook('onClose', async () => { registry.clear() })

  const tally = new RequestTally()
  if (opts.countRequests !== false) {
    fastify.addHook('onResponse', (request, reply, done) => {
      const command = declarationOf(request)?.command ?? 'undeclared'
      if (command !== METRICS_COMMAND) tally.record(command, request.method, reply.statusCode, reply.elapsedTime / 1000)
      done()
    })
  }

  fastify.decorate('metricsRegistry', registry)
  const sources: Array<() => MetricFamily[]> = []
  const labelCache = new WeakMap<object, string>()
  fastify.decorate('addMetricFamilies', (source: () => MetricFamily[]) => { sources.push(source) })
  const renderer = opts.render === 'loop' ? undefined : new ScrapeRenderer({ timeoutMs: opts.renderTimeoutMs ?? 30_000 })
  if (renderer !== undefined) fastify.addHook('onClose', async () => { await renderer.close() })

  fastify.get(path, {
    config: readOnly(METRICS_COMMAND),
    schema: {
      description: 'Prometheus metrics in the text exposition format.',
      response: { 200: Type.String({ description: 'Prometheus text format 0.0.4' }) }
    }
  }, async (request, reply) => {
    const families = (): MetricFamily[] => [...tally.families(), ...fastify.buses.statuses().flatMap((status) => status.metrics), ...sources.flatMap((source) => source())]
    const gzip = acceptsGzip(request.headers['accept-encoding'])
    // a render that fails throws before these headers are set: the error answers as JSON
    const body = renderer !== undefined
      ? await renderer.render(gzip, async () => ({ head: await registry.metrics(), families: families() }))
      : renderChunks(families(), labelCache, await registry.metrics())
    reply.type(registry.contentType).header('vary', 'accept-encoding')
    if (gzip) reply.header('content-encoding', 'gzip')
    if (Buffer.isBuffer(body)) return reply.send(body)
    return reply.send(gzip ? gzipInTurns(body, request.log) : Buffer.concat([...body]))
  })
}, { name: 'metrics', fastify: '5.x', dependencies: ['config', 'bus-registry'] })

/**
 * The text gzipped as it is written: each 2 MB piece goes to zlib (its
 * thread pool, beside the event loop) while the next one is written, and
 * the event loop turns every SLICE_MS of writing (turning after every piece
 * made a 5,000-BMC scrape wait behind the poller's work ~240 times: 12 s
 * on a loaded machine). A 5,000-BMC scrape is ~60 MB of
 * text, ~2.5 MB gzipped: written and then gzipped in one go it held the
 * event loop for half a second (the poller's answers waited) and kept
 * the whole text in memory; this way only a few pieces are held at once.
 */
function gzipInTurns (chunks: Iterable<Buffer>, log: { warn: (o: object, msg: string) => void }): Gzip {
  // up to two pieces wait for zlib (Node passes stream options through; the types omit them); each piece is
  // one thread-pool job and one event-loop turn for its answer (a piece's output fits in chunkSize): with
  // 256 KB pieces and 16 KB outputs a 10,000-BMC scrape took ~500 turns, a minute on a starved machine
  const gzip = createGzip({ ...SCRAPE_GZIP, writableHighWaterMark: 2 * PIECE } as ZlibOptions)
  const feed = async (): Promise<void> => {
    let turn = performance.now()
    for (const chunk of chunks) {
      if (gzip.destroyed) return
      if (!gzip.write(chunk)) await drained(gzip)
      else if (performance.now() - turn < SLICE_MS) continue
      else await nextTurn()
      turn = performance.now()
    }
    gzip.end()
  }
  feed().catch((err: Error) => {
    log.warn({ err: err.message }, 'metrics: scrape failed')
    gzip.destroy(err)
  })
  return gzip
}

/** Until the stream takes more, or closes (a scraper that went away: the writing stops, nothing waits on). */
async function drained (stream: Gzip): Promise<void> {
  await new Promise<void>((resolve) => {
    const done = (): void => {
      stream.off('drain', done)
      stream.off('close', done)
      resolve()
    }
    stream.on('drain', done)
    stream.on('close', done)
  })
}

import { setImmediate as nextTurn } from 'node:timers/promises'
import { createGzip, constants as zlibConstants, type Gzip, type ZlibOptions } from 'node:zlib'
import fp from 'fastify-plugin'
import { Type } from '@sinclair/typebox'
import { Registry, collectDefaultMetrics } from 'prom-client'
import type { MetricFamily } from '../drivers/bus.js'
import { declarationOf, readOnly } from './route-config.js'

interface MetricsOptions {
  /** Where Prometheus scrapes (default /metrics, outside the API prefix). */
  path?: string
  /** false: requests are not counted (a diagnostic, bench/breakdown.ts); default true. */
  countRequests?: boolean
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

/**
 * The scrape's gzip level: 1. The text repeats its metric and label names
 * line after line, so the fastest level already shrinks it about tenfold;
 * level 6 (zlib's default) took ~4 times the CPU for a few percent less.
 */
const SCRAPE_GZIP = { level: 1, memLevel: 9, strategy: zlibConstants.Z_DEFAULT_STRATEGY }

/** The scrape's text goes to gzip in pieces of this size (~8 ms of writing each). */
const PIECE = 2 * 1024 * 1024

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

  fastify.get(path, {
    config: readOnly(METRICS_COMMAND),
    schema: {
      description: 'Prometheus metrics in the text exposition format.',
      response: { 200: Type.String({ description: 'Prometheus text format 0.0.4' }) }
    }
  }, async (request, reply) => {
    const families = [...tally.families(), ...fastify.buses.statuses().flatMap((status) => status.metrics), ...sources.flatMap((source) => source())]
    const chunks = renderChunks(families, labelCache, await registry.metrics())
    reply.type(registry.contentType).header('vary', 'accept-encoding')
    if (!acceptsGzip(request.headers['accept-encoding'])) return reply.send(Buffer.concat([...chunks]))
    return reply.header('content-encoding', 'gzip').send(gzipInTurns(chunks, request.log))
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
  const gzip = createGzip({ ...SCRAPE_GZIP, chunkSize: 256 * 1024, writableHighWaterMark: 2 * PIECE } as ZlibOptions)
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

/**
 * Scrape-time metric families (the backends' Bus.status().metrics and the
 * poller's per-sensor series) in the Prometheus text format 0.0.4, after
 * `head` (prom-client's own text), written directly: at 1,000 BMCs that is
 * ~35,000 samples a scrape, which prom-client takes 0.2-0.7 s to reset, set
 * and render, and this a few tens of ms. Families of one name from several
 * backends are merged under one HELP/TYPE.
 *
 * The text goes line by line into Buffers, not into one string: a 4 MB
 * string built with += is a tree of ~35,000 pieces that a young-generation
 * collection in the middle of a scrape moves to the old generation, where
 * it stayed until the next full collection (a few MB of RSS per scrape).
 */
export function renderFamilies (families: MetricFamily[], labelCache: WeakMap<object, string> = new WeakMap(), head = ''): Buffer {
  return Buffer.concat([...renderChunks(families, labelCache, head)])
}

/** The same text in pieces of about PIECE bytes, written as they are asked for. */
export function * renderChunks (families: MetricFamily[], labelCache: WeakMap<object, string> = new WeakMap(), head = ''): Generator<Buffer> {
  const byName = new Map<string, MetricFamily[]>()
  for (const family of families) {
    const list = byName.get(family.name)
    if (list === undefined) byName.set(family.name, [family])
    else list.push(family)
  }
  const out = new TextChunks()
  out.write(head)
  for (const [name, list] of byName) {
    out.write(`# HELP ${name} ${escapeHelp(list[0].help)}\n# TYPE ${name} ${list[0].type}\n`)
    for (const family of list) {
      if (family.lines !== undefined) {
        for (const text of family.lines()) {
          out.write(text)
          if (out.full !== undefined) yield out.take()
        }
        continue
      }
      for (const sample of family.samples) {
        // a labels object a source keeps from scrape to scrape is written once
        let labels = labelCache.get(sample.labels)
        if (labels === undefined) {
          labels = renderLabels(family.labelNames, sample.labels)
          labelCache.set(sample.labels, labels)
        }
        out.write(`${name}${sample.suffix ?? ''}${labels} ${formatValue(sample.value)}\n`)
        if (out.full !== undefined) yield out.take()
      }
    }
  }
  const last = out.end()
  if (last.length > 0) yield last
}

/**
 * UTF-8 text appended to PIECE-byte Buffers (outside the JavaScript heap),
 * lines gathered into a string of up to 16 K characters first (one
 * Buffer.write per line was a third of a scrape's time). A filled Buffer
 * waits in `full` until taken.
 */
class TextChunks {
  full: Buffer | undefined
  private chunk = Buffer.allocUnsafe(0)
  private used = 0
  private pending = ''

  write (text: string): void {
    this.pending += text
    if (this.pending.length >= 16384) this.flush()
  }

  take (): Buffer {
    const full = this.full as Buffer
    this.full = undefined
    return full
  }

  private flush (): void {
    const text = this.pending
    this.pending = ''
    // a UTF-8 byte count is at most 3 per UTF-16 unit
    if (this.chunk.length - this.used < text.length * 3) {
      // the writer takes each full Buffer before the next one fills; a piece left untaken is kept whole
      if (this.used > 0) this.full = this.full === undefined ? this.chunk.subarray(0, this.used) : Buffer.concat([this.full, this.chunk.subarray(0, this.used)])
      this.chunk = Buffer.allocUnsafe(Math.max(PIECE, text.length * 3))
      this.used = 0
    }
    this.used += this.chunk.write(text, this.used)
  }

  /** What is left, after the last write. */
  end (): Buffer {
    this.flush()
    const rest = this.chunk.subarray(0, this.used)
    this.used = 0
    const full = this.full
    this.full = undefined
    return full === undefined ? rest : Buffer.concat([full, rest])
  }
}

/** `{a="x",b="y"}` as one flat string (joined: a string built with += keeps its pieces, ~700 bytes a label set). */
function renderLabels (names: readonly string[], values: Record<string, string>): string {
  const parts: string[] = []
  for (const label of names) {
    const value = values[label]
    if (value === undefined) continue
    parts.push(parts.length === 0 ? '{' : ',', label, '="', escapeLabel(value), '"')
  }
  if (parts.length === 0) return ''
  parts.push('}')
  return parts.join('')
}

function escapeHelp (text: string): string {
  return text.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')
}

function escapeLabel (text: string): string {
  return /[\\"\n]/.test(text) ? text.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n') : text
}

function formatValue (value: number): string {
  if (Number.isNaN(value)) return 'NaN'
  if (value === Infinity) return '+Inf'
  if (value === -Infinity) return '-Inf'
  return String(value)
}

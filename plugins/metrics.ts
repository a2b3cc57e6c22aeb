import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { Type } from '@sinclair/typebox'
import { Counter, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { MetricFamily } from '../drivers/bus.js'
import { declarationOf, readOnly } from '../routes/declaration.js'

export interface MetricsOptions {
  /** Where Prometheus scrapes (default /metrics, outside the API prefix). */
  path?: string
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

type Recorder = (request: FastifyRequest, reply: FastifyReply) => void

/** The scrape route's command: scrapes are not counted. */
const METRICS_COMMAND = 'metrics'

/**
 * Prometheus metrics at GET /metrics, in a registry of this app's own (so
 * several apps in one process never clash):
 *
 * - opendcre_http_requests_total{command,method,status_code} and
 *   opendcre_http_request_duration_seconds{command,method}: command is the
 *   one the route declares (routes/declaration.ts: power, read, scan, ...),
 *   'unknown' for a request no route matched;
 * - opendcre_device_bus_*{bus}, opendcre_ipmi_*{board,bmc}: each backend's
 *   own counters (Bus.status().metrics), read when scraped;
 * - sources added with addMetricFamilies: the poller's per-sensor series
 *   (opendcre_temperature_celsius, ..., opendcre_board_up), from kept values;
 * - prom-client's default process and Node.js metrics.
 *
 * Label children are made once per command, method and status, so a
 * request allocates nothing here beyond what prom-client does per increment.
 */
export default fp<MetricsOptions>(async (fastify, opts) => {
  const path = opts.path ?? '/metrics'
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  fastify.addHook('onClose', async () => { registry.clear() })

  const requests = new Counter({
    name: 'opendcre_http_requests_total',
    help: 'HTTP requests answered, by command (as the route declares it, or unknown), method and status code.',
    labelNames: ['command', 'method', 'status_code'] as const,
    registers: [registry]
  })
  const latency = new Histogram({
    name: 'opendcre_http_request_duration_seconds',
    help: 'Time from receiving a request to answering it, by command and method.',
    labelNames: ['command', 'method'] as const,
    buckets: LATENCY_BUCKETS,
    registers: [registry]
  })

  /** A recorder for one command: children per method and status, made on first use. */
  const recorder = (command: string): Recorder => {
    const children = new Map<string, { timer: Histogram.Internal<'command' | 'method'>, byStatus: Map<number, Counter.Internal> }>()
    return (request, reply) => {
      const method = request.method
      let entry = children.get(method)
      if (entry === undefined) {
        entry = { timer: latency.labels(command, method), byStatus: new Map() }
        children.set(method, entry)
      }
      const status = reply.statusCode
      let counter = entry.byStatus.get(status)
      if (counter === undefined) {
        counter = requests.labels(command, method, String(status))
        entry.byStatus.set(status, counter)
      }
      counter.inc()
      entry.timer.observe(reply.elapsedTime / 1000)
    }
  }

  const recorders = new Map<string, Recorder>()
  fastify.addHook('onResponse', (request, reply, done) => {
    const command = declarationOf(request)?.command ?? 'undeclared'
    if (command !== METRICS_COMMAND) {
      let record = recorders.get(command)
      if (record === undefined) {
        record = recorder(command)
        recorders.set(command, record)
      }
      record(request, reply)
    }
    done()
  })

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
  }, async (_request, reply) => {
    const families = [...fastify.buses.statuses().flatMap((status) => status.metrics), ...sources.flatMap((source) => source())]
    const text = await registry.metrics()
    return reply.type(registry.contentType).send(renderFamilies(families, labelCache, text))
  })
}, { name: 'metrics', fastify: '5.x', dependencies: ['config', 'bus-registry'] })

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
      for (const sample of family.samples) {
        // a labels object a source keeps from scrape to scrape is written once
        let labels = labelCache.get(sample.labels)
        if (labels === undefined) {
          labels = renderLabels(family.labelNames, sample.labels)
          labelCache.set(sample.labels, labels)
        }
        out.write(`${name}${labels} ${formatValue(sample.value)}\n`)
      }
    }
  }
  return out.concat()
}

/** UTF-8 text appended to 256 KB Buffers (outside the JavaScript heap). */
class TextChunks {
  private readonly chunks: Buffer[] = []
  private chunk = Buffer.allocUnsafe(0)
  private used = 0

  write (text: string): void {
    // a UTF-8 byte count is at most 3 per UTF-16 unit
    if (this.chunk.length - this.used < text.length * 3) {
      if (this.used > 0) this.chunks.push(this.chunk.subarray(0, this.used))
      this.chunk = Buffer.allocUnsafe(Math.max(256 * 1024, text.length * 3))
      this.used = 0
    }
    this.used += this.chunk.write(text, this.used)
  }

  concat (): Buffer {
    if (this.used > 0) this.chunks.push(this.chunk.subarray(0, this.used))
    return Buffer.concat(this.chunks)
  }
}

function renderLabels (names: readonly string[], values: Record<string, string>): string {
  let text = ''
  for (const label of names) {
    const value = values[label]
    if (value === undefined) continue
    text += `${text === '' ? '' : ','}${label}="${escapeLabel(value)}"`
  }
  return text === '' ? '' : `{${text}}`
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

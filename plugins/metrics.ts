import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest, onResponseHookHandler } from 'fastify'
import { Type } from '@sinclair/typebox'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import type { MetricFamily } from '../drivers/bus.js'

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
export const LATENCY_BUCKETS = [0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10]

/** The command label of a request no route matched. */
export const UNKNOWN_COMMAND = 'unknown'

type Recorder = (request: FastifyRequest, reply: FastifyReply) => void

/**
 * Prometheus metrics at GET /metrics, in a registry of this app's own (so
 * several apps in one process never clash):
 *
 * - opendcre_http_requests_total{command,method,status_code} and
 *   opendcre_http_request_duration_seconds{command,method}: command is the
 *   route's URL pattern, or 'unknown' for a request no route matched;
 * - opendcre_device_bus_*{bus}: the bus client's own counters, read when
 *   scraped (the client counts, the registry only reports);
 * - prom-client's default process and Node.js metrics.
 *
 * Register before the routes: each route gets its own onResponse hook with
 * its label children made once, so a request allocates nothing here beyond
 * what prom-client does per increment.
 */
export default fp<MetricsOptions>(async (fastify, opts) => {
  const path = opts.path ?? '/metrics'
  const registry = new Registry()
  collectDefaultMetrics({ register: registry })
  fastify.addHook('onClose', async () => { registry.clear() })

  const requests = new Counter({
    name: 'opendcre_http_requests_total',
    help: 'HTTP requests answered, by command (the route URL pattern, or unknown), method and status code.',
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

  fastify.addHook('onRoute', (route) => {
    if (route.url === path) return
    const record = recorder(route.url)
    const hook: onResponseHookHandler = (request, reply, done) => {
      record(request, reply)
      done()
    }
    const existing = route.onResponse
    route.onResponse = existing === undefined ? [hook] : [...(Array.isArray(existing) ? existing : [existing]), hook]
  })

  const unknown = recorder(UNKNOWN_COMMAND)
  fastify.addHook('onResponse', (request, reply, done) => {
    if (request.is404) unknown(request, reply)
    done()
  })

  const backendMetrics = new BackendMetrics(registry)
  fastify.decorate('metricsRegistry', registry)
  const sources: Array<() => MetricFamily[]> = []
  fastify.decorate('addMetricFamilies', (source: () => MetricFamily[]) => { sources.push(source) })

  fastify.get(path, {
    schema: {
      description: 'Prometheus metrics in the text exposition format.',
      response: { 200: Type.String({ description: 'Prometheus text format 0.0.4' }) }
    }
  }, async (_request, reply) => {
    backendMetrics.update([...fastify.buses.statuses().flatMap((status) => status.metrics), ...sources.flatMap((source) => source())])
    const text = await registry.metrics()
    return reply.type(registry.contentType).send(text)
  })
}, { name: 'metrics', fastify: '5.x', dependencies: ['config', 'bus-registry'] })

/**
 * The backends' own metric families (Bus.status().metrics), read at scrape
 * time: each family becomes a prom-client metric in this registry on first
 * sight, and every scrape replaces all of their values, so nothing is
 * counted twice and a backend added later needs nothing here.
 */
export class BackendMetrics {
  private readonly metrics = new Map<string, Counter | Gauge>()

  constructor (private readonly registry: Registry) {}

  update (families: MetricFamily[]): void {
    for (const metric of this.metrics.values()) metric.reset()
    for (const family of families) {
      let metric = this.metrics.get(family.name)
      if (metric === undefined) {
        const config = { name: family.name, help: family.help, labelNames: family.labelNames, registers: [this.registry] }
        metric = family.type === 'counter' ? new Counter(config) : new Gauge(config)
        this.metrics.set(family.name, metric)
      }
      for (const sample of family.samples) {
        if (metric instanceof Counter) metric.inc(sample.labels, sample.value)
        else metric.set(sample.labels, sample.value)
      }
    }
  }
}

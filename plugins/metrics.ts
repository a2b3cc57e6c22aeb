import fp from 'fastify-plugin'
import type { FastifyInstance, FastifyReply, FastifyRequest, onResponseHookHandler } from 'fastify'
import { Type } from '@sinclair/typebox'
import { Counter, Gauge, Histogram, Registry, collectDefaultMetrics } from 'prom-client'
import { deviceBusStatus, type DeviceBusStatus } from './device-bus-status.js'
import type { BmcSessionStatus } from './ipmi-bus.js'

export interface MetricsOptions {
  /** Where Prometheus scrapes (default /metrics, outside the API prefix). */
  path?: string
}

declare module 'fastify' {
  interface FastifyInstance {
    /** This service's Prometheus registry: its own, never prom-client's global one. */
    metricsRegistry: Registry
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

  registerDeviceBusMetrics(registry, () => {
    const bus = deviceBusStatus(fastify)
    return bus === undefined ? [] : [bus]
  })

  registerIpmiMetrics(registry, () => fastify.ipmiBridge?.bmcs ?? [])

  fastify.decorate('metricsRegistry', registry)

  fastify.get(path, {
    schema: {
      description: 'Prometheus metrics in the text exposition format.',
      response: { 200: Type.String({ description: 'Prometheus text format 0.0.4' }) }
    }
  }, async (_request, reply) => {
    const text = await registry.metrics()
    return reply.type(registry.contentType).send(text)
  })
}, { name: 'metrics', fastify: '5.x', dependencies: ['config'] })

/**
 * Metrics read at scrape time from state something else keeps (a bus
 * client's stats, a BMC session's counters): each collect() reports the
 * values as they are, so nothing is counted twice. `items` gives each
 * labelled source; a gauge whose value is undefined is left out.
 */
function scrapedMetrics<T, L extends string> (registry: Registry, labelNames: readonly L[], items: () => Array<[Record<L, string>, T]>): {
  counter: (name: string, help: string, value: (item: T) => number) => void
  gauge: (name: string, help: string, value: (item: T) => number | undefined) => void
} {
  return {
    counter: (name, help, value) => {
      registry.registerMetric(new Counter({
        name,
        help,
        labelNames,
        registers: [],
        collect () {
          this.reset()
          for (const [labels, item] of items()) this.inc(labels, value(item))
        }
      }))
    },
    gauge: (name, help, value) => {
      registry.registerMetric(new Gauge({
        name,
        help,
        labelNames,
        registers: [],
        collect () {
          this.reset()
          for (const [labels, item] of items()) {
            const v = value(item)
            if (v !== undefined) this.set(labels, v)
          }
        }
      }))
    }
  }
}

/** The device buses' counters and gauges. The `bus` label is 'emulator' or the serial device path. */
export function registerDeviceBusMetrics (registry: Registry, buses: () => DeviceBusStatus[]): void {
  const { counter, gauge } = scrapedMetrics(registry, ['bus'] as const, () => buses().map((bus) => [{ bus: bus.name }, bus]))
  counter('opendcre_device_bus_transactions_total', 'Commands sent on the device bus (scans not counted).', (b) => b.stats.transactions)
  counter('opendcre_device_bus_successes_total', 'Device bus commands that got a well-formed answer (after retries, if any).', (b) => b.stats.successes)
  counter('opendcre_device_bus_retries_total', "Retry requests ('?') sent after a corrupt answer.", (b) => b.stats.retries)
  counter('opendcre_device_bus_timeouts_total', 'Device bus reads that ended in silence (commands and scans).', (b) => b.stats.timeouts)
  counter('opendcre_device_bus_checksum_errors_total', 'Device bus answers that failed checksum validation.', (b) => b.stats.checksumErrors)
  counter('opendcre_device_bus_malformed_packets_total', 'Device bus answers with a bad header, length or trailer.', (b) => b.stats.malformedPackets)
  gauge('opendcre_device_bus_queue_depth', 'Requests waiting for the device bus.', (b) => b.stats.queueDepth)
  gauge('opendcre_device_bus_up', '1 when the link to the device bus is open, else 0.', (b) => (b.open ? 1 : 0))
  gauge('opendcre_device_bus_last_success_timestamp_seconds', 'When the device bus last gave a well-formed answer (absent until it has).',
    (b) => (b.stats.lastSuccessAt === null ? undefined : b.stats.lastSuccessAt / 1000))
}

type BridgeBmcs = NonNullable<FastifyInstance['ipmiBridge']>['bmcs']

/**
 * The IPMI bridge's per-BMC session counters, labelled by board id and BMC
 * address (never credentials).
 */
export function registerIpmiMetrics (registry: Registry, bmcs: () => BridgeBmcs): void {
  const { counter, gauge } = scrapedMetrics(registry, ['board', 'bmc'] as const,
    () => bmcs().map((bmc) => [{ board: bmc.boardId, bmc: `${bmc.host}:${bmc.port}` }, bmc.status()]))
  counter('opendcre_ipmi_requests_total', 'IPMI requests sent to a BMC (session set-up not counted).', (s) => s.counters.requests)
  counter('opendcre_ipmi_sessions_established_total', 'RMCP+ sessions established with a BMC (the first login and every re-login).', (s) => s.counters.sessionsEstablished)
  counter('opendcre_ipmi_relogins_total', 'Sessions re-established after expiry, a BMC restart or a lost session.', (s) => s.counters.relogins)
  counter('opendcre_ipmi_timeouts_total', 'IPMI requests that got no answer within their time bound.', (s) => s.counters.timeouts)
  counter('opendcre_ipmi_errors_total', 'IPMI requests that failed for another reason (authentication, completion code, protocol).', (s) => s.counters.errors)
  counter('opendcre_ipmi_garbage_datagrams_total', 'Datagrams from a BMC address that were not a valid answer (ignored).', (s) => s.counters.garbage)
  gauge('opendcre_ipmi_session_up', '1 while a session with the BMC is established, else 0.', (s) => (s.state === 'up' ? 1 : 0))
  gauge('opendcre_ipmi_last_success_timestamp_seconds', 'When the BMC last answered a request (absent until it has).',
    (s) => (s.lastSuccessAt === null ? undefined : s.lastSuccessAt / 1000))
}

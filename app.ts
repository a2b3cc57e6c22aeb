import type { IncomingMessage, ServerResponse } from 'node:http'
import fp from 'fastify-plugin'
import helmet from 'helmet'
import type { FastifyInstance } from 'fastify'
import type { BusPolicy } from './drivers/device-bus/bus-client.js'
import audit from './plugins/audit.js'
import auth from './plugins/auth.js'
import { createProviders } from './auth/from-config.js'
import type { AuthProvider } from './auth/provider.js'
import busRegistry from './plugins/bus-registry.js'
import clientContext from './plugins/client-context.js'
import configPlugin from './plugins/config.js'
import { resolveConfig, type ConfigOptions, type OpenDcreConfig } from './config/service-config.js'
import embeddedBmc from './plugins/embedded-bmc.js'
import emulatorBus from './plugins/emulator-bus.js'
import errors from './plugins/errors.js'
import hat from './plugins/hat.js'
import ipmiBus, { type BmcConnector } from './plugins/ipmi-bus.js'
import metrics from './plugins/metrics.js'
import openapi from './plugins/openapi.js'
import redfishBus, { type RedfishBackendOptions } from './plugins/redfish-bus.js'
import routeDeclarations from './plugins/route-declarations.js'
import poller, { type PollerPluginOptions } from './plugins/poller.js'
import serialBus from './plugins/serial-bus.js'
import tasks from './plugins/tasks.js'
import dashboard from './routes/dashboard.js'
import health from './routes/health.js'
import routes from './routes/index.js'

export interface AppOptions extends ConfigOptions {
  /** An already resolved configuration (the CLI resolves it before building). */
  resolved?: OpenDcreConfig
  /** Bus timing overrides (tests use them to avoid sleeping). */
  busPolicy?: Partial<BusPolicy>
  /** false: the in-process emulator gives no idle hints, so reads time out as on a serial line. */
  emulatorIdleHints?: boolean
  /** Append one line per state-changing command to this file. */
  auditLog?: string
  /** Requests per minute per client address; unset: no limit. */
  rateLimit?: number
  /** Access-Control-Allow-Origin on every answer: '*' (v1.2's, the default), an origin, or '' for none. */
  corsOrigin?: string
  /** Authentication providers made by the caller (tests tune them); by default, those the configuration names. */
  authProviders?: AuthProvider[]
  /** How the IPMI bridge connects to a BMC (default: RMCP+ over UDP; tests inject fakes). */
  ipmiConnect?: BmcConnector
  /** Redfish without a redfish_config.json: servers given directly, or `embedded` (one in-process emulated server). */
  redfish?: Omit<RedfishBackendOptions, 'file'>
  /** The poller's clock and randomness (tests fix them). */
  poller?: PollerPluginOptions
  /** Diagnostics only (bench/breakdown.ts): pieces left out, to measure what each costs per request. */
  leaveOut?: Array<'helmet' | 'cors' | 'metrics' | 'access-log'>
}

/** No command needs a long URL: a longer one answers 414 at once. */
const MAX_URL_LENGTH = 1024

/** The answer to a CORS preflight: every command is GET or POST; clients send credentials in Authorization. */
const PREFLIGHT = {
  'access-control-allow-methods': 'GET, POST',
  'access-control-allow-headers': 'Authorization, Content-Type',
  'access-control-max-age': '600'
}
const CREDENTIALED_PREFLIGHT = { ...PREFLIGHT, 'access-control-allow-credentials': 'true', vary: 'Origin' }

/**
 * The headers that protect a JSON API (every response is application/json):
 * no MIME sniffing, no framing, no referrer, readable cross-origin (v1.2
 * answered with Access-Control-Allow-Origin: *). Helmet's document-only
 * headers (CSP, COOP, COEP, Origin-Agent-Cluster, DNS prefetch, IE and Flash
 * legacy) protect HTML pages, not JSON, and each costs throughput; HSTS
 * belongs to a TLS listener.
 */
const HELMET_FOR_A_JSON_API = {
  contentSecurityPolicy: false,
  crossOriginEmbedderPolicy: false,
  crossOriginOpenerPolicy: false,
  crossOriginResourcePolicy: { policy: 'cross-origin' as const },
  originAgentCluster: false,
  referrerPolicy: { policy: 'no-referrer' as const },
  strictTransportSecurity: false,
  xContentTypeOptions: true,
  xDnsPrefetchControl: false,
  xDownloadOptions: false,
  xFrameOptions: { action: 'deny' as const },
  xPermittedCrossDomainPolicies: false,
  xPoweredBy: false,
  xXssProtection: false
}

/**
 * The headers helmet sets with these options, worked out once: they depend
 * on the options only, never on the request, so every answer gets them in
 * one reply.headers() call (@fastify/helmet would rebuild helmet's
 * middleware for every request, in two hooks).
 */
export function helmetHeaders (options: Parameters<typeof helmet>[0]): Record<string, string> {
  const headers: Record<string, string> = {}
  const response = {
    setHeader: (name: string, value: string) => { headers[name.toLowerCase()] = value },
    removeHeader: (name: string) => { delete headers[name.toLowerCase()] }
  }
  helmet(options)({} as IncomingMessage, response as unknown as ServerResponse, (err?: unknown) => { if (err !== undefined) throw err })
  return headers
}

/**
 * The OpenDCRE service as a Fastify plugin. It never listens: server.ts and
 * the CLI do, and so can `fastify start dist/app.js`.
 */
async function app (fastify: FastifyInstance, opts: AppOptions): Promise<void> {
  const config = opts.resolved ?? resolveConfig(opts)
  await fastify.register(configPlugin, { config })
  await fastify.register(clientContext)
  const leftOut = new Set(opts.leaveOut)
  // HSTS means something only on a TLS listener
  const securityHeaders = leftOut.has('helmet')
    ? {}
    : helmetHeaders(config.tls !== undefined ? { ...HELMET_FOR_A_JSON_API, strictTransportSecurity: { maxAge: 15552000, includeSubDomains: true } } : HELMET_FOR_A_JSON_API)

  // v1.2's nginx front end added Access-Control-Allow-Origin: * to every answer.
  // A browser's CORS preflight (OPTIONS with Access-Control-Request-Method)
  // is answered here, before authentication: it never carries credentials.
  // With a named origin, browsers may send credentials (Basic, Bearer).
  // No command needs a long URL: anything past MAX_URL_LENGTH is refused early.
  // One hook sets every header an answer always carries (helmet's, CORS's) at once.
  const corsOrigin = leftOut.has('cors') ? '' : opts.corsOrigin ?? '*'
  const everyAnswer = corsOrigin !== '' ? { ...securityHeaders, 'access-control-allow-origin': corsOrigin } : securityHeaders
  fastify.addHook('onRequest', (request, reply, done) => {
    reply.headers(everyAnswer)
    if (corsOrigin !== '') {
      if (request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined) {
        reply.code(204).headers(corsOrigin === '*' ? PREFLIGHT : CREDENTIALED_PREFLIGHT).send()
        return
      }
    }
    if (request.url.length > MAX_URL_LENGTH) {
      reply.code(414).send({ message: `URL longer than ${MAX_URL_LENGTH} characters` })
      return
    }
    // every command is a path: the asterisk form ('*', for OPTIONS to a proxy) would be routed as '/'
    const target = request.raw.url ?? ''
    if (!target.startsWith('/') && !/^https?:\/\//i.test(target)) {
      reply.code(400).send({ message: 'the request target must be a path beginning with /' })
      return
    }
    done()
  })

  await fastify.register(errors)
  // before every route: each must declare what it is; HEAD never changes state
  await fastify.register(routeDeclarations)
  await fastify.register(busRegistry)
  // leaving out 'metrics' (a diagnostic) leaves out counting requests; the poller's and backends' series stay
  await fastify.register(metrics, { countRequests: !leftOut.has('metrics') })

  if (opts.rateLimit !== undefined) {
    // loaded only when asked for
    const { default: rateLimit } = await import('@fastify/rate-limit')
    await fastify.register(rateLimit, { max: opts.rateLimit, timeWindow: '1 minute' })
  }

  // Authentication and roles when a provider is configured; the health check stays open
  const providers = opts.authProviders ?? await createProviders(config.auth)
  if (providers.length > 0) await fastify.register(auth, { providers })

  if (config.bus.kind === 'emulator') {
    await fastify.register(emulatorBus, { file: config.bus.file, policy: opts.busPolicy, idleHints: opts.emulatorIdleHints })
  } else {
    // the HAT's modem is set up on the line before the bus opens it
    if (config.hardware === 'rpi-hat-v1') await fastify.register(hat, { device: config.bus.device })
    await fastify.register(serialBus, { device: config.bus.device, baudRate: config.busBaud, policy: opts.busPolicy })
  }

  // the IPMI bridge: BMCs from bmc_config.json as boards 0x40000001..
  if (config.bmcConfig !== undefined) await fastify.register(ipmiBus, { file: config.bmcConfig, connect: opts.ipmiConnect, queue: { depth: config.limits.bmcQueueDepth, waitMs: config.limits.bmcQueueWaitMs } })
  else if (config.embeddedBmcs) await fastify.register(embeddedBmc, { connect: opts.ipmiConnect, queue: { depth: config.limits.bmcQueueDepth, waitMs: config.limits.bmcQueueWaitMs } })

  // Redfish: services from redfish_config.json as boards 0x70000001..
  if (config.redfishConfig !== undefined || opts.redfish !== undefined) await fastify.register(redfishBus, { ...opts.redfish, file: config.redfishConfig })

  // the shared poller over every backend registered above (docs/monitoring.md)
  await fastify.register(poller, opts.poller ?? {})
  // bulk power tasks over the same backends (docs/api.md "Bulk power")
  await fastify.register(tasks)

  await fastify.register(openapi, { base: `${config.endpointPrefix}/${config.apiVersion}` })
  if (opts.auditLog !== undefined) await fastify.register(audit, { file: opts.auditLog })
  await fastify.register(routes, { prefix: `${config.endpointPrefix}/${config.apiVersion}` })
  await fastify.register(health, { prefix: `${config.endpointPrefix}/${config.apiVersion}` })
  // the operator's dashboard at /: open to load, every API call it makes needs credentials
  await fastify.register(dashboard, { apiBase: `${config.endpointPrefix}/${config.apiVersion}` })
}

export default fp(app, { name: 'opendcre', fastify: '5.x' })

import sensible from '@fastify/sensible'
import fp from 'fastify-plugin'
import { LogController, type FastifyInstance, type FastifyReply, type FastifyServerOptions } from 'fastify'
import type { BusPolicy } from './drivers/device-bus/bus-client.js'
import audit from './plugins/audit.js'
import auth from './plugins/auth.js'
import browserBoundary, { browserBoundaryOptions } from './plugins/browser-boundary.js'
import { createProviders } from './auth/from-config.js'
import { AccessLogController, LazyRequestLogger, type AccessWriter } from './plugins/access-log.js'
import type { AuthProvider } from './auth/provider.js'
import busRegistry from './plugins/bus-registry.js'
import clientContext from './plugins/client-context.js'
import configPlugin from './plugins/config.js'
import { resolveConfig, type ConfigOptions, type OpenDcreConfig } from './config/service-config.js'
import embeddedBmc from './plugins/embedded-bmc.js'
import emulatorBus from './plugins/emulator-bus.js'
import errors from './plugins/errors.js'
import gracefulClose from './plugins/graceful-close.js'
import httpLimits, { BODY_LIMIT } from './plugins/http-limits.js'
import requestGuards from './plugins/request-guards.js'
import securityHeaders, { helmetForAJsonApi } from './plugins/security-headers.js'
import hat from './plugins/hat.js'
import ipmiBus, { type BmcConnector } from './plugins/ipmi-bus.js'
import metrics from './plugins/metrics.js'
import openapi from './plugins/openapi.js'
import redfishBus, { type RedfishBackendOptions } from './plugins/redfish-bus.js'
import routeDeclarations from './plugins/route-declarations.js'
import poller, { type PollerPluginOptions } from './plugins/poller.js'
import mqttPlugin from './plugins/mqtt.js'
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
  /** An origin allowed to read answers and send state changes (CORS), over cors_origins; '' for none. */
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
  leaveOut?: Array<'helmet' | 'sensible' | 'cors' | 'metrics' | 'access-log' | 'scrape-worker'>
  /** Drain on any close() of a listening server (fastify-cli's SIGTERM), not only on drainAndClose(). */
  drainOnClose?: boolean
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
  // what the HTTP server needs, on whichever server this runs (server.ts's or fastify-cli's)
  await fastify.register(httpLimits, { limits: config.limits, tls: config.tls !== undefined })
  if (fastify.initialConfig.bodyLimit !== BODY_LIMIT) {
    fastify.log.warn('started without the app\'s server options (access log, URL limits): run fastify start -o dist/app.js')
  }
  // drainAndClose() for `opendcre serve`'s SIGTERM; fastify-cli's calls close()
  await fastify.register(gracefulClose, { drainOnClose: opts.drainOnClose })
  // HTTP errors (reply.notFound() and the like), answered by the one error handler in v1.2's {"message"} form
  // leaving it out (a diagnostic) breaks only the answers it makes: refusals, never a command's 200
  if (!leftOut.has('sensible')) await fastify.register(sensible)
  await fastify.register(errors)
  if (!leftOut.has('helmet')) {
    await fastify.register(securityHeaders, helmetForAJsonApi(config.tls !== undefined))
  }
  await fastify.register(requestGuards)

  // before every route: each must declare what it is; HEAD never changes state
  await fastify.register(routeDeclarations)
  // Host check, CORS, no cross-site state changes (docs/security.md)
  await fastify.register(browserBoundary, browserBoundaryOptions(config, leftOut.has('cors') ? '' : opts.corsOrigin))
  await fastify.register(busRegistry)
  // leaving out 'metrics' (a diagnostic) leaves out counting requests; the poller's and backends' series stay
  // leaving out 'scrape-worker' writes /metrics on the event loop (the benchmarks' baseline)
  await fastify.register(metrics, { countRequests: !leftOut.has('metrics'), render: leftOut.has('scrape-worker') ? 'loop' : 'worker' })

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
  if (config.bmcConfig !== undefined) await fastify.register(ipmiBus, { file: config.bmcConfig, connect: opts.ipmiConnect, shard: config.shard, queue: { depth: config.limits.bmcQueueDepth, waitMs: config.limits.bmcQueueWaitMs } })
  else if (config.embeddedBmcs) await fastify.register(embeddedBmc, { connect: opts.ipmiConnect, queue: { depth: config.limits.bmcQueueDepth, waitMs: config.limits.bmcQueueWaitMs } })

  // Redfish: services from redfish_config.json as boards 0x70000001..
  if (config.redfishConfig !== undefined || opts.redfish !== undefined) await fastify.register(redfishBus, { ...opts.redfish, file: config.redfishConfig, shard: config.shard })

  // the shared poller over every backend registered above (docs/monitoring.md)
  await fastify.register(poller, opts.poller ?? {})
  // alerts and board states to an MQTT broker, when configured
  await fastify.register(mqttPlugin)
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

/** Secrets never reach the logs. */
export const REDACT = ['req.headers.authorization', 'req.headers["proxy-authorization"]', 'req.headers.cookie', '*.password', '*.bindPassword', '*.token']

/** Ids in URLs can be long hex strings; anything longer is refused. */
export const MAX_PARAM_LENGTH = 200

/**
 * The Fastify server options the app is built for, which only Fastify's
 * constructor takes: one access line per request (plugins/access-log.ts)
 * instead of Fastify's two, request loggers made only when used, the
 * router's parameter bound and its refusals in the API's {"message"} form
 * (never echoing the URL), the body limit. `opendcre serve` (server.ts)
 * and `fastify start -o dist/app.js` (the `options` export below) both use them.
 */
export function appServerOptions ({ accessLog, requestLogging = true }: { accessLog?: AccessWriter, requestLogging?: boolean } = {}): FastifyServerOptions {
  return {
    logController: requestLogging ? new AccessLogController(accessLog) : new LogController({ disableRequestLogging: true }),
    childLoggerFactory: (parent, bindings, childOptions) => new LazyRequestLogger(parent, bindings, childOptions),
    routerOptions: { maxParamLength: MAX_PARAM_LENGTH },
    frameworkErrors: (error, _request, reply) => {
      const status = error.statusCode ?? 400
      const message = error.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? `a URL parameter is longer than ${MAX_PARAM_LENGTH} characters`
        : 'malformed URL'
      const answer = reply as FastifyReply
      answer.code(status).send({ message })
    },
    bodyLimit: BODY_LIMIT
  }
}

/**
 * What `fastify start -o dist/app.js` reads (fastify-cli's --options): the
 * server options above, with pino's redaction merged into its logger, and,
 * since fastify-cli hands the same object to the app as its options, the
 * drain on close that its SIGTERM handler (a plain close()) would otherwise skip.
 */
export const options: FastifyServerOptions & AppOptions = {
  ...appServerOptions(),
  logger: { redact: { paths: REDACT, censor: '[redacted]' } },
  drainOnClose: true
}

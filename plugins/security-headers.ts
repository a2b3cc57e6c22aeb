import fastifyHelmet, { type FastifyHelmetOptions } from '@fastify/helmet'
import fp from 'fastify-plugin'
import helmet from 'helmet'
import type { OutgoingHttpHeaders } from 'node:http'

declare module 'fastify' {
  interface FastifyContextConfig {
    /** @fastify/helmet's per-route options (a route's `helmet: {...}` or `helmet: false` lands here). */
    helmet?: object
  }
}

/**
 * The headers that protect a JSON API (every response is application/json):
 * no MIME sniffing, no framing, no referrer, not embeddable cross-origin (v1.2
 * answered with Access-Control-Allow-Origin: *; CORS is now
 * plugins/browser-boundary.ts's, off unless configured). Helmet's document-only
 * headers (CSP, COOP, COEP, Origin-Agent-Cluster, DNS prefetch, IE and Flash
 * legacy) protect HTML pages, not JSON, and each costs throughput (the
 * dashboard's page sets its own CSP); HSTS belongs to a TLS listener.
 */
export function helmetForAJsonApi (tls: boolean): FastifyHelmetOptions {
  return {
    contentSecurityPolicy: false,
    crossOriginEmbedderPolicy: false,
    crossOriginOpenerPolicy: false,
    crossOriginResourcePolicy: { policy: 'same-origin' },
    originAgentCluster: false,
    referrerPolicy: { policy: 'no-referrer' },
    // HSTS means something only on a TLS listener
    strictTransportSecurity: tls ? { maxAge: 15552000, includeSubDomains: true } : false,
    xContentTypeOptions: true,
    xDnsPrefetchControl: false,
    xDownloadOptions: false,
    xFrameOptions: { action: 'deny' },
    xPermittedCrossDomainPolicies: false,
    xPoweredBy: false,
    xXssProtection: false
  }
}

/**
 * The headers helmet sets for these options, worked out once: helmet's own
 * middleware (the function @fastify/helmet runs on every request) run against
 * a response that only records them. Undefined when the answer can differ
 * per request: CSP nonces, or a CSP directive that is a function of the request.
 */
export function helmetHeaders (options: FastifyHelmetOptions): OutgoingHttpHeaders | undefined {
  const { enableCSPNonces, global: _global, ...helmetOptions } = options
  if (enableCSPNonces === true && helmetOptions.contentSecurityPolicy !== false) return undefined
  const csp = helmetOptions.contentSecurityPolicy
  if (typeof csp === 'object' && csp !== null && Object.values(csp.directives ?? {}).some((value) => typeof value === 'function' || (Array.isArray(value) && value.some((item) => typeof item === 'function')))) {
    return undefined
  }
  const headers: OutgoingHttpHeaders = {}
  const recorder = {
    setHeader (name: string, value: string) { headers[name.toLowerCase()] = value },
    // X-Powered-By: Fastify never sets it
    removeHeader (name: string) { delete headers[name.toLowerCase()] }
  }
  // the same options: helmet's CommonJS and ESM typings declare them twice
  helmet(helmetOptions as Parameters<typeof helmet>[0])(({ headers: {} }) as never, recorder as never, (error?: unknown) => { if (error !== undefined && error !== null) throw error })
  return headers
}

/**
 * @fastify/helmet's headers at the cost of precomputed ones. The plugin
 * runs helmet's middleware, rebuilt from its options, in two onRequest hooks
 * on every request (21-32 µs of server CPU per request, docs/benchmarks.md).
 * Here it is registered with `global: false`, so it still serves a route's
 * own `helmet: {...}` options and `reply.helmet()`, and the headers the global
 * options make are worked out once, by helmet itself (helmetHeaders), and set
 * in one hook with one `reply.headers()`, on every answer (refusals, 404s
 * and errors included) of a route without options of its own. Options whose
 * headers depend on the request (CSP nonces or function directives) keep
 * @fastify/helmet's per-request path.
 */
export default fp<FastifyHelmetOptions>(async (fastify, opts) => {
  const headers = helmetHeaders(opts)
  if (headers === undefined) {
    await fastify.register(fastifyHelmet, { ...opts, global: true })
    return
  }
  await fastify.register(fastifyHelmet, { ...opts, global: false })
  // a route with helmet options of its own gets them from @fastify/helmet's hooks; while
  // no route has any (the service's case), no request looks up its route's options
  let routesWithOwnOptions = false
  fastify.addHook('onRoute', (route) => {
    if (route.helmet !== undefined || route.config?.helmet !== undefined) routesWithOwnOptions = true
  })
  fastify.addHook('onRequest', (request, reply, done) => {
    if (!routesWithOwnOptions || request.routeOptions.config.helmet === undefined) reply.headers(headers)
    done()
  })
}, { name: 'security-headers', fastify: '5.x' })

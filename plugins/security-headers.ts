import type { OutgoingHttpHeaders } from 'node:http'
import fastifyHelmet, { type FastifyHelmetOptions } from '@fastify/helmet'
import type { onRequestHookHandler } from 'fastify'
import fp from 'fastify-plugin'
import helmet from 'helmet'

/** A route's own helmet options, as @fastify/helmet takes them (`helmet: {...}`, or `false` for none). */
type RouteHelmet = FastifyHelmetOptions | false

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
 * Whether these options make headers that differ per request: CSP nonces, or
 * a CSP directive that is a function of the request.
 */
export function dependsOnRequest (options: FastifyHelmetOptions): boolean {
  const csp = options.contentSecurityPolicy
  if (options.enableCSPNonces === true && csp !== false) return true
  if (typeof csp !== 'object' || csp === null) return false
  return Object.values(csp.directives ?? {}).some((value) => typeof value === 'function' || (Array.isArray(value) && value.some((item) => typeof item === 'function')))
}

/**
 * The headers helmet sets with these options, worked out once: helmet's own
 * middleware (what @fastify/helmet runs on every request, built from the
 * same options) run against a response that only records what it sets.
 * For options that do not depend on the request (dependsOnRequest).
 */
export function helmetHeaders (options: FastifyHelmetOptions): OutgoingHttpHeaders {
  const { enableCSPNonces: _nonces, global: _global, ...helmetOptions } = options as FastifyHelmetOptions & { skipRoute?: boolean }
  delete (helmetOptions as { skipRoute?: boolean }).skipRoute
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
 * @fastify/helmet's headers at the cost of precomputed ones. Registered on
 * the app, @fastify/helmet runs two onRequest hooks on every request (one
 * async), rebuilding helmet's middleware from its options each time (3-5 µs
 * a request more than this, bench/plugin-ab.ts). Asking it once at startup,
 * on a private Fastify instance in the same process, slowed the app's own
 * requests (measured), so helmet's middleware is asked directly.
 * Here helmet's middleware works the headers out once (helmetHeaders): for
 * the global options, and for each route with `helmet` options of its own
 * (`helmet: {...}` merged over the global options as @fastify/helmet merges
 * them, or `helmet: false`). One onRequest hook sets the global set with one
 * `reply.headers()` on every answer (refusals, 404s and errors included); a
 * route with its own options swaps in its set in a hook of its own. Options
 * whose headers differ per request (CSP nonces, function directives) keep
 * @fastify/helmet's per-request path (global: true). Otherwise it stays
 * registered with `global: false` (its two hooks then set nothing on a route
 * without options of its own; on one with options they set what the route's
 * own hook sets).
 * test/security-headers.test.ts checks the answers equal @fastify/helmet's.
 */
export default fp<FastifyHelmetOptions>(async (fastify, opts) => {
  if (dependsOnRequest(opts)) {
    await fastify.register(fastifyHelmet, { ...opts, global: true })
    return
  }
  // registered as the design card asks, with global: false: a route's `helmet` option and
  // reply.helmet() work as documented; the headers below are the ones its hooks would set
  await fastify.register(fastifyHelmet, { ...opts, global: false })
  const global = helmetHeaders(opts)
  const names = Object.keys(global)
  fastify.addHook('onRequest', (_request, reply, done) => {
    reply.headers(global)
    done()
  })

  fastify.addHook('onRoute', (route) => {
    const own = (route as { helmet?: RouteHelmet }).helmet
    if (own === undefined) return
    if (own !== false && dependsOnRequest({ ...opts, ...own } as FastifyHelmetOptions)) {
      throw new Error(`route ${route.url}: helmet options whose headers differ per request (CSP nonces or function directives) need them in the app's own helmet options`)
    }
    const headers = own === false ? {} : helmetHeaders({ ...opts, ...own } as FastifyHelmetOptions)
    const swap: onRequestHookHandler = (_request, reply, done) => {
      for (const name of names) reply.removeHeader(name)
      reply.headers(headers)
      done()
    }
    const existing = route.onRequest
    route.onRequest = existing === undefined ? [swap] : [...(Array.isArray(existing) ? existing : [existing]), swap]
  })
}, { name: 'security-headers', fastify: '5.x' })

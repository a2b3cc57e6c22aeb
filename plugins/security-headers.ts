import type { OutgoingHttpHeaders } from 'node:http'
import fastifyHelmet, { type FastifyHelmetOptions } from '@fastify/helmet'
import Fastify, { type onRequestHookHandler } from 'fastify'
import fp from 'fastify-plugin'

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
 * The headers @fastify/helmet sets with these options, on a route with no
 * options of its own and on one with each of `routes`: asked once, of a
 * private Fastify instance with the plugin registered as usual, whose routes
 * answer with the headers set on their response before the handler ran.
 */
export async function askHelmet (options: FastifyHelmetOptions, routes: RouteHelmet[] = []): Promise<{ global: OutgoingHttpHeaders, routes: OutgoingHttpHeaders[] }> {
  const probe = Fastify({ logger: false })
  try {
    await probe.register(fastifyHelmet, { ...options, global: true })
    const answer = async (_request: unknown, reply: { raw: { getHeaders: () => OutgoingHttpHeaders } }): Promise<OutgoingHttpHeaders> => reply.raw.getHeaders()
    probe.get('/', answer)
    routes.forEach((helmet, i) => { probe.get(`/${i}`, { helmet }, answer) })
    const ask = async (url: string): Promise<OutgoingHttpHeaders> => (await probe.inject({ url })).json<OutgoingHttpHeaders>()
    const global = await ask('/')
    const own: OutgoingHttpHeaders[] = []
    for (let i = 0; i < routes.length; i++) own.push(await ask(`/${i}`))
    return { global, routes: own }
  } finally {
    await probe.close()
  }
}

/**
 * @fastify/helmet's headers at the cost of precomputed ones. Registered on
 * the app, @fastify/helmet runs two onRequest hooks on every request (one
 * async), rebuilding helmet's middleware from its options each time; even
 * with `global: false` the hooks run (bench/plugin-ab.ts: 6-7 µs of 8-11 per
 * request). Here @fastify/helmet answers once, at startup, on a private
 * instance (askHelmet): for the global options, and for each route that
 * carries helmet options of its own (`helmet: {...}` or `helmet: false`,
 * merged over the global ones by @fastify/helmet itself). One onRequest hook
 * sets the global answer with one `reply.headers()` on every answer
 * (refusals, 404s and errors included); a route with its own options swaps in
 * its answer in a hook of its own. Options whose headers differ per request
 * (CSP nonces, function directives) keep @fastify/helmet registered on the
 * app, per request, as usual.
 */
export default fp<FastifyHelmetOptions>(async (fastify, opts) => {
  if (dependsOnRequest(opts)) {
    await fastify.register(fastifyHelmet, { ...opts, global: true })
    return
  }
  const { global } = await askHelmet(opts)
  const names = Object.keys(global)
  fastify.addHook('onRequest', (_request, reply, done) => {
    reply.headers(global)
    done()
  })

  // routes with options of their own: asked of @fastify/helmet once every route is known
  const own: Array<{ helmet: RouteHelmet, headers: OutgoingHttpHeaders }> = []
  fastify.addHook('onRoute', (route) => {
    const helmet = (route as { helmet?: RouteHelmet }).helmet
    if (helmet === undefined) return
    if (helmet !== false && dependsOnRequest({ ...opts, ...helmet } as FastifyHelmetOptions)) {
      throw new Error(`route ${route.url}: helmet options whose headers differ per request (CSP nonces or function directives) need them in the app's own helmet options`)
    }
    const entry = { helmet, headers: {} }
    own.push(entry)
    const swap: onRequestHookHandler = (_request, reply, done) => {
      for (const name of names) reply.removeHeader(name)
      reply.headers(entry.headers)
      done()
    }
    const existing = route.onRequest
    route.onRequest = existing === undefined ? [swap] : [...(Array.isArray(existing) ? existing : [existing]), swap]
  })
  fastify.addHook('onReady', async () => {
    if (own.length === 0) return
    const answers = await askHelmet(opts, own.map((entry) => entry.helmet))
    own.forEach((entry, i) => { entry.headers = answers.routes[i] })
  })
}, { name: 'security-headers', fastify: '5.x' })

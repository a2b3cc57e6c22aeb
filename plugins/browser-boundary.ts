import fp from 'fastify-plugin'
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { OpenDcreConfig } from '../config/config-schema.js'
import { isLoopbackHost } from '../drivers/net.js'
import { changesState, describeRequest } from './route-config.js'

export interface BrowserBoundaryOptions {
  /** Origins whose pages may read answers (CORS) and send state changes; '*': any page may read, none may change state. */
  corsOrigins: string[]
  /** Check the Host header (the service listens on loopback only, or allowedHosts is set). */
  checkHost: boolean
  /** Host names answered besides localhost and loopback addresses (lower case, no port). */
  allowedHosts: string[]
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Why this request was refused before its handler, for the audit line. */
    refusal?: string
  }
}

/**
 * The options from the configuration: origins from --cors-origin (one, or
 * '' for none) else cors_origins; the Host check wherever the service
 * listens on loopback only, or names its allowed hosts.
 */
export function browserBoundaryOptions (config: OpenDcreConfig, corsOrigin?: string): BrowserBoundaryOptions {
  return {
    corsOrigins: corsOrigin !== undefined ? (corsOrigin === '' ? [] : [corsOrigin]) : config.corsOrigins,
    checkHost: config.allowedHosts.length > 0 || config.listenHosts.every(isLoopbackHost),
    allowedHosts: config.allowedHosts
  }
}

/** The answer to a CORS preflight: every command is GET or POST; clients send credentials in Authorization. */
const PREFLIGHT = {
  'access-control-allow-methods': 'GET, POST',
  'access-control-allow-headers': 'Authorization, Content-Type',
  'access-control-max-age': '600'
}

/** How many Host header values keep their verdict, and the longest kept (a DNS name is at most 253 characters, a port 6 more). */
const HOST_VERDICTS = 64
const MAX_CACHED_HOST = 260

/** The host name of a Host header, lower case, without its port ('[::1]:5000' -> '[::1]'). */
export function hostName (header: string): string {
  const host = header.trim().toLowerCase()
  if (host.startsWith('[')) {
    const end = host.indexOf(']')
    return end < 0 ? host : host.slice(0, end + 1)
  }
  const colon = host.indexOf(':')
  // more than one colon and no brackets: not a host[:port]; kept whole, so it matches nothing
  return colon >= 0 && host.indexOf(':', colon + 1) < 0 ? host.slice(0, colon) : host
}

/**
 * Whether a browser says this request comes from another site's page:
 * Sec-Fetch-Site cross-site or same-site (another port or subdomain is
 * another origin), or an Origin that is neither this service's own nor a
 * configured one. curl, scripts and v1.2 clients send neither header.
 */
export function crossSiteReason (request: FastifyRequest, trusted: Set<string>): string | undefined {
  const origin = request.headers.origin
  if (origin !== undefined && trusted.has(origin)) return undefined
  const site = request.headers['sec-fetch-site']
  if (site === 'cross-site' || site === 'same-site') return `Sec-Fetch-Site: ${site}`
  if (origin === undefined) return undefined
  const own = `${request.protocol}://${request.headers.host ?? ''}`.toLowerCase()
  if (origin.toLowerCase() === own) return undefined
  return 'Origin is not this service nor a configured origin'
}

/**
 * The browser boundary (issue 21, docs/security.md): what a web page on
 * another origin, opened on a machine that can reach the service, may do.
 *  - Host: while the service listens on loopback only (or allowed_hosts is
 *    set), a Host that is not localhost, a loopback address or an allowed
 *    name answers 421 (DNS rebinding: attacker.example resolving to 127.0.0.1);
 *  - state changes (as the route declares them) from another site's page
 *    answer 403, and the audit log records the refusal;
 *  - CORS: no Access-Control-Allow-Origin unless origins are configured; a
 *    named origin is echoed, with credentials; '*' lets pages read, never
 *    with credentials.
 */
export default fp<BrowserBoundaryOptions>(async (fastify, opts) => {
  const allowedHosts = new Set(opts.allowedHosts.map((name) => name.toLowerCase()))
  const named = new Set(opts.corsOrigins.filter((origin) => origin !== '*'))
  const anyReader = opts.corsOrigins.includes('*')
  const cors = named.size > 0 || anyReader

  const refuse = (request: FastifyRequest, reply: FastifyReply, status: number, message: string, reason: string): FastifyReply => {
    request.refusal = reason
    request.log.warn({ refused: reason, ...describeRequest(request) }, 'request refused')
    return reply.code(status).header('cache-control', 'no-store').send({ message })
  }

  // the verdict on each Host header value, worked out once: clients send a few
  // values, a hostile one many, so the cache is bounded (and skips values no host name has)
  const hostVerdicts = new Map<string, boolean>()
  const hostAllowed = (host: string): boolean => {
    const known = hostVerdicts.get(host)
    if (known !== undefined) return known
    const name = hostName(host)
    const allowed = isLoopbackHost(name) || allowedHosts.has(name)
    if (host.length <= MAX_CACHED_HOST) {
      if (hostVerdicts.size >= HOST_VERDICTS) hostVerdicts.clear()
      hostVerdicts.set(host, allowed)
    }
    return allowed
  }

  fastify.addHook('onRequest', (request, reply, done) => {
    if (opts.checkHost) {
      const host = request.headers.host
      if (host !== undefined && !hostAllowed(host)) {
        refuse(request, reply, 421, 'this service answers to localhost and loopback addresses only (set allowed_hosts to add a name)', 'host not allowed')
        return
      }
    }

    const origin = request.headers.origin
    if (cors && origin !== undefined) {
      const echo = named.has(origin)
      if (echo || anyReader) {
        reply.header('access-control-allow-origin', echo ? origin : '*')
        if (echo) reply.header('access-control-allow-credentials', 'true').header('vary', 'Origin')
        // a preflight never carries credentials: answered here, before authentication
        if (request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined) {
          reply.code(204).headers(PREFLIGHT).send()
          return
        }
      }
    }

    // the headers first: a request no browser marks cross-site (curl, scripts) needs no route lookup
    const reason = crossSiteReason(request, named)
    if (reason !== undefined && changesState(request)) {
      refuse(request, reply, 403, 'cross-site request refused: state changes come only from this service\'s own pages, scripts or a configured origin (cors_origins)', `cross-site (${reason})`)
      return
    }
    done()
  })
}, { name: 'browser-boundary', fastify: '5.x', dependencies: ['route-declarations'] })

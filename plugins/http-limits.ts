import https from 'node:https'
import fp from 'fastify-plugin'
import { ConfigError } from '../drivers/errors.js'
import { hardenServer, refusalReporter, type HttpLimits } from '../http/http-server.js'

/** No command has a body worth more: a larger one is refused with 413. */
export const BODY_LIMIT = 64 * 1024

export interface HttpLimitsOptions {
  limits: HttpLimits
  /** The configuration asks for TLS: the server must be an HTTPS one (only `opendcre serve` makes it so). */
  tls: boolean
}

/**
 * What the HTTP server needs, applied to whichever server the app runs on
 * (`opendcre serve`'s, fastify-cli's, a test's), before it listens: the
 * timeouts and connection caps (http/http-server.ts), half-open sockets,
 * Node's parser refusals in the API's {"message"} form, and the body limit
 * on every route. A configuration asking for TLS on a plain server fails
 * at startup rather than serving in the clear.
 */
export default fp<HttpLimitsOptions>(async (fastify, opts) => {
  const server = fastify.server
  if (opts.tls && !(server instanceof https.Server)) {
    throw new ConfigError('tls', '', 'TLS needs the server `opendcre serve` makes (fastify start makes a plain HTTP one)')
  }
  hardenServer(server, opts.limits, refusalReporter(() => fastify.log))
  fastify.addHook('onRoute', (route) => { route.bodyLimit ??= BODY_LIMIT })
}, { name: 'http-limits', fastify: '5.x' })

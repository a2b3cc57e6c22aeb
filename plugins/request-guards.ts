import fp from 'fastify-plugin'

/** No command needs a long URL: a longer one answers 414 at once. */
export const MAX_URL_LENGTH = 1024

/** The answer to a CORS preflight: every command is GET or POST; clients send credentials in Authorization. */
const PREFLIGHT = {
  'access-control-allow-methods': 'GET, POST',
  'access-control-allow-headers': 'Authorization, Content-Type',
  'access-control-max-age': '600'
}
const CREDENTIALED_PREFLIGHT = { ...PREFLIGHT, 'access-control-allow-credentials': 'true', vary: 'Origin' }

export interface RequestGuardsOptions {
  /** Access-Control-Allow-Origin on every answer: '*' (v1.2's), an origin, or '' for none. */
  corsOrigin: string
}

/**
 * What every request meets first, in one onRequest hook. v1.2's nginx front
 * end added Access-Control-Allow-Origin: * to every answer; a browser's CORS
 * preflight (OPTIONS with Access-Control-Request-Method) is answered here,
 * before authentication: it never carries credentials. With a named origin,
 * browsers may send credentials (Basic, Bearer). No command needs a long
 * URL: anything past MAX_URL_LENGTH is refused early (414), and a target
 * that is not a path (the asterisk form) is refused (400).
 */
export default fp<RequestGuardsOptions>(async (fastify, opts) => {
  const corsOrigin = opts.corsOrigin
  const everyAnswer = corsOrigin !== '' ? { 'access-control-allow-origin': corsOrigin } : undefined
  const preflight = corsOrigin === '*' ? PREFLIGHT : CREDENTIALED_PREFLIGHT
  fastify.addHook('onRequest', (request, reply, done) => {
    if (everyAnswer !== undefined) {
      reply.headers(everyAnswer)
      if (request.method === 'OPTIONS' && request.headers['access-control-request-method'] !== undefined) {
        reply.code(204).headers(preflight).send()
        return
      }
    }
    if (request.url.length > MAX_URL_LENGTH) {
      reply.uriTooLong(`URL longer than ${MAX_URL_LENGTH} characters`)
      return
    }
    // every command is a path: the asterisk form ('*', for OPTIONS to a proxy) would be routed as '/'
    const target = request.raw.url ?? ''
    if (!target.startsWith('/') && !/^https?:\/\//i.test(target)) {
      reply.badRequest('the request target must be a path beginning with /')
      return
    }
    done()
  })
}, { name: 'request-guards', fastify: '5.x', dependencies: ['errors'] })

import fp from 'fastify-plugin'

/** No command needs a long URL: a longer one answers 414 at once. */
export const MAX_URL_LENGTH = 1024

/**
 * What every request meets first, in one onRequest hook: no command needs a
 * long URL, so anything past MAX_URL_LENGTH is refused early (414), and a
 * target that is not a path (the asterisk form) is refused (400). CORS, the
 * Host check and cross-site refusals are plugins/browser-boundary.ts's.
 */
export default fp(async (fastify) => {
  fastify.addHook('onRequest', (request, reply, done) => {
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

import fp from 'fastify-plugin'

/**
 * One access line per request, written when the answer has gone out:
 * method, URL, status, response time (ms), client address and identity
 * (`anonymous` until authentication is configured). It replaces Fastify's
 * two request lines (the server is built with disableRequestLogging), and
 * carries no header at all, so no credential can reach it.
 *
 *   {"level":30,"time":...,"reqId":"req-1","method":"GET","url":"/opendcre/1.2/test",
 *    "status":200,"ms":0.41,"client":"127.0.0.1","identity":"anonymous","msg":"request"}
 */
export default fp(async (fastify) => {
  fastify.addHook('onResponse', (request, reply, done) => {
    request.log.info({
      method: request.method,
      url: request.url,
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 100) / 100,
      client: request.ip,
      identity: request.identity ?? 'anonymous'
    }, 'request')
    done()
  })
}, { name: 'access-log', fastify: '5.x' })

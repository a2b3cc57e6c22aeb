import fp from 'fastify-plugin'
import { runAs } from '../drivers/request-context.js'

/**
 * Each request runs on behalf of its client address (drivers/request-context.ts):
 * the device bus's and the BMCs' queues let clients take turns by it, without
 * the Bus interface carrying it.
 */
export default fp(async (fastify) => {
  fastify.addHook('onRequest', (request, _reply, done) => {
    runAs(request.ip, done)
  })
}, { name: 'client-context', fastify: '5.x' })

import fp from 'fastify-plugin'
import type { RouteHandlerMethod } from 'fastify'
import { runAs } from '../drivers/queueing/request-context.js'

/**
 * Each request's handler runs on behalf of its client address
 * (drivers/request-context.ts): the device bus's and the BMCs' queues let
 * clients take turns by it, without the Bus interface carrying it. Every
 * route registered after this plugin has its handler wrapped.
 */
export default fp(async (fastify) => {
  fastify.addHook('onRoute', (route) => {
    const handler = route.handler as RouteHandlerMethod
    route.handler = function (request, reply) {
      return runAs(request.ip, () => handler.call(this, request, reply))
    }
  })
}, { name: 'client-context', fastify: '5.x' })

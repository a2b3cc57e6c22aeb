import fp from 'fastify-plugin'
import type { OpenDcreConfig } from '../config/service-config.js'

declare module 'fastify' {
  interface FastifyInstance {
    config: OpenDcreConfig
  }
}

/**
 * Decorates the instance with the configuration, resolved and validated
 * once at startup by config/service-config.ts.
 */
export default fp<{ config: OpenDcreConfig }>(async (fastify, opts) => {
  fastify.decorate('config', opts.config)
}, { name: 'config', fastify: '5.x' })

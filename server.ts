import Fastify, { type FastifyInstance, type FastifyServerOptions } from 'fastify'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import app, { type AppOptions } from './app.js'

export interface ServerOptions extends AppOptions {
  logger?: FastifyServerOptions['logger']
}

/** Secrets never reach the logs. */
export const REDACT = ['req.headers.authorization', 'req.headers.cookie', '*.password', '*.token']

export function loggerOptions (level = 'info'): FastifyServerOptions['logger'] {
  return { level, redact: { paths: REDACT, censor: '[redacted]' } }
}

/** The Fastify instance with the app registered and ready; the caller listens. */
export async function buildServer (options: ServerOptions = {}): Promise<FastifyInstance> {
  const { logger, ...appOptions } = options
  const server = Fastify({
    logger: logger ?? loggerOptions(),
    // ids in URLs can be long hex strings; anything longer is refused
    routerOptions: { maxParamLength: 200 },
    bodyLimit: 64 * 1024
  }).withTypeProvider<TypeBoxTypeProvider>()
  await server.register(app, appOptions)
  await server.ready()
  return server
}

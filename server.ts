import v8 from 'node:v8'
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

/**
 * `opendcre serve --small-memory`: V8 favours memory over speed. Measured
 * (bench/): RSS after 100k requests ~80 MB instead of ~130 MB, at about half
 * the CPU efficiency on bus reads. Called by the process owner (the CLI, the
 * bench server), never on import.
 */
export function tuneRuntime (): void {
  v8.setFlagsFromString('--optimize-for-size')
}

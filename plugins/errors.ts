import fp from 'fastify-plugin'
import type { FastifyError } from 'fastify'
import { MisdirectedError, OpenDcreError, OverloadedError } from '../drivers/errors.js'

/**
 * One error handler for the whole API, with v1.2's contract: a failed
 * command -> 500 {"message": "..."} (malformed ids included); a bad query
 * parameter or body -> 400 {"message"}; an unknown
 * route -> 404 {"message": "404: Not Found"}; a bus or BMC whose queue is
 * full -> 503 {"message": ...} with Retry-After; a board another shard
 * owns -> 421 {"message": ...} naming the owner. The typed error's code goes to
 * the log; no stack trace ever reaches a response.
 */
export default fp(async (fastify) => {
  fastify.setErrorHandler((error: FastifyError, request, reply) => {
    if (error instanceof OverloadedError) {
      // a full queue: refused at once, the client may retry (not v1.2's 500: nothing failed)
      request.log.warn({ code: error.code, reason: error.message }, 'refused: overloaded')
      return reply.code(503).header('retry-after', String(error.retryAfterSeconds)).send({ message: error.message })
    }
    if (error instanceof MisdirectedError) {
      // a sharded inventory: the board is served by another instance (not v1.2's 500: nothing failed here)
      request.log.info({ code: error.code, reason: error.message }, 'misdirected')
      return reply.code(421).send({ message: error.message })
    }
    if (error instanceof OpenDcreError) {
      request.log.warn({ code: error.code, reason: error.message, cause: causeText(error.cause) }, 'command failed')
      return reply.code(500).send({ message: error.message })
    }
    if (error.validation !== undefined) {
      // '/version/' routes to '/version/:board_id' with an empty id: that is no route at all
      if (error.validationContext === 'params' && Object.values(request.params ?? {}).includes('')) {
        return reply.code(404).send({ message: NOT_FOUND })
      }
      const message = validationMessage(error, request.params as Record<string, unknown> | undefined)
      request.log.warn({ code: 'invalid-argument', reason: message }, 'command failed')
      // v1.2 answered a malformed id (a URL parameter) with 500; a bad query string or body is the client's: 400
      return reply.code(error.validationContext === 'params' ? 500 : 400).send({ message })
    }
    const status = error.statusCode ?? 500
    if (status >= 400 && status < 500) {
      return reply.code(status).send({ message: error.message })
    }
    request.log.error({ err: error }, 'unexpected error')
    return reply.code(500).send({ message: 'Internal Server Error' })
  })

  fastify.setNotFoundHandler((request, reply) => {
    request.log.info({ url: request.url }, 'no such route')
    return reply.code(404).send({ message: NOT_FOUND })
  })
}, { name: 'errors', fastify: '5.x' })

const NOT_FOUND = '404: Not Found'

function causeText (cause: unknown): string | undefined {
  return cause instanceof Error ? cause.message : undefined
}

/** v1.2's names for the id parameters in its messages. */
const ID_NAMES: Record<string, string> = { board_id: 'board_num', device_id: 'device_num' }

/** v1.2's wording for a malformed id, rather than ajv's "params/board_id must match pattern ...". */
function validationMessage (error: FastifyError, params: Record<string, unknown> | undefined): string {
  const first = error.validation?.[0]
  if (first === undefined) return error.message
  const field = first.instancePath.replace(/^\//, '').replace(/\//g, '.')
  const value = params?.[field]
  if (error.validationContext === 'params' && field in ID_NAMES && typeof value === 'string') {
    return `Error converting ${ID_NAMES[field]} to integer (invalid literal for int() with base 16: '${value}').`
  }
  return `invalid ${field === '' ? (error.validationContext ?? 'request') : field}: ${first.message ?? 'validation failed'}`
}

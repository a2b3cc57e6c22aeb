import fp from 'fastify-plugin'
import swagger from '@fastify/swagger'
import swaggerUi from '@fastify/swagger-ui'
import type { FastifySchema } from 'fastify'
import { readOnly } from './route-config.js'
import { OPENDCRE_VERSION } from '../config/service-config.js'

interface OpenApiOptions {
  /** The API's base path, e.g. /opendcre/1.2: the document and the docs page live under it. */
  base: string
}

const DESCRIPTION = [
  'The OpenDCRE v1.2 REST API: scan, read and control the devices of data-center boards',
  '(the device bus, IPMI BMCs, the emulator).',
  'Every command answers GET and POST on the same path with the same result; a POST body is ignored.',
  'Board and device ids are hexadecimal. A failed command answers 500 {"message": ...}',
  '(malformed ids included); an unknown path answers 404 {"message": "404: Not Found"}.'
].join(' ')

/** What each status means, for the document (@fastify/swagger's x-response-description). */
const STATUS_DESCRIPTIONS: Record<string, string> = {
  200: 'The command succeeded',
  404: 'No such route (an empty id segment included)',
  500: 'The command failed; message says why (malformed ids included)'
}

/** A copy of a route's schema with its responses described by status; the route keeps its own. */
function describeResponses (schema: FastifySchema | undefined): FastifySchema | undefined {
  const response = schema?.response
  if (response === null || typeof response !== 'object') return schema
  const described: Record<string, unknown> = {}
  for (const [status, body] of Object.entries(response as Record<string, object>)) {
    const description = STATUS_DESCRIPTIONS[status]
    described[status] = description === undefined ? body : { ...body, 'x-response-description': description }
  }
  return { ...schema, response: described }
}

/**
 * The OpenAPI 3 document of the API, generated from the routes' own TypeBox
 * schemas (@fastify/swagger collects them as they are registered, so this
 * plugin goes before the routes), at GET <base>/openapi.json, and a
 * swagger-ui page at <base>/docs.
 */
export default fp<OpenApiOptions>(async (fastify, opts) => {
  await fastify.register(swagger, {
    openapi: {
      openapi: '3.0.3',
      info: { title: 'OpenDCRE', version: OPENDCRE_VERSION, description: DESCRIPTION }
    },
    transform: ({ schema, url }) => ({ schema: describeResponses(schema) ?? schema, url })
  })

  fastify.get(`${opts.base}/openapi.json`, { config: readOnly('openapi'), schema: { hide: true } }, async () => fastify.swagger())

  // swagger-ui's routes (the page, its assets, the document it shows) only
  // read: they are declared by a hook around that plugin, in a context of its own
  await fastify.register(async (docs) => {
    docs.addHook('onRoute', (route) => { route.config = { ...readOnly('docs'), ...route.config } })
    await docs.register(swaggerUi, { routePrefix: `${opts.base}/docs` })
  })
}, { name: 'openapi', fastify: '5.x' })

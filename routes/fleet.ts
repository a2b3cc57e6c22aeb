import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { ErrorResponse } from '../schemas/responses.js'
import { FleetQuery, FleetQueryError } from '../monitoring/fleet-query.js'

const Nullable = <T extends ReturnType<typeof Type.Number> | ReturnType<typeof Type.String>>(schema: T): ReturnType<typeof Type.Union<[T, ReturnType<typeof Type.Null>]>> => Type.Union([schema, Type.Null()])

export const FleetBoardSchema = Type.Object({
  board_id: Type.String(),
  backend: Type.String(),
  instance: Type.String({ description: 'the instance (host:port) that owns the board, as Prometheus labels it' }),
  url: Type.String({ description: 'that instance\'s base URL (its shard_urls entry, else http://instance)' }),
  up: Type.Boolean(),
  temperature_c: Nullable(Type.Number({ description: 'the hottest temperature sensor' })),
  power_w: Nullable(Type.Number({ description: 'the power sensors summed' })),
  last_seen: Nullable(Type.String({ description: 'when the board last gave a reading (ISO 8601)' }))
})

export const Fleet = Type.Object({
  source: Type.Union([Type.Literal('datacenter'), Type.Literal('local')], { description: 'datacenter: every shard\'s boards from fleet_query_url; local: none configured, list this instance\'s boards (/scan)' }),
  at: Type.Optional(Type.String({ description: 'when the query API was asked' })),
  boards: Type.Optional(Type.Array(FleetBoardSchema))
}, { $id: 'Fleet', title: 'The data center\'s boards' })

/**
 * GET /fleet (not in v1.2): with fleet_query_url, every board of the data
 * center from its Prometheus-compatible query API (asked here, so the
 * dashboard needs no cross-origin access; each query bounded to 5 s and
 * 32 MB); without, {"source": "local"}: the caller lists this instance's
 * own boards. The query API failing answers 502 {"message"}.
 */
const route: FastifyPluginAsyncTypebox = async (fastify) => {
  const url = fastify.config.fleetQueryUrl
  const query = url === undefined ? undefined : new FleetQuery({ url, shardUrls: fastify.config.shard?.urls })
  fastify.get('/fleet', {
    config: { command: 'fleet', changesState: () => false },
    schema: { summary: 'Every board of the data center (fleet_query_url), or none configured', tags: ['monitoring'], response: { 200: Fleet, 401: ErrorResponse, 403: ErrorResponse, 502: ErrorResponse } }
  }, async (request, reply) => {
    if (query === undefined) return { source: 'local' as const }
    try {
      const { boards, at } = await query.boards()
      return { source: 'datacenter' as const, at: new Date(at).toISOString(), boards }
    } catch (err) {
      if (!(err instanceof FleetQueryError)) throw err
      request.log.warn({ reason: err.message }, 'fleet query failed')
      return await reply.code(502).send({ message: err.message })
    }
  })
}

export default route

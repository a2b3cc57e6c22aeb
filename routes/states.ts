import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { stringify } from 'lossless-json'
import { boardIdHex } from '../drivers/bus.js'
import { OpenDcreError } from '../drivers/errors.js'
import { boardSummary, byTrouble, sensorSummaries } from '../monitoring/board-summary.js'
import { BoardParams, parseBoardId } from '../schemas/params.js'
import { responses } from '../schemas/responses.js'

const State = Type.Union([Type.Literal('ok'), Type.Literal('warning'), Type.Literal('critical'), Type.Literal('unknown')])
const Nullable = <T extends ReturnType<typeof Type.Number> | ReturnType<typeof Type.String> | ReturnType<typeof Type.Boolean>>(t: T): ReturnType<typeof Type.Union<[T, ReturnType<typeof Type.Null>]>> => Type.Union([t, Type.Null()])
const Thresholds = Type.Object({
  lower_non_critical: Type.Optional(Type.Number()),
  lower_critical: Type.Optional(Type.Number()),
  lower_non_recoverable: Type.Optional(Type.Number()),
  upper_non_critical: Type.Optional(Type.Number()),
  upper_critical: Type.Optional(Type.Number()),
  upper_non_recoverable: Type.Optional(Type.Number())
})

const BoardSummary = Type.Object({
  board_id: Type.String(),
  backend: Type.String(),
  up: Nullable(Type.Boolean()),
  last_contact: Nullable(Type.String()),
  state: State,
  counts: Type.Object({ ok: Type.Integer(), warning: Type.Integer(), critical: Type.Integer(), unknown: Type.Integer() }),
  hottest_c: Nullable(Type.Number()),
  hottest_device: Nullable(Type.String()),
  power_w: Nullable(Type.Number()),
  power_status: Nullable(Type.String()),
  trend: Type.Array(Type.Number())
})

const FleetStates = Type.Object({
  boards: Type.Array(BoardSummary),
  totals: Type.Object({ boards: Type.Integer(), down: Type.Integer(), ok: Type.Integer(), warning: Type.Integer(), critical: Type.Integer(), unknown: Type.Integer() })
}, { $id: 'FleetStates', title: 'OpenDCRE Fleet States' })

const BoardStates = Type.Object({
  board: BoardSummary,
  sensors: Type.Array(Type.Object({
    device_id: Type.String(),
    device_type: Type.String(),
    device_info: Type.String(),
    state: State,
    thresholds: Thresholds,
    reading: Type.Unknown({ description: 'as the read command answers' }),
    timestamp: Nullable(Type.String())
  }))
}, { $id: 'BoardStates', title: 'OpenDCRE Board Sensor States' })

const FleetQuery = Type.Object({
  state: Type.Optional(Type.Union([Type.Literal('warning'), Type.Literal('critical')], { description: 'Only boards at least this bad (or down)' }))
})

/**
 * GET <prefix>/1.2/states: every board's health at a glance, trouble first;
 * GET <prefix>/1.2/states/:board_id: its sensors' states and thresholds.
 * From the poller's kept values: no request reaches hardware. New endpoints,
 * so v1.2's read answers stay as they were (docs/api.md, "Sensor states").
 */
const route: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/states', {
    config: { command: 'states', changesState: () => false },
    schema: { summary: 'Every board\'s worst sensor state, hottest temperature, power and trend, trouble first', tags: ['states'], querystring: FleetQuery, response: responses(FleetStates) },
    handler: async (request, reply) => {
      const all = [...fastify.poller.allBoards()].map(boardSummary)
      const totals = { boards: all.length, down: 0, ok: 0, warning: 0, critical: 0, unknown: 0 }
      for (const b of all) {
        if (b.up === false) totals.down++
        totals[b.state]++
      }
      const min = request.query.state
      const boards = min === undefined ? all : all.filter((b) => b.up === false || b.state === 'critical' || (min === 'warning' && b.state === 'warning'))
      boards.sort(byTrouble)
      return await reply.send({ boards, totals })
    }
  })

  fastify.get('/states/:board_id', {
    config: { command: 'states', changesState: () => false },
    schema: { summary: 'A board\'s sensors with their states and thresholds', tags: ['states'], params: BoardParams, response: responses(BoardStates) },
    handler: async (request, reply) => {
      const id = boardIdHex(parseBoardId(request.params.board_id))
      const board = [...fastify.poller.allBoards()].find((b) => b.board_id === id)
      if (board === undefined) throw new OpenDcreError('not-found', 'No states for this board: it is not a known board (scan it, or let the poller find it).')
      // readings may hold 64-bit integers (bigint): lossless-json writes them as JSON numbers
      return await reply.type('application/json; charset=utf-8').send(stringify({ board: boardSummary(board), sensors: sensorSummaries(board) }) as never)
    }
  })
}

export default route

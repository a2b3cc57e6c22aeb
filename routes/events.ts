import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { boardIdHex } from '../drivers/bus.js'
import { OpenDcreError } from '../drivers/errors.js'
import { BoardEvents } from '../schemas/events.js'
import { BoardParams, parseBoardId } from '../schemas/params.js'
import { responses } from '../schemas/responses.js'

/** GET /events/:board_id (not in v1.2): the board's event log (an IPMI BMC's SEL), read-only. */
const route: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.route({
    method: 'GET',
    url: '/events/:board_id',
    config: { command: 'events', changesState: () => false },
    schema: { summary: "List a board's event log (an IPMI BMC's System Event Log), oldest first", tags: ['events'], params: BoardParams, response: responses(BoardEvents) },
    handler: async (request) => {
      const boardId = parseBoardId(request.params.board_id)
      const bus = fastify.buses.forBoard(boardId)
      if (bus.events === undefined) throw new OpenDcreError('unsupported', `Event log unsupported for board ${boardIdHex(boardId)} (${bus.name} keeps no event log).`)
      return { board_id: boardIdHex(boardId), events: await bus.events(boardId) }
    }
  })
}

export default route

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { BoardParams, parseBoardId } from '../schemas/params.js'
import { BoardsDevices, responses } from '../schemas/responses.js'
import { readOnly } from '../plugins/route-config.js'
import { COMMAND_METHODS } from './methods.js'

/** GET|POST /scan (every board: the device bus, then IPMI) and /scan/:board_id. */
const route: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.route({
    method: COMMAND_METHODS,
    config: readOnly('scan'),
    url: '/scan',
    schema: { summary: 'Scan every board and list its devices', tags: ['scan'], response: responses(BoardsDevices) },
    handler: async () => {
      return { boards: await fastify.buses.scanAll() }
    }
  })

  fastify.route({
    method: COMMAND_METHODS,
    config: readOnly('scan'),
    url: '/scan/:board_id',
    schema: { summary: 'Scan one board', tags: ['scan'], params: BoardParams, response: responses(BoardsDevices) },
    handler: async (request) => {
      const boardId = parseBoardId(request.params.board_id)
      return { boards: await fastify.buses.forBoard(boardId).scanBoard(boardId) }
    }
  })
}

export default route

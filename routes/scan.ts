import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { BoardParams, parseBoardId } from '../schemas/params.js'
import { BoardsDevices } from '../schemas/responses.js'
import { commandRoute } from './device-command.js'

/** GET|POST /scan (every board: the device bus, then IPMI) and /scan/:board_id. */
const route: FastifyPluginAsyncTypebox = async (fastify) => {
  commandRoute(fastify, 'scan', {
    url: '/scan',
    summary: 'Scan every board and list its devices',
    response: BoardsDevices,
    handler: async () => ({ boards: await fastify.buses.scanAll() })
  })
  commandRoute(fastify, 'scan', {
    url: '/scan/:board_id',
    summary: 'Scan one board',
    params: BoardParams,
    response: BoardsDevices,
    handler: async (p) => {
      const boardId = parseBoardId(p.board_id)
      return { boards: await fastify.buses.forBoard(boardId).scanBoard(boardId) }
    }
  })
}

export default route

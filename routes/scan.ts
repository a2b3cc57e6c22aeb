import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { BoardParams, parseBoardId } from '../schemas/params.js'
import { BoardsDevices, responses } from '../schemas/responses.js'

/** GET /scan (every board: the device bus, then IPMI) and GET /scan/:board_id. */
const route: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/scan', { schema: { response: responses(BoardsDevices) } }, async () => {
    return { boards: await fastify.buses.scanAll() }
  })

  fastify.get('/scan/:board_id', { schema: { params: BoardParams, response: responses(BoardsDevices) } }, async (request) => {
    const boardId = parseBoardId(request.params.board_id)
    return { boards: await fastify.buses.forBoard(boardId).scanBoard(boardId) }
  })
}

export default route

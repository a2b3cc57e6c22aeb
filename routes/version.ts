import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { API_VERSION, OPENDCRE_VERSION } from '../plugins/config.js'
import { BoardParams, parseBoardId } from '../schemas/params.js'
import { responses, Version } from '../schemas/responses.js'

/** GET /version/:board_id: the board's firmware version. */
const route: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/version/:board_id', { schema: { params: BoardParams, response: responses(Version) } }, async (request) => {
    const boardId = parseBoardId(request.params.board_id)
    const firmware = await fastify.buses.forBoard(boardId).version(boardId)
    return { api_version: API_VERSION, firmware_version: firmware, opendcre_version: OPENDCRE_VERSION }
  })
}

export default route

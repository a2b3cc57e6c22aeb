import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { API_VERSION, OPENDCRE_VERSION } from '../config/service-config.js'
import { BoardParams, parseBoardId } from '../schemas/params.js'
import { Version } from '../schemas/responses.js'
import { commandRoute } from './device-command.js'

/** GET|POST /version/:board_id: the board's firmware version. */
const route: FastifyPluginAsyncTypebox = async (fastify) => {
  commandRoute(fastify, 'version', {
    url: '/version/:board_id',
    summary: "A board's firmware version",
    params: BoardParams,
    response: Version,
    handler: async (p) => {
      const boardId = parseBoardId(p.board_id)
      const firmware = await fastify.buses.forBoard(boardId).version(boardId)
      return { api_version: API_VERSION, firmware_version: firmware, opendcre_version: OPENDCRE_VERSION }
    }
  })
}

export default route

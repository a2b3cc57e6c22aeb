import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { API_VERSION, OPENDCRE_VERSION } from '../config/service-config.js'
import { BoardParams, parseBoardId } from '../schemas/params.js'
import { responses, Version } from '../schemas/responses.js'
import { readOnly } from '../plugins/route-config.js'
import { COMMAND_METHODS } from './methods.js'

/** GET|POST /version/:board_id: the board's firmware version. */
const route: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.route({
    method: COMMAND_METHODS,
    config: readOnly('version'),
    url: '/version/:board_id',
    schema: { summary: "A board's firmware version", tags: ['version'], params: BoardParams, response: responses(Version) },
    handler: async (request) => {
      const boardId = parseBoardId(request.params.board_id)
      const firmware = await fastify.buses.forBoard(boardId).version(boardId)
      return { api_version: API_VERSION, firmware_version: firmware, opendcre_version: OPENDCRE_VERSION }
    }
  })
}

export default route

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { DeviceParams, parseBoardId, parseDeviceId } from '../schemas/params.js'
import { AssetInformation, responses } from '../schemas/responses.js'
import { readOnly } from '../plugins/route-config.js'
import { COMMAND_METHODS } from './methods.js'

/** GET|POST /asset/:board_id/:device_id: asset inventory (IPMI boards; bus boards answer 500). */
const route: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.route({
    method: COMMAND_METHODS,
    config: readOnly('asset'),
    url: '/asset/:board_id/:device_id',
    schema: { summary: 'Asset inventory (IPMI boards)', tags: ['asset'], params: DeviceParams, response: responses(AssetInformation) },
    handler: async (request) => {
      const boardId = parseBoardId(request.params.board_id)
      const deviceId = parseDeviceId(request.params.device_id)
      return await fastify.buses.forBoard(boardId).asset(boardId, deviceId)
    }
  })
}

export default route

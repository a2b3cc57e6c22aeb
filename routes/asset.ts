import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { DeviceParams, parseBoardId, parseDeviceId } from '../schemas/params.js'
import { AssetInformation, responses } from '../schemas/responses.js'

/** GET /asset/:board_id/:device_id: asset inventory (IPMI boards; bus boards answer 500). */
const route: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/asset/:board_id/:device_id', { schema: { params: DeviceParams, response: responses(AssetInformation) } }, async (request) => {
    const boardId = parseBoardId(request.params.board_id)
    const deviceId = parseDeviceId(request.params.device_id)
    return await fastify.buses.forBoard(boardId).asset(boardId, deviceId)
  })
}

export default route

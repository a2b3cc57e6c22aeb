import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { BoardParams, DeviceParams, parseBoardId, parseDeviceId } from '../schemas/params.js'
import { BoardLocation, DeviceLocation, responses } from '../schemas/responses.js'

/** GET /location/:board_id[/:device_id]: physical and chassis location (no bus traffic). */
const route: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/location/:board_id', { schema: { params: BoardParams, response: responses(BoardLocation) } }, async (request) => {
    const boardId = parseBoardId(request.params.board_id)
    return await fastify.buses.forBoard(boardId).location(boardId)
  })

  fastify.get('/location/:board_id/:device_id', { schema: { params: DeviceParams, response: responses(DeviceLocation) } }, async (request) => {
    const boardId = parseBoardId(request.params.board_id)
    const deviceId = parseDeviceId(request.params.device_id)
    return await fastify.buses.forBoard(boardId).location(boardId, deviceId)
  })
}

export default route

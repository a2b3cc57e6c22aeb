import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { OpenDcreError } from '../drivers/errors.js'
import { BoardParams, DeviceParams, parseBoardId, parseDeviceId } from '../schemas/params.js'
import { BoardLocation, DeviceLocation, responses } from '../schemas/responses.js'
import { readOnly } from '../plugins/route-config.js'
import { COMMAND_METHODS } from './methods.js'

/** GET|POST /location/:board_id[/:device_id]: physical and chassis location (no bus traffic). */
const route: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.route({
    method: COMMAND_METHODS,
    config: readOnly('location'),
    url: '/location/:board_id',
    schema: { summary: "A board's physical location", tags: ['location'], params: BoardParams, response: responses(BoardLocation) },
    handler: async (request) => {
      const boardId = parseBoardId(request.params.board_id)
      return await fastify.buses.forBoard(boardId).location(boardId)
    }
  })

  fastify.route({
    method: COMMAND_METHODS,
    config: readOnly('location'),
    url: '/location/:board_id/:device_id',
    schema: { summary: "A device's physical and chassis location", tags: ['location'], params: DeviceParams, response: responses(DeviceLocation) },
    handler: async (request) => {
      const boardId = parseBoardId(request.params.board_id)
      const deviceId = parseDeviceId(request.params.device_id)
      const location = await fastify.buses.forBoard(boardId).location(boardId, deviceId)
      if (!('chassis_location' in location)) throw new OpenDcreError('unsupported', 'no chassis location for this device')
      return location
    }
  })
}

export default route

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { OpenDcreError } from '../drivers/errors.js'
import { BoardParams, DeviceParams, parseBoardId } from '../schemas/params.js'
import { BoardLocation, DeviceLocation } from '../schemas/responses.js'
import { commandRoute, deviceIn } from './device-command.js'

/** GET|POST /location/:board_id[/:device_id]: physical and chassis location (no bus traffic). */
const route: FastifyPluginAsyncTypebox = async (fastify) => {
  commandRoute(fastify, 'location', {
    url: '/location/:board_id',
    summary: "A board's physical location",
    params: BoardParams,
    response: BoardLocation,
    handler: async (p) => {
      const boardId = parseBoardId(p.board_id)
      return await fastify.buses.forBoard(boardId).location(boardId)
    }
  })
  commandRoute(fastify, 'location', {
    url: '/location/:board_id/:device_id',
    summary: "A device's physical and chassis location",
    params: DeviceParams,
    response: DeviceLocation,
    handler: async (p) => {
      const { boardId, deviceId } = deviceIn(p)
      const location = await fastify.buses.forBoard(boardId).location(boardId, deviceId)
      if (!('chassis_location' in location)) throw new OpenDcreError('unsupported', 'no chassis location for this device')
      return location
    }
  })
}

export default route

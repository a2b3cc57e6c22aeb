import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { DeviceParams } from '../schemas/params.js'
import { AssetInformation } from '../schemas/responses.js'
import { commandRoute, deviceIn } from './device-command.js'

/** GET|POST /asset/:board_id/:device_id: asset inventory (IPMI boards; bus boards answer 500). */
const route: FastifyPluginAsyncTypebox = async (fastify) => {
  commandRoute(fastify, 'asset', {
    url: '/asset/:board_id/:device_id',
    summary: 'Asset inventory (IPMI boards)',
    params: DeviceParams,
    response: AssetInformation,
    handler: async (p) => {
      const { boardId, deviceId } = deviceIn(p)
      return await fastify.buses.forBoard(boardId).asset(boardId, deviceId)
    }
  })
}

export default route

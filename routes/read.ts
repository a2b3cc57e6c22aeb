import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { BoardIdParam, DeviceIdParam, parseBoardId, parseDeviceId } from '../schemas/params.js'
import { Reading, responses } from '../schemas/responses.js'
import { readOnly } from './declaration.js'
import { COMMAND_METHODS } from './methods.js'

const ReadParams = Type.Object({
  device_type: Type.String({ minLength: 1, maxLength: 32, description: 'thermistor, temperature, humidity, led, fan_speed, ...' }),
  board_id: BoardIdParam,
  device_id: DeviceIdParam
})

/** GET|POST /read/:device_type/:board_id/:device_id: a converted reading. */
const route: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.route({
    method: COMMAND_METHODS,
    config: readOnly('read'),
    url: '/read/:device_type/:board_id/:device_id',
    schema: { summary: 'Read a device, converted for its type', tags: ['read'], params: ReadParams, response: responses(Reading) },
    handler: async (request) => {
      const boardId = parseBoardId(request.params.board_id)
      const deviceId = parseDeviceId(request.params.device_id)
      return await fastify.buses.forBoard(boardId).read(boardId, deviceId, request.params.device_type)
    }
  })
}

export default route

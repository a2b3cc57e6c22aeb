import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type, type Static } from '@sinclair/typebox'
import { freshnessHeaders } from '../schemas/freshness.js'
import { DecimalQuery, decimalQueryValue } from '../schemas/query.js'
import { BoardIdParam, DeviceIdParam, parseBoardId, parseDeviceId } from '../schemas/params.js'
import { Reading, responses } from '../schemas/responses.js'
import { readOnly } from '../plugins/route-config.js'
import { COMMAND_METHODS } from './methods.js'

const ReadParams = Type.Object({
  device_type: Type.String({ minLength: 1, maxLength: 32, description: 'thermistor, temperature, humidity, led, fan_speed, ...' }),
  board_id: BoardIdParam,
  device_id: DeviceIdParam
})

/** The largest max_age (seconds): a day. */
const MAX_AGE_LIMIT_S = 86400

/** Freshness (docs/monitoring.md): without max_age every read goes to the device, as v1.2. */
const ReadQuery = Type.Object({
  max_age: Type.Optional(DecimalQuery({
    maximum: MAX_AGE_LIMIT_S,
    description: 'Answer from the poller\'s value when it is at most this many seconds old, else read the device now. ' +
      'Without it the device is always read. Either way, identical reads in flight share one device transaction. ' +
      'Answers carry Age (seconds) and X-Reading-Timestamp (ISO 8601, when the device gave the value).'
  }))
})

/** GET|POST /read/:device_type/:board_id/:device_id: a converted reading. */
const route: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.route({
    method: COMMAND_METHODS,
    config: readOnly('read'),
    url: '/read/:device_type/:board_id/:device_id',
    schema: { summary: 'Read a device, converted for its type', tags: ['read'], params: ReadParams, querystring: ReadQuery, response: responses(Reading) },
    handler: async (request, reply) => {
      const maxAge = decimalQueryValue(request.query.max_age, 'max_age', MAX_AGE_LIMIT_S)
      const boardId = parseBoardId(request.params.board_id)
      const deviceId = parseDeviceId(request.params.device_id)
      const sample = await fastify.poller.read(boardId, deviceId, request.params.device_type, maxAge)
      reply.headers(freshnessHeaders(sample.timestamp, fastify.poller.now()))
      return sample.reading as Static<typeof Reading>
    }
  })
}

export default route

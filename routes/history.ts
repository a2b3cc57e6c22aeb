import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { Static } from '@sinclair/typebox'
import { Type } from '@sinclair/typebox'
import { stringify } from 'lossless-json'
import { OpenDcreError } from '../drivers/errors.js'
import { DeviceParams, parseBoardId, parseDeviceId } from '../schemas/params.js'
import { responses } from '../schemas/responses.js'

const History = Type.Object({
  board_id: Type.String(),
  device_id: Type.String(),
  device_type: Type.String(),
  readings: Type.Array(Type.Object({
    timestamp: Type.String({ description: 'ISO 8601: when the device gave the value' }),
    reading: Type.Object({}, { additionalProperties: true, description: 'as the read, power or LED command answers' })
  }))
}, { $id: 'History', title: 'OpenDCRE Device History' })

/**
 * GET <prefix>/1.2/history/:board_id/:device_id: a device's readings of
 * the last hour, oldest first, from the poller's in-memory ring.
 */
const route: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/history/:board_id/:device_id', {
    config: { command: 'history', changesState: () => false },
    schema: { summary: 'A device\'s readings of the last hour, oldest first', tags: ['history'], params: DeviceParams, response: responses(History) },
    handler: async (request, reply) => {
      const boardId = parseBoardId(request.params.board_id)
      const deviceId = parseDeviceId(request.params.device_id)
      const sensor = fastify.poller.sensor(boardId, deviceId)
      if (sensor === undefined) {
        throw new OpenDcreError('not-found', 'No history for this device: it is not a known sensor (scan it, or let the poller find it).')
      }
      const body = {
        board_id: sensor.board_id,
        device_id: sensor.device_id,
        device_type: sensor.device_type,
        readings: fastify.poller.history(sensor).map((s) => ({ timestamp: new Date(s.timestamp).toISOString(), reading: s.reading }))
      }
      // readings may hold 64-bit integers (bigint): lossless-json writes them as JSON numbers
      return await reply.type('application/json; charset=utf-8').send(stringify(body) as unknown as Static<typeof History>)
    }
  })
}

export default route

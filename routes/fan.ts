import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import { OpenDcreError } from '../drivers/errors.js'
import { BoardIdParam, DeviceIdParam, DeviceParams, parseBoardId, parseDeviceId } from '../schemas/params.js'
import { FanSpeed, responses } from '../schemas/responses.js'
import { readOnly, type RouteDeclaration } from '../plugins/route-config.js'
import { COMMAND_METHODS } from './methods.js'

const MIN_FAN_SPEED = 0
const MAX_FAN_SPEED = 10000

const SpeedParams = Type.Object({ board_id: BoardIdParam, device_id: DeviceIdParam, speed_rpm: Type.String({ minLength: 1, maxLength: 64 }) })

/** The rpm must be a decimal integer 0..10000; it is sent as given (v1.2). */
function checkFanSpeed (text: string): string {
  if (!/^\s*[+-]?\d+\s*$/.test(text)) {
    throw new OpenDcreError('invalid-argument', `Error converting fan_speed to integer (invalid literal for int() with base 10: '${text}').`)
  }
  const rpm = Number(text.trim())
  if (rpm < MIN_FAN_SPEED || rpm > MAX_FAN_SPEED) {
    throw new OpenDcreError('invalid-argument', 'Error converting fan_speed to integer (Fan speed out of acceptable range.).')
  }
  return text
}

const SET_FAN: RouteDeclaration = {
  command: 'fan',
  changesState: () => true,
  target: (p) => ({ action: p.speed_rpm, board: p.board_id, device: p.device_id })
}

/** GET|POST /fan/:board_id/:device_id[/:speed_rpm]: read the fan speed, or set it (write, check W1, read back). */
const route: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.route({
    method: COMMAND_METHODS,
    url: '/fan/:board_id/:device_id',
    config: readOnly('fan'),
    schema: { summary: 'The fan speed', tags: ['fan'], params: DeviceParams, response: responses(FanSpeed) },
    handler: async (request) => {
      const boardId = parseBoardId(request.params.board_id)
      const deviceId = parseDeviceId(request.params.device_id)
      return await fastify.buses.forBoard(boardId).fan(boardId, deviceId)
    }
  })

  fastify.route({
    method: COMMAND_METHODS,
    url: '/fan/:board_id/:device_id/:speed_rpm',
    config: SET_FAN,
    schema: { summary: `Set the fan speed, ${MIN_FAN_SPEED}..${MAX_FAN_SPEED} rpm`, tags: ['fan'], params: SpeedParams, response: responses(FanSpeed) },
    handler: async (request) => {
      const boardId = parseBoardId(request.params.board_id)
      const deviceId = parseDeviceId(request.params.device_id)
      const rpm = checkFanSpeed(request.params.speed_rpm)
      return await fastify.buses.forBoard(boardId).fan(boardId, deviceId, rpm)
    }
  })
}

export default route

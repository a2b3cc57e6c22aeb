import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type, type Static } from '@sinclair/typebox'
import { OpenDcreError } from '../drivers/errors.js'
import { BoardIdParam, DeviceIdParam, DeviceParams } from '../schemas/params.js'
import { FanSpeed } from '../schemas/responses.js'
import { commandRoute, deviceIn } from './device-command.js'

type FanSpeedT = Static<typeof FanSpeed>

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

/** GET|POST /fan/:board_id/:device_id[/:speed_rpm]: read the fan speed, or set it (write, check W1, read back). */
const route: FastifyPluginAsyncTypebox = async (fastify) => {
  const fan = async (p: { board_id: string, device_id: string, speed_rpm?: string }): Promise<FanSpeedT> => {
    const { boardId, deviceId } = deviceIn(p)
    const rpm = p.speed_rpm === undefined ? undefined : checkFanSpeed(p.speed_rpm)
    return await fastify.buses.forBoard(boardId).fan(boardId, deviceId, rpm)
  }

  commandRoute(fastify, 'fan', { url: '/fan/:board_id/:device_id', summary: 'The fan speed', params: DeviceParams, response: FanSpeed, handler: fan })
  commandRoute(fastify, 'fan', { url: '/fan/:board_id/:device_id/:speed_rpm', summary: `Set the fan speed, ${MIN_FAN_SPEED}..${MAX_FAN_SPEED} rpm`, params: SpeedParams, response: FanSpeed, sets: 'speed_rpm', handler: fan })
}

export default route

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { LedState, LedStatus } from '../drivers/bus.js'
import { OpenDcreError } from '../drivers/errors.js'
import { BoardIdParam, DeviceIdParam, DeviceParams } from '../schemas/params.js'
import { LedControl } from '../schemas/responses.js'
import { commandRoute, deviceIn } from './device-command.js'

const StateParams = Type.Object({ board_id: BoardIdParam, device_id: DeviceIdParam, led_state: Type.String({ minLength: 1, maxLength: 32 }) })
const ColorParams = Type.Object({
  board_id: BoardIdParam,
  device_id: DeviceIdParam,
  led_state: Type.String({ minLength: 1, maxLength: 32 }),
  led_color: Type.String({ minLength: 1, maxLength: 32 })
})

/**
 * GET|POST /led/:board_id/:device_id[/:led_state[/:led_color]]: read the
 * identify LED, or set it on/off (write, check W1, read back); setting it,
 * with or without a colour, changes state whatever the state asked for. A
 * colour is refused, as in v1.2.
 */
const route: FastifyPluginAsyncTypebox = async (fastify) => {
  const led = async (p: { board_id: string, device_id: string, led_state?: string, led_color?: string }): Promise<LedStatus> => {
    const { boardId, deviceId } = deviceIn(p)
    if (p.led_state !== undefined && p.led_state !== 'on' && p.led_state !== 'off') {
      throw new OpenDcreError('invalid-argument', 'Invalid LED state provided for LED control.')
    }
    if (p.led_color !== undefined) throw new OpenDcreError('unsupported', 'LED color setting is not supported yet.')
    const answer = await fastify.buses.forBoard(boardId).led(boardId, deviceId, p.led_state as LedState | undefined)
    // the poller keeps it: the stream and metrics show the change at once
    fastify.poller.observe(boardId, deviceId, 'led', answer)
    return answer
  }

  commandRoute(fastify, 'led', { url: '/led/:board_id/:device_id', summary: 'The LED state', params: DeviceParams, response: LedControl, handler: led })
  commandRoute(fastify, 'led', { url: '/led/:board_id/:device_id/:led_state', summary: 'Turn the LED on or off', params: StateParams, response: LedControl, sets: 'led_state', handler: led })
  commandRoute(fastify, 'led', { url: '/led/:board_id/:device_id/:led_state/:led_color', summary: 'Set the LED colour (not supported: 500)', params: ColorParams, response: LedControl, sets: 'led_state', handler: led })
}

export default route

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { LedState, LedStatus } from '../drivers/bus.js'
import { OpenDcreError } from '../drivers/errors.js'
import { BoardIdParam, DeviceIdParam, DeviceParams, parseBoardId, parseDeviceId } from '../schemas/params.js'
import { LedControl, responses } from '../schemas/responses.js'
import { readOnly, type RouteDeclaration } from '../plugins/route-config.js'
import { COMMAND_METHODS } from './methods.js'

const StateParams = Type.Object({ board_id: BoardIdParam, device_id: DeviceIdParam, led_state: Type.String({ minLength: 1, maxLength: 32 }) })
const ColorParams = Type.Object({
  board_id: BoardIdParam,
  device_id: DeviceIdParam,
  led_state: Type.String({ minLength: 1, maxLength: 32 }),
  led_color: Type.String({ minLength: 1, maxLength: 32 })
})

/** Setting the LED (with or without a colour) changes state, whatever the state asked for. */
const SET_LED: RouteDeclaration = {
  command: 'led',
  changesState: () => true,
  target: (p) => ({ action: p.led_state, board: p.board_id, device: p.device_id })
}

/**
 * GET|POST /led/:board_id/:device_id[/:led_state]: read the identify LED, or set it
 * on/off (write, check W1, read back). A colour is refused, as in v1.2.
 */
const route: FastifyPluginAsyncTypebox = async (fastify) => {
  const led = async (board: string, device: string, stateText?: string, color?: string): Promise<LedStatus> => {
    const boardId = parseBoardId(board)
    const deviceId = parseDeviceId(device)
    if (stateText !== undefined && stateText !== 'on' && stateText !== 'off') {
      throw new OpenDcreError('invalid-argument', 'Invalid LED state provided for LED control.')
    }
    if (color !== undefined) throw new OpenDcreError('unsupported', 'LED color setting is not supported yet.')
    const answer = await fastify.buses.forBoard(boardId).led(boardId, deviceId, stateText as LedState | undefined)
    // the poller keeps it: the stream and metrics show the change at once
    fastify.poller.observe(boardId, deviceId, 'led', answer)
    return answer
  }

  fastify.route({
    method: COMMAND_METHODS,
    url: '/led/:board_id/:device_id',
    config: readOnly('led'),
    schema: { summary: 'The LED state', tags: ['led'], params: DeviceParams, response: responses(LedControl) },
    handler: async (request) => {
      return await led(request.params.board_id, request.params.device_id)
    }
  })

  fastify.route({
    method: COMMAND_METHODS,
    url: '/led/:board_id/:device_id/:led_state',
    config: SET_LED,
    schema: { summary: 'Turn the LED on or off', tags: ['led'], params: StateParams, response: responses(LedControl) },
    handler: async (request) => {
      return await led(request.params.board_id, request.params.device_id, request.params.led_state)
    }
  })

  fastify.route({
    method: COMMAND_METHODS,
    url: '/led/:board_id/:device_id/:led_state/:led_color',
    config: SET_LED,
    schema: { summary: 'Set the LED colour (not supported: 500)', tags: ['led'], params: ColorParams, response: responses(LedControl) },
    handler: async (request) => {
      const p = request.params
      return await led(p.board_id, p.device_id, p.led_state, p.led_color)
    }
  })
}

export default route

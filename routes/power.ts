import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { PowerAction } from '../drivers/bus.js'
import { OpenDcreError } from '../drivers/errors.js'
import { DeviceParams, parseBoardId, parseDeviceId } from '../schemas/params.js'
import { PowerStatus, responses, type PowerStatusT } from '../schemas/responses.js'
import { readOnly, type RouteDeclaration, type RouteParams, type StateChangeTarget } from '../plugins/route-config.js'
import { COMMAND_METHODS } from './methods.js'

const ACTIONS: readonly string[] = ['on', 'off', 'cycle', 'status']

/** Three free segments: /power/:board/:device/:action or, deprecated, /power/:action/:board/:device. */
const ThreeSegments = Type.Object({
  first: Type.String({ minLength: 1, maxLength: 64 }),
  second: Type.String({ minLength: 1, maxLength: 64 }),
  third: Type.String({ minLength: 1, maxLength: 64 })
})

const WithDeviceType = Type.Object({
  device_type: Type.String({ minLength: 1, maxLength: 32 }),
  board_id: Type.String({ minLength: 1, maxLength: 64 }),
  device_id: Type.String({ minLength: 1, maxLength: 64 }),
  action: Type.String({ minLength: 1, maxLength: 64 })
})

/** /power/:first/:second/:third in either order: the deprecated one starts with the action. */
function threeSegmentTarget (p: RouteParams): StateChangeTarget {
  if (ACTIONS.includes(p.first.toLowerCase())) return { action: p.first, board: p.second, device: p.third }
  return { action: p.third, board: p.first, device: p.second }
}

/** A power command changes state unless it asks for the status (an unknown action counts as a change). */
function powerDeclaration (target: (p: RouteParams) => StateChangeTarget): RouteDeclaration {
  return {
    command: 'power',
    changesState: (p) => target(p).action.toLowerCase() !== 'status',
    target: (p) => { const t = target(p); return { ...t, action: t.action.toLowerCase() } }
  }
}

const THREE_SEGMENTS = powerDeclaration(threeSegmentTarget)
const WITH_DEVICE_TYPE = powerDeclaration((p) => ({ action: p.action, board: p.board_id, device: p.device_id }))

function parseAction (text: string): PowerAction {
  const action = text.toLowerCase()
  if (!ACTIONS.includes(action)) throw new OpenDcreError('invalid-argument', 'Invalid power action specified.')
  return action as PowerAction
}

/**
 * Power control and status. Every form answers the power status, on GET or POST:
 * /power/:board_id/:device_id            status
 * /power/:board_id/:device_id/:action    on | off | cycle | status
 * /power/:action/:board_id/:device_id    (deprecated order, still served)
 * /power/:device_type/:board_id/:device_id/:action  (device_type ignored)
 */
const route: FastifyPluginAsyncTypebox = async (fastify) => {
  const control = async (board: string, device: string, actionText: string): Promise<PowerStatusT> => {
    const boardId = parseBoardId(board)
    const deviceId = parseDeviceId(device)
    const action = parseAction(actionText)
    const answer = await fastify.buses.forBoard(boardId).power(boardId, deviceId, action)
    // the poller keeps it: the stream and metrics show the change at once
    fastify.poller.observe(boardId, deviceId, 'power', answer)
    return answer
  }
  const response = responses(PowerStatus)

  fastify.route({
    method: COMMAND_METHODS,
    url: '/power/:board_id/:device_id',
    config: readOnly('power'),
    schema: { summary: 'Power status', tags: ['power'], params: DeviceParams, response },
    handler: async (request) => {
      return await control(request.params.board_id, request.params.device_id, 'status')
    }
  })

  fastify.route({
    method: COMMAND_METHODS,
    url: '/power/:first/:second/:third',
    config: THREE_SEGMENTS,
    schema: {
      summary: 'Power control',
      description: '/power/{board_id}/{device_id}/{action}, or in the deprecated order /power/{action}/{board_id}/{device_id}; action is on, off, cycle or status',
      tags: ['power'],
      params: ThreeSegments,
      response
    },
    handler: async (request) => {
      const { action, board, device } = threeSegmentTarget(request.params)
      return await control(board, device, action)
    }
  })

  fastify.route({
    method: COMMAND_METHODS,
    url: '/power/:device_type/:board_id/:device_id/:action',
    config: WITH_DEVICE_TYPE,
    schema: { summary: 'Power control (device_type ignored)', tags: ['power'], params: WithDeviceType, response },
    handler: async (request) => {
      const { board_id: board, device_id: device, action } = request.params
      return await control(board, device, action)
    }
  })
}

export default route

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { PowerAction } from '../drivers/bus.js'
import { OpenDcreError } from '../drivers/errors.js'
import { DeviceParams } from '../schemas/params.js'
import { PowerStatus, type PowerStatusT } from '../schemas/responses.js'
import type { RouteDeclaration, RouteParams, StateChangeTarget } from '../plugins/route-config.js'
import { commandRoute, deviceIn } from './device-command.js'

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
    const { boardId, deviceId } = deviceIn({ board_id: board, device_id: device })
    const action = parseAction(actionText)
    const answer = await fastify.buses.forBoard(boardId).power(boardId, deviceId, action)
    // the poller keeps it: the stream and metrics show the change at once
    fastify.poller.observe(boardId, deviceId, 'power', answer)
    return answer
  }

  commandRoute(fastify, 'power', {
    url: '/power/:board_id/:device_id',
    summary: 'Power status',
    params: DeviceParams,
    response: PowerStatus,
    handler: async (p) => await control(p.board_id, p.device_id, 'status')
  })
  commandRoute(fastify, 'power', {
    url: '/power/:first/:second/:third',
    summary: 'Power control',
    description: '/power/{board_id}/{device_id}/{action}, or in the deprecated order /power/{action}/{board_id}/{device_id}; action is on, off, cycle or status',
    params: ThreeSegments,
    response: PowerStatus,
    config: THREE_SEGMENTS,
    handler: async (p) => {
      const { action, board, device } = threeSegmentTarget(p)
      return await control(board, device, action)
    }
  })
  commandRoute(fastify, 'power', {
    url: '/power/:device_type/:board_id/:device_id/:action',
    summary: 'Power control (device_type ignored)',
    params: WithDeviceType,
    response: PowerStatus,
    config: WITH_DEVICE_TYPE,
    handler: async (p) => await control(p.board_id, p.device_id, p.action)
  })
}

export default route

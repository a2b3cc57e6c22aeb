import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { BootTarget as Target } from '../drivers/bus.js'
import { OpenDcreError } from '../drivers/errors.js'
import { BoardIdParam, DeviceIdParam, DeviceParams, parseBoardId, parseDeviceId } from '../schemas/params.js'
import { BootTarget, responses } from '../schemas/responses.js'
import { readOnly, type RouteDeclaration } from '../plugins/route-config.js'
import { COMMAND_METHODS } from './methods.js'

const TARGETS: readonly string[] = ['pxe', 'hdd', 'no_override']

const TargetParams = Type.Object({ board_id: BoardIdParam, device_id: DeviceIdParam, target: Type.String({ minLength: 1, maxLength: 32 }) })

const SET_BOOT_TARGET: RouteDeclaration = {
  command: 'boot_target',
  changesState: () => true,
  target: (p) => ({ action: p.target, board: p.board_id, device: p.device_id })
}

/** GET|POST /boot_target/:board_id/:device_id[/:target]: get or set the boot target. */
const route: FastifyPluginAsyncTypebox = async (fastify) => {
  const bootTarget = async (board: string, device: string, targetText?: string): Promise<{ target: string }> => {
    const boardId = parseBoardId(board)
    const deviceId = parseDeviceId(device)
    if (targetText !== undefined && !TARGETS.includes(targetText)) {
      throw new OpenDcreError('invalid-argument', 'Invalid boot target specified.')
    }
    return await fastify.buses.forBoard(boardId).bootTarget(boardId, deviceId, targetText as Target | undefined)
  }

  fastify.route({
    method: COMMAND_METHODS,
    url: '/boot_target/:board_id/:device_id',
    config: readOnly('boot_target'),
    schema: { summary: 'The boot target', tags: ['boot_target'], params: DeviceParams, response: responses(BootTarget) },
    handler: async (request) => {
      return await bootTarget(request.params.board_id, request.params.device_id)
    }
  })

  fastify.route({
    method: COMMAND_METHODS,
    url: '/boot_target/:board_id/:device_id/:target',
    config: SET_BOOT_TARGET,
    schema: { summary: 'Set the boot target: pxe, hdd or no_override', tags: ['boot_target'], params: TargetParams, response: responses(BootTarget) },
    handler: async (request) => {
      return await bootTarget(request.params.board_id, request.params.device_id, request.params.target)
    }
  })
}

export default route

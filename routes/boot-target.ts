import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { Type } from '@sinclair/typebox'
import type { BootTarget as Target } from '../drivers/bus.js'
import { OpenDcreError } from '../drivers/errors.js'
import { BoardIdParam, DeviceIdParam, DeviceParams } from '../schemas/params.js'
import { BootTarget } from '../schemas/responses.js'
import { commandRoute, deviceIn } from './device-command.js'

const TARGETS: readonly string[] = ['pxe', 'hdd', 'no_override']

const TargetParams = Type.Object({ board_id: BoardIdParam, device_id: DeviceIdParam, target: Type.String({ minLength: 1, maxLength: 32 }) })

/** GET|POST /boot_target/:board_id/:device_id[/:target]: get or set the boot target. */
const route: FastifyPluginAsyncTypebox = async (fastify) => {
  const bootTarget = async (p: { board_id: string, device_id: string, target?: string }): Promise<{ target: string }> => {
    const { boardId, deviceId } = deviceIn(p)
    if (p.target !== undefined && !TARGETS.includes(p.target)) {
      throw new OpenDcreError('invalid-argument', 'Invalid boot target specified.')
    }
    return await fastify.buses.forBoard(boardId).bootTarget(boardId, deviceId, p.target as Target | undefined)
  }

  commandRoute(fastify, 'boot_target', { url: '/boot_target/:board_id/:device_id', summary: 'The boot target', params: DeviceParams, response: BootTarget, handler: bootTarget })
  commandRoute(fastify, 'boot_target', { url: '/boot_target/:board_id/:device_id/:target', summary: 'Set the boot target: pxe, hdd or no_override', params: TargetParams, response: BootTarget, sets: 'target', handler: bootTarget })
}

export default route

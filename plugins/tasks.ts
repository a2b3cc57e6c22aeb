import fp from 'fastify-plugin'
import type { Bus, PowerAction, PowerTarget } from '../drivers/bus.js'
import { boardIdHex } from '../drivers/bus.js'
import { OpenDcreError } from '../drivers/errors.js'
import { PowerTasks, type PowerTasksOptions } from '../monitoring/power-tasks.js'
import type { SwitchAudit, TaskTarget } from '../monitoring/power-task.js'

/** The API's backend names (as /health names them) of each bus. */
const BACKEND_OF: Record<string, string> = { 'device bus': 'device_bus', ipmi: 'ipmi', redfish: 'redfish' }

/** A selection the service cannot serve: answered 400 with the reason. */
export class SelectionError extends Error {}

export interface BulkSelection {
  boards: 'all' | string[]
  backend?: string
}

declare module 'fastify' {
  interface FastifyInstance {
    /** Bulk power tasks (routes/bulk-power.ts, routes/tasks.ts). */
    powerTasks: PowerTasks
    /** The boards a bulk power request selects, each with its backend's power call. */
    powerTargets: (selection: BulkSelection) => Promise<TaskTarget[]>
    /** One audit line per switch a task sends (a no-op without an audit log). */
    auditSwitch: (identity: string) => SwitchAudit
  }
}

/**
 * The bulk power task store and the board selection it needs. A backend
 * that lists its power targets from its configuration (IPMI, Redfish) is
 * asked for them; the others (the device bus) are scanned for their power
 * devices. Every switch goes through the registry's Bus, and its answer is
 * given to the poller so the stream and metrics show it at once.
 */
export default fp<PowerTasksOptions>(async (fastify, opts) => {
  const tasks = new PowerTasks(opts)
  fastify.decorate('powerTasks', tasks)

  const power = (bus: Bus) => async (boardId: number, deviceId: number, action: PowerAction) => {
    const answer = await bus.power(boardId, deviceId, action)
    fastify.poller.observe(boardId, deviceId, 'power', answer)
    return answer
  }
  // the survey and read-backs read the state alone where the backend can (IPMI: no DCMI reading per read-back);
  // the poller is told of the switches' full answers and keeps polling the rest
  const readState = (bus: Bus) => bus.powerState === undefined ? undefined : async (boardId: number, deviceId: number) => await (bus.powerState as NonNullable<Bus['powerState']>)(boardId, deviceId)
  const toTarget = (bus: Bus, t: PowerTarget): TaskTarget => {
    const read = readState(bus)
    return { boardId: t.board_id, deviceId: t.device_id, ...(t.power_on_watts === undefined ? {} : { watts: t.power_on_watts }), power: power(bus), ...(read === undefined ? {} : { readState: read }) }
  }

  /** A scanned backend's power devices: the first power device of each board. */
  const scanned = async (bus: Bus, boardId?: number): Promise<PowerTarget[]> => {
    const boards = boardId === undefined ? await bus.scanAll() : await bus.scanBoard(boardId)
    const targets: PowerTarget[] = []
    for (const board of boards) {
      const device = board.devices.find((d) => d.device_type === 'power')
      if (device !== undefined) targets.push({ board_id: parseInt(board.board_id, 16), device_id: parseInt(device.device_id, 16) })
    }
    return targets
  }

  fastify.decorate('powerTargets', async (selection: BulkSelection): Promise<TaskTarget[]> => {
    const buses = fastify.buses.all().filter((bus) => selection.backend === undefined || BACKEND_OF[bus.name] === selection.backend)
    if (selection.backend !== undefined && buses.length === 0) throw new SelectionError(`no ${selection.backend} backend is configured`)
    if (selection.boards === 'all') {
      const targets: TaskTarget[] = []
      for (const bus of buses) {
        const listed = bus.powerTargets?.() ?? await scanned(bus)
        for (const t of listed) targets.push(toTarget(bus, t))
      }
      return targets
    }
    const listedBy = new Map<Bus, Map<number, PowerTarget>>()
    const targets: TaskTarget[] = []
    for (const text of selection.boards) {
      const boardId = parseInt(text, 16) >>> 0
      let bus: Bus
      try {
        bus = fastify.buses.forBoard(boardId)
      } catch (err) {
        throw new SelectionError(`board ${text}: ${(err as Error).message}`)
      }
      if (!buses.includes(bus)) throw new SelectionError(`board ${text} is not a ${selection.backend ?? ''} board`)
      let target: PowerTarget | undefined
      if (bus.powerTargets !== undefined) {
        let listed = listedBy.get(bus)
        if (listed === undefined) {
          listed = new Map(bus.powerTargets().map((t) => [t.board_id, t]))
          listedBy.set(bus, listed)
        }
        target = listed.get(boardId)
        if (target === undefined) throw new SelectionError(`board ${text}: no such board on the ${bus.name} backend`)
      } else {
        try {
          target = (await scanned(bus, boardId))[0]
        } catch (err) {
          throw new SelectionError(`board ${text}: ${err instanceof OpenDcreError ? err.message : 'scan failed'}`)
        }
      }
      if (target === undefined) throw new SelectionError(`board ${boardIdHex(boardId)} has no power device`)
      targets.push(toTarget(bus, target))
    }
    return targets
  })

  fastify.decorate('auditSwitch', (identity: string): SwitchAudit => (entry) => {
    fastify.auditLog?.write?.({ identity, method: 'TASK', command: `power ${entry.action}`, ...entry })
  })

  fastify.addHook('preClose', async () => { await tasks.close() })
}, { name: 'tasks', fastify: '5.x', dependencies: ['bus-registry'] })

import fp from 'fastify-plugin'
import type { Bus, ScannedBoard } from '../drivers/bus.js'
import { BOARD_ID_BITS } from '../drivers/device-bus/device-types.js'
import { OpenDcreError } from '../drivers/errors.js'

export type BackendKind = 'device-bus' | 'ipmi'

/**
 * Routes reach backends only through this registry: boards with the IPMI bit
 * go to the IPMI backend, every other board to the device bus.
 */
export class BusRegistry {
  private readonly backends = new Map<BackendKind, Bus>()

  register (kind: BackendKind, bus: Bus): void {
    if (this.backends.has(kind)) throw new Error(`a ${kind} backend is already registered`)
    this.backends.set(kind, bus)
  }

  get (kind: BackendKind): Bus | undefined {
    return this.backends.get(kind)
  }

  forBoard (boardId: number): Bus {
    if ((boardId & BOARD_ID_BITS.ipmi) !== 0) {
      const ipmi = this.backends.get('ipmi')
      if (ipmi === undefined) throw new OpenDcreError('not-found', 'BMC with board_num was not found.')
      return ipmi
    }
    const bus = this.backends.get('device-bus')
    if (bus === undefined) throw new OpenDcreError('not-found', 'no device bus is configured')
    return bus
  }

  /** Scan-all: the device bus's boards first, then the IPMI boards. */
  async scanAll (): Promise<ScannedBoard[]> {
    const boards: ScannedBoard[] = []
    for (const kind of ['device-bus', 'ipmi'] as const) {
      const bus = this.backends.get(kind)
      if (bus !== undefined) boards.push(...await bus.scanAll())
    }
    return boards
  }

  async close (): Promise<void> {
    await Promise.allSettled([...this.backends.values()].map(async (bus) => await bus.close()))
    this.backends.clear()
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    buses: BusRegistry
  }
}

export default fp(async (fastify) => {
  const registry = new BusRegistry()
  fastify.decorate('buses', registry)
  fastify.addHook('onClose', async () => await registry.close())
}, { name: 'bus-registry', fastify: '5.x' })

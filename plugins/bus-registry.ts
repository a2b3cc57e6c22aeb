import fp from 'fastify-plugin'
import { boardIdHex, type Bus, type BusStatus, type ScannedBoard } from '../drivers/bus.js'
import { MisdirectedError, OpenDcreError } from '../drivers/errors.js'
import { callerScope } from '../drivers/queueing/request-context.js'
import { isIpmiBoardId } from '../drivers/ipmi/ipmi-bus.js'
import { isRedfishBoardId } from '../drivers/redfish/redfish-bus.js'

/**
 * Routes reach backends only through this registry. Each backend says which
 * boards it owns (`Bus.ownsBoard`); the first registered backend that owns a
 * board serves it. Scan-all lists every backend's boards in registration
 * order (the device bus first, then the IPMI bridge, then others), as v1.2.
 */
export class BusRegistry {
  private readonly backends: Bus[] = []
  private readonly notFound: Array<{ owns: (boardId: number) => boolean, message: string }> = []
  private readonly elsewhere: Array<(boardId: number) => string | undefined> = []

  register (bus: Bus): void {
    if (this.backends.some((b) => b.name === bus.name)) throw new Error(`a ${bus.name} backend is already registered`)
    this.backends.push(bus)
  }

  /**
   * The error for a board in a range whose backend is not configured (v1.2:
   * "BMC with board_num was not found." for IPMI boards). Checked in order
   * after every registered backend; the last resort is the device bus's.
   */
  unclaimed (owns: (boardId: number) => boolean, message: string): void {
    this.notFound.push({ owns, message })
  }

  /**
   * Boards of a sharded inventory that another shard serves: `ownerOf`
   * names the owner (config/shard.ts describeOwner) or gives undefined.
   * Asked before the backends (an IPMI or Redfish bus claims its whole id range): a request for such a board is
   * refused with MisdirectedError (421) naming the owner.
   */
  servedElsewhere (ownerOf: (boardId: number) => string | undefined): void {
    this.elsewhere.push(ownerOf)
  }

  /** Every registered backend, in registration order. */
  all (): readonly Bus[] {
    return this.backends
  }

  forBoard (boardId: number): Bus {
    for (const ownerOf of this.elsewhere) {
      const owner = ownerOf(boardId)
      if (owner !== undefined) throw new MisdirectedError(`board ${boardIdHex(boardId)} is served by ${owner}`)
    }
    for (const bus of this.backends) if (bus.ownsBoard(boardId)) return bus
    for (const range of this.notFound) if (range.owns(boardId)) throw new OpenDcreError('not-found', range.message)
    throw new OpenDcreError('not-found', 'no device bus is configured')
  }

  /** Every backend's own status (health and metrics read these). */
  statuses (): BusStatus[] {
    return this.backends.map((bus) => bus.status())
  }

  /** Scan-all: each backend's boards, in registration order. */
  async scanAll (): Promise<ScannedBoard[]> {
    const boards: ScannedBoard[] = []
    // each backend queues its scans on behalf of this request's client, after the awaits too
    const resume = callerScope()
    for (const bus of this.backends) boards.push(...await resume(async () => await bus.scanAll()))
    return boards
  }

  async close (): Promise<void> {
    await Promise.allSettled(this.backends.map(async (bus) => await bus.close()))
    this.backends.length = 0
  }
}

declare module 'fastify' {
  interface FastifyInstance {
    buses: BusRegistry
  }
}

export default fp(async (fastify) => {
  const registry = new BusRegistry()
  // v1.2's answer for an IPMI board when no bridge is configured
  registry.unclaimed(isIpmiBoardId, 'BMC with board_num was not found.')
  registry.unclaimed(isRedfishBoardId, 'Redfish server with board_num was not found.')
  fastify.decorate('buses', registry)
  fastify.addHook('onClose', async () => await registry.close())
}, { name: 'bus-registry', fastify: '5.x' })

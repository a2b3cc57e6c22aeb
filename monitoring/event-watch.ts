import pLimit, { type LimitFunction } from 'p-limit'
import type { BoardEvent } from '../drivers/events.js'
import type { DriverLogger } from '../drivers/logger.js'
import { silentLogger } from '../drivers/logger.js'
import type { LogAlert } from './alerts.js'
import type { BoardState } from './sensor-state.js'

/**
 * Watches each board's event log (GET /events's source: an IPMI BMC's SEL,
 * a Redfish LogService) every `intervalMs`, and reports the entries it had
 * not seen. The IPMI bridge answers an unchanged SEL with one request (Get
 * SEL Info: same entry count and last addition time); the first look at a
 * board only notes what is there. At most `concurrency` looks at once, one
 * per board; boards that are down are skipped until they answer.
 */
export interface EventWatchOptions {
  boards: () => Iterable<BoardState>
  onAlert: (alert: LogAlert) => void
  intervalMs: number
  concurrency: number
  now?: () => number
  log?: DriverLogger
  /** Backends whose event log is pushed another way (a Redfish SSE subscription) are not polled. */
  skip?: (board: BoardState) => boolean
}

/** Record ids remembered per board: bounded like the SEL itself. */
const MAX_SEEN = 4096

export class EventWatch {
  private readonly seen = new Map<string, Set<string>>()
  private readonly busy = new Set<string>()
  private readonly limit: LimitFunction
  private timer: ReturnType<typeof setInterval> | undefined
  private readonly now: () => number
  private readonly log: DriverLogger

  constructor (private readonly options: EventWatchOptions) {
    this.limit = pLimit(options.concurrency)
    this.now = options.now ?? Date.now
    this.log = options.log ?? silentLogger
  }

  start (): void {
    if (this.timer !== undefined) return
    this.timer = setInterval(() => { this.tick() }, this.options.intervalMs)
    this.timer.unref()
  }

  stop (): void {
    if (this.timer !== undefined) clearInterval(this.timer)
    this.timer = undefined
    this.limit.clearQueue()
  }

  /** One look at every board not already being looked at. */
  tick (): void {
    for (const board of this.options.boards()) {
      if (board.bus.events === undefined || board.up === false || this.busy.has(board.board_id)) continue
      if (this.options.skip?.(board) === true) continue
      this.busy.add(board.board_id)
      this.limit(async () => await this.look(board)).catch(() => {}).finally(() => this.busy.delete(board.board_id))
    }
  }

  /** Reads the board's log and reports its new entries; returns them (tests). */
  async look (board: BoardState): Promise<BoardEvent[]> {
    let entries: BoardEvent[]
    try {
      entries = await (board.bus.events as (id: number) => Promise<BoardEvent[]>)(board.boardId)
    } catch (err) {
      this.log.debug({ board: board.board_id, err: (err as Error).message }, 'event watch: log read failed')
      return []
    }
    const known = this.seen.get(board.board_id)
    const ids = new Set(entries.slice(-MAX_SEEN).map((e) => e.record_id))
    this.seen.set(board.board_id, ids)
    if (known === undefined) return []
    const fresh = entries.filter((e) => !known.has(e.record_id))
    const timestamp = new Date(this.now()).toISOString()
    for (const entry of fresh) this.options.onAlert({ kind: 'log', board_id: board.board_id, backend: board.backend, entry, timestamp })
    return fresh
  }
}

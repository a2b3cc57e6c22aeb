import type { PushedEvents } from '../drivers/bus.js'
import type { BoardEvent } from '../drivers/events.js'
import type { DriverLogger } from '../drivers/logger.js'
import { ConcurrencyLimit } from '../drivers/queueing/concurrency-limit.js'
import { silentLogger } from '../drivers/logger.js'
import type { LogAlert } from './alerts.js'
import type { BoardState } from './sensor-state.js'

/**
 * Watches each board's event log (GET /events's source: an IPMI BMC's SEL,
 * a Redfish LogService) every `intervalMs` (longer for a fleet larger than
 * `looksPerSecond` allows), and reports the entries it had
 * not seen. The IPMI bridge answers an unchanged SEL with one request (Get
 * SEL Info: same entry count and last addition time); the first look at a
 * board only notes what is there. At most `concurrency` looks at once, one
 * per board; boards that are down are skipped until they answer.
 *
 * A backend that pushes events (bus.watchEvents: a Redfish EventService's
 * SSE stream) is subscribed once per board; while its stream is live (or
 * still connecting) the log is not read, only looked at once for the
 * baseline and once more each time the stream turns live (to catch up).
 * When the stream is off (the service offers none, or it keeps failing)
 * the log is read as for any board. Both paths report through one set of
 * seen record ids per board, so an entry reported one way is never
 * reported again the other way; pushed events whose ids are not the log's
 * (`linked` false) are taken only while the stream is live.
 *
 * What it reports goes to the poller (Poller.alert), which reads the sensor
 * an entry names again at once, within a per-board budget.
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
  /**
   * At most this many looks a second over the whole fleet (undefined: no
   * bound): with more watched boards than `intervalMs` allows at this rate,
   * the time between looks grows with the fleet instead of the request rate.
   */
  looksPerSecond?: number
}

/** Record ids remembered per board: bounded like the SEL itself. */
const MAX_SEEN = 4096

interface Pushed { handle: PushedEvents, caughtUp: boolean }

export class EventWatch {
  /** Record ids reported or noted per board, with the sequence number of when (a look keeps those noted since it began). */
  private readonly seen = new Map<string, Map<string, number>>()
  private seq = 0
  private readonly pushed = new Map<string, Pushed>()
  private readonly baselined = new Set<string>()
  private readonly busy = new Set<string>()
  /** Each board's entries as its last look read them, while nothing was reported since (an unchanged log is then not sorted again). */
  private readonly lastEntries = new Map<string, BoardEvent[]>()
  private readonly lookAt = (board: BoardState): Promise<BoardEvent[]> => this.look(board)
  /** Looks at once (p-limit's contract without its promises per look: 500 looks a second at 5,000 BMCs). */
  private readonly limit: ConcurrencyLimit
  private timer: ReturnType<typeof setTimeout> | undefined
  private running = false
  private readonly now: () => number
  private readonly log: DriverLogger

  constructor (private readonly options: EventWatchOptions) {
    this.limit = new ConcurrencyLimit(options.concurrency)
    this.now = options.now ?? Date.now
    this.log = options.log ?? silentLogger
  }

  start (): void {
    if (this.running) return
    this.running = true
    const next = (): void => {
      this.timer = setTimeout(() => {
        this.tick()
        if (this.running) next()
      }, this.periodMs())
      this.timer.unref()
    }
    next()
  }

  /** `intervalMs`, or longer where the boards with an event log need it to keep under `looksPerSecond`. */
  periodMs (): number {
    const rate = this.options.looksPerSecond
    if (rate === undefined) return this.options.intervalMs
    let watched = 0
    for (const board of this.options.boards()) if (board.bus.events !== undefined) watched++
    return Math.max(this.options.intervalMs, Math.ceil(watched / rate * 1000))
  }

  stop (): void {
    this.running = false
    if (this.timer !== undefined) clearTimeout(this.timer)
    this.timer = undefined
    this.limit.clearQueue()
    for (const p of this.pushed.values()) p.handle.close()
    this.pushed.clear()
  }

  /** The board's pushed events, subscribed on first sight (undefined: its backend pushes none). */
  private subscription (board: BoardState): Pushed | undefined {
    let pushed = this.pushed.get(board.board_id)
    if (pushed === undefined && board.bus.watchEvents !== undefined) {
      pushed = { handle: board.bus.watchEvents(board.boardId, (events, linked) => { this.onPushed(board, events, linked) }), caughtUp: false }
      this.pushed.set(board.board_id, pushed)
    }
    return pushed
  }

  private onPushed (board: BoardState, events: BoardEvent[], linked: boolean): void {
    if (!linked && this.pushed.get(board.board_id)?.handle.state !== 'live') return
    this.report(board, events)
  }

  /** Reports the entries not seen before and notes them; returns them. */
  private report (board: BoardState, entries: BoardEvent[]): BoardEvent[] {
    let known = this.seen.get(board.board_id)
    if (known === undefined) this.seen.set(board.board_id, known = new Map())
    const fresh: BoardEvent[] = []
    for (const e of entries) {
      if (known.has(e.record_id)) continue
      known.set(e.record_id, ++this.seq)
      fresh.push(e)
    }
    if (fresh.length === 0) return fresh
    this.lastEntries.delete(board.board_id)
    while (known.size > MAX_SEEN) known.delete(known.keys().next().value as string)
    const timestamp = new Date(this.now()).toISOString()
    for (const entry of fresh) this.options.onAlert({ kind: 'log', board_id: board.board_id, backend: board.backend, entry, timestamp })
    return fresh
  }

  /** One look at every board not already being looked at. */
  tick (): void {
    for (const board of this.options.boards()) {
      if (board.bus.events === undefined || board.up === false || this.busy.has(board.board_id)) continue
      if (this.options.skip?.(board) === true) continue
      const pushed = this.subscription(board)
      if (pushed !== undefined) {
        const streaming = pushed.handle.state !== 'off'
        if (streaming && pushed.caughtUp && this.baselined.has(board.board_id)) continue
        pushed.caughtUp = streaming
      }
      this.busy.add(board.board_id)
      this.limit.run(this.lookAt, board).then(() => this.busy.delete(board.board_id), () => this.busy.delete(board.board_id))
    }
  }

  /** Reads the board's log and reports its new entries; returns them (tests). */
  async look (board: BoardState): Promise<BoardEvent[]> {
    const began = this.seq
    let entries: BoardEvent[]
    try {
      entries = await (board.bus.events as (id: number) => Promise<BoardEvent[]>)(board.boardId)
    } catch (err) {
      this.log.debug({ board: board.board_id, err: (err as Error).message }, 'event watch: log read failed')
      return []
    }
    // the same entries (the IPMI bridge hands out the same objects while its SEL is unchanged) as the
    // last look, nothing reported since: what is seen stays as it is (most looks at 5,000 BMCs)
    const last = this.lastEntries.get(board.board_id)
    if (last !== undefined && sameEntries(last, entries)) return []
    const known = this.seen.get(board.board_id) ?? new Map<string, number>()
    // the first look only notes what is there
    const first = !this.baselined.has(board.board_id)
    this.baselined.add(board.board_id)
    const fresh = first ? [] : entries.filter((e) => !known.has(e.record_id))
    // the log as it is now, and what was pushed while it was read; a log cleared forgets the rest
    const next = new Map<string, number>()
    for (const e of entries.slice(-MAX_SEEN)) {
      const at = known.get(e.record_id)
      if (at !== undefined || first) next.set(e.record_id, at ?? 0)
    }
    for (const [id, at] of known) if (at > began) next.set(id, at)
    this.seen.set(board.board_id, next)
    const reported = this.report(board, fresh)
    // kept only when nothing was noted during this look either (then `seen` is exactly these entries)
    if (reported.length === 0 && this.seq === began) this.lastEntries.set(board.board_id, entries)
    else this.lastEntries.delete(board.board_id)
    return reported
  }
}

function sameEntries (a: readonly BoardEvent[], b: readonly BoardEvent[]): boolean {
  if (a.length !== b.length) return false
  for (let i = 0; i < a.length; i++) if (a[i] !== b[i]) return false
  return true
}

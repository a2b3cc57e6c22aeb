import { EventEmitter } from 'node:events'
import { boardIdHex, deviceIdHex, type Bus, type MetricFamily, type ScannedBoard, type SensorHealth } from '../drivers/bus.js'
import { OpenDcreError } from '../drivers/errors.js'
import { ConcurrencyLimit } from '../drivers/queueing/concurrency-limit.js'
import { silentLogger, type DriverLogger } from '../drivers/logger.js'
import { wallClock, type PollerClock } from './clock.js'
import { HistoryRing } from './history-ring.js'
import { sensorMetricFamilies } from './sensor-metrics.js'
import type { BoardState, Sample, SensorState } from './sensor-state.js'
import { dueInRound, gridPoint, historySize, pollInterval, pollOperation, type PollConfig, type PollOperation } from './poll-config.js'
import { assess, configuredThresholds, healthOf, readingValue } from './thresholds.js'
import { thresholdAlert, type Alert, type LogAlert } from './alerts.js'
import { fetchKey, ignore, sensorNamedBy } from './poll-entries.js'

/** The backends, as the registry lists them (plugins/bus-registry.ts satisfies this). */
interface BusSource {
  all: () => readonly Bus[]
  forBoard: (boardId: number) => Bus
}

interface PollerOptions {
  buses: BusSource
  config: PollConfig
  clock?: PollerClock
  log?: DriverLogger
  /** [0, 1); jitter and the first poll's spread. Tests fix it. */
  random?: () => number
}

/**
 * Out-of-turn reads per board per poll interval (its shortest), whatever its
 * event log says: a BMC flooding its SEL cannot make the poller read without end.
 */
export const REREADS_PER_INTERVAL = 10

/** Failures that say the board did not answer at all (its readings then age). */
const UNREACHABLE = new Set(['timeout', 'unavailable', 'bus-busy'])

/**
 * The one poller: keeps the latest value of every sensor, power state and
 * LED of every board of every backend, refreshed on a schedule, through the
 * Bus interface only. Each board is polled by its own loop, one request at a
 * time (so a slow or dead BMC delays only itself); a global bound caps the
 * requests in flight over all boards. API reads go through `read()`, which
 * answers from a fresh enough value or shares one device transaction among
 * identical concurrent reads.
 *
 * Events: 'reading' (SensorState) on every new value, 'board' (BoardState)
 * when a board's up state changes, 'alert' (Alert) when a sensor's state
 * changes or a board's event log grows (monitoring/alerts.ts).
 */
export class Poller extends EventEmitter {
  readonly config: PollConfig
  private readonly source: BusSource
  private readonly clock: PollerClock
  private readonly log: DriverLogger
  private readonly random: () => number
  /** Requests in flight over all boards (p-limit's contract, without its promises per read). */
  private readonly limit: ConcurrencyLimit
  private readonly boards = new Map<string, BoardState>()
  private readonly sensors = new Map<string, SensorState>()
  private readonly inflight = new Map<string, Promise<Sample>>()
  private readonly backends = new WeakMap<Bus, string>()
  private running = false
  /** Sensors with an out-of-turn read in flight ("board/device"), and each board's re-read budget window. */
  private readonly rereading = new Set<string>()
  private readonly rereadBudget = new Map<string, { from: number, used: number }>()
  /** Entries replaced by one of another type (sensorFor): a result for them goes by the key again. */
  private readonly retired = new WeakSet<SensorState>()
  /** Each polled entry's in-flight key, made once per operation (every poll looks it up). */
  private readonly fetchKeys = new WeakMap<SensorState, { operation: PollOperation, key: string }>()
  /** runBoard's poll, made once: the limit passes the sensor along (no closure per poll). */
  private readonly pollSensor = (sensor: SensorState): Promise<void> => this.poll(sensor)
  private readonly inventoryOf = (board: BoardState): Promise<void> => this.inventory(board)
  private rescanTimer: unknown
  private discovering: Promise<void> | undefined

  constructor (options: PollerOptions) {
    super()
    // every stream client listens; none is a leak
    this.setMaxListeners(0)
    this.config = options.config
    this.source = options.buses
    this.clock = options.clock ?? wallClock
    this.log = options.log ?? silentLogger
    this.random = options.random ?? Math.random
    this.limit = new ConcurrencyLimit(options.config.concurrency)
  }

  get started (): boolean {
    return this.running
  }

  /** Takes the inventory of every backend, then polls each board on its schedule. */
  start (): Promise<void> {
    if (this.running) return this.discovering ?? Promise.resolve()
    this.running = true
    return this.rescan()
  }

  /** Stops scheduling; requests in flight finish (their results are still kept). */
  stop (): void {
    this.running = false
    if (this.rescanTimer !== undefined) this.clock.clearTimeout(this.rescanTimer)
    this.rescanTimer = undefined
    for (const board of this.boards.values()) {
      if (board.timer !== undefined) this.clock.clearTimeout(board.timer)
      board.timer = undefined
    }
  }

  /** Scan-all on every backend (in parallel), adding the boards and devices it finds. */
  private rescan (): Promise<void> {
    const only = this.config.backends
    const discovering = Promise.all(this.source.all().filter((bus) => only === undefined || only.includes(this.backendOf(bus))).map(async (bus) => {
      let boards: ScannedBoard[]
      try {
        boards = await bus.scanAll()
      } catch (err) {
        this.log.warn({ bus: bus.name, err: (err as Error).message }, 'poller: inventory failed')
        return
      }
      for (const scanned of boards) this.addBoard(bus, scanned)
    })).then(() => {
      this.discovering = undefined
      if (this.running) this.rescanTimer = this.clock.setTimeout(() => { this.rescan().catch(() => {}) }, this.config.rescanS * 1000)
    })
    this.discovering = discovering
    return discovering
  }

  private backendOf (bus: Bus): string {
    let backend = this.backends.get(bus)
    if (backend === undefined) {
      backend = bus.status().backend
      this.backends.set(bus, backend)
    }
    return backend
  }

  private boardFor (bus: Bus, boardId: number): BoardState {
    const id = boardIdHex(boardId)
    let board = this.boards.get(id)
    if (board === undefined) {
      board = { board_id: id, boardId, backend: this.backendOf(bus), bus, sensors: [], up: undefined, lastContact: undefined, inventoryDue: Infinity, phase: this.random(), busy: false, timer: undefined }
      this.boards.set(id, board)
    }
    return board
  }

  /**
   * A board of a scan-all. Its own scan follows in its loop: scan-all may
   * list a slow board with only some of its devices (the IPMI bridge lists
   * a BMC that has not answered in time with its power and system devices).
   */
  private addBoard (bus: Bus, scanned: ScannedBoard): void {
    const boardId = Number.parseInt(scanned.board_id, 16) >>> 0
    const board = this.boardFor(bus, boardId)
    if (board.inventoryDue === Infinity && board.lastContact === undefined) board.inventoryDue = this.clock.now()
    this.addDevices(board, scanned)
  }

  private addDevices (board: BoardState, scanned: ScannedBoard): void {
    const now = this.clock.now()
    for (const device of scanned.devices) {
      const deviceId = Number.parseInt(device.device_id, 16)
      const operation = pollOperation(this.config, board.backend, device.device_type.toLowerCase(), deviceId)
      if (operation === 'none') continue
      const sensor = this.sensorFor(board, deviceId, device.device_type, device.device_info)
      if (sensor.operation !== operation || sensor.nextDue === Infinity) {
        sensor.operation = operation
        // the fleet's first polls spread over one interval, board by board
        sensor.nextDue = now + board.phase * sensor.intervalMs
      }
    }
    this.schedule(board)
  }

  /** The entry for a device, made (or retyped) as needed; not scheduled. */
  private sensorFor (board: BoardState, deviceId: number, deviceType: string, deviceInfo?: string): SensorState {
    const key = `${board.board_id}/${deviceIdHex(deviceId)}`
    const type = deviceType.toLowerCase()
    const existing = this.sensors.get(key)
    if (existing !== undefined && existing.device_type === type) {
      if (deviceInfo !== undefined) existing.device_info = deviceInfo
      return existing
    }
    const intervalS = pollInterval(this.config, board.backend, type)
    const sensor: SensorState = {
      board,
      boardId: board.boardId,
      deviceId,
      board_id: board.board_id,
      device_id: deviceIdHex(deviceId),
      device_type: type,
      device_info: deviceInfo ?? existing?.device_info,
      operation: pollOperation(this.config, board.backend, type, deviceId),
      intervalMs: intervalS * 1000,
      reading: undefined,
      readAt: undefined,
      error: undefined,
      errorAt: undefined,
      nextDue: Infinity,
      history: new HistoryRing(historySize(this.config, intervalS)),
      // named now so they live in the object itself, not in a properties array added when first set
      metricText: undefined,
      condition: undefined,
      thresholds: undefined
    }
    if (existing !== undefined) {
      this.retired.add(existing)
      board.sensors.splice(board.sensors.indexOf(existing), 1, sensor)
    } else board.sensors.push(sensor)
    this.sensors.set(key, sensor)
    return sensor
  }

  private schedule (board: BoardState): void {
    if (!this.running || board.busy) return
    let due = board.inventoryDue
    for (const sensor of board.sensors) if (sensor.nextDue < due) due = sensor.nextDue
    if (due === Infinity) return
    if (board.timer !== undefined) this.clock.clearTimeout(board.timer)
    board.timer = this.clock.setTimeout(() => {
      board.timer = undefined
      this.runBoard(board).catch(() => {})
    }, Math.max(0, gridPoint(due) - this.clock.now()))
  }

  /** Polls the board's due devices one at a time; a board that does not answer is asked once a round. */
  private async runBoard (board: BoardState): Promise<void> {
    board.busy = true
    try {
      if (dueInRound(board.inventoryDue, this.clock.now()) && this.running) await this.limit.run(this.inventoryOf, board)
      let unreachable = false
      for (const sensor of board.sensors) {
        if (!this.running) break
        const due = sensor.nextDue
        if (!dueInRound(due, this.clock.now())) continue
        if (!unreachable) {
          await this.limit.run(this.pollSensor, sensor)
          unreachable = board.up === false
        }
        sensor.nextDue = this.nextDue(sensor, due)
      }
    } finally {
      board.busy = false
      this.schedule(board)
    }
  }

  /** The board's own scan; retried after the board's shortest interval until it answers. */
  private async inventory (board: BoardState): Promise<void> {
    try {
      for (const scanned of await board.bus.scanBoard(board.boardId)) {
        if (scanned.board_id === board.board_id) this.addDevices(board, scanned)
      }
      board.inventoryDue = Infinity
      board.lastContact = this.clock.now()
      this.setUp(board, true)
    } catch (err) {
      const retryMs = Math.min(...board.sensors.map((s) => s.intervalMs), this.config.intervalS * 1000)
      board.inventoryDue = this.clock.now() + retryMs
      const unreachable = err instanceof OpenDcreError && UNREACHABLE.has(err.code)
      this.log.debug({ board: board.board_id, err: (err as Error).message }, 'poller: board scan failed')
      if (unreachable) this.setUp(board, false)
    }
  }

  /**
   * The interval is the longest a value goes unrefreshed: each wait is the
   * interval shortened by a random part of up to `jitter`, so a fleet's polls
   * spread out and none comes late.
   */
  private nextDue (sensor: SensorState, previous: number): number {
    const now = this.clock.now()
    const wait = sensor.intervalMs * (1 - this.config.jitter * this.random())
    // keep the cadence; a board that fell behind is polled again at once
    return Math.max(previous + wait, now)
  }

  /** A poll of the entry; its failure is recorded on the sensor and the board by fetch. */
  private poll (sensor: SensorState): Promise<void> {
    return this.fetch(sensor.board.bus, sensor.boardId, sensor.deviceId, sensor.operation, sensor.device_type, sensor).then(ignore, ignore)
  }

  /** The in-flight key of a poll of the entry, made once per operation. */
  private fetchKeyOf (sensor: SensorState): string {
    let cached = this.fetchKeys.get(sensor)
    if (cached === undefined || cached.operation !== sensor.operation) {
      cached = { operation: sensor.operation, key: fetchKey(sensor.operation, sensor.boardId, sensor.deviceId, sensor.device_type) }
      this.fetchKeys.set(sensor, cached)
    }
    return cached.key
  }

  /**
   * One device transaction, shared by every identical request while it is
   * in flight (the poller's and the API's), its result kept. `sensor`: the
   * entry a poll is for (its key and entry then need no lookup by text).
   */
  private fetch (bus: Bus, boardId: number, deviceId: number, operation: PollOperation, deviceType: string, sensor?: SensorState): Promise<Sample> {
    const key = sensor !== undefined ? this.fetchKeyOf(sensor) : fetchKey(operation, boardId, deviceId, deviceType)
    const pending = this.inflight.get(key)
    if (pending !== undefined) return pending
    let call: Promise<unknown>
    try {
      call = operation === 'power'
        ? bus.power(boardId, deviceId, 'status')
        : operation === 'led' ? bus.led(boardId, deviceId) : bus.read(boardId, deviceId, deviceType)
    } catch (err) {
      call = Promise.reject(err)
    }
    // one promise for the whole transaction: its handlers record the result and end the sharing
    const promise = call.then((reading) => {
      try {
        const timestamp = this.clock.now()
        this.recordSuccess(bus, boardId, deviceId, operation, deviceType, reading, timestamp, sensor)
        return { reading, timestamp }
      } finally {
        this.inflight.delete(key)
      }
    }, (err: unknown) => {
      try {
        this.recordFailure(bus, boardId, deviceId, operation, deviceType, err, sensor)
      } finally {
        this.inflight.delete(key)
      }
      throw err
    })
    this.inflight.set(key, promise)
    return promise
  }

  /**
   * An API read: from the kept value when it is at most `maxAgeS` seconds
   * old, else from the device (shared with identical reads in flight).
   */
  async read (boardId: number, deviceId: number, deviceType: string, maxAgeS?: number): Promise<Sample> {
    const type = deviceType.toLowerCase()
    if (maxAgeS !== undefined) {
      const sensor = this.sensors.get(`${boardIdHex(boardId)}/${deviceIdHex(deviceId)}`)
      if (sensor?.readAt !== undefined && sensor.operation === 'read' && sensor.device_type === type &&
        this.clock.now() - sensor.readAt <= maxAgeS * 1000) {
        return { reading: sensor.reading, timestamp: sensor.readAt }
      }
    }
    return await this.fetch(this.source.forBoard(boardId), boardId, deviceId, 'read', type)
  }

  /**
   * The answer of a command that went to the device without the poller (LED
   * or power control, a fan read): kept as the device's latest value, so the
   * stream and metrics show a change at once rather than at the next poll.
   */
  observe (boardId: number, deviceId: number, operation: 'power' | 'led', reading: unknown): void {
    const sensor = this.sensors.get(`${boardIdHex(boardId)}/${deviceIdHex(deviceId)}`)
    if (sensor === undefined || sensor.operation !== operation) return
    this.recordSuccess(sensor.board.bus, boardId, deviceId, operation, sensor.device_type, reading, this.clock.now())
  }

  /**
   * The kept entry for a result, if it is the one this device is polled with
   * (reads make one on first success). `known`: the entry a poll was made
   * for, taken as is while it is still the device's and still polled so.
   */
  private entryFor (bus: Bus, boardId: number, deviceId: number, operation: PollOperation, deviceType: string, create: boolean, known?: SensorState): SensorState | undefined {
    if (known !== undefined && !this.retired.has(known) && known.operation === operation && (operation !== 'read' || known.device_type === deviceType)) return known
    const sensor = this.sensors.get(`${boardIdHex(boardId)}/${deviceIdHex(deviceId)}`)
    if (sensor !== undefined) {
      if (sensor.operation !== operation) return undefined
      if (operation !== 'read' || sensor.device_type === deviceType) return sensor
      // a read under another type name: only an entry no schedule owns is retyped
      if (sensor.nextDue !== Infinity) return undefined
    }
    if (!create || operation !== 'read') return undefined
    return this.sensorFor(this.boardFor(bus, boardId), deviceId, deviceType)
  }

  private recordSuccess (bus: Bus, boardId: number, deviceId: number, operation: PollOperation, deviceType: string, reading: unknown, timestamp: number, known?: SensorState): void {
    const sensor = this.entryFor(bus, boardId, deviceId, operation, deviceType, true, known)
    const board = sensor?.board ?? this.boards.get(boardIdHex(boardId))
    if (board !== undefined) {
      board.lastContact = timestamp
      this.setUp(board, true)
    }
    if (sensor === undefined) return
    sensor.reading = reading
    sensor.readAt = timestamp
    sensor.error = undefined
    sensor.errorAt = undefined
    sensor.history.push(timestamp, reading)
    this.emit('reading', sensor)
    if (operation === 'read') {
      healthOf(sensor.board.bus, sensor.boardId, sensor.deviceId).then((health) => { this.judge(sensor, reading, health) }).catch(ignore)
    }
  }

  /** The sensor's state after a new reading (thresholds from the backend or the config); a change is an alert. */
  private judge (sensor: SensorState, reading: unknown, health: SensorHealth | undefined): void {
    // a newer reading has been judged meanwhile
    if (sensor.reading !== reading) return
    const value = readingValue(reading)
    const { condition, thresholds } = assess(value, health, configuredThresholds(this.config.thresholds, sensor.board_id, sensor.device_id, sensor.device_type))
    const previous = sensor.condition
    sensor.condition = condition
    sensor.thresholds = thresholds
    if (previous === condition || (previous === undefined && (condition === 'ok' || condition === 'unknown'))) return
    this.alert(thresholdAlert(sensor, previous, value))
  }

  /** Pushes an alert to the stream, MQTT and whoever listens; a log entry naming a sensor has it read again at once. */
  alert (alert: Alert): void {
    this.emit('alert', alert)
    if (alert.kind === 'log') this.rereadFor(alert)
  }

  /** The board's polled sensor a log entry names: by device id (IPMI SEL), else by its name (Redfish); undefined when none or several. */
  sensorOf (alert: LogAlert): SensorState | undefined {
    const board = this.boards.get(alert.board_id)
    return board === undefined ? undefined : sensorNamedBy(board, alert.entry)
  }

  /**
   * A log entry that names a polled sensor: that sensor is read again now,
   * out of turn, through the poll's own path (state, threshold alert,
   * history, metrics and MQTT follow as for a poll). At most one such read
   * per sensor at a time, and REREADS_PER_INTERVAL per board per interval.
   * Returns whether a read was started (tests).
   */
  rereadFor (alert: LogAlert): boolean {
    if (!this.running) return false
    const sensor = this.sensorOf(alert)
    if (sensor === undefined || sensor.board.up === false) return false
    const key = `${sensor.board_id}/${sensor.device_id}`
    if (this.rereading.has(key)) return false
    const now = this.clock.now()
    let budget = this.rereadBudget.get(sensor.board_id)
    const windowMs = Math.min(...sensor.board.sensors.map((s) => s.intervalMs), this.config.intervalS * 1000)
    if (budget === undefined || now - budget.from >= windowMs) this.rereadBudget.set(sensor.board_id, budget = { from: now, used: 0 })
    if (budget.used >= REREADS_PER_INTERVAL) {
      this.log.debug({ board: sensor.board_id, device: sensor.device_id }, 'poller: re-read budget spent, the sensor waits for its poll')
      return false
    }
    budget.used++
    this.rereading.add(key)
    this.limit.run(this.pollSensor, sensor).catch(ignore).finally(() => this.rereading.delete(key))
    return true
  }

  private recordFailure (bus: Bus, boardId: number, deviceId: number, operation: PollOperation, deviceType: string, err: unknown, known?: SensorState): void {
    const sensor = this.entryFor(bus, boardId, deviceId, operation, deviceType, false, known)
    const board = sensor?.board ?? this.boards.get(boardIdHex(boardId))
    const now = this.clock.now()
    if (sensor !== undefined) {
      sensor.error = (err as Error).message
      sensor.errorAt = now
    }
    if (board === undefined) return
    const unreachable = err instanceof OpenDcreError && UNREACHABLE.has(err.code)
    if (!unreachable) board.lastContact = now
    this.setUp(board, !unreachable)
  }

  private setUp (board: BoardState, up: boolean): void {
    if (board.up === up) return
    board.up = up
    this.emit('board', board)
  }

  /** The entry of a device, if known. */
  sensor (boardId: number, deviceId: number): SensorState | undefined {
    return this.sensors.get(`${boardIdHex(boardId)}/${deviceIdHex(deviceId)}`)
  }

  allSensors (): IterableIterator<SensorState> {
    return this.sensors.values()
  }

  allBoards (): IterableIterator<BoardState> {
    return this.boards.values()
  }

  /** A device's readings of the history window, oldest first. */
  history (sensor: SensorState): Sample[] {
    return sensor.history.entries(this.clock.now() - this.config.historyS * 1000)
  }

  now (): number {
    return this.clock.now()
  }

  /** The per-sensor and per-board series, from the kept values (nothing is sent). */
  metrics (): MetricFamily[] {
    return sensorMetricFamilies(this.sensors.values(), this.boards.values(), this.clock.now())
  }
}

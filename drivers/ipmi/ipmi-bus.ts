import type {
  SensorHealth, AssetInfo, BootTarget, Bus, BusStatus, DeviceLocation, BoardLocation, LedState, LedStatus, PowerAction, Reading, ScannedBoard, ScannedDevice
} from '../bus.js'
import { boardIdHex, deviceIdHex } from '../bus.js'
import type { BoardEvent } from '../events.js'
import { BOARD_ID_BITS } from '../device-bus/device-types.js'
import type { PowerStatus, PowerTarget } from '../bus.js'
import { UNKNOWN_PHYSICAL_LOCATION } from '../device-bus/location.js'
import { OpenDcreError, OverloadedError } from '../errors.js'
import { metricFamilies } from '../metric-family.js'
import { scanWithinBudget } from '../scan-budget.js'
import { ConcurrencyLimit } from '../queueing/concurrency-limit.js'
import type { BmcTarget } from './types.js'
import type { SelEvent } from './sel.js'
import { callerScope, onBehalfOfCaller } from '../queueing/request-context.js'

/** A sensor of a BMC's SDR repository, as the bridge lists it. */
export interface BridgeSensor {
  number: number
  /** The SDR's id string. */
  name: string
  kind: SensorKind | 'other'
}

/** The sensor device types of an IPMI board, and the reading field of each (converted with the SDR). */
const SENSOR_KINDS = ['temperature', 'fan_speed', 'voltage', 'current', 'power'] as const
export type SensorKind = typeof SENSOR_KINDS[number]
const READING_FIELD = { temperature: 'temperature_c', fan_speed: 'speed_rpm', voltage: 'voltage_v', current: 'current_a', power: 'power_w' } as const

/** One SEL entry, decoded, with the sensor it names as the BMC's SDR knows it. */
export interface BridgeEvent extends SelEvent {
  /** The SDR id string of the sensor, when the BMC owns it and has a record. */
  sensorName?: string
  /** True when the sensor is one of the board's devices (its device id is the sensor number). */
  ownSensor?: boolean
  /** Threshold events: trigger reading and threshold converted with the sensor's SDR. */
  reading?: number
  threshold?: number
}

export interface BridgeChassisStatus {
  power: 'on' | 'off'
  /** Get Chassis Status's power fault bit. */
  powerFault: boolean
  identify: 'on' | 'off' | 'unknown'
}

/** What the bridge asks of one BMC (drivers/ipmi/bmc.ts over its session). */
export interface BmcOperations {
  sensors: () => Promise<BridgeSensor[]>
  /** A reading converted with the sensor's SDR (degrees C, RPM). */
  readSensor: (sensorNumber: number) => Promise<number>
  /** `shared`: an answer given within the last moments will do (the bridge's CHASSIS_STATUS_SHARE_MS). */
  chassisStatus: (shared?: boolean) => Promise<BridgeChassisStatus>
  chassisControl: (action: 'on' | 'off' | 'cycle') => Promise<void>
  identify: (state: LedState) => Promise<void>
  bootTarget: () => Promise<BootTarget>
  setBootTarget: (target: BootTarget) => Promise<void>
  fru: () => Promise<Omit<AssetInfo, 'bmc_ip'>>
  /** DCMI input power (W); undefined when the BMC has no DCMI power reading. */
  powerReading?: () => Promise<number | undefined>
  /** The System Event Log, oldest first. */
  events?: () => Promise<BridgeEvent[]>
  /** A sensor's SDR thresholds and its last threshold status, from what the connection keeps (no request). */
  sensorHealth?: (sensorNumber: number) => Promise<SensorHealth | undefined>
}

/** One BMC's session as health and metrics read it. */
export interface BridgeSessionStatus {
  state: 'idle' | 'up' | 'down'
  reason?: string
  lastSuccessAt: number | null
  counters: {
    requests: number
    sessionsEstablished: number
    relogins: number
    timeouts: number
    errors: number
    garbage: number
  }
}

export interface BridgeBmc {
  target: BmcTarget
  ops: BmcOperations
  close: () => Promise<void>
  /** Its session's state and counters (absent for fakes that have none). */
  status?: () => BridgeSessionStatus
}

/** Board ids of the IPMI range: the 0x40000000 bit, except 0x7NNNNNNN (Redfish's range). */
export function isIpmiBoardId (boardId: number): boolean {
  return (boardId & 0x40000000) !== 0 && (boardId >>> 28) !== 0x7
}

const IDLE_STATUS: BridgeSessionStatus = {
  state: 'idle',
  lastSuccessAt: null,
  counters: { requests: 0, sessionsEstablished: 0, relogins: 0, timeouts: 0, errors: 0, garbage: 0 }
}

/** docs/protocol.md §8.2: the fixed devices of every IPMI board. */
const POWER_DEVICE = 0x0100
const SYSTEM_DEVICE = 0x0200
const IPMI_FIRMWARE_VERSION = 'OpenDCRE IPMI Bridge v2.0'

/** The v1.2 power fields a BMC has no source for (input_power comes from DCMI where the BMC has it). */
const FIXED_POWER_FIELDS = {
  input_power: 0,
  input_voltage: 0,
  output_current: 0,
  over_current: false,
  pmbus_raw: '0,0,0,0',
  under_voltage: false
} as const

/**
 * The IPMI bridge as a Bus: the n-th BMC of bmc_config.json is board
 * 0x40000000 | n. Every call goes to that BMC's own session, so BMCs never
 * wait for each other; errors keep v1.2's wording and never name a password.
 */
interface IpmiBusOptions {
  /**
   * How long scan-all waits for one BMC (ms, default 1000). A BMC slower than
   * that is listed as it last answered (or with its power and system devices
   * only), so a dead BMC never holds up the inventory of the others.
   */
  scanBudgetMs?: number
  /**
   * How many BMCs scan-all asks at once (default 32). The others wait their
   * turn (and go on after the budget, so the next scan-all lists them): a
   * fleet's log-ins are spread rather than all sent at once, where some
   * missed their deadline under the burst and logged in again.
   */
  scanConcurrency?: number
  /** The bmc_config.json it came from (health shows it). */
  file?: string
  /** Why the bridge is unavailable (its configuration could not be loaded); it then has no BMCs. */
  unavailable?: string
  /**
   * Each BMC's place in bmc_config.json (default: its place in `bmcs`). A
   * shard (config/shard.ts) is given only its share of the BMCs; their board
   * ids stay those of the whole file, whichever shard owns them.
   */
  slots?: readonly number[]
  /** Each BMC's power_on_watts from bmc_config.json, by index (bulk power's inrush bound). */
  powerOnWatts?: Array<number | undefined>
}

/** How v1.2 words a failed command on an IPMI board, around the failure's own message. */
type V12Wording = (reason: string) => string

export class IpmiBus implements Bus {
  readonly name = 'ipmi'
  private readonly bmcs: BridgeBmc[]
  private readonly scanBudgetMs: number
  private readonly scanLimit: ConcurrencyLimit
  /** Each SEL entry as the API lists it, made once per entry the connection decoded (the event watch asks every few seconds). */
  private readonly boardEvents = new WeakMap<BridgeEvent, BoardEvent>()
  /** Each board's last complete scan record, by BMC index. */
  private readonly lastRecords = new Map<number, ScannedBoard>()
  /** Each BMC's metric labels, made once. */
  private readonly metricLabels: Array<{ board: string, bmc: string }> = []

  private readonly file: string
  private readonly unavailable?: string
  /** Each BMC's place in the whole bmc_config.json, and back. */
  private readonly slots: readonly number[]
  private readonly indexBySlot: Map<number, number>

  constructor (bmcs: BridgeBmc[], options: IpmiBusOptions = {}) {
    this.bmcs = bmcs
    this.slots = options.slots ?? bmcs.map((_bmc, i) => i)
    if (this.slots.length !== bmcs.length) throw new Error('IpmiBus: one slot per BMC')
    this.indexBySlot = new Map(this.slots.map((slot, i) => [slot, i]))
    this.scanBudgetMs = options.scanBudgetMs ?? 1000
    this.scanLimit = new ConcurrencyLimit(options.scanConcurrency ?? 32)
    this.file = options.file ?? ''
    this.unavailable = options.unavailable
    this.powerOnWatts = options.powerOnWatts ?? []
  }

  private readonly powerOnWatts: Array<number | undefined>

  ownsBoard (boardId: number): boolean {
    return isIpmiBoardId(boardId)
  }

  powerTargets (): PowerTarget[] {
    return this.bmcs.map((_bmc, i) => {
      const watts = this.powerOnWatts[i]
      return { board_id: this.boardId(i), device_id: POWER_DEVICE, ...(watts === undefined ? {} : { power_on_watts: watts }) }
    })
  }

  /**
   * Each BMC's session from its own state; 'up' unless the bridge as a whole
   * is down (its configuration unusable, or every BMC down). One BMC down
   * among several shows in its own entry without failing the service.
   */
  status (): BusStatus {
    const sessions = this.bmcs.map((bmc, i) => ({ bmc, boardId: boardIdHex(this.boardId(i)), status: bmc.status?.() ?? IDLE_STATUS }))
    const bmcs = sessions.map(({ bmc, boardId, status }) => {
      const entry: Record<string, unknown> = {
        bmc_ip: bmc.target.host,
        bmc_port: bmc.target.port,
        board_id: boardId,
        last_success: status.lastSuccessAt === null ? null : new Date(status.lastSuccessAt).toISOString(),
        session: status.state
      }
      if (status.reason !== undefined) entry.reason = status.reason
      return entry
    })
    const health: Record<string, unknown> = { bmcs, config: this.file }
    if (this.unavailable !== undefined) health.reason = this.unavailable
    const up = this.unavailable === undefined && (sessions.length === 0 || sessions.some((s) => s.status.state !== 'down'))
    // one labels object per BMC, kept: the metrics writer caches each one's text
    const { counter, gauge } = metricFamilies(['board', 'bmc'] as const,
      sessions.map(({ bmc, boardId, status }, i) => [(this.metricLabels[i] ??= { board: boardId, bmc: `${bmc.target.host}:${bmc.target.port}` }), status]))
    return {
      backend: 'ipmi',
      up,
      health,
      metrics: [
        counter('opendcre_ipmi_requests_total', 'IPMI requests sent to a BMC (session set-up not counted).', (s) => s.counters.requests),
        counter('opendcre_ipmi_sessions_established_total', 'RMCP+ sessions established with a BMC (the first login and every re-login).', (s) => s.counters.sessionsEstablished),
        counter('opendcre_ipmi_relogins_total', 'Sessions re-established after expiry, a BMC restart or a lost session.', (s) => s.counters.relogins),
        counter('opendcre_ipmi_timeouts_total', 'IPMI requests that got no answer within their time bound.', (s) => s.counters.timeouts),
        counter('opendcre_ipmi_errors_total', 'IPMI requests that failed for another reason (authentication, completion code, protocol).', (s) => s.counters.errors),
        counter('opendcre_ipmi_garbage_datagrams_total', 'Datagrams from a BMC address that were not a valid answer (ignored).', (s) => s.counters.garbage),
        gauge('opendcre_ipmi_session_up', '1 while a session with the BMC is established, else 0.', (s) => (s.state === 'up' ? 1 : 0)),
        gauge('opendcre_ipmi_last_success_timestamp_seconds', 'When the BMC last answered a request (absent until it has).',
          (s) => (s.lastSuccessAt === null ? undefined : s.lastSuccessAt / 1000))
      ]
    }
  }

  get size (): number {
    return this.bmcs.length
  }

  /** The board id of the index-th BMC given: 0x40000000 | its place in bmc_config.json (from 1). */
  boardId (index: number): number {
    return (BOARD_ID_BITS.ipmi | (this.slots[index] + 1)) >>> 0
  }

  /** The configured BMC's index for an IPMI board id. */
  private indexOf (boardId: number): number {
    const index = this.indexBySlot.get((boardId & 0x00ffffff) - 1)
    // only 0x40NNNNNN is an IPMI board id; 0x4NNNNNNN with other upper bits is not
    if ((boardId >>> 24) !== 0x40 || index === undefined) {
      throw new OpenDcreError('not-found', 'BMC with board_num was not found.')
    }
    return index
  }

  private bmc (boardId: number): BridgeBmc {
    return this.bmcs[this.indexOf(boardId)]
  }

  /** A board's scan record: power, system, then its temperature, fan, voltage, current and power sensors. */
  private async record (index: number): Promise<ScannedBoard> {
    const sensors = await this.bmcs[index].ops.sensors()
    const devices: ScannedDevice[] = [
      { device_id: deviceIdHex(POWER_DEVICE), device_type: 'power' },
      { device_id: deviceIdHex(SYSTEM_DEVICE), device_type: 'system' }
    ]
    for (const sensor of sensors) {
      if (sensor.kind === 'other') continue
      devices.push({ device_id: deviceIdHex(sensor.number), device_type: sensor.kind, device_info: sensor.name })
    }
    const record = { board_id: boardIdHex(this.boardId(index)), devices }
    this.lastRecords.set(index, record)
    return record
  }

  /**
   * Every BMC, scanned scanConcurrency at a time (those never scanned
   * first), all within the scan budget. A BMC that is not scanned in time
   * still shows as a board: as it last answered, or with its power and
   * system devices (its sensors need its SDR); so one dead BMC neither
   * fails, hides nor delays the others. Scans still waiting when the budget
   * ends go on (bounded the same way) and are kept for the next scan-all.
   */
  async scanAll (): Promise<ScannedBoard[]> {
    // never-scanned BMCs first, at most scanConcurrency at once
    const order = this.bmcs.map((_bmc, i) => i)
    order.sort((a, b) => Number(this.lastRecords.has(a)) - Number(this.lastRecords.has(b)))
    // each BMC's scan queues on behalf of the caller, however late it starts
    const resume = callerScope()
    return await scanWithinBudget(this.bmcs.length, this.scanBudgetMs, async (i) => await this.scanLimit.run(async (n) => await resume(async () => await this.record(n)), i),
      (i) => this.lastRecords.get(i) ?? this.fixedRecord(i), order)
  }

  private fixedRecord (index: number): ScannedBoard {
    return {
      board_id: boardIdHex(this.boardId(index)),
      devices: [
        { device_id: deviceIdHex(POWER_DEVICE), device_type: 'power' },
        { device_id: deviceIdHex(SYSTEM_DEVICE), device_type: 'system' }
      ]
    }
  }

  async scanBoard (boardId: number): Promise<ScannedBoard[]> {
    const index = this.indexOf(boardId)
    return [await this.call(async () => await this.record(index), (reason) => `Error scanning board ${reason}`)]
  }

  async version (boardId: number): Promise<string> {
    this.bmc(boardId)
    return IPMI_FIRMWARE_VERSION
  }

  async read (boardId: number, deviceId: number, deviceType: string): Promise<Reading> {
    const bmc = this.bmc(boardId)
    const type = deviceType.toLowerCase() as SensorKind
    if (!SENSOR_KINDS.includes(type)) {
      throw new OpenDcreError('unsupported', `Error reading IPMI sensor: ${deviceType} is not an IPMI sensor type (${SENSOR_KINDS.join(', ')}).`)
    }
    const value = await this.sensorValue(bmc, deviceId, type)
    return { [READING_FIELD[type]]: value } as unknown as Reading
  }

  private async sensorValue (bmc: BridgeBmc, deviceId: number, type: SensorKind): Promise<number> {
    // every poll of every sensor comes here: no closures, one try (call()'s, inline)
    const ops = onBehalfOfCaller(bmc.ops)
    try {
      let sensor: BridgeSensor | undefined
      for (const s of await ops.sensors()) {
        if (s.number === deviceId && s.kind === type) {
          sensor = s
          break
        }
      }
      if (sensor === undefined) throw new OpenDcreError('not-found', `no ${type} sensor ${deviceIdHex(deviceId)} on this BMC`)
      return await ops.readSensor(sensor.number)
    } catch (err) {
      throw reworded(err, readWording)
    }
  }

  async power (boardId: number, _deviceId: number, action: PowerAction): Promise<PowerStatus> {
    const ops = onBehalfOfCaller(this.bmc(boardId).ops)
    return await this.call(async () => {
      if (action !== 'status') await ops.chassisControl(action)
      const status = await ops.chassisStatus()
      // best effort: the power state answered; a failed DCMI reading is input_power 0, as v1.2 always had
      const inputPower = await ops.powerReading?.().catch(() => undefined)
      // one literal, not a spread of FIXED_POWER_FIELDS plus fields: V8 gave each spread-made reading a shape (map) of its own, ~300 bytes (issue 24)
      const f = FIXED_POWER_FIELDS
      return { input_power: inputPower ?? 0, input_voltage: f.input_voltage, output_current: f.output_current, over_current: f.over_current, pmbus_raw: f.pmbus_raw, under_voltage: f.under_voltage, power_ok: !status.powerFault, power_status: status.power }
    }, (reason) => `Error returned from BMC in controlling power via IPMI (${reason}).`)
  }

  /** Get Chassis Status alone: what a bulk task reads back (power() adds the DCMI reading v1.2's answer carries). */
  async powerState (boardId: number, _deviceId: number): Promise<'on' | 'off'> {
    const ops = onBehalfOfCaller(this.bmc(boardId).ops)
    return await this.call(async () => (await ops.chassisStatus()).power, (reason) => `Error returned from BMC in controlling power via IPMI (${reason}).`)
  }

  async asset (boardId: number, _deviceId: number): Promise<AssetInfo> {
    const bmc = this.bmc(boardId)
    const fru = await this.call(async () => await bmc.ops.fru(), (reason) => `Error retrieving asset information via IPMI (${reason}).`)
    return { ...fru, bmc_ip: bmc.target.host }
  }

  async bootTarget (boardId: number, _deviceId: number, target?: BootTarget): Promise<{ target: string }> {
    const ops = onBehalfOfCaller(this.bmc(boardId).ops)
    return await this.call(async () => {
      if (target !== undefined) await ops.setBootTarget(target)
      return { target: await ops.bootTarget() }
    }, (reason) => `Error with boot target via IPMI (${reason}).`)
  }

  async location (boardId: number, deviceId?: number): Promise<DeviceLocation | BoardLocation> {
    this.bmc(boardId)
    const physical = { ...UNKNOWN_PHYSICAL_LOCATION }
    if (deviceId === undefined) return { physical_location: physical }
    return {
      chassis_location: { depth: 'unknown', horiz_pos: 'unknown', server_node: 'unknown', vert_pos: 'unknown' },
      physical_location: physical
    }
  }

  async led (boardId: number, _deviceId: number, state?: LedState): Promise<LedStatus> {
    const ops = onBehalfOfCaller(this.bmc(boardId).ops)
    return await this.call(async () => {
      if (state !== undefined) await ops.identify(state)
      // a read may take the power read's answer of a moment ago (the same command)
      const status = await ops.chassisStatus(state === undefined)
      // Get Chassis Status says on/off for a BMC that reports its identify
      // state; one that does not leaves what was just set as the best answer
      const ledState = status.identify !== 'unknown' ? status.identify : (state ?? 'unknown')
      return { led_color: 'unknown', led_state: ledState }
    }, (reason) => `Error with LED control via IPMI (${reason}).`)
  }

  async fan (boardId: number, deviceId: number, rpm?: string): Promise<{ speed_rpm: number }> {
    const bmc = this.bmc(boardId)
    if (rpm !== undefined) throw new OpenDcreError('unsupported', 'Setting of fan speed for this device is not permitted.')
    return { speed_rpm: await this.sensorValue(bmc, deviceId, 'fan_speed') }
  }

  /** The BMC's System Event Log as the API lists it, oldest first. */
  sensorHealth (boardId: number, deviceId: number): Promise<SensorHealth | undefined> {
    // not async: every poll's judgement asks, and the bridge's answer is a promise already
    try {
      return this.bmc(boardId).ops.sensorHealth?.(deviceId) ?? Promise.resolve(undefined)
    } catch (err) {
      return Promise.reject(err)
    }
  }

  async events (boardId: number): Promise<BoardEvent[]> {
    const bmc = this.bmc(boardId)
    const events = bmc.ops.events
    if (events === undefined) throw new OpenDcreError('unsupported', 'Error reading the event log via IPMI: unsupported for this BMC.')
    const entries = await this.call(async () => await events(), (reason) => `Error reading the event log via IPMI (${reason}).`)
    return entries.map((e) => {
      let out = this.boardEvents.get(e)
      if (out === undefined) this.boardEvents.set(e, out = toBoardEvent(e))
      return out
    })
  }

  async close (): Promise<void> {
    await Promise.allSettled(this.bmcs.map(async (bmc) => await bmc.close()))
  }

  /**
   * Runs one BMC operation; a failure (an IpmiError or any other of the one
   * error family) is answered in v1.2's words for this command, and keeps
   * its own code (timeout, auth, session, malformed, ...) and itself as the cause.
   */
  private async call<T>(op: () => Promise<T>, wording: V12Wording): Promise<T> {
    try {
      return await op()
    } catch (err) {
      throw reworded(err, wording)
    }
  }
}

const readWording: V12Wording = (reason) => `Error reading IPMI sensor: ${reason}.`

/** A failure in v1.2's words for the command, keeping its own code and itself as the cause; a refusal for load keeps its own words and its Retry-After. */
function reworded (err: unknown, wording: V12Wording): unknown {
  if (err instanceof OverloadedError || !(err instanceof OpenDcreError)) return err
  return new OpenDcreError(err.code, wording(err.message), { cause: err })
}

function toBoardEvent (e: BridgeEvent): BoardEvent {
  const out: BoardEvent = {
    record_id: e.recordId.toString(16).padStart(4, '0'),
    time: e.time === undefined ? null : e.time.toISOString(),
    event: e.event,
    severity: e.severity
  }
  if (e.sensorNumber !== undefined) {
    out.sensor = e.sensorName ?? `${e.sensorTypeName ?? 'Sensor'} #0x${e.sensorNumber.toString(16).padStart(2, '0')}`
    if (e.ownSensor === true) out.device_id = deviceIdHex(e.sensorNumber)
    out.sensor_type = e.sensorTypeName
    out.direction = e.asserted === false ? 'deasserted' : 'asserted'
  }
  if (e.reading !== undefined) out.reading = e.reading
  if (e.threshold !== undefined) out.threshold = e.threshold
  return out
}

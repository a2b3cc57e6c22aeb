import type {
  PushedEvents, SensorHealth, AssetInfo, BoardLocation, BootTarget, Bus, BusStatus, DeviceLocation, LedState, LedStatus, PowerAction, Reading, ScannedBoard, ScannedDevice
} from '../bus.js'
import type { BoardEvent } from '../events.js'
import { scanWithinBudget } from '../scan-budget.js'
import { boardIdHex, deviceIdHex } from '../bus.js'
import type { PowerStatus, PowerTarget } from '../bus.js'
import { OpenDcreError, type OpenDcreErrorCode } from '../errors.js'
import { metricFamilies } from '../metric-family.js'
import type { RedfishClientStatus } from './redfish-client.js'
import type { RedfishBoard, RedfishService } from './redfish-service.js'
import { KINDS, READ_TYPES } from './redfish-sensors.js'

/**
 * Board ids of the Redfish range (Synse's): 0x70000000-0x7fffffff, as
 * 0x7SSSNNNN: NNNN is the service's place in redfish_config.json (1-based),
 * SSS the board's slot in the service: its ComputerSystems in URI order
 * from 000, its shared chassis (enclosures) in URI order from 800. A
 * service with one system keeps the id it always had, 0x7000000N.
 */
export function isRedfishBoardId (boardId: number): boolean {
  return (boardId >>> 28) === 0x7
}

export const REDFISH_BOARD_BASE = 0x70000000
/** Services a Redfish bus takes (the NNNN of its board ids). */
export const MAX_REDFISH_SERVICES = 0xffff

export function redfishBoardId (index: number, slot = 0): number {
  return (REDFISH_BOARD_BASE | (slot << 16) | (index + 1)) >>> 0
}
export const POWER_DEVICE = 0x0100
export const SYSTEM_DEVICE = 0x0200
export const LED_DEVICE = 0x0300

/** One configured Redfish service as the bus sees it. */
export interface RedfishServer {
  /** The service URL without credentials. */
  url: string
  service: RedfishService
  status: () => RedfishClientStatus
  close: () => Promise<void>
}

export interface RedfishBusOptions {
  /** How long scan-all waits for one server (ms, default 2000); a slower one is listed as it last answered. */
  scanBudgetMs?: number
  file?: string
  /** Why Redfish is unavailable (its configuration could not be loaded); it then has no servers. */
  unavailable?: string
  /** Each server's place in redfish_config.json (default: its place in `servers`): a shard's boards keep the whole file's ids. */
  slots?: readonly number[]
}

const FIXED_DEVICES: ScannedDevice[] = [
  { device_id: deviceIdHex(POWER_DEVICE), device_type: 'power' },
  { device_id: deviceIdHex(SYSTEM_DEVICE), device_type: 'system' },
  { device_id: deviceIdHex(LED_DEVICE), device_type: 'led' }
]

/**
 * The Redfish services of redfish_config.json as a Bus: each of a
 * service's ComputerSystems and enclosures is a board (redfishBoardId).
 * Each server has its own client (pool, session), so one
 * slow or dead service never delays another; scan-all gives each at most
 * the scan budget.
 */
export class RedfishBus implements Bus {
  readonly name = 'redfish'
  private readonly servers: RedfishServer[]
  private readonly scanBudgetMs: number
  private readonly file: string
  private readonly unavailable?: string
  private readonly lastRecords = new Map<number, ScannedBoard[]>()
  /** Each server's place in redfish_config.json (a shard connects only its own). */
  private readonly slots: readonly number[]
  private readonly indexBySlot: Map<number, number>

  constructor (servers: RedfishServer[], options: RedfishBusOptions = {}) {
    this.servers = servers
    this.slots = options.slots ?? servers.map((_server, i) => i)
    if (this.slots.length !== servers.length) throw new Error('RedfishBus: one slot per server')
    this.indexBySlot = new Map(this.slots.map((slot, i) => [slot, i]))
    this.scanBudgetMs = options.scanBudgetMs ?? 2000
    this.file = options.file ?? ''
    this.unavailable = options.unavailable
  }

  ownsBoard (boardId: number): boolean {
    return isRedfishBoardId(boardId)
  }

  /** Every ComputerSystem board (enclosure boards have no power command); a service not yet discovered: its first system. */
  powerTargets (): PowerTarget[] {
    return this.servers.flatMap((server, i) => {
      const systems = server.service.cached?.boards.filter((b) => b.system !== undefined) ?? []
      const slots = systems.length > 0 ? systems.map((b) => b.slot) : [0]
      return slots.map((slot) => ({ board_id: this.boardId(i, slot), device_id: POWER_DEVICE }))
    })
  }

  /** The board id of the index-th server given, system slot `slot`: its place in redfish_config.json keeps it whichever shard serves it. */
  boardId (index: number, slot = 0): number {
    return redfishBoardId(this.slots[index], slot)
  }

  status (): BusStatus {
    const entries = this.servers.map((server, i) => ({ server, boardId: boardIdHex(this.boardId(i)), status: server.status() }))
    const servers = entries.map(({ server, boardId, status }) => {
      const entry: Record<string, unknown> = {
        auth: status.auth,
        board_id: boardId,
        last_success: status.lastSuccessAt === null ? null : new Date(status.lastSuccessAt).toISOString(),
        session: status.state,
        url: server.url
      }
      if (status.reason !== undefined) entry.reason = status.reason
      const events = server.service.eventStreamStatus
      if (events !== undefined) entry.event_stream = events
      return entry
    })
    const health: Record<string, unknown> = { config: this.file, servers }
    if (this.unavailable !== undefined) health.reason = this.unavailable
    const up = this.unavailable === undefined && (entries.length === 0 || entries.some((e) => e.status.state !== 'down'))
    const { counter, gauge } = metricFamilies(['board', 'server'] as const,
      entries.map(({ server, boardId, status }) => [{ board: boardId, server: server.url }, status]))
    return {
      backend: 'redfish',
      up,
      health,
      metrics: [
        counter('opendcre_redfish_requests_total', 'Redfish calls made to a service (logins not counted).', (s) => s.counters.requests),
        counter('opendcre_redfish_errors_total', 'Redfish calls that failed other than by timeout (HTTP error, refused connection, TLS).', (s) => s.counters.errors),
        counter('opendcre_redfish_timeouts_total', 'Redfish calls that got no answer within timeout_ms.', (s) => s.counters.timeouts),
        counter('opendcre_redfish_session_logins_total', 'SessionService logins (the first and every renewal after a 401).', (s) => s.counters.sessionLogins),
        gauge('opendcre_redfish_up', '1 while the service answered its last call, else 0.', (s) => (s.state === 'down' ? 0 : 1)),
        gauge('opendcre_redfish_last_success_timestamp_seconds', 'When the service last answered a call (absent until it has).',
          (s) => (s.lastSuccessAt === null ? undefined : s.lastSuccessAt / 1000))
      ]
    }
  }

  private indexOf (boardId: number): number {
    const index = this.indexBySlot.get((boardId & 0xffff) - 1)
    if (!isRedfishBoardId(boardId) || index === undefined) {
      throw new OpenDcreError('not-found', 'Redfish server with board_num was not found.')
    }
    return index
  }

  /** The board's service and its slot in it. */
  private server (boardId: number): RedfishServer & { slot: number } {
    return { ...this.servers[this.indexOf(boardId)], slot: (boardId >>> 16) & 0xfff }
  }

  private recordOf (index: number, board: RedfishBoard): ScannedBoard {
    const devices = board.system !== undefined ? [...FIXED_DEVICES] : board.led !== undefined ? [FIXED_DEVICES[2]] : []
    for (const sensor of board.sensors) devices.push({ device_id: deviceIdHex(sensor.deviceId), device_type: KINDS[sensor.kind].deviceType, device_info: sensor.name })
    return { board_id: boardIdHex(this.boardId(index, board.slot)), devices }
  }

  private recordsOf (index: number, boards: RedfishBoard[]): ScannedBoard[] {
    const records = boards.map((b) => this.recordOf(index, b))
    this.lastRecords.set(index, records)
    return records
  }

  async scanAll (): Promise<ScannedBoard[]> {
    const perService = await scanWithinBudget(this.servers.length, this.scanBudgetMs, async (i) => this.recordsOf(i, (await this.servers[i].service.inventory()).boards),
      (i) => this.lastRecords.get(i) ?? [{ board_id: boardIdHex(this.boardId(i)), devices: [...FIXED_DEVICES] }])
    return perService.flat()
  }

  /** The board's own scan (a fresh discovery of its service: the poller asks one board at a time). */
  async scanBoard (boardId: number): Promise<ScannedBoard[]> {
    const { service, slot } = this.server(boardId)
    const index = this.indexOf(boardId)
    return await this.call(service, async () => {
      const records = this.recordsOf(index, (await service.inventory(true)).boards)
      const record = records.find((r) => r.board_id === boardIdHex(boardId))
      if (record === undefined && slot !== 0) throw new OpenDcreError('not-found', 'Redfish server with board_num was not found.')
      return record !== undefined ? [record] : records.slice(0, 1)
    }, 'Error scanning Redfish board:')
  }

  async version (boardId: number): Promise<string> {
    const { service, slot } = this.server(boardId)
    return await this.call(service, async () => {
      await service.board(slot)
      return await service.firmwareVersion()
    }, 'Error retrieving version via Redfish:')
  }

  async read (boardId: number, deviceId: number, deviceType: string): Promise<Reading> {
    const { service, slot } = this.server(boardId)
    const type = deviceType.toLowerCase()
    if (type === 'led' && deviceId === LED_DEVICE) {
      return { led_state: (await this.led(boardId, deviceId)).led_state as LedState }
    }
    if (!READ_TYPES.includes(type)) {
      throw new OpenDcreError('unsupported', `Error reading Redfish sensor: ${deviceType} is not a Redfish sensor type (${READ_TYPES.join(', ')}).`)
    }
    return await this.call(service, async () => {
      const sensor = await service.sensor(slot, deviceId)
      if (sensor === undefined || KINDS[sensor.kind].deviceType !== type) throw new OpenDcreError('not-found', `no ${type} sensor ${deviceIdHex(deviceId)} on this server`)
      return KINDS[sensor.kind].reading(await service.readSensor(sensor))
    }, 'Error reading Redfish sensor:')
  }

  async sensorHealth (boardId: number, deviceId: number): Promise<SensorHealth | undefined> {
    const { service, slot } = this.server(boardId)
    // from what discovery and the last read hold: no request
    const sensor = service.cached?.boards.find((b) => b.slot === slot)?.sensors.find((s) => s.deviceId === deviceId)
    return sensor === undefined ? undefined : service.health.get(sensor.key)
  }

  async power (boardId: number, _deviceId: number, action: PowerAction): Promise<PowerStatus> {
    const { service, slot } = this.server(boardId)
    return await this.call(service, async () => {
      const state = await service.power(slot, action)
      // the system's consumed power where a power sensor is already known (no extra discovery)
      const sensor = service.cached?.boards.find((b) => b.slot === slot)?.sensors.find((s) => s.kind === 'power')
      const watts = sensor !== undefined ? await service.readSensor(sensor).catch(() => 0) : 0
      return {
        input_power: watts,
        input_voltage: 0,
        output_current: 0,
        over_current: false,
        pmbus_raw: '0,0,0,0',
        power_ok: true,
        power_status: state === 'On' || state === 'PoweringOff' ? 'on' : 'off',
        under_voltage: false
      }
    }, 'Error controlling power via Redfish:')
  }

  async asset (boardId: number, _deviceId: number): Promise<AssetInfo> {
    const { service, slot, url } = this.server(boardId)
    const asset = await this.call(service, async () => await service.asset(slot), 'Error retrieving asset information via Redfish:')
    return { ...asset, bmc_ip: new URL(url).hostname, service_url: url }
  }

  async bootTarget (boardId: number, _deviceId: number, target?: BootTarget): Promise<{ target: string }> {
    const { service, slot } = this.server(boardId)
    return { target: await this.call(service, async () => await service.bootTarget(slot, target), 'Error with boot target via Redfish:') }
  }

  async location (boardId: number, deviceId?: number): Promise<DeviceLocation | BoardLocation> {
    const { service, slot } = this.server(boardId)
    const physical = await this.call(service, async () => await service.location(slot), 'Error retrieving location via Redfish:')
    if (deviceId === undefined) return { physical_location: physical }
    return { chassis_location: { depth: 'unknown', horiz_pos: 'unknown', server_node: 'unknown', vert_pos: 'unknown' }, physical_location: physical }
  }

  async led (boardId: number, _deviceId: number, state?: LedState): Promise<LedStatus> {
    const { service, slot } = this.server(boardId)
    return await this.call(service, async () => await service.led(slot, state), 'Error with LED control via Redfish:')
  }

  async fan (boardId: number, deviceId: number, rpm?: string): Promise<{ speed_rpm: number }> {
    this.server(boardId)
    // Redfish has no standard fan speed control (only OEM extensions)
    if (rpm !== undefined) throw new OpenDcreError('unsupported', 'Setting of fan speed for this device is not permitted.')
    const reading = await this.read(boardId, deviceId, 'fan_speed')
    if (!('speed_rpm' in reading)) throw new OpenDcreError('unsupported', `fan ${deviceIdHex(deviceId)} reports percent, not rpm: read it with read/fan_speed`)
    return { speed_rpm: Number(reading.speed_rpm) }
  }

  async events (boardId: number): Promise<BoardEvent[]> {
    const { service, slot } = this.server(boardId)
    return await this.call(service, async () => await service.events(slot), 'Error retrieving the event log via Redfish:')
  }

  watchEvents (boardId: number, onEvents: (events: BoardEvent[], linked: boolean) => void): PushedEvents {
    const { service, slot } = this.server(boardId)
    return service.watchEvents(slot, onEvents)
  }

  async close (): Promise<void> {
    await Promise.allSettled(this.servers.map(async (s) => await s.close()))
  }

  /**
   * A failure keeps its code; its message gets the command's prefix (v1.2
   * style). Anything else a service's answer provoked (a shape no check
   * foresaw) becomes a device-error naming the service, never a TypeError.
   */
  private async call<T>(service: RedfishService, op: () => Promise<T>, before: string): Promise<T> {
    try {
      return await op()
    } catch (err) {
      if (!(err instanceof OpenDcreError)) {
        throw new OpenDcreError('device-error', `${before} ${service.client.url}: unexpected answer (${(err as Error).message})`, { cause: err })
      }
      const code: OpenDcreErrorCode = err.code
      throw new OpenDcreError(code, `${before} ${err.message}`, { cause: err })
    }
  }
}

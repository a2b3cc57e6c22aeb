import type {
  AssetInfo, BoardLocation, BootTarget, Bus, BusStatus, DeviceLocation, LedState, LedStatus, PowerAction, Reading, ScannedBoard, ScannedDevice
} from '../bus.js'
import type { BoardEvent } from '../events.js'
import { scanWithinBudget } from '../scan-budget.js'
import { boardIdHex, deviceIdHex } from '../bus.js'
import type { PowerStatus, PowerTarget } from '../bus.js'
import { OpenDcreError, type OpenDcreErrorCode } from '../errors.js'
import { metricFamilies } from '../metric-family.js'
import type { RedfishClientStatus } from './redfish-client.js'
import type { Inventory, RedfishService } from './redfish-service.js'

/** Board ids of the Redfish range (Synse's): 0x70000000-0x7fffffff. */
export function isRedfishBoardId (boardId: number): boolean {
  return (boardId >>> 28) === 0x7
}

export const REDFISH_BOARD_BASE = 0x70000000
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
}

const FIXED_DEVICES: ScannedDevice[] = [
  { device_id: deviceIdHex(POWER_DEVICE), device_type: 'power' },
  { device_id: deviceIdHex(SYSTEM_DEVICE), device_type: 'system' },
  { device_id: deviceIdHex(LED_DEVICE), device_type: 'led' }
]

const READ_TYPES = ['temperature', 'fan_speed', 'voltage', 'current', 'power'] as const

/**
 * The Redfish services of redfish_config.json as a Bus: the n-th is board
 * 0x70000000 | n. Each server has its own client (pool, session), so one
 * slow or dead service never delays another; scan-all gives each at most
 * the scan budget.
 */
export class RedfishBus implements Bus {
  readonly name = 'redfish'
  private readonly servers: RedfishServer[]
  private readonly scanBudgetMs: number
  private readonly file: string
  private readonly unavailable?: string
  private readonly lastRecords = new Map<number, ScannedBoard>()

  constructor (servers: RedfishServer[], options: RedfishBusOptions = {}) {
    this.servers = servers
    this.scanBudgetMs = options.scanBudgetMs ?? 2000
    this.file = options.file ?? ''
    this.unavailable = options.unavailable
  }

  ownsBoard (boardId: number): boolean {
    return isRedfishBoardId(boardId)
  }

  powerTargets (): PowerTarget[] {
    return this.servers.map((_server, i) => ({ board_id: this.boardId(i), device_id: POWER_DEVICE }))
  }

  boardId (index: number): number {
    return (REDFISH_BOARD_BASE | (index + 1)) >>> 0
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
    const index = (boardId & 0x0fffffff) - 1
    if (!isRedfishBoardId(boardId) || index < 0 || index >= this.servers.length) {
      throw new OpenDcreError('not-found', 'Redfish server with board_num was not found.')
    }
    return index
  }

  private server (boardId: number): RedfishServer {
    return this.servers[this.indexOf(boardId)]
  }

  private recordOf (index: number, inventory: Inventory): ScannedBoard {
    const devices = [...FIXED_DEVICES]
    for (const sensor of inventory.sensors) devices.push({ device_id: deviceIdHex(sensor.deviceId), device_type: sensor.kind, device_info: sensor.name })
    const record = { board_id: boardIdHex(this.boardId(index)), devices }
    this.lastRecords.set(index, record)
    return record
  }

  async scanAll (): Promise<ScannedBoard[]> {
    return await scanWithinBudget(this.servers.length, this.scanBudgetMs, async (i) => this.recordOf(i, await this.servers[i].service.inventory()),
      (i) => this.lastRecords.get(i) ?? { board_id: boardIdHex(this.boardId(i)), devices: [...FIXED_DEVICES] })
  }

  async scanBoard (boardId: number): Promise<ScannedBoard[]> {
    const index = this.indexOf(boardId)
    return [await this.call(async () => this.recordOf(index, await this.servers[index].service.inventory(true)), 'Error scanning Redfish board:')]
  }

  async version (boardId: number): Promise<string> {
    const server = this.server(boardId)
    return await this.call(async () => await server.service.firmwareVersion(), 'Error retrieving version via Redfish:')
  }

  async read (boardId: number, deviceId: number, deviceType: string): Promise<Reading> {
    const server = this.server(boardId)
    const type = deviceType.toLowerCase()
    if (type === 'led' && deviceId === LED_DEVICE) {
      return { led_state: (await this.led(boardId, deviceId)).led_state as LedState }
    }
    if (!(READ_TYPES as readonly string[]).includes(type)) {
      throw new OpenDcreError('unsupported', `Error reading Redfish sensor: ${deviceType} is not a Redfish sensor type (${READ_TYPES.join(', ')}).`)
    }
    const value = await this.call(async () => {
      const sensor = await server.service.sensor(deviceId)
      if (sensor === undefined || sensor.kind !== type) throw new OpenDcreError('not-found', `no ${type} sensor ${deviceIdHex(deviceId)} on this server`)
      return await server.service.readSensor(sensor)
    }, 'Error reading Redfish sensor:')
    switch (type as typeof READ_TYPES[number]) {
      case 'temperature': return { temperature_c: value }
      case 'fan_speed': return { speed_rpm: Math.round(value) }
      case 'voltage': return { voltage_v: value }
      case 'current': return { current_a: value }
      case 'power': return { power_w: value }
    }
  }

  async power (boardId: number, _deviceId: number, action: PowerAction): Promise<PowerStatus> {
    const server = this.server(boardId)
    return await this.call(async () => {
      const state = await server.service.power(action)
      // the system's consumed power where a power sensor is already known (no extra discovery)
      const sensor = server.service.cached?.sensors.find((s) => s.kind === 'power')
      const watts = sensor !== undefined ? await server.service.readSensor(sensor).catch(() => 0) : 0
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
    const server = this.server(boardId)
    const asset = await this.call(async () => await server.service.asset(), 'Error retrieving asset information via Redfish:')
    return { ...asset, bmc_ip: new URL(server.url).hostname, service_url: server.url }
  }

  async bootTarget (boardId: number, _deviceId: number, target?: BootTarget): Promise<{ target: string }> {
    const server = this.server(boardId)
    return { target: await this.call(async () => await server.service.bootTarget(target), 'Error with boot target via Redfish:') }
  }

  async location (boardId: number, deviceId?: number): Promise<DeviceLocation | BoardLocation> {
    const server = this.server(boardId)
    const physical = await this.call(async () => await server.service.location(), 'Error retrieving location via Redfish:')
    if (deviceId === undefined) return { physical_location: physical }
    return { chassis_location: { depth: 'unknown', horiz_pos: 'unknown', server_node: 'unknown', vert_pos: 'unknown' }, physical_location: physical }
  }

  async led (boardId: number, _deviceId: number, state?: LedState): Promise<LedStatus> {
    const server = this.server(boardId)
    return await this.call(async () => await server.service.led(state), 'Error with LED control via Redfish:')
  }

  async fan (boardId: number, deviceId: number, rpm?: string): Promise<{ speed_rpm: number }> {
    this.server(boardId)
    // Redfish has no standard fan speed control (only OEM extensions)
    if (rpm !== undefined) throw new OpenDcreError('unsupported', 'Setting of fan speed for this device is not permitted.')
    const reading = await this.read(boardId, deviceId, 'fan_speed') as { speed_rpm: number }
    return { speed_rpm: reading.speed_rpm }
  }

  async events (boardId: number): Promise<BoardEvent[]> {
    const server = this.server(boardId)
    return await this.call(async () => await server.service.events(), 'Error retrieving the event log via Redfish:')
  }

  async close (): Promise<void> {
    await Promise.allSettled(this.servers.map(async (s) => await s.close()))
  }

  /** A failure keeps its code; its message gets the command's prefix (v1.2 style). */
  private async call<T>(op: () => Promise<T>, before: string): Promise<T> {
    try {
      return await op()
    } catch (err) {
      if (!(err instanceof OpenDcreError)) throw err
      const code: OpenDcreErrorCode = err.code
      throw new OpenDcreError(code, `${before} ${err.message}`, { cause: err })
    }
  }
}

import {
  boardIdHex,
  deviceIdHex,
  type Bus,
  type BusStatus,
  type BoardLocation,
  type DeviceLocation,
  type LedState,
  type LedStatus,
  type PowerAction,
  type PowerStatus,
  type Reading,
  type ScannedBoard
} from '../bus.js'
import { BusTimeoutError, OpenDcreError, OverloadedError } from '../errors.js'
import { metricFamilies } from '../metric-family.js'
import type { BusClient, BusRequest, BusSession } from './bus-client.js'
import {
  ConversionError,
  convertHumidity,
  convertLedState,
  convertPower,
  convertThermistor,
  parseRawBigInteger,
  parseRawFloat,
  parseRawInteger
} from './conversions.js'
import { COMMANDS, DEVICE_TYPE_CODES, deviceTypeCode, deviceTypeName } from './device-types.js'
import { chassisLocation, UNKNOWN_PHYSICAL_LOCATION } from './location.js'
import type { Packet } from './packet-codec.js'

const POWER_ACTIONS: Record<PowerAction, string> = { on: '1', off: '0', cycle: 'C', status: '?' }
const WRITE_OK = 'W1'

/** How v1.2 words the failures of each command (the HTTP message). */
interface CommandWording {
  timeout: (e: string) => string
  retryTimeout: (e: string) => string
  retryLimit: string
}

const SENSOR_READ: CommandWording = {
  timeout: (e) => `No response from bus on sensor read (${e}).`,
  retryTimeout: (e) => `No response from bus on sensor read retry (${e}).`,
  retryLimit: 'Retry limit reached on sensor read.'
}
const VERSION: CommandWording = {
  timeout: (e) => e,
  retryTimeout: (e) => `No response on version retry. (${e})`,
  retryLimit: 'Retry limit reached on version command.'
}
const POWER: CommandWording = {
  timeout: (e) => `No response from bus on power command (${e}).`,
  retryTimeout: (e) => `No response on retry of power command (${e}).`,
  retryLimit: 'Retry limit reached on power command.'
}

function ascii (packet: Packet): string {
  return packet.data.toString('latin1')
}

/** The device bus (PLC HAT, PTY or emulator) as an OpenDCRE backend. */
/** The link under the device bus, as its status reports it. */
export interface DeviceBusLink {
  kind: 'emulator' | 'serial'
  /** The `bus` label of its metrics: 'emulator' or the serial device path. */
  name: string
  /** The serial device (serial buses only). */
  device?: string
  /** The link to the devices is up (the emulator's always is; a serial port may not be). */
  open: () => boolean
  /** Why it is not open. */
  reason: () => string | undefined
}

const EMULATOR_LINK: DeviceBusLink = { kind: 'emulator', name: 'emulator', open: () => true, reason: () => undefined }

export class DeviceBus implements Bus {
  readonly name = 'device bus'

  constructor (private readonly client: BusClient, private readonly link: DeviceBusLink = EMULATOR_LINK) {}

  /** Every board the IPMI or Redfish ranges do not claim (the registry asks those first). */
  ownsBoard (boardId: number): boolean {
    return (boardId & 0x40000000) === 0
  }

  /** Health and metrics from the client's own counters and the link's state; nothing is sent. */
  status (): BusStatus {
    const stats = this.client.stats
    const link = this.link
    const open = link.open()
    const health: Record<string, unknown> = {
      kind: link.kind,
      last_success: stats.lastSuccessAt === null ? null : new Date(stats.lastSuccessAt).toISOString(),
      open,
      transactions: stats.transactions
    }
    if (link.device !== undefined) health.device = link.device
    if (!open) health.reason = link.reason() ?? 'serial transport not started'
    const { counter, gauge } = metricFamilies(['bus'] as const, [[{ bus: link.name }, stats]])
    return {
      backend: 'device_bus',
      up: open,
      health,
      metrics: [
        counter('opendcre_device_bus_transactions_total', 'Commands sent on the device bus (scans not counted).', (b) => b.transactions),
        counter('opendcre_device_bus_successes_total', 'Device bus commands that got a well-formed answer (after retries, if any).', (b) => b.successes),
        counter('opendcre_device_bus_retries_total', "Retry requests ('?') sent after a corrupt answer.", (b) => b.retries),
        counter('opendcre_device_bus_timeouts_total', 'Device bus reads that ended in silence (commands and scans).', (b) => b.timeouts),
        counter('opendcre_device_bus_checksum_errors_total', 'Device bus answers that failed checksum validation.', (b) => b.checksumErrors),
        counter('opendcre_device_bus_malformed_packets_total', 'Device bus answers with a bad header, length or trailer.', (b) => b.malformedPackets),
        gauge('opendcre_device_bus_queue_depth', 'Requests waiting for the device bus.', (b) => b.queueDepth),
        gauge('opendcre_device_bus_up', '1 when the link to the device bus is open, else 0.', () => (open ? 1 : 0)),
        gauge('opendcre_device_bus_last_success_timestamp_seconds', 'When the device bus last gave a well-formed answer (absent until it has).',
          (b) => (b.lastSuccessAt === null ? undefined : b.lastSuccessAt / 1000))
      ]
    }
  }

  async scanAll (): Promise<ScannedBoard[]> {
    try {
      return groupScan(await this.client.scanAll())
    } catch (err) {
      throw reword(err, (e) => `Error scanning all boards (${e}).`)
    }
  }

  /** Boards as they answered: v1.2 does not check the answer's board id against the request. */
  async scanBoard (boardId: number): Promise<ScannedBoard[]> {
    try {
      return groupScan(await this.client.scan(boardId))
    } catch (err) {
      throw reword(err, (e) => `Error scanning board (${e}).`)
    }
  }

  async version (boardId: number): Promise<string> {
    const request = { deviceType: DEVICE_TYPE_CODES.none, boardId, deviceId: 0xffff, data: Buffer.from([COMMANDS.version]) }
    return ascii(await command(this.client, request, VERSION))
  }

  async read (boardId: number, deviceId: number, deviceType: string): Promise<Reading> {
    const type = deviceType.toLowerCase()
    // v1.2 sends a read for any type name; unknown names go out as 'none' (0xFF)
    const code = deviceTypeCode(type) ?? DEVICE_TYPE_CODES.none
    return convertReading(type, await readRaw(this.client, boardId, deviceId, code))
  }

  async power (boardId: number, deviceId: number, action: PowerAction): Promise<PowerStatus> {
    const request = { deviceType: DEVICE_TYPE_CODES.power, boardId, deviceId, data: Buffer.from(`P${POWER_ACTIONS[action]}`, 'latin1') }
    const raw = ascii(await command(this.client, request, POWER))
    try {
      return convertPower(raw)
    } catch (err) {
      throw reword(err, (e) => `Error converting PMBUS data (${e}).`)
    }
  }

  async asset (): Promise<never> {
    throw new OpenDcreError('unsupported', 'Asset information via PLC not supported yet.')
  }

  async bootTarget (): Promise<never> {
    throw new OpenDcreError('unsupported', 'Boot target operation via PLC not supported yet.')
  }

  async location (_boardId: number, deviceId?: number): Promise<DeviceLocation | BoardLocation> {
    if (deviceId === undefined) return { physical_location: { ...UNKNOWN_PHYSICAL_LOCATION } }
    return { chassis_location: chassisLocation(deviceId), physical_location: { ...UNKNOWN_PHYSICAL_LOCATION } }
  }

  async led (boardId: number, deviceId: number, state?: LedState): Promise<LedStatus> {
    const code = DEVICE_TYPE_CODES.led
    return this.client.session(async (bus) => {
      if (state !== undefined) await writeChecked(bus, boardId, deviceId, code, Buffer.from(state === 'on' ? '1' : '0', 'latin1'))
      return convertReading('led', await readRaw(bus, boardId, deviceId, code)) as LedStatus
    })
  }

  /** `rpm` is sent as the URL gave it (v1.2 sends the text, e.g. "00004100"). */
  async fan (boardId: number, deviceId: number, rpm?: string): Promise<{ speed_rpm: number | bigint }> {
    const code = DEVICE_TYPE_CODES.fan_speed
    return this.client.session(async (bus) => {
      if (rpm !== undefined) {
        // a 0xFF byte (fan motor poles: unchanged), then the rpm in ASCII
        await writeChecked(bus, boardId, deviceId, code, Buffer.concat([Buffer.from([0xff]), Buffer.from(rpm, 'latin1')]))
      }
      return convertReading('fan_speed', await readRaw(bus, boardId, deviceId, code)) as { speed_rpm: number | bigint }
    })
  }

  close (): Promise<void> {
    return this.client.close()
  }
}

/** One transaction, its failures worded as v1.2 words them for this command. */
async function command (bus: BusSession, request: BusRequest, wording: CommandWording): Promise<Packet> {
  try {
    return await bus.transact(request)
  } catch (err) {
    if (err instanceof BusTimeoutError) {
      throw new OpenDcreError('timeout', (err.onRetry ? wording.retryTimeout : wording.timeout)(err.message), { cause: err })
    }
    if (err instanceof OpenDcreError && err.code === 'retry-limit') {
      throw new OpenDcreError('retry-limit', wording.retryLimit, { cause: err })
    }
    throw err
  }
}

async function readRaw (bus: BusSession, boardId: number, deviceId: number, deviceType: number): Promise<string> {
  const request = { deviceType, boardId, deviceId, data: Buffer.from([COMMANDS.read]) }
  return ascii(await command(bus, request, SENSOR_READ))
}

async function writeChecked (bus: BusSession, boardId: number, deviceId: number, deviceType: number, value: Buffer): Promise<void> {
  const request = { deviceType, boardId, deviceId, data: Buffer.concat([Buffer.from([COMMANDS.write]), value]) }
  const answer = ascii(await command(bus, request, SENSOR_READ))
  if (answer !== WRITE_OK) {
    throw new OpenDcreError('device-error', 'Error writing to device.', { cause: new Error(`device answered '${answer}'`) })
  }
}

/** Keep the error's code and cause; give it the API's wording. */
function reword (err: unknown, wording: (e: string) => string): unknown {
  // a refusal for load keeps its own words and its Retry-After
  if (!(err instanceof OpenDcreError) || err instanceof OverloadedError) return err
  return new OpenDcreError(err.code, wording(err.message), { cause: err })
}

/** ASCII reading -> API value by device type (docs/protocol.md §5). */
export function convertReading (deviceType: string, raw: string): Reading {
  try {
    switch (deviceType) {
      case 'temperature':
        return { temperature_c: parseRawFloat(raw) }
      case 'thermistor':
        return { temperature_c: convertThermistor(parseRawInteger(raw)) }
      case 'humidity':
        return convertHumidity(parseRawInteger(raw))
      case 'fan_speed':
        return { speed_rpm: parseRawBigInteger(raw) }
      case 'led':
        return { led_state: convertLedState(parseRawInteger(raw)) }
      default:
        return { device_raw: parseRawBigInteger(raw) }
    }
  } catch (err) {
    if (err instanceof ConversionError && err.kind === 'value') throw reword(err, (e) => `Error converting device reading (${e}).`)
    // v1.2 words every other conversion failure this way, whatever the device type
    throw reword(err, (e) => `Error converting fan speed data (${e}).`)
  }
}

/**
 * Scan records -> boards in the order their first record arrived, devices in
 * arrival order; the type is the record's first data byte.
 */
export function groupScan (records: Packet[]): ScannedBoard[] {
  const boards = new Map<number, ScannedBoard>()
  for (const record of records) {
    let board = boards.get(record.boardId)
    if (board === undefined) {
      board = { board_id: boardIdHex(record.boardId), devices: [] }
      boards.set(record.boardId, board)
    }
    board.devices.push({ device_id: deviceIdHex(record.deviceId), device_type: deviceTypeName(record.data[0] ?? 0xff) })
  }
  return [...boards.values()]
}

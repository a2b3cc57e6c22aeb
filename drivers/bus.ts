import type { BoardEvent } from './events.js'

/**
 * The one interface routes call. Every backend (the device bus over the
 * emulator or a serial line, the IPMI bridge) implements it; a registry picks
 * the backend by board id. Values are API-shaped (v1.2 field names).
 */

/** A device's place in its chassis (the device bus derives it from the device id). */
export interface ChassisLocation {
  depth: string
  horiz_pos: string
  vert_pos: string
  /** The node number of a microserver (an integer, as v1.2 returns it), else "unknown". */
  server_node: number | string
}

export interface PhysicalLocation {
  depth: string
  horizontal: string
  vertical: string
}

/** A power supply's state as v1.2 reports it (power, PMBus flags). */
export interface PowerStatus {
  input_power: number
  input_voltage: number
  output_current: number
  over_current: boolean
  pmbus_raw: string
  power_ok: boolean
  power_status: 'on' | 'off'
  under_voltage: boolean
}

export interface ScannedDevice {
  device_id: string
  device_type: string
  device_info?: string
}

export interface ScannedBoard {
  board_id: string
  devices: ScannedDevice[]
}

export type PowerAction = 'on' | 'off' | 'cycle' | 'status'
export type LedState = 'on' | 'off'
export type BootTarget = 'no_override' | 'hdd' | 'pxe'

/** A reading; its fields depend on the device type (v1.2 read command). */
export type Reading =
  | { temperature_c: number }
  | { humidity: number, temperature_c: number }
  | { speed_rpm: number | bigint }
  | { led_state: LedState }
  | { device_raw: number | bigint }
  | { voltage_v: number }
  | { current_a: number }
  | { power_w: number }
  // Redfish readings beyond v1.2's (docs/api.md, "Reading types")
  | { speed_percent: number }
  | { humidity: number }
  | { energy_kwh: number }
  | { frequency_hz: number }
  | { pressure_kpa: number }
  | { flow_lpm: number }
  | { percent: number }

export interface LedStatus {
  led_state: string
  led_color?: string
}

export interface DeviceLocation {
  chassis_location: ChassisLocation
  physical_location: PhysicalLocation
}

export interface BoardLocation {
  physical_location: PhysicalLocation
}

export interface AssetInfo {
  bmc_ip?: string
  board_info?: Record<string, string>
  chassis_info?: Record<string, string>
  product_info?: Record<string, string>
  /** Redfish: the service's URL (no credentials). */
  service_url?: string
}

/**
 * One scrape-time metric family a backend reports about itself (its own
 * counters and gauges; the metrics plugin turns them into Prometheus series).
 * Names follow Prometheus conventions (base units, `_total` on counters).
 */
export interface MetricFamily {
  name: string
  help: string
  type: 'counter' | 'gauge' | 'histogram'
  labelNames: readonly string[]
  /** A histogram's samples name their series: `_bucket` (with an `le` label), `_sum`, `_count`. */
  samples: Array<{ labels: Record<string, string>, value: number, suffix?: '_bucket' | '_sum' | '_count' }>
  /** The same samples as text lines (format 0.0.4, no HELP/TYPE), written by a source that keeps its label text; a scrape uses this when given. */
  lines?: () => Iterable<string>
}

/**
 * What a backend says of itself, read from its own state (never by talking
 * to hardware): health and metrics ask every bus for this, so a new backend
 * needs no change to either.
 */
export interface BusStatus {
  /** The key under /health's `backends` ("device_bus", "ipmi", "redfish"). */
  backend: string
  /** false makes the service's health 'degraded' (HTTP 503). */
  up: boolean
  /** The JSON /health shows for this backend. */
  health: Record<string, unknown>
  /** This backend's own metric families, at this moment. */
  metrics: MetricFamily[]
}

/** A board a bulk power task can switch: its power device and, where configured, its power-on figure. */
export interface PowerTarget {
  board_id: number
  device_id: number
  /** The board's estimated power-on (inrush) draw in watts, where its configuration declares one. */
  power_on_watts?: number
}

/** A board's pushed events: `live` while they come pushed; `off` when the event log must be read instead. */
export interface PushedEvents {
  readonly state: 'connecting' | 'live' | 'off'
  close: () => void
}

export interface Bus {
  /** A name for logs and errors ("device bus", "ipmi"). */
  readonly name: string
  /** Whether this backend serves `boardId` (the registry routes by it; first match in registration order). */
  ownsBoard: (boardId: number) => boolean
  /** This backend's health and metrics, from its own state. */
  status: () => BusStatus
  /** Every board this backend answers for. */
  scanAll: () => Promise<ScannedBoard[]>
  /** The boards that answered a scan of `boardId` (v1.2 takes their ids from the answers). */
  scanBoard: (boardId: number) => Promise<ScannedBoard[]>
  version: (boardId: number) => Promise<string>
  read: (boardId: number, deviceId: number, deviceType: string) => Promise<Reading>
  power: (boardId: number, deviceId: number, action: PowerAction) => Promise<PowerStatus>
  asset: (boardId: number, deviceId: number) => Promise<AssetInfo>
  bootTarget: (boardId: number, deviceId: number, target?: BootTarget) => Promise<{ target: string }>
  location: (boardId: number, deviceId?: number) => Promise<DeviceLocation | BoardLocation>
  led: (boardId: number, deviceId: number, state?: LedState) => Promise<LedStatus>
  /** `rpm`: the validated text from the URL, sent as given. */
  fan: (boardId: number, deviceId: number, rpm?: string) => Promise<{ speed_rpm: number | bigint }>
  /**
   * The boards this backend can power, from its configuration (no hardware
   * traffic); absent on backends whose boards are only known by a scan.
   */
  powerTargets?: () => PowerTarget[]
  /**
   * The power state alone, in the fewest requests (IPMI: Get Chassis Status,
   * no DCMI reading), for a bulk task's survey and read-backs; absent where
   * power(…, 'status') is as cheap.
   */
  powerState?: (boardId: number, deviceId: number) => Promise<'on' | 'off'>
  /** The board's event log, oldest first; absent on backends that keep none. */
  events?: (boardId: number) => Promise<BoardEvent[]>
  /**
   * Events the backend pushes for a board (a Redfish EventService's SSE
   * stream); `linked`: their record ids are the event log's. Absent on
   * backends that push none.
   */
  watchEvents?: (boardId: number, onEvents: (events: BoardEvent[], linked: boolean) => void) => PushedEvents
  /** A sensor's thresholds and the device's own state, from what the backend keeps (no request); absent on backends with none. */
  sensorHealth?: (boardId: number, deviceId: number) => Promise<SensorHealth | undefined>
  close: () => Promise<void>
}

export function boardIdHex (boardId: number): string {
  return (boardId >>> 0).toString(16).padStart(8, '0')
}

export function deviceIdHex (deviceId: number): string {
  return deviceId.toString(16).padStart(4, '0')
}

/** A sensor's state against its thresholds (docs/api.md, "Sensor states"). */
export type SensorCondition = 'ok' | 'warning' | 'critical' | 'unknown'

/**
 * A sensor's thresholds in its reading's units, as IPMI names them
 * (non-critical = Redfish's Caution, critical, non-recoverable = Fatal).
 */
export interface SensorThresholds {
  lower_non_critical?: number
  lower_critical?: number
  lower_non_recoverable?: number
  upper_non_critical?: number
  upper_critical?: number
  upper_non_recoverable?: number
}

export const THRESHOLD_KEYS = [
  'lower_non_critical', 'lower_critical', 'lower_non_recoverable', 'upper_non_critical', 'upper_critical', 'upper_non_recoverable'
] as const

/**
 * What a backend knows of a sensor's health beside its reading, from what it
 * already holds (the SDR, the last Get Sensor Reading's threshold status, the
 * last Redfish body): never a request of its own.
 */
export interface SensorHealth {
  thresholds: SensorThresholds
  /** The device's own verdict (IPMI threshold status, Redfish Status.Health), when it gives one. */
  condition?: SensorCondition
}

import type { Bus, SensorCondition, SensorThresholds } from '../drivers/bus.js'
import type { HistoryRing } from './history-ring.js'
import type { PollOperation } from './poll-config.js'

/** What the poller keeps of each board and device, read by metrics, the stream and the routes. */

/** A value and when the device gave it (ms since the epoch). */
export interface Sample {
  reading: unknown
  timestamp: number
}

/** One polled device: a sensor, a power supply or an LED. */
export interface SensorState {
  readonly board: BoardState
  readonly boardId: number
  readonly deviceId: number
  /** As the API writes them: '00000001', '0004'. */
  readonly board_id: string
  readonly device_id: string
  device_type: string
  device_info: string | undefined
  operation: PollOperation
  intervalMs: number
  /** The latest value (the object the read, power or LED command answers) and when it was read. */
  reading: unknown
  readAt: number | undefined
  /** The latest failure, if the latest attempt failed. */
  error: string | undefined
  errorAt: number | undefined
  /** When the poller reads it next (Infinity: never; only API reads refresh it). */
  nextDue: number
  history: HistoryRing
  /** Its metric label text, kept from scrape to scrape (monitoring/sensor-metrics.ts). */
  metricText?: SensorMetricText
  /** Its state against its thresholds after the latest reading (reads only; monitoring/thresholds.ts). */
  condition?: SensorCondition
  thresholds?: SensorThresholds
}

/** A sensor's metric label text as the last scrape wrote it: a flat string, made again only when its labels change. */
export interface SensorMetricText {
  /** The device_type and device_info the labels were made with. */
  type: string
  info: string
  /** `{board_id="...",device_id="...",device_type="...",device_info="...",backend="..."}` */
  labels: string
  /** Its label slot in the scrape worker, and which packer gave it (monitoring/scrape-pack.ts SlotHolder). */
  scrapeSlot: number
  scrapeSlotOwner: object | undefined
}

export interface BoardState {
  readonly board_id: string
  readonly boardId: number
  readonly backend: string
  readonly bus: Bus
  readonly sensors: SensorState[]
  /** undefined until the board has been asked something. */
  up: boolean | undefined
  /** When the board last answered (ms since the epoch). */
  lastContact: number | undefined
  /** When to take this board's own inventory (scan of the board): at once, then Infinity once it has answered. */
  inventoryDue: number
  /** Where in each interval its first polls fall, [0, 1): boards spread over the interval, a board's devices go together. */
  readonly phase: number
  busy: boolean
  timer: unknown
  /** Its metric label text, kept from scrape to scrape. */
  labelText?: string
}

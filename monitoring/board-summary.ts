import type { SensorCondition, SensorThresholds } from '../drivers/bus.js'
import { CONDITION_RANK, readingValue, worse } from './thresholds.js'
import type { BoardState, SensorState } from './sensor-state.js'

/**
 * Health at a glance, from the poller's kept values (no hardware traffic):
 * per board its worst sensor state, hottest temperature, power draw and
 * state and a short trend (GET /states, the dashboard's fleet page); per
 * sensor its state and thresholds (GET /states/:board_id).
 */
export interface BoardSummary {
  board_id: string
  backend: string
  up: boolean | null
  last_contact: string | null
  /** The worst state of its sensors; unknown when none can be judged. */
  state: SensorCondition
  counts: Record<SensorCondition, number>
  hottest_c: number | null
  hottest_device: string | null
  /** Input power in watts: the power device's input_power, else the sum of its power sensors. */
  power_w: number | null
  power_status: string | null
  /** The hottest sensor's recent readings, oldest first (at most TREND_POINTS). */
  trend: number[]
}

export interface SensorSummary {
  device_id: string
  device_type: string
  device_info: string
  state: SensorCondition
  thresholds: SensorThresholds
  reading: unknown
  timestamp: string | null
}

export const TREND_POINTS = 20

const iso = (ms: number | undefined): string | null => (ms === undefined ? null : new Date(ms).toISOString())

export function boardSummary (board: BoardState): BoardSummary {
  const counts: Record<SensorCondition, number> = { ok: 0, warning: 0, critical: 0, unknown: 0 }
  let state: SensorCondition = 'unknown'
  let hottest: SensorState | undefined
  let hottestC = -Infinity
  let inputPower: number | undefined
  let sensorWatts: number | undefined
  let powerStatus: string | null = null
  for (const sensor of board.sensors) {
    const reading = sensor.reading as Record<string, unknown> | undefined
    if (sensor.readAt === undefined || reading === null || typeof reading !== 'object') continue
    if (sensor.operation === 'power') {
      if (typeof reading.power_status === 'string') powerStatus = reading.power_status
      if (typeof reading.input_power === 'number' && reading.input_power > 0) inputPower = reading.input_power
      continue
    }
    if (sensor.operation !== 'read') continue
    const condition = sensor.condition ?? 'unknown'
    counts[condition]++
    state = worse(state, condition)
    if (typeof reading.temperature_c === 'number' && reading.temperature_c > hottestC) {
      hottestC = reading.temperature_c
      hottest = sensor
    }
    if (sensor.device_type === 'power' && typeof reading.power_w === 'number') sensorWatts = (sensorWatts ?? 0) + reading.power_w
  }
  const trend = hottest === undefined
    ? []
    : hottest.history.entries(-Infinity).slice(-TREND_POINTS).map((s) => readingValue(s.reading)).filter((v): v is number => v !== undefined)
  return {
    board_id: board.board_id,
    backend: board.backend,
    up: board.up ?? null,
    last_contact: iso(board.lastContact),
    state,
    counts,
    hottest_c: hottest === undefined ? null : hottestC,
    hottest_device: hottest?.device_id ?? null,
    power_w: inputPower ?? sensorWatts ?? null,
    power_status: powerStatus,
    trend
  }
}

/** Trouble first: boards down, then critical, warning, unknown, ok; then the hottest; then by id. */
export function byTrouble (a: BoardSummary, b: BoardSummary): number {
  const down = Number(b.up === false) - Number(a.up === false)
  if (down !== 0) return down
  const rank = (s: SensorCondition): number => (s === 'unknown' ? 0.5 : CONDITION_RANK[s])
  const state = rank(b.state) - rank(a.state)
  if (state !== 0) return state
  const heat = (b.hottest_c ?? -Infinity) - (a.hottest_c ?? -Infinity)
  if (heat !== 0 && !Number.isNaN(heat)) return heat
  return a.board_id < b.board_id ? -1 : a.board_id > b.board_id ? 1 : 0
}

export function sensorSummaries (board: BoardState): SensorSummary[] {
  return board.sensors.filter((s) => s.operation === 'read').map((s) => ({
    device_id: s.device_id,
    device_type: s.device_type,
    device_info: s.device_info ?? '',
    state: s.condition ?? 'unknown',
    thresholds: s.thresholds ?? {},
    reading: s.reading ?? null,
    timestamp: iso(s.readAt)
  }))
}

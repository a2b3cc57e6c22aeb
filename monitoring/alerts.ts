import type { SensorCondition, SensorThresholds } from '../drivers/bus.js'
import type { BoardEvent } from '../drivers/events.js'
import type { SensorState } from './sensor-state.js'

/**
 * What the poller pushes beside readings: a sensor whose state changed
 * (kind `threshold`) and a new entry of a board's event log (kind `log`:
 * an IPMI SEL entry, a Redfish log entry or event). The stream sends them
 * as `event: alert`, MQTT under <prefix>/<board_id>/<kind>.
 */
export interface ThresholdAlert {
  kind: 'threshold'
  board_id: string
  device_id: string
  device_type: string
  device_info: string
  backend: string
  state: SensorCondition
  previous: SensorCondition | null
  value: number | null
  thresholds: SensorThresholds
  /** When the reading that changed the state was taken (ISO 8601). */
  timestamp: string
}

export interface LogAlert {
  kind: 'log'
  board_id: string
  backend: string
  /** The entry as GET /events lists it. */
  entry: BoardEvent
  /** When the poller saw it (ISO 8601). */
  timestamp: string
}

export type Alert = ThresholdAlert | LogAlert

export function thresholdAlert (sensor: SensorState, previous: SensorCondition | undefined, value: number | undefined): ThresholdAlert {
  return {
    kind: 'threshold',
    board_id: sensor.board_id,
    device_id: sensor.device_id,
    device_type: sensor.device_type,
    device_info: sensor.device_info ?? '',
    backend: sensor.board.backend,
    state: sensor.condition ?? 'unknown',
    previous: previous ?? null,
    value: value ?? null,
    thresholds: sensor.thresholds ?? {},
    timestamp: new Date(sensor.readAt ?? Date.now()).toISOString()
  }
}

/** The stream's text of an alert (docs/monitoring.md). */
export function alertEvent (alert: Alert): string {
  return `event: alert\ndata: ${JSON.stringify(alert)}\n\n`
}

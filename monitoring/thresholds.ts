import { Type, type Static, type TNumber, type TOptional } from '@sinclair/typebox'
import { THRESHOLD_KEYS, type Bus, type SensorCondition, type SensorHealth, type SensorThresholds } from '../drivers/bus.js'

/**
 * Sensor states: a reading against its thresholds. The device's own
 * thresholds (an IPMI SDR, a Redfish Sensor) come first; opendcre_config.json's
 * `poll.thresholds` gives them where the device has none (the device bus),
 * by `<board_id>/<device_id>` first, then by device type. No threshold and
 * no verdict from the device: `unknown`.
 */

const threshold = (): TOptional<TNumber> => Type.Optional(Type.Number({ errorMessage: 'must be a number in the reading\'s unit' }))
export const ThresholdsSchema = Type.Object({
  lower_non_critical: threshold(),
  lower_critical: threshold(),
  lower_non_recoverable: threshold(),
  upper_non_critical: threshold(),
  upper_critical: threshold(),
  upper_non_recoverable: threshold()
}, { additionalProperties: false, errorMessage: `takes {${THRESHOLD_KEYS.join(', ')}}` })
export const ConfigThresholdsSchema = Type.Record(Type.String({ minLength: 1 }), ThresholdsSchema,
  { errorMessage: 'must map a device type or "<board_id>/<device_id>" to thresholds' })
export type ConfigThresholds = Static<typeof ConfigThresholdsSchema>

/** 0 ok, 1 warning, 2 critical (opendcre_sensor_state); unknown has no number. */
export const CONDITION_RANK: Record<SensorCondition, number> = { unknown: -1, ok: 0, warning: 1, critical: 2 }

/** The worse of two states (unknown counts below ok). */
export function worse (a: SensorCondition, b: SensorCondition): SensorCondition {
  return CONDITION_RANK[b] > CONDITION_RANK[a] ? b : a
}

/** At or beyond a critical or non-recoverable threshold: critical; beyond a non-critical one: warning (IPMI's "at or above"). */
export function conditionOf (value: number, t: SensorThresholds): SensorCondition {
  if (Object.keys(t).length === 0) return 'unknown'
  const atOrAbove = (limit: number | undefined): boolean => limit !== undefined && value >= limit
  const atOrBelow = (limit: number | undefined): boolean => limit !== undefined && value <= limit
  if (atOrAbove(t.upper_critical) || atOrAbove(t.upper_non_recoverable) || atOrBelow(t.lower_critical) || atOrBelow(t.lower_non_recoverable)) return 'critical'
  if (atOrAbove(t.upper_non_critical) || atOrBelow(t.lower_non_critical)) return 'warning'
  return 'ok'
}

/** The number a reading is judged by: its first numeric field (temperature_c, speed_rpm, voltage_v, ...). */
export function readingValue (reading: unknown): number | undefined {
  if (reading === null || typeof reading !== 'object') return undefined
  // for-in, not Object.values: no array per reading (every poll is judged)
  for (const key in reading) {
    if (!Object.hasOwn(reading, key)) continue
    const value = (reading as Record<string, unknown>)[key]
    if (typeof value === 'number' && Number.isFinite(value)) return value
    if (typeof value === 'bigint') return Number(value)
  }
  return undefined
}

export interface Assessment {
  condition: SensorCondition
  thresholds: SensorThresholds
}

/**
 * A sensor's state: the device's thresholds (else the configured ones)
 * against the reading; a device verdict (IPMI threshold status, Redfish
 * Health) when it gives one and the reading cannot be judged otherwise, or
 * when it is worse.
 */
export function assess (value: number | undefined, health: SensorHealth | undefined, configured: SensorThresholds | undefined): Assessment {
  const own = health?.thresholds ?? {}
  const thresholds = Object.keys(own).length > 0 ? own : (configured ?? {})
  let condition: SensorCondition = value === undefined ? 'unknown' : conditionOf(value, thresholds)
  if (health?.condition !== undefined) condition = condition === 'unknown' ? health.condition : worse(condition, health.condition)
  return { condition, thresholds }
}

export function configuredThresholds (config: ConfigThresholds | undefined, boardId: string, deviceId: string, deviceType: string): SensorThresholds | undefined {
  if (config === undefined) return undefined
  return config[`${boardId}/${deviceId}`] ?? config[deviceType]
}

/** The backend's view of a sensor's health; a failure there is no verdict, never a failed read. */
export async function healthOf (bus: Bus, boardId: number, deviceId: number): Promise<SensorHealth | undefined> {
  if (bus.sensorHealth === undefined) return undefined
  try {
    return await bus.sensorHealth(boardId, deviceId)
  } catch {
    return undefined
  }
}

import type { SensorCondition, SensorHealth, SensorThresholds } from '../bus.js'

/**
 * A Redfish sensor's thresholds and health (DSP0268): the Sensor resource's
 * `Thresholds` object (UpperCaution, UpperCritical, UpperFatal and the Lower
 * ones, each `{Reading}`), or the legacy Thermal/Power members' flat
 * `UpperThresholdNonCritical` ... `LowerThresholdFatal`. When it carries no
 * threshold, `Status.Health` (OK, Warning, Critical) is the state.
 */
type Json = Record<string, any>

const SENSOR_NAMES: Array<[keyof SensorThresholds, string]> = [
  ['lower_non_critical', 'LowerCaution'], ['lower_critical', 'LowerCritical'], ['lower_non_recoverable', 'LowerFatal'],
  ['upper_non_critical', 'UpperCaution'], ['upper_critical', 'UpperCritical'], ['upper_non_recoverable', 'UpperFatal']
]
const LEGACY_NAMES: Array<[keyof SensorThresholds, string]> = [
  ['lower_non_critical', 'LowerThresholdNonCritical'], ['lower_critical', 'LowerThresholdCritical'], ['lower_non_recoverable', 'LowerThresholdFatal'],
  ['upper_non_critical', 'UpperThresholdNonCritical'], ['upper_critical', 'UpperThresholdCritical'], ['upper_non_recoverable', 'UpperThresholdFatal']
]

const finite = (v: unknown): number | undefined => (typeof v === 'number' && Number.isFinite(v) ? v : undefined)

export function redfishThresholds (item: Json): SensorThresholds {
  const out: SensorThresholds = {}
  const t = item.Thresholds
  if (t !== null && typeof t === 'object') {
    for (const [key, name] of SENSOR_NAMES) {
      const value = finite(t[name]?.Reading)
      if (value !== undefined) out[key] = value
    }
  }
  for (const [key, name] of LEGACY_NAMES) {
    const value = finite(item[name])
    if (value !== undefined && out[key] === undefined) out[key] = value
  }
  return out
}

export function redfishHealth (item: Json): SensorCondition | undefined {
  switch (item.Status?.Health) {
    case 'OK': return 'ok'
    case 'Warning': return 'warning'
    case 'Critical': return 'critical'
    default: return undefined
  }
}

/** Thresholds when it has any (the state then follows the reading), else Status.Health as the state. */
export function redfishSensorHealth (item: Json): SensorHealth {
  const thresholds = redfishThresholds(item)
  if (Object.keys(thresholds).length > 0) return { thresholds }
  const condition = redfishHealth(item)
  return condition === undefined ? { thresholds } : { thresholds, condition }
}

/**
 * The emulated sensors' health and thresholds as Redfish serves them: the
 * Sensor resource's `Thresholds` ({Reading}) and the legacy Thermal/Power
 * members' `UpperThresholdNonCritical` ... (DSP0268 Thermal.v1_7_0
 * Temperature and Fan, Power.v1_6_0 Voltage).
 */
export type Thresholds = Record<string, number | undefined>

/** A reading's Health against its thresholds: Critical at or past a critical or fatal one, Warning past a caution one. */
export function sensorHealth (value: number, t: Thresholds | undefined): 'OK' | 'Warning' | 'Critical' {
  if (t === undefined) return 'OK'
  const above = (k: string): boolean => t[k] !== undefined && value >= (t[k] as number)
  const below = (k: string): boolean => t[k] !== undefined && value <= (t[k] as number)
  if (above('UpperCritical') || above('UpperFatal') || below('LowerCritical') || below('LowerFatal')) return 'Critical'
  if (above('UpperCaution') || below('LowerCaution')) return 'Warning'
  return 'OK'
}

/** Sensor.Thresholds names -> the legacy members' threshold properties. */
const LEGACY_THRESHOLDS: Record<string, string> = {
  UpperCaution: 'UpperThresholdNonCritical',
  UpperCritical: 'UpperThresholdCritical',
  UpperFatal: 'UpperThresholdFatal',
  LowerCaution: 'LowerThresholdNonCritical',
  LowerCritical: 'LowerThresholdCritical',
  LowerFatal: 'LowerThresholdFatal'
}

/** The legacy Thermal/Power member's threshold properties (none when the sensor has no thresholds). */
export function legacyThresholds (t: Thresholds | undefined): Record<string, number> {
  const out: Record<string, number> = {}
  for (const [k, v] of Object.entries(t ?? {})) if (v !== undefined && LEGACY_THRESHOLDS[k] !== undefined) out[LEGACY_THRESHOLDS[k]] = v
  return out
}

/** The Sensor resource's Thresholds ({Reading} each). */
export function sensorThresholds (t: Thresholds | undefined): Record<string, { Reading: number }> | undefined {
  if (t === undefined) return undefined
  return Object.fromEntries(Object.entries(t).filter((e): e is [string, number] => e[1] !== undefined).map(([k, v]) => [k, { Reading: v }]))
}

/** A sensor's id in its URI (/Chassis/1/Sensors/<id>). */
export function sensorId (name: string): string {
  return name.replace(/[^A-Za-z0-9]+/g, '_').replace(/^_|_$/g, '')
}

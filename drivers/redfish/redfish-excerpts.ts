import type { SensorKind } from './redfish-sensors.js'

/**
 * Readings that a chassis' ThermalSubsystem and PowerSubsystem (DSP0268:
 * Fan, Pump, CoolantConnector, ThermalMetrics, PowerSupply,
 * PowerSupplyMetrics, Battery, BatteryMetrics) carry as sensor excerpts:
 * `{ "Reading": 45, "DataSourceUri": "/redfish/v1/Chassis/1U/Sensors/FanBay1" }`
 * inside a property that names what it is (`SpeedPercent`,
 * `InputPowerWatts`, `RailVoltage`, `TemperatureReadingsCelsius`, ...). An
 * excerpt whose `DataSourceUri` is a Sensor discovery found is read there,
 * never twice; the others become devices of their own.
 */

type Json = Record<string, any>

/** Where in a resource an excerpt's reading is: the property path (names and array indexes) and the field. */
export interface ExcerptAt {
  path: Array<string | number>
  /** `Reading`, or `SpeedRPM` beside a speed in percent. */
  field: string
}

export interface FoundExcerpt {
  kind: SensorKind
  name: string
  /** The resource holding the excerpt. */
  uri: string
  at: ExcerptAt
  /** For ordering and health: `<uri>#/<path>/<field>`. */
  key: string
  /** Units, where the property's name gives them in other units than the kind's (Wh, J, Pa). */
  fields: Json
  /** The excerpt's DataSourceUri (trailing slash dropped), if it names one: the Sensor it summarises. */
  source?: string
}

/** The kind of a reading by the name of the property that holds its excerpt (DSP0268's naming: the unit is the suffix). */
export function excerptKind (property: string, context: string): { kind: SensorKind, units?: string } | undefined {
  // a setting, not a reading (EnvironmentMetrics' PowerLimitWatts is a Control excerpt); g/m³, a unit no kind reads
  if (NOT_READINGS.has(property)) return undefined
  if (/Celsius$/.test(property)) return { kind: 'temperature' }
  if (/Speeds?Percent$/.test(property)) return { kind: /fan/i.test(`${property} ${context}`) ? 'fan_percent' : 'percent' }
  if (/Humidity(Percent)?$/.test(property)) return { kind: 'humidity' }
  if (/Voltages?$/.test(property)) return { kind: 'voltage' }
  if (/Amps$/.test(property)) return { kind: 'current' }
  if (/Watts$/.test(property)) return { kind: 'power' }
  if (/kWh$/.test(property)) return { kind: 'energy' }
  if (/WattHours$/.test(property)) return { kind: 'energy', units: 'W.h' }
  if (/Joules$/.test(property)) return { kind: 'energy', units: 'J' }
  if (/Hz$/.test(property)) return { kind: 'frequency' }
  if (/kPa$/.test(property)) return { kind: 'pressure' }
  if (/Pa$/.test(property)) return { kind: 'pressure', units: 'Pa' }
  if (/(LitersPerMinute|LPM)$/.test(property)) return { kind: 'liquid_flow' }
  if (/Percent$/.test(property)) return { kind: 'percent' }
  return undefined
}

/** Properties whose excerpts are no reading OpenDCRE has a kind for. */
const NOT_READINGS = new Set(['PowerLimitWatts', 'AbsoluteHumidity'])

const isObject = (v: unknown): v is Json => typeof v === 'object' && v !== null && !Array.isArray(v)

/** A resource (not an excerpt or a link): it has its own @odata.id and more. */
export const isResource = (v: unknown): v is Json => isObject(v) && typeof v['@odata.id'] === 'string' && Object.keys(v).length > 1

/**
 * The excerpts of one resource's own properties (nested resources, as an
 * expanded answer holds them, are walked by the caller), skipping those whose
 * DataSourceUri is in `known` (read from the Sensor itself).
 */
export function excerptsOf (resource: Json, known: Set<string>, maxDepth = 6, max = Infinity): FoundExcerpt[] {
  const uri = String(resource['@odata.id'])
  const label = String(resource.Name ?? resource.Id ?? uri)
  const context = `${String(resource['@odata.type'] ?? '')} ${label}`
  const out: FoundExcerpt[] = []
  const visit = (value: unknown, path: Array<string | number>, depth: number): void => {
    if (depth > maxDepth || out.length >= max) return
    if (Array.isArray(value)) {
      value.slice(0, Number.isFinite(max) ? max : undefined).forEach((v, i) => visit(v, [...path, i], depth + 1))
      return
    }
    if (!isObject(value) || (path.length > 0 && isResource(value))) return
    if (path.length > 0 && 'Reading' in value) {
      const source = typeof value.DataSourceUri === 'string' && value.DataSourceUri !== '' ? value.DataSourceUri.replace(/\/$/, '') : undefined
      if (source !== undefined && known.has(source)) return
      // the nearest property that names a unit: TemperatureSummaryCelsius/Intake is a temperature
      let what: ReturnType<typeof excerptKind>
      for (const p of [...path].reverse()) if (typeof p === 'string' && (what = excerptKind(p, context)) !== undefined) break
      if (what === undefined) return
      const place = path.map((p) => (typeof p === 'number' ? String(p + 1) : p)).join(' ')
      const name = typeof value.DeviceName === 'string' && value.DeviceName !== '' ? value.DeviceName : `${label} ${place}`
      const add = (kind: SensorKind, field: string, suffix: string, fields: Json): void => {
        out.push({ kind, name: name + suffix, uri, at: { path, field }, key: `${uri}#/${path.join('/')}/${field}`, fields, ...(source !== undefined ? { source } : {}) })
      }
      add(what.kind, 'Reading', '', what.units !== undefined ? { ReadingUnits: what.units } : {})
      if ('SpeedRPM' in value) add('fan_speed', 'SpeedRPM', ' RPM', {})
      return
    }
    for (const [k, v] of Object.entries(value)) {
      if (k === 'Links' || k === 'Actions' || k === 'Oem' || k.includes('@')) continue
      visit(v, [...path, k], depth + 1)
    }
  }
  visit(resource, [], 0)
  return out
}

/** The excerpt's value in a body of its resource. */
export function excerptValue (resource: Json, at: ExcerptAt): unknown {
  let v: unknown = resource
  for (const p of at.path) v = (v as Json | undefined)?.[p]
  return (v as Json | undefined)?.[at.field]
}

/** The resources nested in an (expanded) answer, by @odata.id (trailing slash dropped), each resource's body. */
export function resourcesIn (body: unknown, max = 100_000): Map<string, Json> {
  const out = new Map<string, Json>()
  const stack: unknown[] = [body]
  while (stack.length > 0 && out.size < max) {
    const v = stack.pop()
    if (Array.isArray(v)) {
      for (const item of v) if (typeof item === 'object' && item !== null) stack.push(item)
    } else if (isObject(v)) {
      if (isResource(v)) {
        const id = String(v['@odata.id']).replace(/\/$/, '')
        if (!out.has(id)) out.set(id, v)
      }
      for (const item of Object.values(v)) if (typeof item === 'object' && item !== null) stack.push(item)
    }
  }
  return out
}

/** Links to resources under `base` (subordinate, not in Links) that an answer holds unexpanded: what a walk still has to GET. */
export function subordinateLinks (body: unknown, base: string): string[] {
  const out = new Set<string>()
  const stack: unknown[] = [body]
  while (stack.length > 0) {
    const v = stack.pop()
    if (Array.isArray(v)) {
      for (const item of v) if (typeof item === 'object' && item !== null) stack.push(item)
    } else if (isObject(v)) {
      const id = v['@odata.id']
      if (typeof id === 'string' && Object.keys(v).length === 1 && id.startsWith(base + '/') && !id.includes('#')) out.add(id.replace(/\/$/, ''))
      for (const [k, item] of Object.entries(v)) if (k !== 'Links' && typeof item === 'object' && item !== null) stack.push(item)
    }
  }
  return [...out]
}

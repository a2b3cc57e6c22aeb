import type { Reading } from '../bus.js'

/**
 * What a Redfish reading is, read from the model rather than one shape
 * (DSP0268 Sensor, Thermal, Power): the kind comes from `ReadingType`, else
 * from `ReadingUnits`, else from the resource that lists it. Each kind has
 * an OpenDCRE device type, a block of device ids and the field of the
 * reading the API answers with.
 */

export type SensorKind =
  | 'temperature' | 'fan_speed' | 'fan_percent' | 'voltage' | 'current' | 'power'
  | 'humidity' | 'energy' | 'frequency' | 'pressure' | 'liquid_flow' | 'percent'

interface KindInfo {
  /** The device type scans list and reads take. */
  deviceType: string
  /** The first device id of the kind's block (ids are base + 1, base + 2, ... in URI order). */
  base: number
  /** The reading the API answers with, from the service's number (in the unit the field names). */
  reading: (value: number) => Reading
}

export const KINDS: Record<SensorKind, KindInfo> = {
  temperature: { deviceType: 'temperature', base: 0x1000, reading: (v) => ({ temperature_c: v }) },
  fan_speed: { deviceType: 'fan_speed', base: 0x2000, reading: (v) => ({ speed_rpm: Math.round(v) }) },
  fan_percent: { deviceType: 'fan_speed', base: 0x2800, reading: (v) => ({ speed_percent: v }) },
  voltage: { deviceType: 'voltage', base: 0x3000, reading: (v) => ({ voltage_v: v }) },
  current: { deviceType: 'current', base: 0x4000, reading: (v) => ({ current_a: v }) },
  power: { deviceType: 'power', base: 0x5000, reading: (v) => ({ power_w: v }) },
  humidity: { deviceType: 'humidity', base: 0x6000, reading: (v) => ({ humidity: v }) },
  energy: { deviceType: 'energy', base: 0x7000, reading: (v) => ({ energy_kwh: v }) },
  frequency: { deviceType: 'frequency', base: 0x8000, reading: (v) => ({ frequency_hz: v }) },
  pressure: { deviceType: 'pressure', base: 0x9000, reading: (v) => ({ pressure_kpa: v }) },
  liquid_flow: { deviceType: 'liquid_flow', base: 0xa000, reading: (v) => ({ flow_lpm: v }) },
  percent: { deviceType: 'percent', base: 0xb000, reading: (v) => ({ percent: v }) }
}

/** The order kinds are numbered and listed in. */
export const KIND_ORDER = Object.keys(KINDS) as SensorKind[]

/** Device ids a kind's block holds: a sensor past it is left out (and logged). */
export const KIND_BLOCK = 0x7ff

/** The device types Redfish boards read. */
export const READ_TYPES = [...new Set(KIND_ORDER.map((k) => KINDS[k].deviceType))]

type Json = Record<string, any>

/** Redfish's ReadingType enumeration (Sensor_v1.xml), as OpenDCRE kinds. */
const BY_READING_TYPE: Record<string, SensorKind> = {
  Temperature: 'temperature',
  Rotational: 'fan_speed',
  Voltage: 'voltage',
  Current: 'current',
  Power: 'power',
  Humidity: 'humidity',
  EnergykWh: 'energy',
  EnergyJoules: 'energy',
  EnergyWh: 'energy',
  Frequency: 'frequency',
  PressurePa: 'pressure',
  PressurekPa: 'pressure',
  PressurePaGauge: 'pressure',
  PressurekPaGauge: 'pressure',
  LiquidFlow: 'liquid_flow',
  LiquidFlowLPM: 'liquid_flow',
  Percent: 'percent'
}

/** Redfish's ReadingUnits (UCUM, as Sensor_v1.xml lists them per ReadingType), as kinds. */
const BY_UNITS: Record<string, SensorKind> = {
  Cel: 'temperature',
  RPM: 'fan_speed',
  '{rev}/min': 'fan_speed',
  V: 'voltage',
  A: 'current',
  W: 'power',
  'kW.h': 'energy',
  'W.h': 'energy',
  J: 'energy',
  Hz: 'frequency',
  Pa: 'pressure',
  kPa: 'pressure',
  'L/min': 'liquid_flow',
  '%': 'percent',
  // legacy Thermal Fans' units (Thermal_v1 ReadingUnits: RPM, Percent)
  Percent: 'percent'
}

/** Where a reading was listed, when neither ReadingType nor ReadingUnits says what it is. */
export type ListedBy = 'Sensors' | 'Temperatures' | 'Fans' | 'Voltages' | 'PowerControl' | 'PowerSupplies'

const BY_LISTING: Partial<Record<ListedBy, SensorKind>> = { Temperatures: 'temperature', Fans: 'fan_speed', Voltages: 'voltage', PowerControl: 'power', PowerSupplies: 'power' }

/**
 * The kind of a Sensor (or a legacy array member): ReadingType, else
 * ReadingUnits, else the listing resource. A percentage is a fan's speed
 * when the listing, the PhysicalContext or the name says fan; a relative
 * humidity when it says humidity.
 */
export function sensorKind (sensor: Json, listedBy: ListedBy = 'Sensors'): SensorKind | undefined {
  const type = typeof sensor.ReadingType === 'string' ? sensor.ReadingType : undefined
  const units = typeof sensor.ReadingUnits === 'string' ? sensor.ReadingUnits : undefined
  let kind = (type !== undefined ? BY_READING_TYPE[type] : undefined) ?? (units !== undefined ? BY_UNITS[units] : undefined) ?? BY_LISTING[listedBy]
  if (kind === 'fan_speed' && units === '%') kind = 'percent'
  if (kind === 'percent') {
    const text = `${String(sensor.PhysicalContext ?? '')} ${String(sensor.Name ?? '')} ${String(sensor.Id ?? '')}`
    if (listedBy === 'Fans' || /fan/i.test(text)) return 'fan_percent'
    if (/humid/i.test(text)) return 'humidity'
  }
  return kind
}

/** A number a Redfish reading is in the unit OpenDCRE answers with (kWh, kPa, L/min). */
export function toKindUnits (kind: SensorKind, value: number, sensor: Json): number {
  const type = String(sensor.ReadingType ?? '')
  const units = String(sensor.ReadingUnits ?? '')
  if (kind === 'energy') return type === 'EnergyJoules' || units === 'J' ? value / 3.6e6 : type === 'EnergyWh' || units === 'W.h' ? value / 1000 : value
  if (kind === 'pressure') return type === 'PressurePa' || type === 'PressurePaGauge' || units === 'Pa' ? value / 1000 : value
  return value
}

/**
 * The Sensor fields OpenDCRE keeps from discovery, in one place: what it
 * reads now and what a later feature (thresholds, states) reads from the
 * same resource without another discovery.
 */
export const KEPT_SENSOR_FIELDS = ['Id', 'Name', 'ReadingType', 'ReadingUnits', 'PhysicalContext', 'DataSourceUri', 'Thresholds', 'ReadingRangeMin', 'ReadingRangeMax', 'Status'] as const

export function keptFields (sensor: Json): Json {
  const kept: Json = {}
  for (const field of KEPT_SENSOR_FIELDS) if (sensor[field] !== undefined) kept[field] = sensor[field]
  return kept
}

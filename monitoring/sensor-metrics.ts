import type { MetricFamily } from '../drivers/bus.js'
import type { BoardState, SensorState } from './sensor-state.js'
import { CONDITION_RANK } from './thresholds.js'

/**
 * The per-sensor series (the names dashboards and alert rules rely on),
 * from the poller's kept values at scrape time: a scrape never waits on
 * hardware. Labels are the API's: board_id and device_id as it writes them.
 */
const SENSOR_LABELS = ['board_id', 'device_id', 'device_type', 'device_info', 'backend'] as const
const BOARD_LABELS = ['board_id', 'backend'] as const

type Labels = Record<typeof SENSOR_LABELS[number], string>

function numeric (value: unknown): number | undefined {
  if (typeof value === 'number') return Number.isFinite(value) ? value : undefined
  if (typeof value === 'bigint') return Number(value)
  return undefined
}

function scaled (value: unknown, factor: number): number | undefined {
  const n = numeric(value)
  return n === undefined ? undefined : n * factor
}

/** The first numeric field of a reading whose name contains one of `hints`, else its first numeric field. */
function firstNumber (reading: Record<string, unknown>, hints: readonly string[]): number | undefined {
  let first: number | undefined
  for (const [key, value] of Object.entries(reading)) {
    const n = numeric(value)
    if (n === undefined) continue
    if (hints.some((h) => key.includes(h))) return n
    first ??= n
  }
  return first
}

interface SeriesRule {
  name: string
  help: string
  value: (reading: Record<string, unknown>, deviceType: string) => number | undefined
}

/**
 * Which series a reading feeds, by its shape first (the v1.2 field names),
 * then by device type for sensors that answer one number (voltage,
 * current, power in watts). A device type these do not name adds only its
 * reading age.
 */
const RULES: SeriesRule[] = [
  {
    name: 'opendcre_temperature_celsius',
    help: 'Temperature reported by a sensor, in degrees Celsius.',
    value: (r) => numeric(r.temperature_c)
  },
  {
    name: 'opendcre_fan_speed_rpm',
    help: 'Fan speed reported by a sensor, in revolutions per minute.',
    value: (r) => numeric(r.speed_rpm)
  },
  {
    name: 'opendcre_voltage_volts',
    help: 'Voltage reported by a sensor, in volts.',
    value: (r, type) => (type === 'voltage' ? firstNumber(r, ['volt']) : undefined)
  },
  {
    name: 'opendcre_current_amperes',
    help: 'Current reported by a sensor, in amperes.',
    value: (r, type) => (type === 'current' ? firstNumber(r, ['amp', 'current']) : undefined)
  },
  {
    name: 'opendcre_power_watts',
    help: 'Power reported by a sensor, in watts.',
    value: (r, type) => ((type === 'power' || type === 'power_watts') && !('power_status' in r) ? firstNumber(r, ['watt', 'power']) : undefined)
  },
  // Redfish readings beyond v1.2's, in base units (docs/api.md, "Reading types")
  {
    name: 'opendcre_fan_speed_ratio',
    help: 'Fan speed reported as a share of full speed (a fan reporting percent), 0 to 1.',
    value: (r) => scaled(r.speed_percent, 0.01)
  },
  {
    name: 'opendcre_relative_humidity_ratio',
    help: 'Relative humidity reported by a sensor, 0 to 1.',
    value: (r) => scaled(r.humidity, 0.01)
  },
  {
    name: 'opendcre_energy_joules',
    help: 'Energy reported by a sensor (a meter\'s total), in joules.',
    value: (r) => scaled(r.energy_kwh, 3.6e6)
  },
  {
    name: 'opendcre_frequency_hertz',
    help: 'Frequency reported by a sensor, in hertz.',
    value: (r) => numeric(r.frequency_hz)
  },
  {
    name: 'opendcre_pressure_pascals',
    help: 'Pressure reported by a sensor, in pascals.',
    value: (r) => scaled(r.pressure_kpa, 1000)
  },
  {
    name: 'opendcre_liquid_flow_cubic_meters_per_second',
    help: 'Liquid flow reported by a sensor, in cubic metres per second.',
    value: (r) => scaled(r.flow_lpm, 1 / 60_000)
  },
  {
    name: 'opendcre_sensor_ratio',
    help: 'A percentage reported by a sensor that is neither a fan nor humidity (a battery\'s state of health), 0 to 1.',
    value: (r) => scaled(r.percent, 0.01)
  },
  {
    name: 'opendcre_power_on',
    help: '1 when the power status says on, 0 when off.',
    value: (r) => (typeof r.power_status === 'string' ? (r.power_status === 'on' ? 1 : 0) : undefined)
  },
  {
    name: 'opendcre_led_on',
    help: '1 when the LED is on, 0 when off (absent when its state is unknown).',
    value: (r) => (r.led_state === 'on' ? 1 : r.led_state === 'off' ? 0 : undefined)
  }
]

/** One labels object per sensor, kept while its labels stay the same (the metrics writer caches its text). */
function sensorLabels (sensor: SensorState): Labels {
  const info = sensor.device_info ?? ''
  const kept = sensor.labels as Labels | undefined
  if (kept !== undefined && kept.device_info === info && kept.device_type === sensor.device_type) return kept
  const labels: Labels = { board_id: sensor.board_id, device_id: sensor.device_id, device_type: sensor.device_type, device_info: info, backend: sensor.board.backend }
  sensor.labels = labels
  return labels
}

export function sensorMetricFamilies (sensors: Iterable<SensorState>, boards: Iterable<BoardState>, now: number): MetricFamily[] {
  const families = RULES.map((rule): MetricFamily => ({ name: rule.name, help: rule.help, type: 'gauge', labelNames: SENSOR_LABELS, samples: [] }))
  const age: MetricFamily = {
    name: 'opendcre_reading_age_seconds',
    help: 'Seconds since the device last gave the value the other series show (absent until it has).',
    type: 'gauge',
    labelNames: SENSOR_LABELS,
    samples: []
  }
  const [state, threshold] = stateFamilies()
  for (const sensor of sensors) {
    if (sensor.readAt === undefined || sensor.reading === null || typeof sensor.reading !== 'object') continue
    const labels = sensorLabels(sensor)
    if (sensor.condition !== undefined) addState(sensor, labels, state, threshold)
    age.samples.push({ labels, value: Math.max(0, (now - sensor.readAt) / 1000) })
    const reading = sensor.reading as Record<string, unknown>
    for (let i = 0; i < RULES.length; i++) {
      const value = RULES[i].value(reading, sensor.device_type)
      if (value !== undefined) families[i].samples.push({ labels, value })
    }
  }
  const up: MetricFamily = {
    name: 'opendcre_board_up',
    help: '1 when the board (a BMC, a device-bus board) answered its latest poll, 0 when it did not.',
    type: 'gauge',
    labelNames: BOARD_LABELS,
    samples: []
  }
  for (const board of boards) {
    if (board.up === undefined) continue
    board.labels ??= { board_id: board.board_id, backend: board.backend }
    up.samples.push({ labels: board.labels, value: board.up ? 1 : 0 })
  }
  return [...families, age, up, state, threshold]
}

/**
 * opendcre_sensor_state (0 ok, 1 warning, 2 critical; absent while unknown)
 * and opendcre_sensor_threshold (one series per threshold the sensor has,
 * labelled by its IPMI name), with the readings' labels.
 */
function stateFamilies (): [MetricFamily, MetricFamily] {
  const state: MetricFamily = {
    name: 'opendcre_sensor_state',
    help: 'A sensor\'s state against its thresholds: 0 ok, 1 warning, 2 critical (absent while unknown).',
    type: 'gauge',
    labelNames: SENSOR_LABELS,
    samples: []
  }
  const threshold: MetricFamily = {
    name: 'opendcre_sensor_threshold',
    help: 'A sensor threshold, in the unit of its reading; threshold is lower_/upper_ non_critical, critical or non_recoverable.',
    type: 'gauge',
    labelNames: [...SENSOR_LABELS, 'threshold'],
    samples: []
  }
  return [state, threshold]
}

function addState (sensor: SensorState, labels: Labels, state: MetricFamily, threshold: MetricFamily): void {
  const rank = CONDITION_RANK[sensor.condition ?? 'unknown']
  if (rank >= 0) state.samples.push({ labels, value: rank })
  // one labels object per threshold, kept while the sensor's labels stay the same (the writer caches each one's text)
  if (sensor.thresholdLabels?.base !== labels) sensor.thresholdLabels = { base: labels, byName: {} }
  const byName = sensor.thresholdLabels.byName
  for (const [name, value] of Object.entries(sensor.thresholds ?? {})) {
    if (typeof value === 'number') threshold.samples.push({ labels: byName[name] ??= { ...labels, threshold: name }, value })
  }
}

import { THRESHOLD_KEYS, type MetricFamily } from '../drivers/bus.js'
import { escapeLabel, formatValue } from './exposition.js'
import type { LineSink, PackableFamily } from './scrape-pack.js'
import type { BoardState, SensorMetricText, SensorState } from './sensor-state.js'
import { CONDITION_RANK } from './thresholds.js'

/**
 * The per-sensor series (the names dashboards and alert rules rely on),
 * from the poller's kept values at scrape time: a scrape never waits on
 * hardware. Labels are the API's: board_id and device_id as it writes them.
 */
const SENSOR_LABELS = ['board_id', 'device_id', 'device_type', 'device_info', 'backend'] as const
const BOARD_LABELS = ['board_id', 'backend'] as const

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

/**
 * `{board_id="...",...}` as one flat string: joined, not built with `+=`,
 * which leaves a tree of ~20 string pieces (measured 760 bytes a sensor,
 * 45 KB a BMC at 12 sensors and their thresholds; flat: ~130 bytes).
 */
function labelText (pairs: Array<[string, string]>): string {
  const parts: string[] = ['{']
  for (const [name, value] of pairs) parts.push(parts.length === 1 ? '' : ',', name, '="', escapeLabel(value), '"')
  parts.push('}')
  return parts.join('')
}

function sensorLabelPairs (sensor: SensorState): Array<[string, string]> {
  return [['board_id', sensor.board_id], ['device_id', sensor.device_id], ['device_type', sensor.device_type], ['device_info', sensor.device_info ?? ''], ['backend', sensor.board.backend]]
}

/** The sensor's metric label text, kept while its labels stay the same. */
function textOf (sensor: SensorState): SensorMetricText {
  const info = sensor.device_info ?? ''
  let kept = sensor.metricText
  if (kept === undefined || kept.type !== sensor.device_type || kept.info !== info) {
    kept = { type: sensor.device_type, info, labels: labelText(sensorLabelPairs(sensor)), scrapeSlot: -1, scrapeSlotOwner: undefined }
    sensor.metricText = kept
  }
  return kept
}

/**
 * Its opendcre_sensor_threshold lines, one per threshold it has, written at
 * each scrape from its label text: kept from scrape to scrape they cost
 * 7.7 KB a BMC (~37 MB at 5,000), writing them ~10 ms of a scrape's CPU there.
 */
function thresholdLines (sensor: SensorState, text: SensorMetricText): string {
  const thresholds = sensor.thresholds
  if (thresholds === undefined) return ''
  let head: string | undefined
  let lines = ''
  for (const name of Object.keys(thresholds)) {
    const value = (thresholds as Record<string, unknown>)[name]
    if (typeof value !== 'number') continue
    head ??= `${THRESHOLD_FAMILY}${text.labels.slice(0, -1)},threshold="`
    lines += `${head}${escapeLabel(name)}"} ${formatValue(value)}\n`
  }
  return lines
}

const THRESHOLD_FAMILY = 'opendcre_sensor_threshold'

/** The threshold label that closes a threshold line's labels, made once per IPMI threshold name. */
const THRESHOLD_EXTRA: ReadonlyMap<string, string> = new Map(THRESHOLD_KEYS.map((name) => [name, `,threshold="${name}"}`]))

function thresholdExtra (name: string): string {
  return THRESHOLD_EXTRA.get(name) ?? `,threshold="${escapeLabel(name)}"}`
}

/** The same lines as thresholdLines, into the scrape worker's sink. */
function packThresholds (sensor: SensorState, sink: LineSink): void {
  const thresholds = sensor.thresholds
  if (thresholds === undefined) return
  let text: SensorMetricText | undefined
  for (const name of Object.keys(thresholds)) {
    const value = (thresholds as Record<string, unknown>)[name]
    if (typeof value !== 'number') continue
    text ??= textOf(sensor)
    sink.line(text, text.labels, value, thresholdExtra(name))
  }
}

function boardLabels (board: BoardState): string {
  board.labelText ??= labelText([['board_id', board.board_id], ['backend', board.backend]])
  return board.labelText
}

/**
 * A family over the kept sensors: its samples as objects on demand (tests,
 * anything that reads values), and its lines made straight from each
 * sensor's kept label text at a scrape, with no object per sample (at
 * 5,000 BMCs a scrape is ~450,000 lines), given one by one so that the
 * writer can hand out its text in pieces.
 */
function sensorFamily (name: string, help: string, labelNames: readonly string[], lines: () => Iterable<string>,
  samples: () => MetricFamily['samples'], pack: (sink: LineSink) => void): PackableFamily {
  return {
    name,
    help,
    type: 'gauge',
    labelNames,
    get samples () { return samples() },
    lines,
    pack
  }
}

function labelsObject (pairs: Array<[string, string]>): Record<string, string> {
  return Object.fromEntries(pairs)
}

/** A gauge with one sample per sensor that has a value for it. */
function perSensor (name: string, help: string, sensors: SensorState[], value: (sensor: SensorState) => number | undefined): PackableFamily {
  return sensorFamily(name, help, SENSOR_LABELS, function * () {
    for (const sensor of sensors) {
      const v = value(sensor)
      if (v !== undefined) yield `${name}${textOf(sensor).labels} ${formatValue(v)}\n`
    }
  }, () => {
    const samples: MetricFamily['samples'] = []
    for (const sensor of sensors) {
      const v = value(sensor)
      if (v !== undefined) samples.push({ labels: labelsObject(sensorLabelPairs(sensor)), value: v })
    }
    return samples
  }, (sink) => {
    for (const sensor of sensors) {
      const v = value(sensor)
      if (v === undefined) continue
      const text = textOf(sensor)
      sink.line(text, text.labels, v)
    }
  })
}

export function sensorMetricFamilies (all: Iterable<SensorState>, boards: Iterable<BoardState>, now: number): PackableFamily[] {
  const sensors: SensorState[] = []
  for (const sensor of all) {
    if (sensor.readAt !== undefined && sensor.reading !== null && typeof sensor.reading === 'object') sensors.push(sensor)
  }
  const families = RULES.map((rule) => perSensor(rule.name, rule.help, sensors, (s) => rule.value(s.reading as Record<string, unknown>, s.device_type)))
  const age = perSensor('opendcre_reading_age_seconds', 'Seconds since the device last gave the value the other series show (absent until it has).',
    sensors, (s) => Math.max(0, (now - (s.readAt as number)) / 1000))
  const upBoards = [...boards].filter((board) => board.up !== undefined)
  const up = sensorFamily('opendcre_board_up', '1 when the board (a BMC, a device-bus board) answered its latest poll, 0 when it did not.', BOARD_LABELS, function * () {
    for (const board of upBoards) yield `opendcre_board_up${boardLabels(board)} ${board.up === true ? 1 : 0}\n`
  }, () => upBoards.map((board) => ({ labels: { board_id: board.board_id, backend: board.backend }, value: board.up === true ? 1 : 0 })),
  (sink) => { for (const board of upBoards) sink.line(board, boardLabels(board), board.up === true ? 1 : 0) })
  const judged = sensors.filter((s) => s.condition !== undefined)
  // opendcre_sensor_state: 0 ok, 1 warning, 2 critical; absent while unknown
  const state = perSensor('opendcre_sensor_state', 'A sensor\'s state against its thresholds: 0 ok, 1 warning, 2 critical (absent while unknown).', judged, (s) => {
    const rank = CONDITION_RANK[s.condition ?? 'unknown']
    return rank >= 0 ? rank : undefined
  })
  // opendcre_sensor_threshold: one series per threshold the sensor has, labelled by its IPMI name
  const threshold = sensorFamily(THRESHOLD_FAMILY,
    'A sensor threshold, in the unit of its reading; threshold is lower_/upper_ non_critical, critical or non_recoverable.',
    [...SENSOR_LABELS, 'threshold'], function * () {
      for (const sensor of judged) {
        const lines = thresholdLines(sensor, textOf(sensor))
        if (lines !== '') yield lines
      }
    }, () => {
      const samples: MetricFamily['samples'] = []
      for (const sensor of judged) {
        for (const [name, value] of Object.entries(sensor.thresholds ?? {})) {
          if (typeof value === 'number') samples.push({ labels: labelsObject([...sensorLabelPairs(sensor), ['threshold', name]]), value })
        }
      }
      return samples
    }, (sink) => { for (const sensor of judged) packThresholds(sensor, sink) })
  return [...families, age, up, state, threshold]
}

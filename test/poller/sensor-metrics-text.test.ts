import t from 'tap'
import type { MetricFamily } from '../../drivers/bus.js'
import { sensorMetricFamilies } from '../../monitoring/sensor-metrics.js'
import type { BoardState, SensorState } from '../../monitoring/sensor-state.js'
import { renderFamilies } from '../../plugins/metrics.js'
import { fakeBoard, fakeSensor } from './sensor-fixtures.js'

/**
 * The per-sensor series are written at a scrape from each sensor's kept
 * label text and threshold lines (no object per sample). Every line must
 * be what the families' samples say, written by the generic writer:
 * same names, labels (escaped), values and order, before and after the
 * labels or thresholds change.
 */

const board = fakeBoard
const sensor = fakeSensor

/** The text the generic writer makes from the families' samples (their lines taken away). */
function fromSamples (families: MetricFamily[]): string {
  return renderFamilies(families.map((f) => ({ name: f.name, help: f.help, type: f.type, labelNames: f.labelNames, samples: f.samples }))).toString()
}

function fixture (): { sensors: SensorState[], boards: BoardState[] } {
  const ipmi = board('40000001', 'ipmi', true)
  const dead = board('40000002', 'ipmi', false)
  const unknown = board('00000001', 'device_bus', undefined)
  const cpu = sensor(ipmi, '0001', 'temperature', 'CPU1 "Temp"\\ \nline', { temperature_c: 46 }, 1_000)
  cpu.condition = 'ok'
  cpu.thresholds = { lower_critical: 5, upper_non_critical: 85, upper_critical: 95 }
  const fan = sensor(ipmi, '0041', 'fan_speed', 'FAN1', { speed_rpm: 8400 }, 2_000)
  fan.condition = 'critical'
  fan.thresholds = { lower_non_recoverable: 300, lower_critical: 500 }
  const volts = sensor(ipmi, '0020', 'voltage', undefined, { voltage_v: 12.07 }, 3_000)
  volts.condition = 'unknown'
  volts.thresholds = {}
  const power = sensor(ipmi, '0100', 'power', undefined, { input_power: 286, power_status: 'on', power_ok: true }, 4_000)
  power.operation = 'power'
  sensor(dead, '0001', 'temperature', 'never read', undefined, undefined)
  const nan = sensor(dead, '0002', 'humidity', '', { humidity: 55 }, 500)
  nan.condition = 'warning'
  nan.thresholds = { upper_non_critical: 80, upper_critical: Number.NaN }
  sensor(unknown, '0005', 'led', undefined, { led_state: 'on' }, 100)
  return { sensors: [ipmi, dead, unknown].flatMap((b) => b.sensors), boards: [ipmi, dead, unknown] }
}

t.test('the lines written from kept text are the samples, exactly', async (t) => {
  const { sensors, boards } = fixture()
  const families = sensorMetricFamilies(sensors, boards, 10_000)
  t.ok(families.every((f) => f.lines !== undefined), 'every per-sensor family writes its own lines')
  const text = renderFamilies(families).toString()
  t.equal(text, fromSamples(families))
  t.match(text, 'opendcre_sensor_threshold{board_id="40000001",device_id="0001",device_type="temperature",device_info="CPU1 \\"Temp\\"\\\\ \\nline",backend="ipmi",threshold="upper_critical"} 95\n')
  t.match(text, 'opendcre_reading_age_seconds{board_id="40000001",device_id="0020",device_type="voltage",device_info="",backend="ipmi"} 7\n')
  t.match(text, 'opendcre_relative_humidity_ratio{board_id="40000002",device_id="0002",device_type="humidity",device_info="",backend="ipmi"} 0.55\n')
  t.match(text, 'device_id="0002",device_type="humidity",device_info="",backend="ipmi",threshold="upper_critical"} NaN\n')
  t.match(text, 'opendcre_sensor_state{board_id="40000001",device_id="0041",device_type="fan_speed",device_info="FAN1",backend="ipmi"} 2\n')
  t.match(text, 'opendcre_board_up{board_id="40000002",backend="ipmi"} 0\n')
  t.notMatch(text, 'board_id="00000001",backend', 'a board never asked has no opendcre_board_up')
  t.notMatch(text, 'never read', 'a sensor never read has no series')
  t.notMatch(text, /opendcre_sensor_state\{[^}]*device_id="0020"/, 'unknown has no state number')
})

t.test('kept text follows changed labels and thresholds', async (t) => {
  const { sensors, boards } = fixture()
  const first = renderFamilies(sensorMetricFamilies(sensors, boards, 10_000)).toString()
  const cpu = sensors[0]
  // a new SDR: other thresholds; a rescan: another name; a retype
  cpu.thresholds = { upper_critical: 90, upper_non_recoverable: 99 }
  cpu.device_info = 'CPU1'
  sensors[1].thresholds = { ...sensors[1].thresholds, lower_critical: 450 }
  sensors[2].device_type = 'voltage_v'
  const families = sensorMetricFamilies(sensors, boards, 20_000)
  const second = renderFamilies(families).toString()
  t.not(second, first)
  t.equal(second, fromSamples(families))
  t.match(second, 'opendcre_sensor_threshold{board_id="40000001",device_id="0001",device_type="temperature",device_info="CPU1",backend="ipmi",threshold="upper_non_recoverable"} 99\n')
  t.notMatch(second, 'threshold="lower_critical"} 5\n', 'the old threshold is gone')
  t.match(second, 'device_id="0041",device_type="fan_speed",device_info="FAN1",backend="ipmi",threshold="lower_critical"} 450\n')
  t.match(second, 'device_type="voltage_v"')
  // thresholds changed in place are seen too
  ;(sensors[1].thresholds as Record<string, number>).lower_critical = 400
  t.match(renderFamilies(sensorMetricFamilies(sensors, boards, 20_000)).toString(), 'threshold="lower_critical"} 400\n')
})

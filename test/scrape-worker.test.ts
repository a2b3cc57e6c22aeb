import t from 'tap'
import { crc32, gunzipSync, gzipSync } from 'node:zlib'
import Fastify from 'fastify'
import fp from 'fastify-plugin'
import type { MetricFamily } from '../drivers/bus.js'
import { renderFamilies } from '../monitoring/exposition.js'
import { crc32Combine, ScrapeWriter, SEGMENT_SLOTS } from '../monitoring/scrape-gzip.js'
import { ScrapePacker, type PackableFamily } from '../monitoring/scrape-pack.js'
import { ScrapeRenderer } from '../monitoring/scrape-renderer.js'
import { sensorMetricFamilies } from '../monitoring/sensor-metrics.js'
import { fakeBoard, fakeSensor } from './poller/sensor-fixtures.js'
import type { BoardState, SensorState } from '../monitoring/sensor-state.js'
import errors from '../plugins/errors.js'
import metrics from '../plugins/metrics.js'

/**
 * The /metrics body written in the scrape worker (monitoring/scrape-worker.ts)
 * from packed numbers and label text sent once: byte for byte what the
 * families write on the event loop, scrape after scrape while labels,
 * thresholds and sensors change; bounded (one render shared, a dead or slow
 * worker fails the scrape and the next one starts afresh).
 */

function board (id: number, up: boolean | undefined): BoardState {
  return fakeBoard(id.toString(16).padStart(8, '0'), 'ipmi', up)
}

function sensor (b: BoardState, deviceId: number, type: string, info: string | undefined, reading: unknown, readAt: number | undefined): SensorState {
  return fakeSensor(b, deviceId.toString(16).padStart(4, '0'), type, info, reading, readAt, 2)
}

/** n boards of sensors, thresholds and states, with the awkward cases (escapes, NaN, never read, unknown). */
function fleet (n: number): { boards: BoardState[], sensors: SensorState[] } {
  const boards: BoardState[] = []
  for (let i = 0; i < n; i++) {
    const b = board(0x40000001 + i, i % 7 === 3 ? false : i % 11 === 5 ? undefined : true)
    const cpu = sensor(b, 1, 'temperature', i === 0 ? 'CPU1 "Temp"\\ \nline' : `CPU${i}`, { temperature_c: 40 + (i % 13) / 4 }, 1_000 + i)
    cpu.condition = i % 5 === 0 ? 'warning' : 'ok'
    cpu.thresholds = { lower_critical: 5, upper_non_critical: 85, upper_critical: 95.5 }
    const fan = sensor(b, 0x41, 'fan_speed', 'FAN1', { speed_rpm: 8400 + i }, 2_000)
    fan.condition = 'critical'
    fan.thresholds = { lower_non_recoverable: 300, lower_critical: 500 }
    const volts = sensor(b, 0x20, 'voltage', undefined, { voltage_v: 12.07 }, 3_000)
    volts.condition = 'unknown'
    volts.thresholds = {}
    const hum = sensor(b, 0x2, 'humidity', '', { humidity: 55 }, 500)
    hum.condition = 'warning'
    hum.thresholds = { upper_non_critical: 80, upper_critical: Number.NaN }
    const power = sensor(b, 0x100, 'power', undefined, { input_power: 286, power_status: i % 2 === 0 ? 'on' : 'off', power_ok: true }, 4_000)
    power.operation = 'power'
    sensor(b, 0x200, 'system', undefined, { led_state: 'on' }, 100)
    sensor(b, 0x3, 'temperature', 'never read', undefined, undefined)
    boards.push(b)
  }
  return { boards, sensors: boards.flatMap((b) => b.sensors) }
}

/** Families beside the sensors': a backend's per-BMC counters (kept label objects), a histogram, a family of the same name twice. */
function others (n: number): MetricFamily[] {
  const labels = Array.from({ length: n }, (_, i) => ({ board: String(i), bmc: `127.0.0.1:${600 + i}` }))
  const counter = (name: string, value: (i: number) => number): MetricFamily => ({ name, help: `${name} \\ help\nline`, type: 'counter', labelNames: ['board', 'bmc'], samples: labels.map((l, i) => ({ labels: l, value: value(i) })) })
  return [
    counter('opendcre_ipmi_requests_total', (i) => i * 3),
    counter('opendcre_ipmi_session_up', (i) => i % 2),
    { name: 'opendcre_http_request_duration_seconds', help: 'latency', type: 'histogram', labelNames: ['command', 'le'], samples: [{ labels: { command: 'read', le: '0.5' }, value: 2, suffix: '_bucket' }, { labels: { command: 'read' }, value: 0.25, suffix: '_sum' }] },
    counter('opendcre_ipmi_requests_total', () => Infinity),
    { name: 'opendcre_plain', help: 'no labels', type: 'gauge', labelNames: [], samples: [{ labels: {}, value: -0 }, { labels: {}, value: 1e21 }] }
  ]
}

const HEAD = '# HELP process_cpu_seconds_total x\n# TYPE process_cpu_seconds_total counter\nprocess_cpu_seconds_total 1.5\n'

t.test('the worker writes what the families write, scrape after scrape, gzipped or not', async (t) => {
  const renderer = new ScrapeRenderer({ timeoutMs: 30_000 })
  t.teardown(async () => { await renderer.close() })
  const { boards, sensors } = fleet(300)
  const extra = others(300)
  const check = async (now: number, what: string): Promise<void> => {
    const families = [...extra, ...sensorMetricFamilies(sensors, boards, now)]
    const expected = renderFamilies(families, new WeakMap(), HEAD).toString()
    const plain = await renderer.render(false, async () => ({ head: HEAD, families }))
    t.equal(plain.toString(), expected, `${what}: plain`)
    const gzipped = await renderer.render(true, async () => ({ head: HEAD, families: [...extra, ...sensorMetricFamilies(sensors, boards, now)] }))
    t.equal(gunzipSync(gzipped).toString(), expected, `${what}: gzip`)
  }
  await check(10_000, 'first scrape')
  t.match((await renderer.render(false, async () => ({ head: '', families: sensorMetricFamilies(sensors, boards, 10_000) }))).toString(),
    'opendcre_sensor_threshold{board_id="40000001",device_id="0001",device_type="temperature",device_info="CPU1 \\"Temp\\"\\\\ \\nline",backend="ipmi",threshold="upper_critical"} 95.5\n')
  // values move; a rescan renames and retypes; new thresholds, some changed in place; a board goes away, one comes
  for (const s of sensors) if (s.device_type === 'temperature' && s.reading !== undefined) s.reading = { temperature_c: 50.125 }
  sensors[0].device_info = 'CPU1'
  sensors[1].thresholds = { upper_critical: 90, upper_non_recoverable: 99 }
  ;(sensors[8].thresholds as Record<string, number>).lower_critical = 400
  sensors[9].device_type = 'voltage_v'
  boards.splice(10, 5)
  boards.push(...fleet(3).boards)
  const changed = boards.flatMap((b) => b.sensors)
  sensors.length = 0
  sensors.push(...changed)
  await check(20_000, 'after changes')
  await check(30_000, 'unchanged labels, later')
  await check(30_000, 'nothing changed: the kept segments')
  // inside segments kept for two scrapes: a threshold, a state, a board's up
  const mid = boards[150]
  ;(mid.sensors[0].thresholds as Record<string, number>).upper_critical = 96.25
  mid.sensors[1].condition = 'ok'
  mid.up = mid.up !== true
  await check(30_000, 'one threshold, one state and one board changed in kept segments')
  await check(40_000, 'and kept again')
})

t.test('the gzip writer keeps unchanged segments and writes changed ones', async (t) => {
  const { boards, sensors } = fleet(600)
  t.ok(sensors.length > 3 * SEGMENT_SLOTS, 'several segments a family')
  const packer = new ScrapePacker()
  const writer = new ScrapeWriter()
  const labelCache = new WeakMap<object, string>()
  const scrape = (now: number, what: string): void => {
    const families = [...others(50), ...sensorMetricFamilies(sensors, boards, now)]
    const body = writer.write(packer.pack(true, HEAD, families, labelCache))
    t.equal(gunzipSync(body).toString(), renderFamilies(families, new WeakMap(), HEAD).toString(), what)
  }
  scrape(10_000, 'first')
  t.equal(writer.kept().segments, 0, 'no segment kept after one scrape')
  t.ok(writer.kept().lines > 0, 'the lines, to compare the next scrape\'s with')
  scrape(20_000, 'second: thresholds, states and board_up unchanged, ages moved')
  const kept = writer.kept().segments
  // the threshold lines come in sensor order, not slot order: they are kept all the same
  const thresholdLines = renderFamilies(sensorMetricFamilies(sensors, boards, 20_000)).toString().split('\n').filter((line) => line.startsWith('opendcre_sensor_threshold{'))
  t.ok(kept > 0.8 * gzipSync(thresholdLines.join('\n'), { level: 1 }).length, `unchanged segments kept (${kept} bytes), the thresholds' among them`)
  scrape(30_000, 'third: from kept segments')
  t.equal(writer.kept().segments, kept, 'the same segments kept')
  for (const s of sensors) if (s.thresholds !== undefined && s.device_type === 'fan_speed') s.thresholds = { ...s.thresholds, lower_critical: 450 }
  scrape(40_000, 'every fan threshold changed')
  const reduced = writer.kept().segments
  t.ok(reduced < kept, 'the fans\' threshold segments are no longer kept')
  scrape(50_000, 'then kept again')
  t.ok(writer.kept().segments > reduced, 'unchanged at two scrapes running: kept again')
  boards.splice(0, 100)
  sensors.splice(0, 700)
  scrape(60_000, 'a hundred boards gone: other lines in each segment')
  scrape(70_000, 'and again')
})

t.test('crc32Combine gives the CRC-32 of the two parts together', async (t) => {
  const data = Buffer.from(Array.from({ length: 70_000 }, (_, i) => (i * 7919 + (i >> 5)) & 0xff))
  for (const cut of [0, 1, 2, 3, 8, 255, 4096, 65_537, 69_999, 70_000]) {
    const a = data.subarray(0, cut)
    const b = data.subarray(cut)
    t.equal(crc32Combine(crc32(a), crc32(b), b.length), crc32(data), `cut at ${cut}`)
  }
  t.equal(crc32Combine(0, crc32('123456789'), 9), 0xcbf43926, 'the check value, after nothing')
})

t.test('slots of labels that went away are given back: the next job starts afresh', async (t) => {
  const packer = new ScrapePacker()
  const family = (keys: object[]): PackableFamily => ({ name: 'm', help: 'h', type: 'gauge', labelNames: [], samples: [], pack: (sink) => { keys.forEach((k, i) => { sink.line(k, `{i="${i}"}`, i) }) } })
  const keys = (n: number): object[] => Array.from({ length: n }, () => ({}))
  t.equal(packer.pack(false, '', [family(keys(100))], new WeakMap()).reset, true, 'the first job sends every label')
  const kept = keys(100)
  t.equal(packer.pack(false, '', [family(kept)], new WeakMap()).newLabels.length, 100)
  t.equal(packer.pack(false, '', [family(kept)], new WeakMap()).newLabels.length, 0, 'known labels are not sent again')
  let job = packer.pack(false, '', [family(keys(5000))], new WeakMap())
  t.equal(job.reset, false)
  t.equal(packer.pack(false, '', [family(kept)], new WeakMap()).reset, false, 'the last scrape used 5,000')
  // 5,200 slots handed out, 100 in use: afresh
  job = packer.pack(false, '', [family(kept)], new WeakMap())
  t.equal(job.reset, true)
  t.equal(job.newLabels.length, 100)
  t.same([...job.newSlots].sort((a, b) => a - b), Array.from({ length: 100 }, (_, i) => i))
})

/** A packable family of n lines with long label text: enough to take a while, or to fill a small heap. */
function big (n: number): PackableFamily {
  const keys = Array.from({ length: n }, () => ({}))
  const labels = (i: number): string => `{i="${i}",pad="${'x'.repeat(200)}"}`
  return {
    name: 'opendcre_test_big',
    help: 'big',
    type: 'gauge',
    labelNames: [],
    samples: [],
    lines: function * () { for (let i = 0; i < n; i++) yield `opendcre_test_big${labels(i)} ${i}\n` },
    pack: (sink) => { keys.forEach((k, i) => { sink.line(k, labels(i), i) }) }
  }
}

t.test('a worker that dies fails its scrape; the next scrape starts a new one and is whole', async (t) => {
  const renderer = new ScrapeRenderer({ timeoutMs: 60_000, maxHeapMb: 48 })
  t.teardown(async () => { await renderer.close() })
  const small = { head: '', families: [big(10)] }
  await renderer.render(false, async () => small)
  const first = renderer.threadId
  // 128 MB of label text for a worker with a 48 MB heap
  const huge = Array.from({ length: 2000 }, (_, i) => ({ key: {}, labels: `{i="${i}",pad="${'x'.repeat(65536)}"}` }))
  const fat: PackableFamily = { name: 'opendcre_test_fat', help: 'fat', type: 'gauge', labelNames: [], samples: [], pack: (sink) => { for (const h of huge) sink.line(h.key, h.labels, 1) } }
  await t.rejects(renderer.render(false, async () => ({ head: '', families: [fat] })), { message: /worker/ })
  const body = (await renderer.render(false, async () => small)).toString()
  t.not(renderer.threadId, first, 'a new worker')
  t.equal(body, renderFamilies(small.families).toString(), 'sent every label again')
})

t.test('a render over its time bound fails; concurrent scrapes of one encoding share one render', async (t) => {
  const renderer = new ScrapeRenderer({ timeoutMs: 1 })
  t.teardown(async () => { await renderer.close() })
  await t.rejects(renderer.render(true, async () => ({ head: '', families: [big(200_000)] })), { message: /took over 1 ms/ })
  const patient = new ScrapeRenderer({ timeoutMs: 30_000 })
  t.teardown(async () => { await patient.close() })
  let snapshots = 0
  const snapshot = async (): Promise<{ head: string, families: MetricFamily[] }> => {
    snapshots++
    return { head: '', families: [big(1000)] }
  }
  const bodies = await Promise.all([patient.render(true, snapshot), patient.render(true, snapshot), patient.render(false, snapshot), patient.render(true, snapshot)])
  t.equal(snapshots, 2, 'one gzip render and one plain')
  t.equal(bodies[0], bodies[1])
  t.equal(bodies[0], bodies[3])
  t.equal(gunzipSync(bodies[0]).toString(), bodies[2].toString())
})

t.test('over HTTP: a render that fails answers 500 {"message"}, every time, never hangs', async (t) => {
  const app = Fastify()
  t.teardown(async () => { await app.close() })
  await app.register(fp(async () => {}, { name: 'config' }))
  await app.register(fp(async (f) => { f.decorate('buses', { statuses: () => [] } as never) }, { name: 'bus-registry' }))
  await app.register(errors)
  await app.register(metrics, { renderTimeoutMs: 1 })
  app.addMetricFamilies(() => [big(300_000)])
  for (const scrape of [1, 2]) {
    const res = await app.inject({ method: 'GET', url: '/metrics', headers: { 'accept-encoding': 'gzip' } })
    t.equal(res.statusCode, 500, `scrape ${scrape}`)
    t.equal(res.headers['content-encoding'], undefined, 'an error answers as JSON')
    t.match(res.json(), { message: /metrics: the render took over 1 ms/ })
  }
})

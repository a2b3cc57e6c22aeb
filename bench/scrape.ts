/**
 * The scrape and the kept state per BMC, in one process, without the
 * network (npm run bench:scrape -- --bmcs 5000): N boards shaped as the
 * emulated BMC's (emulator-configs/bmc-emulator.json: four temperatures,
 * two fans, two voltages, a current, a power sensor with their SDR
 * thresholds, the power status and the identify LED), an hour of history
 * each, judged as the poller judges them. It reports:
 *
 * - the heap and ArrayBuffers the kept state takes, per BMC (after a full
 *   collection, with --expose-gc), before the first scrape and after scrapes (the metrics
 *   writer's caches);
 * - the CPU time of one scrape (the per-sensor families rendered as text,
 *   then gzip level 1 as Prometheus asks), median of --rounds, per BMC;
 * - GET /metrics through the metrics plugin (gzip, as Prometheus asks),
 *   written on the event loop ('loop', the old way) and in the scrape
 *   worker ('worker', as shipped), one after the other: the event loop's
 *   busy time per scrape (performance.eventLoopUtilization) and the wall
 *   time, on an idle loop and while a synthetic poller (bench/loop-load.ts:
 *   --reads a second, --read-us of CPU each, 4,000 x 150 µs = 0.6 core,
 *   as 5,000 BMCs every 15 s) keeps the loop busy; and how long its work
 *   waited during the scrapes.
 *
 * - the scrape worker's CPU per gzip scrape (its writer run on this
 *   thread, on the jobs the event loop packs, every reading moved and 15 s
 *   later at each round, so that the values and ages change and thresholds,
 *   states and board_up do not), beside the worker as it was before (every
 *   line written, the text gzipped as a stream), on the same jobs; and the
 *   bytes the writer keeps between scrapes. --http false leaves out the
 *   GET /metrics part.
 *
 * CPU time (process.cpuUsage), not wall time: a shared machine's load
 * stretches wall time but not the CPU a scrape needs. bench:fleet measures
 * the same things end to end with real BMC sessions.
 */
import { once } from 'node:events'
import { createGzip, gzipSync, gunzipSync, constants as zlibConstants } from 'node:zlib'
import Fastify from 'fastify'
import fp from 'fastify-plugin'
import { cpus, loadavg } from 'node:os'
import { parseArgs } from 'node:util'
import type { Bus, SensorThresholds } from '../drivers/bus.js'
import { HistoryRing } from '../monitoring/history-ring.js'
import { SCRAPE_GZIP } from '../monitoring/exposition.js'
import { ScrapeWriter } from '../monitoring/scrape-gzip.js'
import { LabelStore, renderJob, ScrapePacker, type ScrapeJob } from '../monitoring/scrape-pack.js'
import { sensorMetricFamilies } from '../monitoring/sensor-metrics.js'
import type { BoardState, SensorState } from '../monitoring/sensor-state.js'
import { assess } from '../monitoring/thresholds.js'
import metricsPlugin, { renderFamilies } from '../plugins/metrics.js'
import { loopLoad } from './loop-load.js'

const { values } = parseArgs({
  options: {
    bmcs: { type: 'string', default: '5000' },
    rounds: { type: 'string', default: '7' },
    reads: { type: 'string', default: '4000' },
    'read-us': { type: 'string', default: '150' },
    http: { type: 'string', default: 'true' }
  }
})
const bmcs = Number(values.bmcs)
const rounds = Number(values.rounds)
const gc = (globalThis as { gc?: () => void }).gc
if (gc === undefined) throw new Error('run with node --expose-gc')

interface Kind { id: number, type: string, info: string, field: string, value: number, step: number, thresholds?: SensorThresholds }
const KINDS: Kind[] = [
  { id: 0x01, type: 'temperature', info: 'CPU1 Temp', field: 'temperature_c', value: 46, step: 1, thresholds: { lower_critical: 5, lower_non_critical: 10, upper_non_critical: 85, upper_critical: 95, upper_non_recoverable: 100 } },
  { id: 0x02, type: 'temperature', info: 'CPU2 Temp', field: 'temperature_c', value: 44, step: 1, thresholds: { lower_critical: 5, lower_non_critical: 10, upper_non_critical: 85, upper_critical: 95, upper_non_recoverable: 100 } },
  { id: 0x03, type: 'temperature', info: 'System Temp', field: 'temperature_c', value: 31, step: 1, thresholds: { lower_critical: 5, lower_non_critical: 10, upper_non_critical: 80, upper_critical: 85, upper_non_recoverable: 90 } },
  { id: 0x04, type: 'temperature', info: 'Inlet Temp', field: 'temperature_c', value: 24, step: 1, thresholds: { lower_critical: 0, lower_non_critical: 5, upper_non_critical: 40, upper_critical: 45, upper_non_recoverable: 50 } },
  { id: 0x41, type: 'fan_speed', info: 'FAN1', field: 'speed_rpm', value: 8400, step: 100, thresholds: { lower_non_recoverable: 300, lower_critical: 500, lower_non_critical: 700, upper_non_critical: 25300, upper_critical: 25400, upper_non_recoverable: 25500 } },
  { id: 0x42, type: 'fan_speed', info: 'FAN2', field: 'speed_rpm', value: 8600, step: 100, thresholds: { lower_non_recoverable: 300, lower_critical: 500, lower_non_critical: 700, upper_non_critical: 25300, upper_critical: 25400, upper_non_recoverable: 25500 } },
  { id: 0x20, type: 'voltage', info: '12V', field: 'voltage_v', value: 12.07, step: 0.068, thresholds: { lower_non_recoverable: 10.17, lower_critical: 10.32, lower_non_critical: 10.46, upper_non_critical: 13.26, upper_critical: 13.39, upper_non_recoverable: 13.53 } },
  { id: 0x21, type: 'voltage', info: 'VBAT', field: 'voltage_v', value: 3.06, step: 0.02, thresholds: { lower_non_recoverable: 2.4, lower_critical: 2.5, lower_non_critical: 2.7, upper_non_critical: 3.5, upper_critical: 3.6, upper_non_recoverable: 3.7 } },
  { id: 0x30, type: 'current', info: 'PSU1 Input Curr', field: 'current_a', value: 1.3, step: 0.02, thresholds: { upper_non_critical: 4.5, upper_critical: 5, upper_non_recoverable: 5.1 } },
  { id: 0x31, type: 'power', info: 'PSU1 Input Power', field: 'power_w', value: 284, step: 2, thresholds: { upper_non_critical: 460, upper_critical: 500, upper_non_recoverable: 508 } }
]
const HISTORY = 240
const INTERVAL_MS = 15_000
const fakeBus = {} as unknown as Bus

function hex (n: number, width: number): string {
  return n.toString(16).padStart(width, '0')
}

/** The fleet as the poller keeps it after an hour: every sensor read HISTORY times, judged, its history full. */
function fleet (now: number): { boards: BoardState[], sensors: SensorState[] } {
  const boards: BoardState[] = []
  const sensors: SensorState[] = []
  for (let b = 0; b < bmcs; b++) {
    const boardId = (0x40000000 | (b + 1)) >>> 0
    const board: BoardState = { board_id: hex(boardId, 8), boardId, backend: 'ipmi', bus: fakeBus, sensors: [], up: true, lastContact: now, inventoryDue: Infinity, phase: b / bmcs, busy: false, timer: undefined }
    const add = (deviceId: number, type: string, info: string | undefined, reading: (i: number) => unknown, thresholds?: SensorThresholds): void => {
      const sensor: SensorState = {
        board,
        boardId,
        deviceId,
        board_id: board.board_id,
        device_id: hex(deviceId, 4),
        device_type: type,
        device_info: info,
        operation: type === 'power' && info === undefined ? 'power' : type === 'system' ? 'led' : 'read',
        intervalMs: INTERVAL_MS,
        reading: undefined,
        readAt: undefined,
        error: undefined,
        errorAt: undefined,
        nextDue: now,
        history: new HistoryRing(HISTORY)
      }
      for (let i = 0; i < HISTORY; i++) {
        // each reading a new object, as each poll answers
        const r = reading(i)
        const at = now - (HISTORY - i) * INTERVAL_MS + b
        sensor.history.push(at, r)
        sensor.reading = r
        sensor.readAt = at
      }
      if (sensor.operation === 'read') {
        const { condition, thresholds: t } = assess(Object.values(sensor.reading as Record<string, number>)[0], { thresholds: thresholds ?? {} }, undefined)
        sensor.condition = condition
        sensor.thresholds = t
      }
      board.sensors.push(sensor)
      sensors.push(sensor)
    }
    for (const kind of KINDS) {
      add(kind.id, kind.type, kind.info, (i) => ({ [kind.field]: Math.round((kind.value + kind.step * ((i * 7 + b) % 5 - 2)) * 1000) / 1000 }), { ...kind.thresholds })
    }
    add(0x100, 'power', undefined, () => ({ input_power: 286, input_voltage: 0, output_current: 0, over_current: false, pmbus_raw: '0,0,0,0', power_ok: true, power_status: 'on', under_voltage: false }))
    add(0x200, 'system', undefined, () => ({ led_state: 'off' }))
    boards.push(board)
  }
  return { boards, sensors }
}

/** The JavaScript heap and the ArrayBuffers outside it (the history rings' typed arrays), MB. */
async function memory (): Promise<{ heap: number, buffers: number }> {
  // ArrayBuffers are freed by a concurrent sweeper: give it a moment
  for (let i = 0; i < 3; i++) {
    gc!()
    await new Promise((resolve) => setTimeout(resolve, 100))
  }
  const m = process.memoryUsage()
  return { heap: m.heapUsed / 1048576, buffers: m.arrayBuffers / 1048576 }
}

function perBmc (mb: number): number {
  return Math.round(mb * 1024 / bmcs * 10) / 10
}

function median (xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b)
  return s[Math.floor(s.length / 2)]
}

const now = Date.now()
const mem0 = await memory()
let state: ReturnType<typeof fleet> | undefined = fleet(now)
const memState = await memory()
const GZIP = { level: 1, memLevel: 9, strategy: zlibConstants.Z_DEFAULT_STRATEGY }
const labelCache = new WeakMap<object, string>()
const renderMs: number[] = []
const gzipMs: number[] = []
let textBytes = 0
let gzipBytes = 0
function scrapeOnce (fleetState: NonNullable<typeof state>): void {
  const c0 = process.cpuUsage()
  const text = renderFamilies(sensorMetricFamilies(fleetState.sensors, fleetState.boards, now + 5000), labelCache)
  const c1 = process.cpuUsage()
  const body = gzipSync(text, GZIP)
  const c2 = process.cpuUsage()
  renderMs.push((c1.user + c1.system - c0.user - c0.system) / 1000)
  gzipMs.push((c2.user + c2.system - c1.user - c1.system) / 1000)
  textBytes = text.length
  gzipBytes = body.length
}
for (let r = 0; r < rounds; r++) scrapeOnce(state)
process.stderr.write(`render and gzipSync on the loop: ${JSON.stringify(renderMs.map(Math.round))} ms\n`)
// what the event loop does per scrape when the worker writes: the families made and packed (the first sends every label)
const packer = new ScrapePacker()
const packMs: number[] = []
for (let r = 0; r <= rounds; r++) {
  const c0 = process.cpuUsage()
  packer.pack(true, '', sensorMetricFamilies(state.sensors, state.boards, now + 5000), labelCache)
  const c1 = process.cpuUsage()
  packMs.push((c1.user + c1.system - c0.user - c0.system) / 1000)
}

const memScraped = await memory()

/** The worker before: every line written, then gzipped as a stream, piece by piece. */
async function gzipBefore (job: ScrapeJob, store: LabelStore): Promise<number> {
  const gzip = createGzip(SCRAPE_GZIP)
  let bytes = 0
  gzip.on('data', (piece: Buffer) => { bytes += piece.length })
  const ended = once(gzip, 'end')
  for (const piece of renderJob(job, store, true)) {
    if (!gzip.write(piece)) await once(gzip, 'drain')
  }
  gzip.end()
  await ended
  return bytes
}

/** Every reading moved (by +1 or -1): the values change at each scrape, as a poll's do. */
function moveReadings (sensors: SensorState[], round: number): void {
  for (const sensor of sensors) {
    if (sensor.operation !== 'read') continue
    const [key, value] = Object.entries(sensor.reading as Record<string, number>)[0]
    sensor.reading = { [key]: value + (round % 2 === 0 ? 1 : -1) }
  }
}

const writerPacker = new ScrapePacker()
const beforeStore = new LabelStore()
const writer = new ScrapeWriter()
const beforeMs: number[] = []
const writerMs: number[] = []
let beforeGzipBytes = 0
let writerGzipBytes = 0
for (let r = 0; r <= rounds; r++) {
  moveReadings(state.sensors, r)
  const job = writerPacker.pack(true, '', sensorMetricFamilies(state.sensors, state.boards, now + 5000 + r * INTERVAL_MS), labelCache)
  beforeStore.take(job)
  const c0 = process.cpuUsage()
  beforeGzipBytes = await gzipBefore(job, beforeStore)
  const c1 = process.cpuUsage()
  const body = writer.write(job)
  const c2 = process.cpuUsage()
  beforeMs.push((c1.user + c1.system - c0.user - c0.system) / 1000)
  writerMs.push((c2.user + c2.system - c1.user - c1.system) / 1000)
  writerGzipBytes = body.length
  if (r === rounds && !gunzipSync(body).equals(Buffer.concat([...renderJob(job, beforeStore)]))) throw new Error('the writer wrote other text than before')
}
process.stderr.write(`worker CPU per gzip scrape, before: ${JSON.stringify(beforeMs.map(Math.round))} ms; now: ${JSON.stringify(writerMs.map(Math.round))} ms\n`)
const writerKept = writer.kept()

/** The metrics plugin alone (its two dependencies stood in for), serving the fleet's per-sensor series. */
async function metricsApp (render: 'loop' | 'worker', fleetState: NonNullable<typeof state>): Promise<ReturnType<typeof Fastify>> {
  const app = Fastify()
  await app.register(fp(async () => {}, { name: 'config' }))
  await app.register(fp(async (f) => { f.decorate('buses', { statuses: () => [] } as never) }, { name: 'bus-registry' }))
  await app.register(metricsPlugin, { render })
  app.addMetricFamilies(() => sensorMetricFamilies(fleetState.sensors, fleetState.boards, Date.now()))
  await app.ready()
  return app
}

async function scrapeOverHttp (app: ReturnType<typeof Fastify>): Promise<{ wallMs: number, loopBusyMs: number, bytes: number }> {
  const elu = performance.eventLoopUtilization()
  const t0 = performance.now()
  const res = await app.inject({ method: 'GET', url: '/metrics', headers: { 'accept-encoding': 'gzip' } })
  const wallMs = performance.now() - t0
  const busy = performance.eventLoopUtilization(elu)
  if (res.statusCode !== 200) throw new Error(`scrape: ${res.statusCode} ${res.body}`)
  return { wallMs, loopBusyMs: busy.active, bytes: res.rawPayload.length }
}

const reads = Number(values.reads)
const readUs = Number(values['read-us'])
const overHttp: Record<string, unknown> = {}
let bodies: string[] = []
for (const render of values.http === 'false' ? [] : ['loop', 'worker'] as const) {
  process.stderr.write(`GET /metrics, written by the ${render}\n`)
  const app = await metricsApp(render, state)
  // the first: the worker starts and is sent every label
  const first = await scrapeOverHttp(app)
  bodies.push(gunzipSync((await app.inject({ method: 'GET', url: '/metrics', headers: { 'accept-encoding': 'gzip' } })).rawPayload).toString().replace(/^(?:#|process_|nodejs_)[^\n]*\n/gm, ''))
  const idle = []
  for (let r = 0; r < rounds; r++) idle.push(await scrapeOverHttp(app))
  const load = loopLoad(reads, readUs)
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const loaded = []
  for (let r = 0; r < rounds; r++) {
    loaded.push(await scrapeOverHttp(app))
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  const poller = load.stop()
  process.stderr.write(`  done: ${JSON.stringify(loaded.map((x) => Math.round(x.wallMs)))} ms under load\n`)
  await app.close()
  const ms = (xs: number[]): number => Math.round(median(xs))
  overHttp[render] = {
    first_scrape_wall_ms: Math.round(first.wallMs),
    idle: { wall_ms: ms(idle.map((x) => x.wallMs)), loop_busy_ms: ms(idle.map((x) => x.loopBusyMs)) },
    loaded: { wall_ms: ms(loaded.map((x) => x.wallMs)), wall_max_ms: Math.round(Math.max(...loaded.map((x) => x.wallMs))) },
    synthetic_poller: poller,
    gzip_mb: Math.round(first.bytes / 1048576 * 10) / 10
  }
}
// the same series both ways (the timestamps in the age differ: the text is compared without values)
const shape = (text: string): string => text.replace(/ [^ \n]+\n/g, '\n')
if (bodies.length === 2 && shape(bodies[0]) !== shape(bodies[1])) throw new Error('the worker wrote other series than the event loop')
bodies = []

const result = {
  bmcs,
  sensors: state.sensors.length,
  // the kept state: JavaScript heap and ArrayBuffers; then what scrapes add (the writer's kept label text)
  kb_per_bmc: {
    state_heap: perBmc(memState.heap - mem0.heap),
    state_array_buffers: perBmc(memState.buffers - mem0.buffers),
    added_by_scrapes_heap: perBmc(memScraped.heap - memState.heap),
    added_by_scrapes_array_buffers: perBmc(memScraped.buffers - memState.buffers)
  },
  scrape_cpu_ms: { render: Math.round(median(renderMs)), gzip: Math.round(median(gzipMs)), first_render: Math.round(renderMs[0]) },
  pack_cpu_ms: { first: Math.round(packMs[0]), then: Math.round(median(packMs.slice(1))) },
  // the worker's CPU per gzip scrape (readings and ages changed each round): every line written and gzipped, and now
  worker_cpu_ms: {
    before: { first: Math.round(beforeMs[0]), then: Math.round(median(beforeMs.slice(1))) },
    now: { first: Math.round(writerMs[0]), then: Math.round(median(writerMs.slice(1))) },
    ratio: Math.round(median(beforeMs.slice(1)) / median(writerMs.slice(1)) * 100) / 100,
    gzip_mb: { before: Math.round(beforeGzipBytes / 1048576 * 100) / 100, now: Math.round(writerGzipBytes / 1048576 * 100) / 100 },
    // between scrapes: the compressed unchanged segments, the last job's lines (to compare with)
    kept_mb: { segments: Math.round(writerKept.segments / 1048576 * 10) / 10, lines: Math.round(writerKept.lines / 1048576 * 10) / 10 }
  },
  scrape_cpu_us_per_bmc: { render: Math.round(median(renderMs) * 1000 / bmcs), gzip: Math.round(median(gzipMs) * 1000 / bmcs) },
  text_mb: Math.round(textBytes / 1048576 * 10) / 10,
  gzip_mb: Math.round(gzipBytes / 1048576 * 10) / 10,
  get_metrics_gzip: overHttp,
  machine: { cores: cpus().length, load_average_1m: Math.round(loadavg()[0] * 10) / 10 }
}
state = undefined
process.stdout.write(JSON.stringify(result, null, 2) + '\n')

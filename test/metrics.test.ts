import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, busTransactions, fixture, get, PREFIX } from './helper.js'
import { gunzipSync } from 'node:zlib'
import { request } from 'node:http'
import { acceptsGzip, RequestTally } from '../plugins/metrics.js'

/**
 * GET /metrics: scraped before and after a known set of requests, the
 * request and device bus counters move by exactly that much. On
 * test/fixtures/routes/errors.json 0001 answers, board 99 is silent, 0005
 * answers with a bad trailer then well on retry, 0004 has a bad trailer until
 * the retry limit; on line-noise.json 0004 has a bad checksum then answers
 * well on retry, 0005 has a bad trailer every time.
 */

type Samples = Map<string, number>

/** `name{a="x",b="y"}` with the labels sorted: one sample's key. */
function key (name: string, labels: Record<string, string> = {}): string {
  const pairs = Object.entries(labels).sort(([a], [b]) => a.localeCompare(b)).map(([k, v]) => `${k}="${v}"`)
  return pairs.length === 0 ? name : `${name}{${pairs.join(',')}}`
}

/** The Prometheus text format (0.0.4), samples only. */
function parse (text: string): Samples {
  const samples: Samples = new Map()
  for (const line of text.split('\n')) {
    if (line === '' || line.startsWith('#')) continue
    const match = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(?:\{(.*)\})? (\S+)$/.exec(line)
    if (match === null) throw new Error(`not a sample line: ${line}`)
    const labels: Record<string, string> = {}
    for (const [, name, value] of (match[2] ?? '').matchAll(/([a-zA-Z_][a-zA-Z0-9_]*)="((?:[^"\\]|\\.)*)"/g)) labels[name] = value
    samples.set(key(match[1], labels), Number(match[3]))
  }
  return samples
}

async function scrape (app: FastifyInstance): Promise<Samples> {
  const res = await app.inject({ method: 'GET', url: '/metrics' })
  if (res.statusCode !== 200) throw new Error(`/metrics answered ${res.statusCode}`)
  return parse(res.body)
}

/** The command label the read route declares. */
const READ = 'read'

/** How much each sample moved between two scrapes (absent = 0). */
function deltas (before: Samples, after: Samples): (name: string, labels?: Record<string, string>) => number {
  return (name, labels) => (after.get(key(name, labels)) ?? 0) - (before.get(key(name, labels)) ?? 0)
}

t.test('request and device bus counters move by exactly the requests made', async (t) => {
  const app = await build(t, { emulator: fixture('routes/errors.json') })
  const before = await scrape(app)

  for (let i = 0; i < 3; i++) t.equal((await get(app, '/read/thermistor/00000001/0001')).statusCode, 200)
  t.equal((await get(app, '/read/thermistor/00000099/0001')).statusCode, 500, 'unknown device: timeout')
  t.equal((await get(app, '/read/thermistor/00000001/0005')).statusCode, 200, 'corrupt, then good on retry')
  t.equal((await get(app, '/read/thermistor/00000001/0004')).statusCode, 500, 'corrupt until the retry limit')
  t.equal((await get(app, '/read/thermistor/hot_dog/0001')).statusCode, 500, 'malformed id: never reaches the bus')
  t.equal((await get(app, '/nope')).statusCode, 404)
  t.equal((await app.inject({ method: 'HEAD', url: `${PREFIX}/test` })).statusCode, 200)

  const after = await scrape(app)
  const delta = deltas(before, after)
  const requests = (command: string, status: string, method = 'GET'): number =>
    delta('opendcre_http_requests_total', { command, method, status_code: status })
  t.equal(requests(READ, '200'), 4, 'reads answered 200')
  t.equal(requests(READ, '500'), 3, 'reads answered 500')
  t.equal(requests('unknown', '404'), 1, 'no route: command "unknown"')
  t.equal(requests('test', '200', 'HEAD'), 1, 'HEAD counted once, as HEAD')
  t.equal(requests('test', '200'), 0)
  t.equal(requests('metrics', '200'), 0, 'scrapes are not counted')
  t.equal(delta('opendcre_http_request_duration_seconds_count', { command: READ, method: 'GET' }), 7, 'one latency sample per read')
  t.ok(delta('opendcre_http_request_duration_seconds_sum', { command: READ, method: 'GET' }) > 0, 'latency summed')
  t.equal(delta('opendcre_http_request_duration_seconds_bucket', { command: READ, method: 'GET', le: '+Inf' }), 7)

  const bus = (name: string): number => delta(`opendcre_device_bus_${name}`, { bus: 'emulator' })
  t.equal(bus('transactions_total'), 6, 'one transaction per read that reached the bus')
  t.equal(bus('successes_total'), 4, '3 good reads + the one good on retry')
  t.equal(bus('retries_total'), 1 + 3, '0005: one retry; 0004: the retry limit (3)')
  t.equal(bus('timeouts_total'), 1, 'board 99: silence')
  t.equal(bus('malformed_packets_total'), 1 + 4, '0005: one bad trailer; 0004: four')
  t.equal(bus('checksum_errors_total'), 0, 'no bad checksum in errors.json')
  t.equal(after.get(key('opendcre_device_bus_queue_depth', { bus: 'emulator' })), 0)
  t.equal(after.get(key('opendcre_device_bus_up', { bus: 'emulator' })), 1)
  const lastSuccess = after.get(key('opendcre_device_bus_last_success_timestamp_seconds', { bus: 'emulator' })) ?? 0
  t.ok(Math.abs(lastSuccess - Date.now() / 1000) < 60, 'last success: just now')

  // the bus counters are the bus's own, read at scrape time
  t.equal(after.get(key('opendcre_device_bus_transactions_total', { bus: 'emulator' })), busTransactions(app))
  const again = await scrape(app)
  t.equal(again.get(key('opendcre_device_bus_retries_total', { bus: 'emulator' })), after.get(key('opendcre_device_bus_retries_total', { bus: 'emulator' })), 'a scrape does not count twice')
})

t.test('checksum errors and malformed answers are counted apart', async (t) => {
  const app = await build(t, { emulator: fixture('routes/line-noise.json') })
  const before = await scrape(app)
  t.equal((await get(app, '/read/thermistor/00000001/0004')).statusCode, 200, 'bad checksum, then good on retry')
  t.equal((await get(app, '/read/thermistor/00000001/0005')).statusCode, 500, 'bad trailer until the retry limit')
  const delta = deltas(before, await scrape(app))
  const bus = (name: string): number => delta(`opendcre_device_bus_${name}`, { bus: 'emulator' })
  t.equal(bus('transactions_total'), 2)
  t.equal(bus('successes_total'), 1)
  t.equal(bus('checksum_errors_total'), 1)
  t.equal(bus('malformed_packets_total'), 4)
  t.equal(bus('retries_total'), 1 + 3)
  t.equal(bus('timeouts_total'), 0)
  t.equal(delta('opendcre_http_requests_total', { command: READ, method: 'GET', status_code: '200' }), 1)
  t.equal(delta('opendcre_http_requests_total', { command: READ, method: 'GET', status_code: '500' }), 1)
})

t.test('the text format, the default process metrics, and the path outside the API prefix', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'GET', url: '/metrics' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/plain; version=0\.0\.4/)
  t.match(res.body, /^# HELP opendcre_http_requests_total /m)
  t.match(res.body, /^# TYPE opendcre_device_bus_transactions_total counter$/m)
  t.match(res.body, /^# TYPE opendcre_device_bus_queue_depth gauge$/m)
  t.match(res.body, /^# TYPE opendcre_http_request_duration_seconds histogram$/m)
  const samples = parse(res.body)
  for (const name of ['process_cpu_user_seconds_total', 'process_resident_memory_bytes', 'nodejs_heap_size_used_bytes', 'nodejs_eventloop_lag_seconds']) {
    t.ok(samples.has(name), `default metric ${name}`)
  }
  t.notOk(samples.has(key('opendcre_device_bus_last_success_timestamp_seconds', { bus: 'emulator' })), 'no last success before the first answer')
  t.equal((await get(app, '/metrics')).statusCode, 404, `not under ${PREFIX}`)
})

t.test('two apps in one process keep their own registries', async (t) => {
  const one = await build(t)
  const two = await build(t)
  await get(one, '/test')
  await get(one, '/test')
  await get(two, '/test')
  const test = key('opendcre_http_requests_total', { command: 'test', method: 'GET', status_code: '200' })
  t.equal((await scrape(one)).get(test), 2)
  t.equal((await scrape(two)).get(test), 1)
})

t.test('request counts: cumulative latency buckets, le as an upper bound, a series per command and method', async (t) => {
  const tally = new RequestTally()
  for (const seconds of [0.0005, 0.001, 0.003, 0.2, 20]) tally.record('read', 'GET', 200, seconds)
  tally.record('read', 'GET', 500, 0.002)
  tally.record('power', 'POST', 200, 0.01)
  const [requests, latency] = tally.families()
  const value = (family: typeof requests, labels: Record<string, string>, suffix?: string): number | undefined =>
    family.samples.find((s) => s.suffix === suffix && Object.entries(labels).every(([k, v]) => s.labels[k] === v) && Object.keys(s.labels).length === Object.keys(labels).length)?.value
  t.equal(value(requests, { command: 'read', method: 'GET', status_code: '200' }), 5)
  t.equal(value(requests, { command: 'read', method: 'GET', status_code: '500' }), 1)
  t.equal(value(requests, { command: 'power', method: 'POST', status_code: '200' }), 1)
  const bucket = (le: string): number | undefined => value(latency, { command: 'read', method: 'GET', le }, '_bucket')
  t.equal(bucket('0.001'), 2, '0.0005 and 0.001 (le is inclusive)')
  t.equal(bucket('0.0025'), 3)
  t.equal(bucket('0.005'), 4)
  t.equal(bucket('0.25'), 5)
  t.equal(bucket('10'), 5)
  t.equal(bucket('+Inf'), 6, 'every answer, 20 s included')
  t.equal(value(latency, { command: 'read', method: 'GET' }, '_count'), 6)
  t.ok(Math.abs((value(latency, { command: 'read', method: 'GET' }, '_sum') ?? 0) - 20.2065) < 1e-9)
  t.equal(value(latency, { command: 'power', method: 'POST', le: '0.01' }, '_bucket'), 1)
})

t.test('gzip when Accept-Encoding allows it, as Prometheus asks; plain text otherwise', async (t) => {
  const app = await build(t, { emulator: fixture('routes/errors.json') })
  await get(app, '/scan')
  const plain = await app.inject({ method: 'GET', url: '/metrics' })
  t.equal(plain.headers['content-encoding'], undefined, 'no Accept-Encoding: plain text')
  t.equal(plain.headers.vary, 'accept-encoding')
  for (const header of ['gzip', 'gzip, deflate, br', 'identity;q=0.5, *;q=0.1', 'deflate, x-gzip']) {
    const res = await app.inject({ method: 'GET', url: '/metrics', headers: { 'accept-encoding': header } })
    t.equal(res.headers['content-encoding'], 'gzip', `Accept-Encoding: ${header}`)
    const text = gunzipSync(res.rawPayload).toString()
    t.match(text, /^# HELP /m)
    t.same([...parse(text).keys()].filter((k) => k.startsWith('opendcre_device_bus')), [...parse(plain.body).keys()].filter((k) => k.startsWith('opendcre_device_bus')), 'the same series as the plain answer')
    t.ok(res.rawPayload.length < Buffer.byteLength(plain.body) / 3, `gzipped: ${res.rawPayload.length} bytes of ${Buffer.byteLength(plain.body)}`)
  }
  for (const header of ['gzip;q=0', 'deflate', 'identity']) {
    const res = await app.inject({ method: 'GET', url: '/metrics', headers: { 'accept-encoding': header } })
    t.equal(res.headers['content-encoding'], undefined, `Accept-Encoding: ${header}: plain`)
    t.match(res.body, /^# HELP /m)
  }
})

for (const render of ['worker', 'loop'] as const) {
  t.test(`a large scrape (${render}) is gzipped: the event loop keeps turning, the text is the plain answer's`, async (t) => {
    const app = await build(t, { emulator: fixture('routes/errors.json'), leaveOut: render === 'loop' ? ['scrape-worker'] : [] })
    // ~300,000 lines (~30 MB), as many as 3,000 BMCs with their sensors and thresholds
    const labels = Array.from({ length: 300_000 }, (_, i) => ({ board_id: (0x40000000 + (i >> 6)).toString(16), device_id: String(i & 63), device_info: `sensor "${i}"` }))
    app.addMetricFamilies(() => [{
      name: 'opendcre_test_big',
      help: 'A large family.',
      type: 'gauge',
      labelNames: ['board_id', 'device_id', 'device_info'],
      samples: labels.map((l, i) => ({ labels: l, value: i / 4 }))
    }])
    await app.ready()
    const plain = await app.inject({ method: 'GET', url: '/metrics' })
    let ticks = 0
    let longest = 0
    let last = performance.now()
    const timer = setInterval(() => {
      const now = performance.now()
      longest = Math.max(longest, now - last)
      last = now
      ticks++
    }, 5)
    const res = await app.inject({ method: 'GET', url: '/metrics', headers: { 'accept-encoding': 'gzip' } }).finally(() => clearInterval(timer))
    t.equal(res.headers['content-encoding'], 'gzip')
    const text = gunzipSync(res.rawPayload).toString()
    const sample = (body: string): string[] => body.split('\n').filter((l) => l.startsWith('opendcre_test_big'))
    t.equal(sample(text).length, 300_000)
    t.same(sample(text), sample(plain.body), 'the same lines as the plain answer')
    t.match(text, 'opendcre_test_big{board_id="4000124f",device_id="31",device_info="sensor \\"299999\\""} 74999.75\n')
    t.ok(ticks >= 5, `a 5 ms timer ran during the scrape (${ticks} times)`)
    // SLICE_MS is 50 ms; a shared machine stretches it
    t.ok(longest < 1500, `the event loop turned at least every ${Math.round(longest)} ms`)
  })
}

t.test('written on the event loop, a scraper that goes away mid-scrape: the writing stops, the next scrape is whole', async (t) => {
  const app = await build(t, { emulator: fixture('routes/errors.json'), leaveOut: ['scrape-worker'] })
  let written = 0
  const LINES = 2_000_000
  app.addMetricFamilies(() => [{
    name: 'opendcre_test_huge',
    help: 'A family of two million lines, written one by one.',
    type: 'gauge',
    labelNames: ['i'],
    samples: [],
    lines: function * () {
      for (let i = 0; i < LINES; i++) {
        written++
        yield `opendcre_test_huge{i="${i}",pad="${'x'.repeat(60)}"} ${i}\n`
      }
    }
  }])
  await app.listen({ host: '127.0.0.1', port: 0 })
  const { port } = app.server.address() as { port: number }
  await new Promise<void>((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/metrics', headers: { 'accept-encoding': 'gzip' } }, (res) => {
      // read nothing more: go away at once
      res.destroy()
      req.destroy()
      resolve()
    })
    req.on('error', (err) => { if (!req.destroyed) reject(err) })
    req.end()
  })
  await new Promise((resolve) => setTimeout(resolve, 1000))
  const stopped = written
  await new Promise((resolve) => setTimeout(resolve, 1000))
  t.equal(written, stopped, `the writing stopped (${stopped} of ${LINES} lines)`)
  t.ok(stopped < LINES, 'before the end')
  written = 0
  const whole = await app.inject({ method: 'GET', url: '/metrics', headers: { 'accept-encoding': 'gzip' } })
  const text = gunzipSync(whole.rawPayload).toString()
  t.ok(text.endsWith(`opendcre_test_huge{i="${LINES - 1}",pad="${'x'.repeat(60)}"} ${LINES - 1}\n`), 'the next scrape is whole')
})

t.test('acceptsGzip reads Accept-Encoding as RFC 9110 does', async (t) => {
  t.ok(acceptsGzip('gzip'))
  t.ok(acceptsGzip('GZIP;q=0.8'))
  t.notOk(acceptsGzip(undefined))
  t.notOk(acceptsGzip('br, deflate'))
  t.notOk(acceptsGzip('gzip; q=0'))
})

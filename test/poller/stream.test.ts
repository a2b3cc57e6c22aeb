import { request as httpRequest, type IncomingMessage } from 'node:http'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, get, PREFIX } from '../helper.js'

/** The service on the embedded emulator with the poller on, every 0.2 s, listening on loopback. */
async function pollingApp (t: Parameters<typeof build>[0], poll: Record<string, unknown>, extra: Record<string, unknown> = {}): Promise<{ app: FastifyInstance, url: string }> {
  const dir = mkdtempSync(join(tmpdir(), 'opendcre-poll-'))
  const config = join(dir, 'opendcre_config.json')
  writeFileSync(config, JSON.stringify({ poll, ...extra }))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const app = await build(t, { config, poller: { random: () => 0 } })
  const address = await app.listen({ host: '127.0.0.1', port: 0 })
  return { app, url: address }
}

interface SseEvent { event: string, data: any }

/** Opens the stream and collects its events until `until` says enough (or the time runs out). */
async function collect (url: string, until: (events: SseEvent[]) => boolean, timeoutMs = 5000): Promise<{ events: SseEvent[], res: IncomingMessage }> {
  return await new Promise((resolve, reject) => {
    const events: SseEvent[] = []
    const req = httpRequest(url, (res) => {
      let buffer = ''
      const finish = (): void => {
        clearTimeout(timer)
        req.destroy()
        resolve({ events, res })
      }
      const timer = setTimeout(finish, timeoutMs)
      res.setEncoding('utf8')
      res.on('data', (chunk: string) => {
        buffer += chunk
        let end
        while ((end = buffer.indexOf('\n\n')) >= 0) {
          const block = buffer.slice(0, end)
          buffer = buffer.slice(end + 2)
          const event = /^event: (.*)$/m.exec(block)?.[1]
          const data = /^data: (.*)$/m.exec(block)?.[1]
          if (event !== undefined && data !== undefined) events.push({ event, data: JSON.parse(data) })
        }
        if (until(events)) finish()
      })
    })
    req.on('error', reject)
    req.end()
  })
}

t.test('the stream: every known value on connect, then new readings as the poller makes them; filters', async (t) => {
  const { app, url } = await pollingApp(t, { interval_s: 0.2, jitter: 0 })
  // let the poller take the inventory and poll once
  await new Promise((resolve) => setTimeout(resolve, 600))
  const sensors = [...app.poller.allSensors()].filter((s) => s.readAt !== undefined)
  t.ok(sensors.length >= 10, `the poller holds values of the emulator's devices (${sensors.length})`)

  const { events, res } = await collect(`${url}${PREFIX}/stream`, (e) => e.filter((x) => x.event === 'reading').length >= sensors.length + 5)
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /^text\/event-stream/)
  const boards = events.filter((e) => e.event === 'board')
  t.ok(boards.some((e) => e.data.board_id === '00000001' && e.data.backend === 'device_bus' && e.data.up === true && typeof e.data.last_contact === 'string'), 'a board event per board on connect')
  const readings = events.filter((e) => e.event === 'reading')
  const thermistor = readings.find((e) => e.data.board_id === '00000001' && e.data.device_id === '0001')
  t.match(thermistor?.data, { board_id: '00000001', device_id: '0001', device_type: 'thermistor', device_info: '', backend: 'device_bus', reading: { temperature_c: Number } })
  t.ok(!Number.isNaN(Date.parse(thermistor?.data.timestamp)) && typeof thermistor?.data.age_seconds === 'number', 'timestamp (ISO) and age_seconds')
  const power = readings.find((e) => e.data.device_type === 'power')
  t.type(power?.data.reading.power_status, 'string', 'power devices stream the power command\'s answer')
  const perDevice = new Map<string, number>()
  for (const e of readings) perDevice.set(`${e.data.board_id}/${e.data.device_id}`, (perDevice.get(`${e.data.board_id}/${e.data.device_id}`) ?? 0) + 1)
  t.ok([...perDevice.values()].some((n) => n >= 2), 'new readings follow the first ones')

  const filtered = await collect(`${url}${PREFIX}/stream?board_id=1&device_id=0001,2`, () => false, 800)
  const keys = new Set(filtered.events.filter((e) => e.event === 'reading').map((e) => `${e.data.board_id}/${e.data.device_id}`))
  t.same([...keys].sort(), ['00000001/0001', '00000001/0002'], 'board_id and device_id filter (ids as the API parses them)')

  const bad = await get(app, '/stream?board_id=zz')
  t.equal(bad.statusCode, 500)
  t.match(bad.json(), { message: /board_num/ })
})

t.test('many stream clients add no hardware traffic', async (t) => {
  // the first polls at once (random 0), then not again for an hour
  // 50 streams from one test process (one address): above the default per-address cap of 8
  const { app, url } = await pollingApp(t, { interval_s: 3600, jitter: 0 }, { max_streams_per_client: 50 })
  await new Promise((resolve) => setTimeout(resolve, 500))
  const transactions = (): number => app.buses.statuses()[0].health.transactions as number
  const before = transactions()
  const clients = await Promise.all(Array.from({ length: 50 }, async () => await collect(`${url}${PREFIX}/stream`, () => false, 700)))
  t.ok(clients.every((c) => c.events.filter((e) => e.event === 'reading').length >= 10), 'every client got every known reading')
  t.equal(transactions(), before, '50 clients: no device bus transaction')
})

t.test('history, reads with max_age and their headers, per-sensor metrics', async (t) => {
  const { app } = await pollingApp(t, { interval_s: 0.1, jitter: 0 })
  await new Promise((resolve) => setTimeout(resolve, 800))

  const history = await get(app, '/history/00000001/0001')
  t.equal(history.statusCode, 200)
  const body = history.json()
  t.match(body, { board_id: '00000001', device_id: '0001', device_type: 'thermistor' })
  t.ok(body.readings.length >= 3, `several readings (${body.readings.length})`)
  const times = body.readings.map((r: any) => Date.parse(r.timestamp))
  t.same(times, [...times].sort((a, b) => a - b), 'oldest first')
  t.match(body.readings[0].reading, { temperature_c: Number })
  const unknown = await get(app, '/history/00000001/0fff')
  t.equal(unknown.statusCode, 500)
  t.match(unknown.json(), { message: /not a known sensor/ })

  const transactions = (): number => app.buses.statuses()[0].health.transactions as number
  const before = transactions()
  const cached = await get(app, '/read/thermistor/00000001/0001?max_age=60')
  t.equal(cached.statusCode, 200)
  t.equal(transactions(), before, 'max_age=60: answered from the poller, no transaction')
  t.match(cached.headers, { age: /^\d+$/, 'x-reading-timestamp': /^\d{4}-\d\d-\d\dT/ })
  const direct = await get(app, '/read/thermistor/00000001/0001')
  t.equal(direct.statusCode, 200)
  t.ok(transactions() > before, 'no max_age: read from the device, as v1.2')
  t.equal(direct.headers.age, '0')
  const invalid = await get(app, '/read/thermistor/00000001/0001?max_age=abc')
  t.equal(invalid.statusCode, 400, 'a bad query parameter is the client\'s: 400')
  t.match(invalid.json(), { message: /max_age/ })

  const metrics = await app.inject({ url: '/metrics' })
  t.match(metrics.body, /opendcre_temperature_celsius\{board_id="00000001",device_id="0001",device_type="thermistor",device_info="",backend="device_bus"\} [\d.]+/)
  t.match(metrics.body, /opendcre_fan_speed_rpm\{board_id="00000001",device_id="0002",device_type="fan_speed",device_info="",backend="device_bus"\} \d+/)
  t.match(metrics.body, /opendcre_power_on\{[^}]*device_type="power"[^}]*\} [01]/)
  t.match(metrics.body, /opendcre_led_on\{[^}]*device_type="led"[^}]*\} [01]/)
  t.match(metrics.body, /opendcre_reading_age_seconds\{board_id="00000001",device_id="0001",[^}]*\} [\d.e-]+/)
  t.match(metrics.body, /opendcre_board_up\{board_id="00000001",backend="device_bus"\} 1/)

  const openapi = await app.inject({ url: `${PREFIX}/openapi.json` })
  t.equal(openapi.statusCode, 200)
  const read = openapi.json().paths['/opendcre/1.2/read/{device_type}/{board_id}/{device_id}']?.get
  t.ok(read?.parameters?.some((p: any) => p.in === 'query' && p.name === 'max_age'), 'max_age is in the OpenAPI document')
})

t.test('an LED or power command through the API updates the kept value at once (stream and metrics need not wait for a poll)', async (t) => {
  const { app, url } = await pollingApp(t, { interval_s: 3600, jitter: 0 })
  await new Promise((resolve) => setTimeout(resolve, 500))
  const led = app.poller.sensor(1, 5)
  t.equal(led?.operation, 'led', 'the LED device is polled with the LED command')
  const before = led?.readAt
  const collecting = collect(`${url}${PREFIX}/stream?board_id=1&device_id=5`, (e) => e.filter((x) => x.event === 'reading').length >= 2, 3000)
  await new Promise((resolve) => setTimeout(resolve, 200))
  const answer = await app.inject({ method: 'POST', url: `${PREFIX}/led/00000001/0005/on` })
  t.equal(answer.statusCode, 200)
  t.same(app.poller.sensor(1, 5)?.reading, answer.json(), 'the kept value is the command\'s answer')
  t.ok((app.poller.sensor(1, 5)?.readAt ?? 0) > (before ?? 0), 'with a new timestamp')
  const { events } = await collecting
  t.same(events.filter((e) => e.event === 'reading').at(-1)?.data.reading, answer.json(), 'the stream carries it')
  const power = await app.inject({ url: `${PREFIX}/power/00000001/000d/status` })
  t.same(app.poller.sensor(1, 0xd)?.reading, power.json(), 'a power status through the API is kept too')
})

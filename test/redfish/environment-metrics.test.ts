import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, get } from '../helper.js'
import { serveMockup, valueOf, type Json, type MockupServer } from './mockup-server.js'

/**
 * A chassis' EnvironmentMetrics (DSP0268) on DMTF's public-tower mockup
 * (test/fixtures/redfish-mockups/, BSD-3): the excerpts no Sensor, legacy
 * member or subsystem excerpt holds are devices (Chassis Fan #3 and #4,
 * whose Sensors FanBay3 and FanBay4 the service lacks), appended so that no
 * id of a discovery without them moves, each read once and once in
 * /metrics; a link that 404s, hangs or answers nonsense costs only its own
 * readings, within bounded time; a huge one is taken up to max_members.
 */

const dir = mkdtempSync(join(tmpdir(), 'redfish-envmetrics-'))
const CHASSIS = '/redfish/v1/Chassis/Tower'
const ENV = `${CHASSIS}/EnvironmentMetrics`

interface Device { device_id: string, device_type: string, device_info?: string }

async function start (t: Test, svc: MockupServer, server: Json = {}, limits: Json = {}): Promise<{ app: FastifyInstance, devices: Device[], ms: number }> {
  const file = join(dir, `tower-${Math.random().toString(36).slice(2)}.json`)
  writeFileSync(file, JSON.stringify({ servers: [{ url: svc.url, timeout_ms: 5000, ...server }], limits }))
  const app = await build(t, { redfishConfig: file, redfish: { scanBudgetMs: 30_000 }, poll: false })
  const began = Date.now()
  const scan = await get(app, '/scan/70000001')
  const ms = Date.now() - began
  t.equal(scan.statusCode, 200, 'the board is scanned')
  return { app, devices: scan.json().boards[0].devices as Device[], ms }
}

async function tower (t: Test): Promise<MockupServer> {
  const svc = await serveMockup('public-tower')
  t.teardown(svc.close)
  return svc
}

const key = (d: Device): string => `${d.device_id} ${d.device_type} ${d.device_info ?? ''}`
const NEW = ['Chassis Fan #3', 'Chassis Fan #3 RPM', 'Chassis Fan #4', 'Chassis Fan #4 RPM']

/** The tower's devices when its chassis links no EnvironmentMetrics: what every test compares with. */
async function withoutEnvironment (t: Test): Promise<Device[]> {
  const svc = await tower(t)
  delete (svc.resource(CHASSIS) as Json).EnvironmentMetrics
  const { devices } = await start(t, svc)
  t.notOk(svc.requests.some((r) => r.path.startsWith(ENV)), 'no link, no GET')
  return devices
}

t.test('public-tower: the EnvironmentMetrics fans no Sensor holds are appended; no id moves; each read once, once in /metrics', async (t) => {
  const before = await withoutEnvironment(t)
  const svc = await tower(t)
  const { app, devices } = await start(t, svc)
  const added = devices.filter((d) => !before.some((b) => key(b) === key(d)))
  t.same(added.map((d) => d.device_info).sort(), NEW, 'exactly the two fans, in percent and in rpm')
  t.same(devices.filter((d) => !added.includes(d)).map(key), before.map(key), 'every other device keeps its id, type and name')
  for (const d of added) {
    // a kind's block: the ids that share its first two hex digits (2001... rpm, 2801... percent)
    const sameKind = before.filter((b) => Number.parseInt(b.device_id, 16) >= 0x1000 && b.device_id.slice(0, 2) === d.device_id.slice(0, 2))
    t.ok(sameKind.every((b) => Number.parseInt(b.device_id, 16) < Number.parseInt(d.device_id, 16)), `${d.device_info ?? ''} (${d.device_id}) after every ${d.device_type} id of its block`)
  }
  t.equal(svc.requests.filter((r) => r.path === ENV).length, 1, 'discovery GETs EnvironmentMetrics once')
  // the values as the file has them
  const file = (svc.resource(ENV) as Json).FanSpeedsPercent as Json[]
  const expected: Record<string, number> = {}
  for (const f of file.slice(2)) Object.assign(expected, { [f.DeviceName]: f.Reading, [`${String(f.DeviceName)} RPM`]: f.SpeedRPM })
  for (const d of added) {
    const res = await get(app, `/read/${d.device_type}/70000001/${d.device_id}`)
    t.equal(valueOf(res.json()), expected[d.device_info ?? ''], `${d.device_info ?? ''} reads ${expected[d.device_info ?? '']}`)
    t.same(Object.keys(res.json()), [d.device_info?.endsWith('RPM') === true ? 'speed_rpm' : 'speed_percent'])
  }
  // every device read, then /metrics: one sample per board and device in each family, the new fans' values among them
  for (const d of devices.filter((d) => Number.parseInt(d.device_id, 16) >= 0x1000)) await get(app, `/read/${d.device_type}/70000001/${d.device_id}`)
  const lines = (await app.inject({ method: 'GET', url: '/metrics' })).body.split('\n').filter((l) => l.includes('board_id="70000001"') && l.includes('device_id=') && !l.startsWith('#'))
  // a series is its name and labels (a threshold's level is a label of its own)
  const series = lines.map((l) => l.slice(0, l.lastIndexOf(' ')))
  t.same(series.filter((s, i) => series.indexOf(s) !== i), [], 'no series twice')
  t.same(devices.filter((d) => NEW.includes(d.device_info ?? '')).length, NEW.length, 'each new fan listed once')
  const sample = (family: string, d: Device | undefined): number[] => lines.filter((l) => l.startsWith(`${family}{`) && l.includes(`device_id="${d?.device_id ?? ''}"`)).map((l) => Number(l.split(' ').pop()))
  const named = (info: string): Device | undefined => added.find((d) => d.device_info === info)
  t.same(sample('opendcre_fan_speed_ratio', named('Chassis Fan #3')), [0.45])
  t.same(sample('opendcre_fan_speed_rpm', named('Chassis Fan #4 RPM')), [2100])
})

t.test('what an EnvironmentMetrics excerpt is: a reading no other device holds, once per DataSourceUri; settings and g/m³ are not', async (t) => {
  const svc = await tower(t)
  const env = svc.resource(ENV) as Json
  Object.assign(env, {
    // no DataSourceUri: its own device
    HumidityPercent: { Reading: 38.5 },
    // a power supply rail's excerpt (PowerSubsystem) already a device: not again
    Voltage: { Reading: 3.31, DataSourceUri: '/redfish/v1/Chassis/Tower/Sensors/PS1_3VOutput' },
    // a Control excerpt, and a unit with no device type
    PowerLimitWatts: { SetPoint: 500, Reading: 480 },
    AbsoluteHumidity: { Reading: 9.2 },
    EnergykWh: { Reading: 1234.5, DataSourceUri: '/redfish/v1/Chassis/Tower/Sensors/NoSuchMeter' }
  })
  // the same DataSourceUri twice in one resource: one device
  env.FanSpeedsPercent.push({ DeviceName: 'Chassis Fan #3 again', Reading: 45, SpeedRPM: 1900, DataSourceUri: '/redfish/v1/Chassis/Tower/Sensors/FanBay3' })
  const { app, devices } = await start(t, svc)
  const env_ = devices.filter((d) => [...NEW, 'Chassis Environment Metrics HumidityPercent', 'Chassis Environment Metrics EnergykWh'].includes(d.device_info ?? ''))
  t.equal(env_.length, 6, 'the four fans, the humidity, the meter')
  t.notOk(devices.some((d) => /again|PowerLimit|AbsoluteHumidity|Metrics Voltage/.test(d.device_info ?? '')), 'nothing else')
  const humidity = devices.find((d) => d.device_info === 'Chassis Environment Metrics HumidityPercent') as Device
  t.same((await get(app, `/read/humidity/70000001/${humidity.device_id}`)).json(), { humidity: 38.5 })
  const meter = devices.find((d) => d.device_info === 'Chassis Environment Metrics EnergykWh') as Device
  t.same((await get(app, `/read/energy/70000001/${meter.device_id}`)).json(), { energy_kwh: 1234.5 })
  // a reading the service changes is read anew after reading_max_age_ms (1 s)
  env.HumidityPercent.Reading = 40
  await new Promise((resolve) => setTimeout(resolve, 1100))
  t.same((await get(app, `/read/humidity/70000001/${humidity.device_id}`)).json(), { humidity: 40 })
})

t.test('a poll cycle: with $expand the Chassis collection\'s GET holds EnvironmentMetrics (no more GETs); without, one GET of it', async (t) => {
  /** The GETs of one poll cycle in the steady state: after a first cycle and an LED change (which forgets the kept answers). */
  const cycle = async (svc: MockupServer, app: FastifyInstance, devices: Device[]): Promise<string[]> => {
    const readAll = async (): Promise<void> => {
      for (const d of devices.filter((d) => Number.parseInt(d.device_id, 16) >= 0x1000)) await get(app, `/read/${d.device_type}/70000001/${d.device_id}`)
    }
    await readAll()
    t.equal((await get(app, '/led/70000001/0300/on')).statusCode, 200)
    const from = svc.requests.length
    await readAll()
    return svc.requests.slice(from).map((r) => r.path)
  }
  for (const expand of [true, false]) {
    const gets: string[][] = []
    for (const env of [false, true]) {
      const svc = await tower(t)
      if (!expand) delete (svc.resource('/redfish/v1') as Json).ProtocolFeaturesSupported
      if (!env) delete (svc.resource(CHASSIS) as Json).EnvironmentMetrics
      const { app, devices } = await start(t, svc, {}, { reading_max_age_ms: 60_000 })
      gets.push(await cycle(svc, app, devices))
    }
    const [without, withEnv] = gets
    if (expand) {
      t.same(withEnv.sort(), without.sort(), `$expand: the same ${without.length} GETs per cycle with the four fans read`)
      t.notOk(withEnv.includes(ENV), 'EnvironmentMetrics not asked on its own')
    } else {
      t.same(withEnv.filter((p) => p !== ENV).sort(), without.sort(), 'no $expand: the same GETs ...')
      t.equal(withEnv.filter((p) => p === ENV).length, 1, '... and one of EnvironmentMetrics, for its four readings')
    }
  }
})

/** The tower's devices but the EnvironmentMetrics ones, as the test of a broken link expects them. */
const others = (devices: Device[]): string[] => devices.filter((d) => !NEW.includes(d.device_info ?? '')).map(key)

t.test('a broken EnvironmentMetrics costs only its own readings: 404, malformed JSON, an array, a hang (bounded by timeout_ms)', async (t) => {
  const before = others(await withoutEnvironment(t))
  const cases: Array<[string, (res: import('node:http').ServerResponse) => void]> = [
    ['404', (res) => { res.writeHead(404, { 'content-type': 'application/json' }); res.end('{"error":{"code":"Base.1.8.ResourceMissingAtURI","message":"gone"}}') }],
    ['malformed JSON', (res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('{"FanSpeedsPercent": [{"Reading": 4') }],
    ['an array', (res) => { res.writeHead(200, { 'content-type': 'application/json' }); res.end('[1, 2, 3]') }],
    ['a hang', () => {}]
  ]
  for (const [what, answer] of cases) {
    const svc = await tower(t)
    svc.routes.set(ENV, (_req, res) => answer(res))
    const { app, devices, ms } = await start(t, svc, { timeout_ms: 1000 })
    t.same(others(devices), before, `${what}: every other device is there, ids unchanged`)
    t.notOk(devices.some((d) => NEW.includes(d.device_info ?? '')), `${what}: none of its readings`)
    t.ok(ms < 10_000, `${what}: the scan took ${ms} ms (a hang costs one timeout_ms, 1000 ms, not the 15 s command deadline)`)
    const ambient = devices.find((d) => d.device_info === 'Ambient Temperature') as Device
    t.equal((await get(app, `/read/temperature/70000001/${ambient.device_id}`)).statusCode, 200, `${what}: the board's sensors read`)
  }
})

t.test('a huge EnvironmentMetrics (50,000 fans, 5 MB) is taken up to max_members excerpts, in bounded time and few GETs; an expand past 16 MiB falls back to a smaller GET', async (t) => {
  const svc = await tower(t)
  const env = svc.resource(ENV) as Json
  env.FanSpeedsPercent = Array.from({ length: 50_000 }, (_, i) => ({ DeviceName: `Fan ${i + 1}`, Reading: i % 100, SpeedRPM: 1000 + i, DataSourceUri: `/redfish/v1/Chassis/Tower/Sensors/Nope${i}` }))
  // the test's own server builds the 16 MiB expanded answers in this process: room for a loaded machine
  const { app, devices, ms } = await start(t, svc, { timeout_ms: 20_000 }, { max_members: 200, command_timeout_ms: 60_000 })
  const fans = devices.filter((d) => /^Fan \d+( RPM)?$/.test(d.device_info ?? ''))
  t.equal(fans.length, 200, 'max_members (200) excerpts: 100 fans in percent and in rpm')
  t.ok(ms < 30_000, `the scan took ${ms} ms`)
  const last = fans.find((d) => d.device_info === 'Fan 100 RPM') as Device
  t.same((await get(app, `/read/fan_speed/70000001/${last.device_id}`)).json(), { speed_rpm: 1099 }, 'the last one taken reads')
  // a fresh poll cycle of all 200 (an LED change forgets the kept answers): shared answers, not one 5 MB GET per fan
  t.equal((await get(app, '/led/70000001/0300/on')).statusCode, 200)
  const from = svc.requests.length
  for (const d of fans) t.equal((await get(app, `/read/fan_speed/70000001/${d.device_id}`)).statusCode, 200)
  const asked = svc.requests.slice(from).map((r) => r.path)
  t.ok(asked.length <= 4, `200 fans read with ${asked.length} GETs (${asked.join(', ')})`)
  const ambient = devices.find((d) => d.device_info === 'Ambient Temperature') as Device
  t.equal((await get(app, `/read/temperature/70000001/${ambient.device_id}`)).statusCode, 200, 'the board\'s sensors read')
})

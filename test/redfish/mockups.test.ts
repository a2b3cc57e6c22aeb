import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, get } from '../helper.js'
import { MOCKUPS, corpus, serveMockup, valueOf, type Json, type MockupServer } from './mockup-server.js'

/**
 * DMTF's five published sample services (test/fixtures/redfish-mockups/,
 * BSD-3, LICENSE-mockups.md) served live by mockup-server.ts: every
 * ComputerSystem is a board, every sensor the mockup's files hold is read
 * with the value the file has (once, on one board), and power, LED and boot
 * override make the round trip where the mockup allows them. The expected
 * values come from the files, read here, not from the driver.
 */

const dir = mkdtempSync(join(tmpdir(), 'redfish-mockups-'))

interface Board { board_id: string, devices: Array<{ device_id: string, device_type: string, device_info?: string }> }

async function start (t: Test, name: string, limits: Json = {}): Promise<{ app: FastifyInstance, svc: MockupServer, boards: Board[] }> {
  const svc = await serveMockup(name)
  t.teardown(svc.close)
  const file = join(dir, `${name}-${Math.random().toString(36).slice(2)}.json`)
  writeFileSync(file, JSON.stringify({ servers: [{ url: svc.url, timeout_ms: 5000 }], limits }))
  // no poller (configured services are polled by default): the test counts and changes what it alone asks
  const app = await build(t, { redfishConfig: file, redfish: { scanBudgetMs: 30_000 }, poll: false })
  const scan = await get(app, '/scan')
  t.equal(scan.statusCode, 200)
  const boards = (scan.json().boards as Board[]).filter((b) => b.board_id.startsWith('7'))
  return { app, svc, boards }
}

for (const name of MOCKUPS) {
  t.test(`${name}: every ComputerSystem a board, every sensor read as the mockup has it`, async (t) => {
    const { app, svc, boards } = await start(t, name)
    const expected = corpus(svc, name)
    const systemBoards = boards.filter((b) => b.devices.some((d) => d.device_type === 'power' && d.device_id === '0100'))
    t.equal(systemBoards.length, expected.systems.length, `${expected.systems.length} ComputerSystems, as many boards with power control`)
    t.same(systemBoards.map((b) => b.board_id), expected.systems.map((_, i) => (0x70000001 + (i << 16)).toString(16).padStart(8, '0')), 'systems in slots 000, 001, ... of service 0001')
    const read: Array<{ name: string, value: number | null }> = []
    for (const board of boards) {
      for (const device of board.devices.filter((d) => /^[1-9a-f][0-9a-f]{3}$/.test(d.device_id) && Number.parseInt(d.device_id, 16) >= 0x1000)) {
        const res = await get(app, `/read/${device.device_type}/${board.board_id}/${device.device_id}`)
        if (res.statusCode === 200) read.push({ name: device.device_info ?? '', value: valueOf(res.json()) })
        else {
          t.match(res.json().message, /gives no reading/, `${device.device_info ?? ''}: a sensor without a reading says so`)
          read.push({ name: device.device_info ?? '', value: null })
        }
      }
    }
    const key = (s: { name: string, value: number | null }): string => `${s.name}=${String(s.value)}`
    // fans in rpm are whole numbers; everything else as the file has it
    t.same(read.map(key).sort(), expected.sensors.map((s) => key({ name: s.name, value: s.value })).sort(), `all ${expected.sensors.length} sensors, each once, with the mockup's value`)
  })
}

t.test('public-bladed: four blades are four boards; the enclosure\'s sensors are on a board of its own', async (t) => {
  const { app, boards } = await start(t, 'public-bladed')
  t.same(boards.map((b) => b.board_id), ['70000001', '70010001', '70020001', '70030001', '78000001'])
  const enclosure = boards[4]
  t.same(enclosure.devices.map((d) => d.device_type), ['led', 'temperature', 'fan_speed', 'fan_speed', 'fan_speed', 'fan_speed', 'power', 'power'], 'no power control or boot; the chassis\' LED; its sensors')
  t.same((await get(app, '/read/temperature/70020001/1001')).json(), { temperature_c: 77 }, 'Blade3\'s CPU')
  t.same((await get(app, '/read/fan_speed/78000001/2001')).json(), { speed_rpm: 15100 })
  t.match((await get(app, '/power/78000001/0100/off')).json().message, /enclosure .*not a computer system/)
  t.match((await get(app, '/boot_target/78000001/0200')).json().message, /enclosure/)
  t.same((await get(app, '/led/78000001/0300/on')).json(), { led_color: 'unknown', led_state: 'on' })
  t.equal((await get(app, '/read/temperature/78000002/1001')).statusCode, 500, 'no such enclosure')
})

t.test('public-liquid-cooled-server: readings with no ReadingType, fans in percent, energy, frequency', async (t) => {
  const { app, boards } = await start(t, 'public-liquid-cooled-server')
  const devices = boards[0].devices
  const find = (info: string): { device_id: string, device_type: string } => devices.find((d) => d.device_info === info) as { device_id: string, device_type: string }
  t.same((await get(app, `/read/temperature/70000001/${find('Ambient Temperature').device_id}`)).json(), { temperature_c: 22.5 }, 'ReadingUnits Cel, no ReadingType')
  t.same((await get(app, `/read/fan_speed/70000001/${find('Chassis Fan #1').device_id}`)).json(), { speed_percent: 45 })
  t.equal(find('Chassis Fan #1').device_id.slice(0, 2), '28', 'fans in percent are numbered from 2801')
  t.same((await get(app, `/read/percent/70000001/${find('Battery #1 State of Health').device_id}`)).json(), { percent: 91 })
  const energy = devices.filter((d) => d.device_type === 'energy')
  t.ok(energy.length >= 2, 'energy sensors')
  t.ok(devices.some((d) => d.device_type === 'frequency'), 'frequency sensors')
  const meter = energy.find((d) => d.device_info?.includes('#1')) as { device_id: string }
  const kwh = (await get(app, `/read/energy/70000001/${meter.device_id}`)).json().energy_kwh as number
  t.equal(typeof kwh, 'number')
  const frequency = devices.find((d) => d.device_type === 'frequency' && d.device_info?.includes('#1')) as { device_id: string }
  const hz = (await get(app, `/read/frequency/70000001/${frequency.device_id}`)).json().frequency_hz as number
  // the values read are in /metrics, in base units, once per board and device
  const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body
  const sample = (family: string, deviceId: string): number[] => metrics.split('\n')
    .filter((l) => l.startsWith(`${family}{`) && l.includes('board_id="70000001"') && l.includes(`device_id="${deviceId}"`)).map((l) => Number(l.split(' ').pop()))
  t.same(sample('opendcre_fan_speed_ratio', find('Chassis Fan #1').device_id), [0.45])
  t.same(sample('opendcre_sensor_ratio', find('Battery #1 State of Health').device_id), [0.91])
  t.same(sample('opendcre_temperature_celsius', find('Ambient Temperature').device_id), [22.5])
  t.same(sample('opendcre_energy_joules', meter.device_id), [kwh * 3.6e6], 'kWh as joules')
  t.same(sample('opendcre_frequency_hertz', frequency.device_id), [hz])
})

t.test('power, LED and boot override make the round trip on every mockup that allows them', async (t) => {
  for (const name of MOCKUPS) {
    const { app, svc, boards } = await start(t, name)
    for (const board of boards.filter((b) => b.devices.some((d) => d.device_id === '0100'))) {
      const id = board.board_id
      const slot = Number.parseInt(id.slice(1, 4), 16)
      const systemUri = corpus(svc).systems.sort((a, b) => a.localeCompare(b, 'en', { numeric: true }))[slot]
      t.equal((await get(app, `/power/${id}/0100/off`)).json().power_status, 'off', `${name} ${id}: off`)
      t.equal(svc.resource(systemUri)?.PowerState, 'Off', `${name} ${id}: the service's system is off`)
      t.equal((await get(app, `/power/${id}/0100/on`)).json().power_status, 'on', `${name} ${id}: on`)
      t.equal(svc.resource(systemUri)?.PowerState, 'On')
      t.same((await get(app, `/led/${id}/0300/on`)).json().led_state, 'on', `${name} ${id}: LED on`)
      t.equal(svc.resource(systemUri)?.IndicatorLED, 'Lit', 'IndicatorLED Lit on the system')
      t.same((await get(app, `/led/${id}/0300/off`)).json().led_state, 'off')
      const allowed: string[] = svc.resource(systemUri)?.Boot?.['BootSourceOverrideTarget@Redfish.AllowableValues'] ?? []
      for (const [target, value] of [['pxe', 'Pxe'], ['hdd', 'Hdd']]) {
        const res = await get(app, `/boot_target/${id}/0200/${target}`)
        if (allowed.includes(value)) {
          t.same(res.json(), { target }, `${name} ${id}: boot ${target}`)
          t.equal(svc.resource(systemUri)?.Boot.BootSourceOverrideTarget, value)
        } else {
          t.match(res.json().message, /does not allow boot target/, `${name} ${id}: boot ${target} not allowed`)
        }
      }
    }
  }
})

/**
 * Requests (and KB answered) per board for one poll cycle in the steady
 * state: every device as the poller reads it (sensors, power status, LED),
 * after a first cycle (which may learn that a GET answered too much) and an
 * LED change (which forgets the readings kept). KB: what the answers weigh
 * when every reading has changed (a 304 counted at its full size).
 */
async function cycle (t: Test, app: FastifyInstance, svc: MockupServer, boards: Board[]): Promise<{ requests: number, kb: number }> {
  await readAll(app, boards)
  t.equal((await get(app, `/led/${boards[0].board_id}/0300/on`)).statusCode, 200)
  const before = svc.requests.length
  await readAll(app, boards)
  const asked = svc.requests.slice(before)
  return { requests: asked.length / boards.length, kb: Math.round(asked.reduce((n, r) => n + (r.bytes ?? 0), 0) / boards.length / 102.4) / 10 }
}

async function readAll (app: FastifyInstance, boards: Board[]): Promise<void> {
  for (const board of boards) {
    for (const d of board.devices) {
      if (d.device_id === '0100') await get(app, `/power/${board.board_id}/0100`)
      else if (d.device_id === '0300') await get(app, `/led/${board.board_id}/0300`)
      else if (d.device_id !== '0200') await get(app, `/read/${d.device_type}/${board.board_id}/${d.device_id}`)
    }
  }
}

t.test('few requests: HTTP requests per board per poll cycle, with $expand and without', async (t) => {
  const figures: Record<string, { expand: number, noExpand: number, kb: number, noExpandKb: number, sensors: number }> = {}
  for (const name of MOCKUPS) {
    const { app, svc, boards } = await start(t, name, { reading_max_age_ms: 60_000 })
    const { requests: expand, kb } = await cycle(t, app, svc, boards)
    const sensors = boards.reduce((n, b) => n + b.devices.length, 0) / boards.length
    // the same service without $expand
    const bare = await start(t, name, { reading_max_age_ms: 60_000 })
    const root = bare.svc.resource('/redfish/v1') as Json
    delete root.ProtocolFeaturesSupported
    await get(bare.app, '/scan/70000001')
    const { requests: noExpand, kb: noExpandKb } = await cycle(t, bare.app, bare.svc, bare.boards)
    figures[name] = { expand, noExpand, kb, noExpandKb, sensors }
    t.ok(expand <= 3, `${name}: ${expand.toFixed(1)} requests per board per cycle with $expand (target: at most 3)`)
    t.ok(expand <= noExpand, `${name}: no more with $expand (${expand.toFixed(1)}) than without (${noExpand.toFixed(1)})`)
  }
  t.comment(JSON.stringify(figures))
  console.log(`REQUESTS_PER_BOARD ${JSON.stringify(figures)}`)
})

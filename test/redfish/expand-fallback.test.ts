import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { build, get } from '../helper.js'
import { corpus, serveMockup, valueOf, type ExpandMode, type Json, type MockupServer } from './mockup-server.js'

/**
 * $expand as services really answer it: DMTF's mockups advertise
 * ExpandQuery (NoLinks, Levels, MaxLevels 6), so a poll cycle asks for the
 * Chassis collection (or a chassis) expanded as deep as its readings are.
 * A service that ignores the query (answers unexpanded) or refuses it (400)
 * still reads every sensor as the files have it, and is not asked the
 * useless query again. Subsystem readings (ThermalSubsystem,
 * PowerSubsystem) that no Sensor holds are devices of their own, once.
 */

interface Board { board_id: string, devices: Array<{ device_id: string, device_type: string, device_info?: string }> }

async function start (t: Test, name: string, expand: ExpandMode, limits: Json = { reading_max_age_ms: 60_000 }): Promise<{ app: FastifyInstance, svc: MockupServer, boards: Board[] }> {
  const svc = await serveMockup(name, { expand })
  t.teardown(svc.close)
  const dir = mkdtempSync(join(tmpdir(), 'redfish-expand-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const file = join(dir, 'redfish_config.json')
  writeFileSync(file, JSON.stringify({ servers: [{ url: svc.url, timeout_ms: 5000 }], limits }))
  const app = await build(t, { redfishConfig: file, redfish: { scanBudgetMs: 30_000 }, poll: false })
  const boards = ((await get(app, '/scan')).json().boards as Board[]).filter((b) => b.board_id.startsWith('7'))
  return { app, svc, boards }
}

/** One poll cycle as the poller reads (sensors, power status, LED); the sensors' `name=value`. */
async function cycle (app: FastifyInstance, boards: Board[]): Promise<string[]> {
  const read: string[] = []
  for (const board of boards) {
    for (const d of board.devices) {
      if (d.device_id === '0100') await get(app, `/power/${board.board_id}/0100`)
      else if (d.device_id === '0300') await get(app, `/led/${board.board_id}/0300`)
      else if (Number.parseInt(d.device_id, 16) >= 0x1000) {
        const res = await get(app, `/read/${d.device_type}/${board.board_id}/${d.device_id}`)
        read.push(`${d.device_info ?? ''}=${res.statusCode === 200 ? String(valueOf(res.json())) : 'null'}`)
      }
    }
  }
  return read.sort()
}

const expected = (svc: MockupServer, name: string): string[] => corpus(svc, name).sensors.map((s) => `${s.name}=${String(s.value)}`).sort()
const expands = (svc: MockupServer, from = 0): string[] => svc.requests.slice(from).filter((r) => r.path.includes('$expand')).map((r) => r.path)

for (const name of ['public-telemetry', 'public-liquid-cooled-server', 'public-tower']) {
  t.test(`${name}: one poll GET for the chassis' readings, as deep as they are`, async (t) => {
    const { app, svc, boards } = await start(t, name, 'spec')
    const from = svc.requests.length
    const read = await cycle(app, boards)
    t.same(read, expected(svc, name), 'every reading as the files have it')
    const asked = svc.requests.slice(from).map((r) => r.path)
    t.ok(asked.length <= 3, `${asked.length} requests for the cycle: ${asked.join(', ')}`)
    t.ok(asked.some((p) => /\/Chassis(\/[^/?]+)?\?\$expand=\.\(\$levels=[2-4]\)/.test(p)), 'the Chassis collection or the chassis, expanded')
    t.ok(asked.includes('/redfish/v1/Systems?$expand=.($levels=1)'), 'the systems (power status, LED) from one expanded collection')
  })

  for (const mode of ['ignore', 'refuse'] as const) {
    t.test(`${name}: a service that ${mode}s $expand is read completely, and not asked it again`, async (t) => {
      const { app, svc, boards } = await start(t, name, mode)
      t.same(await cycle(app, boards), expected(svc, name), 'every reading as the files have it')
      const from = svc.requests.length
      t.same(await cycle(app, boards), expected(svc, name), 'and again')
      t.same(expands(svc, from), [], 'the second cycle asks no $expand')
      if (mode === 'refuse') t.equal(expands(svc).length, 1, 'discovery asked $expand once, was refused, and went on without')
    })
  }
}

t.test('a service that starts refusing $expand after discovery: reads go on, each refused query asked once', async (t) => {
  const { app, svc, boards } = await start(t, 'public-liquid-cooled-server', 'spec', { reading_max_age_ms: 0 })
  t.same(await cycle(app, boards), expected(svc, 'public-liquid-cooled-server'))
  svc.expand = 'refuse'
  const from = svc.requests.length
  t.same(await cycle(app, boards), expected(svc, 'public-liquid-cooled-server'), 'every reading, from the resources themselves')
  t.same(await cycle(app, boards), expected(svc, 'public-liquid-cooled-server'))
  const refusedOnce = expands(svc, from)
  t.same(refusedOnce, [...new Set(refusedOnce)], `each refused query asked once (${refusedOnce.join(', ')})`)
  t.ok(refusedOnce.length >= 2, 'the chassis and the systems queries')
})

t.test('subsystem readings: what no Sensor holds is one device each; what a Sensor holds is not listed again', async (t) => {
  const { app, boards } = await start(t, 'public-liquid-cooled-server', 'spec')
  const devices = boards[0].devices
  const byName = (n: string): Board['devices'] => devices.filter((d) => d.device_info === n)
  const read = async (n: string): Promise<Json> => {
    const [d] = byName(n)
    return (await get(app, `/read/${d.device_type}/70000001/${d.device_id}`)).json()
  }
  t.same(await read('CPU #1 Pump PumpSpeedPercent'), { percent: 68 }, 'a pump\'s speed (no DataSourceUri)')
  t.same(await read('CPU #1 Pump PumpSpeedPercent RPM'), { speed_rpm: 300 }, 'and its SpeedRPM')
  t.same(await read('Metrics for Battery 1 StoredEnergyWattHours'), { energy_kwh: 0.01941 }, 'watt-hours as kWh')
  t.same(await read('Metrics for Battery 1 CellVoltages 8'), { voltage_v: 3.44 }, 'an array member, numbered from 1')
  t.same(await read('CPU #1 Cold Plate SupplyTemperatureCelsius'), { temperature_c: 14.8 }, 'a DataSourceUri to a Sensor the service does not have: read here')
  t.same(await read('Metrics for Power Supply 1 FanSpeedPercent'), { speed_percent: 68 }, 'a power supply\'s fan in percent')
  t.equal(byName('Fan Bay 1 SpeedPercent').length, 0, 'the Fan\'s SpeedPercent points at Sensors/FanBay1: read there only')
  t.equal(byName('Chassis Thermal Metrics TemperatureSummaryCelsius Intake').length, 0, 'ThermalMetrics\' excerpts of Sensors: not again')
  t.equal(byName('Metrics for Power Supply 1 InputPowerWatts').length, 0, 'PowerSupplyMetrics\' InputPowerWatts is Sensors/PS1InputPower')
  const names = devices.map((d) => d.device_info)
  t.same(names.filter((n, i) => n !== undefined && names.indexOf(n) !== i), [], 'no name twice')
})

t.test('public-tower: a poll GET that answers over 1 MiB serves its cycle, and the next cycles take the smaller GETs', async (t) => {
  const { app, svc, boards } = await start(t, 'public-tower', 'spec')
  const first = svc.requests.length
  await cycle(app, boards)
  const big = svc.requests.slice(first).find((r) => r.path === '/redfish/v1/Chassis/Tower?$expand=.($levels=4)')
  t.ok((big?.bytes ?? 0) > 1024 * 1024, `the chassis expanded 4 levels deep sweeps in the systems' resources its sensors relate to (${big?.bytes ?? 0} bytes)`)
  t.equal((await get(app, `/led/${boards[0].board_id}/0300/on`)).statusCode, 200, 'an LED change: the kept readings are forgotten')
  const second = svc.requests.length
  t.same(await cycle(app, boards), expected(svc, 'public-tower'), 'every reading as the files have it')
  const asked = svc.requests.slice(second)
  t.same(asked.map((r) => r.path).sort(), ['/redfish/v1/Chassis/Tower/PowerSubsystem?$expand=.($levels=3)', '/redfish/v1/Chassis?$expand=.($levels=3)', '/redfish/v1/Systems?$expand=.($levels=1)'], 'three smaller GETs')
  t.ok(asked.every((r) => (r.bytes ?? 0) < 1024 * 1024), 'each under 1 MiB')
})

t.test('subsystem readings are numbered after the Sensors of their kind: the Sensors\' device ids are those they had before', async (t) => {
  const { app, boards } = await start(t, 'public-liquid-cooled-server', 'spec')
  const power = boards[0].devices.filter((d) => d.device_type === 'power' && d.device_id !== '0100')
  const sensors = power.filter((d) => !(d.device_info ?? '').startsWith('Metrics for'))
  t.same(sensors.map((d) => d.device_id), sensors.map((_, i) => (0x5001 + i).toString(16)), 'the Sensors first, from 5001')
  t.ok(power.slice(sensors.length).every((d) => (d.device_info ?? '').startsWith('Metrics for')), 'then the power supply metrics')
  const watts = (await get(app, '/power/70000001/0100')).json().input_power as number
  t.equal(watts, (await get(app, `/read/power/70000001/${sensors[0].device_id}`)).json().power_w, 'input_power is the first Sensor\'s')
})

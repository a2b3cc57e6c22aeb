import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import { build, fixture, get } from '../helper.js'
import { ipmitool, startSim, type Sim } from './sim.js'

/**
 * What the bridge reads beyond v1.2, end to end against ipmi_sim (bmc-a.emu:
 * a voltage, a current and a power sensor, four SEL entries), each value
 * cross-checked with ipmitool against the same simulator. The BMC entry names
 * no algorithms: the bridge asks the BMC and takes suite 3 (ipmi_sim has no 17).
 */

const PASSWORD = 'Sx4-secret-S'
const BOARD = '40000001'

async function rig (t: Test): Promise<{ sim: Sim, app: Awaited<ReturnType<typeof build>> }> {
  const sim = await startSim(t, { name: 'bmc-a', emu: fixture('ipmi/bmc-a.emu'), password: PASSWORD })
  const dir = mkdtempSync(join(tmpdir(), 'opendcre-bridge-more-'))
  const file = join(dir, 'bmc_config.json')
  writeFileSync(file, JSON.stringify({ bmcs: [{ bmc_ip: '127.0.0.1', bmc_port: sim.port, username: 'ADMIN', password: PASSWORD }] }))
  const app = await build(t, { bmcConfig: file })
  return { sim, app }
}

/** `sdr elist` rows with a unit ipmitool printed: number → { name, value, unit }. */
async function sdrUnits (sim: Sim): Promise<Map<number, { name: string, value: number, unit: string }>> {
  const out = await ipmitool(sim, ['sdr', 'elist'])
  const rows = new Map<number, { name: string, value: number, unit: string }>()
  for (const line of out.trim().split('\n')) {
    const [name, id, , , reading] = line.split('|').map((c) => c.trim())
    const m = /^(-?\d+(?:\.\d+)?) (.+)$/.exec(reading)
    if (m !== null) rows.set(parseInt(id, 16), { name, value: Number(m[1]), unit: m[2] })
  }
  return rows
}

t.test('voltage, current and power sensors: scanned as their own device types, read as ipmitool reads them', async (t) => {
  const { sim, app } = await rig(t)
  const sdr = await sdrUnits(sim)
  const scan = (await get(app, `/scan/${BOARD}`)).json() as { boards: Array<{ devices: Array<{ device_id: string, device_type: string, device_info?: string }> }> }
  const devices = scan.boards[0].devices
  const byUnit: Record<string, string> = { Volts: 'voltage', Amps: 'current', Watts: 'power' }
  const field: Record<string, string> = { voltage: 'voltage_v', current: 'current_a', power: 'power_w' }
  const electrical = [...sdr].filter(([, row]) => byUnit[row.unit] !== undefined)
  t.same(electrical.map(([, row]) => row.unit), ['Volts', 'Amps', 'Watts'], 'bmc-a has one of each')
  for (const [number, row] of electrical) {
    const type = byUnit[row.unit]
    const id = number.toString(16).padStart(4, '0')
    t.same(devices.find((d) => d.device_id === id), { device_id: id, device_type: type, device_info: row.name }, `${row.name}: a ${type} device named by its SDR`)
    const res = await get(app, `/read/${type}/${BOARD}/${id}`)
    t.equal(res.statusCode, 200)
    t.same(res.json(), { [field[type]]: row.value }, `${row.name}: ${row.value} ${row.unit} as ipmitool prints it`)
  }
  t.same(devices.slice(0, 2), [{ device_id: '0100', device_type: 'power' }, { device_id: '0200', device_type: 'system' }], 'the v1.2 power and system devices stay first')
  t.same(devices.filter((d) => d.device_type === 'temperature').map((d) => d.device_id), ['0001', '0002', '0003'], 'v1.2 temperature devices unchanged')
  t.same(devices.filter((d) => d.device_type === 'fan_speed').map((d) => d.device_id), ['0010', '0011'], 'v1.2 fan devices unchanged')

  const wrongType = await get(app, `/read/voltage/${BOARD}/0022`)
  t.equal(wrongType.statusCode, 500)
  t.match(wrongType.json().message, /no voltage sensor 0022/, 'a power sensor is not read as a voltage')
  const unknownType = await get(app, `/read/pressure/${BOARD}/0020`)
  t.equal(unknownType.statusCode, 500)
  t.match(unknownType.json().message, /temperature, fan_speed, voltage, current, power/)
})

t.test('power: a BMC without DCMI answers input_power 0, as v1.2 did (ipmitool dcmi agrees it has none)', async (t) => {
  const { sim, app } = await rig(t)
  await t.rejects(ipmitool(sim, ['dcmi', 'power', 'reading']), /Invalid command/, 'ipmi_sim has no DCMI')
  for (let i = 0; i < 2; i++) {
    const res = await get(app, `/power/status/${BOARD}/0100`)
    t.equal(res.statusCode, 200)
    t.equal(res.json().input_power, 0)
  }
})

t.test('events: the SEL as ipmitool sel elist shows it', async (t) => {
  const { sim, app } = await rig(t)
  const res = await get(app, `/events/${BOARD}`)
  t.equal(res.statusCode, 200)
  const body = res.json() as { board_id: string, events: Array<Record<string, unknown>> }
  t.equal(body.board_id, BOARD)
  const rows = (await ipmitool(sim, ['sel', 'elist'])).trim().split('\n').map((l) => l.split('|').map((c) => c.trim()))
  t.equal(body.events.length, rows.length, `${rows.length} entries`)
  for (const [i, e] of body.events.entries()) {
    const [id, date, , sensor, event, direction, reading] = rows[i]
    t.equal(e.record_id, parseInt(id, 16).toString(16).padStart(4, '0'), `${i}: record id`)
    t.equal(`${String(e.sensor_type)} ${String(e.sensor)}`.replace(/^(.+) \1 #/, '$1 #'), sensor, `${i}: sensor type and name as elist prints them`)
    t.equal(e.event, event, `${i}: event`)
    t.equal(e.direction, direction.toLowerCase(), `${i}: ${direction}`)
    t.equal(e.time, date === 'Pre-Init' ? null : e.time, `${i}: ipmi_sim stamps with its uptime: no wall-clock time`)
    const m = /^Reading (\S+) [<>] Threshold (\S+)/.exec(reading ?? '')
    if (m !== null) t.same([e.reading, e.threshold], [Number(m[1]), Number(m[2])], `${i}: reading and threshold converted as ipmitool does`)
  }
  t.same(body.events[0], {
    device_id: '0001',
    direction: 'asserted',
    event: 'Upper Critical going high',
    reading: 90,
    record_id: '0001',
    sensor: 'CPU1 Temp',
    sensor_type: 'Temperature',
    severity: 'critical',
    threshold: 85,
    time: null
  }, 'the whole first entry')
  t.same([body.events[1].severity, body.events[2].severity, body.events[2].sensor, body.events[2].device_id], ['ok', 'critical', 'Power Supply #0x30', undefined],
    'deasserted is ok; a sensor without an SDR keeps its type and number, and no device id')
})

t.test('events asked again: the same list while the SEL is unchanged, the new one once it changed', async (t) => {
  const { sim, app } = await rig(t)
  const first = (await get(app, `/events/${BOARD}`)).json() as { events: unknown[] }
  t.ok(first.events.length > 0, `${first.events.length} entries`)
  const again = (await get(app, `/events/${BOARD}`)).json() as { events: unknown[] }
  t.same(again, first, 'unchanged SEL: the same answer (decoded once, kept)')
  await ipmitool(sim, ['sel', 'clear'])
  const rows = (await ipmitool(sim, ['sel', 'elist'])).trim().split('\n').filter((l) => l.includes('|'))
  const after = (await get(app, `/events/${BOARD}`)).json() as { events: unknown[] }
  t.equal(after.events.length, rows.length, `after sel clear: ${rows.length} entries, as ipmitool lists them, not the ${first.events.length} kept`)
})

t.test('events on a board whose backend keeps no log, or no such board: 500 with the reason', async (t) => {
  const { app } = await rig(t)
  const bus = await get(app, '/events/00000001')
  t.equal(bus.statusCode, 500)
  t.same(bus.json(), { message: 'Event log unsupported for board 00000001 (device bus keeps no event log).' })
  const missing = await get(app, '/events/40000009')
  t.equal(missing.statusCode, 500)
  t.match(missing.json().message, /not found/)
  const bad = await get(app, '/events/zz')
  t.equal(bad.statusCode, 500)
  const post = await app.inject({ method: 'POST', url: '/opendcre/1.2/events/40000001' })
  t.equal(post.statusCode, 404, 'read-only: GET only')
})

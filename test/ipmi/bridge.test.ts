import { readFileSync, writeFileSync, mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import t, { type Test } from 'tap'
import { pino } from 'pino'
import type { FastifyInstance } from 'fastify'
import { build, fixture, get } from '../helper.js'
import { ipmitool, startSim, type Sim } from './sim.js'

/**
 * The IPMI bridge end to end: the service with a bmc_config.json naming two
 * ipmi_sim BMCs on loopback (bmc-a with cipher suite 3: RAKP-HMAC-SHA1,
 * HMAC-SHA1-96, AES-CBC-128; bmc-b with cipher suite 1: RAKP-HMAC-SHA1 only),
 * every v1.2 command on their boards, each value cross-checked with ipmitool
 * against the same simulator.
 */

const PASSWORD_A = 'Ax7-secret-A'
const PASSWORD_B = 'Bq9-secret-B'
const dir = mkdtempSync(join(tmpdir(), 'opendcre-bridge-'))

interface Rig { app: FastifyInstance, a: Sim, b: Sim, logs: string[] }

type Algorithms = [string, string, string]
const SUITE_3: Algorithms = ['RAKP_HMAC_SHA1', 'HMAC_SHA1_96', 'AES_CBC_128']
const SUITE_1: Algorithms = ['RAKP_HMAC_SHA1', 'NO_INTEGRITY_ALGORITHM', 'NO_ENCRYPTION_ALGORITHM']

function bmcConfig (entries: Array<{ port: number, password: string, algorithms: Algorithms, timeoutMs?: number }>): string {
  const file = join(dir, `bmc_config-${Math.random().toString(36).slice(2)}.json`)
  writeFileSync(file, JSON.stringify({
    bmcs: entries.map((e) => ({
      bmc_ip: '127.0.0.1',
      bmc_port: e.port,
      username: 'ADMIN',
      password: e.password,
      auth_type: e.algorithms[0],
      integrity_type: e.algorithms[1],
      encryption_type: e.algorithms[2],
      // ipmi_sim keeps the boot device but never the boot flags' valid bit
      boot_valid_bit: 'ignore',
      ...(e.timeoutMs !== undefined ? { timeout_ms: e.timeoutMs } : {})
    }))
  }, null, 2))
  return file
}

function capture (): { logger: ReturnType<typeof pino>, lines: string[] } {
  const lines: string[] = []
  const sink = new Writable({ write (chunk, _enc, done) { lines.push(String(chunk)); done() } })
  return { logger: pino({ level: 'trace' }, sink), lines }
}

async function rig (t: Test): Promise<Rig> {
  const a = await startSim(t, { name: 'bmc-a', emu: fixture('ipmi/bmc-a.emu'), password: PASSWORD_A })
  const b = await startSim(t, { name: 'bmc-b', emu: fixture('ipmi/bmc-b.emu'), password: PASSWORD_B })
  const { logger, lines } = capture()
  const app = await build(t, {
    bmcConfig: bmcConfig([{ port: a.port, password: PASSWORD_A, algorithms: SUITE_3 }, { port: b.port, password: PASSWORD_B, algorithms: SUITE_1 }]),
    loggerInstance: logger
  })
  return { app, a, b, logs: lines }
}

/** `sdr elist` rows: name → [sensor number (hex, "30h"), status, entity, value]. */
async function sdrList (sim: Sim, cipher: number): Promise<Array<{ number: number, name: string, status: string, value: string }>> {
  const out = await ipmitool(sim, ['sdr', 'elist'], { cipher })
  return out.trim().split('\n').map((line) => line.split('|').map((c) => c.trim())).map(([name, id, status, , value]) => ({
    name, number: parseInt(id, 16), status, value
  }))
}

/** ipmitool's value column as a number: "-10 degrees C" → -10, "4900 RPM" → 4900; NaN when it shows none. */
function ipmitoolNumber (value: string): number {
  const m = /^(-?\d+(?:\.\d+)?) (?:degrees C|RPM)$/.exec(value)
  return m === null ? NaN : Number(m[1])
}

async function fruFields (sim: Sim, cipher: number): Promise<Map<string, string>> {
  const out = await ipmitool(sim, ['fru', 'print', '0'], { cipher })
  const fields = new Map<string, string>()
  for (const line of out.split('\n')) {
    const m = /^ (\S.*?)\s+: (.*)$/.exec(line)
    if (m !== null) fields.set(m[1], m[2].trim())
  }
  return fields
}

const BOARDS: Array<{ board: string, sim: 'a' | 'b', cipher: number }> = [
  { board: '40000001', sim: 'a', cipher: 3 },
  { board: '40000002', sim: 'b', cipher: 1 }
]

t.test('every v1.2 command on two BMCs, cross-checked with ipmitool', async (t) => {
  const r = await rig(t)

  await t.test('scan: IPMI boards after the bus boards; power, system, then the temperature and fan sensors ipmitool lists', async (t) => {
    const scan = (await get(r.app, '/scan')).json() as { boards: Array<{ board_id: string, devices: Array<{ device_id: string, device_type: string, device_info?: string }> }> }
    t.same(scan.boards.slice(-2).map((b) => b.board_id), ['40000001', '40000002'])
    t.ok(scan.boards.length > 2 && !scan.boards[0].board_id.startsWith('4'), 'the emulator boards come first')
    for (const { board, sim, cipher } of BOARDS) {
      const listed = scan.boards.find((b) => b.board_id === board)!
      t.same(listed.devices.slice(0, 2), [{ device_id: '0100', device_type: 'power' }, { device_id: '0200', device_type: 'system' }])
      const sdr = await sdrList(r[sim], cipher)
      // ipmitool prints a unit for full records of temperature and fan sensors; the bridge lists every
      // temperature (type 0x01) and fan (type 0x04) sensor, compact records included, by SDR name
      const bridged = listed.devices.slice(2)
      for (const device of bridged) {
        const row = sdr.find((s) => s.number === parseInt(device.device_id, 16))
        t.ok(row !== undefined, `${board} ${device.device_id} is a sensor ipmitool lists`)
        t.equal(device.device_info, row?.name, `${board} ${device.device_id}: the SDR name`)
      }
      const units = sdr.filter((s) => /degrees C|RPM/.test(s.value) || s.value === 'Disabled')
      for (const row of units) {
        t.ok(bridged.some((d) => parseInt(d.device_id, 16) === row.number), `${board}: ipmitool's ${row.name} is on the board`)
      }
      t.same(await get(r.app, `/scan/${board}`).then((res) => res.json()), { boards: [listed] }, `/scan/${board} answers the same record`)
    }
  })

  await t.test('read temperature and fan_speed: the values ipmitool reads', async (t) => {
    for (const { board, sim, cipher } of BOARDS) {
      const sdr = await sdrList(r[sim], cipher)
      const scan = (await get(r.app, `/scan/${board}`)).json() as { boards: Array<{ devices: Array<{ device_id: string, device_type: string }> }> }
      for (const device of scan.boards[0].devices.slice(2)) {
        const row = sdr.find((s) => s.number === parseInt(device.device_id, 16))!
        const res = await get(r.app, `/read/${device.device_type}/${board}/${device.device_id}`)
        const expected = ipmitoolNumber(row.value)
        if (row.value === 'Disabled') {
          t.equal(res.statusCode, 500, `${board} ${row.name}: scanning disabled → 500`)
          t.match(res.json().message, /^Error reading IPMI sensor: .*scanning disabled/)
        } else if (Number.isNaN(expected)) {
          // a compact record: ipmitool prints no value, the bridge reads the raw byte per its format
          t.equal(res.statusCode, 200, `${board} ${row.name} (compact) is read`)
        } else {
          const body = res.json()
          const value = device.device_type === 'temperature' ? body.temperature_c : body.speed_rpm
          t.equal(value, expected, `${board} ${row.name}: ${value} = ipmitool's ${row.value}`)
          if (device.device_type === 'fan_speed') t.same((await get(r.app, `/fan/${board}/${device.device_id}`)).json(), { speed_rpm: expected }, 'fan read')
        }
      }
      const wrongType = await get(r.app, `/read/humidity/${board}/0001`)
      t.equal(wrongType.statusCode, 500)
      const noSensor = await get(r.app, `/read/temperature/${board}/00ee`)
      t.equal(noSensor.statusCode, 500)
      t.match(noSensor.json().message, /no temperature sensor 00ee/)
    }
  })

  await t.test('power: status, on, off and cycle agree with ipmitool both ways', async (t) => {
    for (const { board, sim, cipher } of BOARDS) {
      const status = async (): Promise<string> => /Chassis Power is (on|off)/.exec(await ipmitool(r[sim], ['chassis', 'power', 'status'], { cipher }))![1]
      let res = await get(r.app, `/power/off/${board}/0100`)
      t.same(res.json(), { input_power: 0, input_voltage: 0, output_current: 0, over_current: false, pmbus_raw: '0,0,0,0', power_ok: true, power_status: 'off', under_voltage: false })
      t.equal(await status(), 'off', `${board}: ipmitool sees off`)
      await ipmitool(r[sim], ['chassis', 'power', 'on'], { cipher })
      res = await get(r.app, `/power/${board}/0100/status`)
      t.equal(res.json().power_status, 'on', `${board}: the bridge sees ipmitool's on`)
      res = await get(r.app, `/power/off/${board}/0100`)
      t.equal(res.json().power_status, 'off')
      res = await get(r.app, `/power/on/${board}/0100`)
      t.equal(res.json().power_status, 'on')
      t.equal(await status(), 'on')
      res = await get(r.app, `/power/cycle/${board}/0100`)
      t.equal(res.statusCode, 200)
      // ipmi_sim's cycle: off now, on again a second later
      await new Promise((resolve) => setTimeout(resolve, 1500))
      t.equal((await get(r.app, `/power/status/${board}/0100`)).json().power_status, 'on', 'on again after the cycle')
      t.equal(await status(), 'on')
    }
  })

  await t.test('boot_target: set by the bridge, read by ipmitool, and the other way round', async (t) => {
    for (const { board, sim, cipher } of BOARDS) {
      const selector = async (): Promise<string> => /Boot Device Selector : (.*)/.exec(await ipmitool(r[sim], ['chassis', 'bootparam', 'get', '5'], { cipher }))![1].trim()
      t.same((await get(r.app, `/boot_target/${board}/0200/pxe`)).json(), { target: 'pxe' })
      t.equal(await selector(), 'Force PXE')
      t.same((await get(r.app, `/boot_target/${board}/0200/hdd`)).json(), { target: 'hdd' })
      t.equal(await selector(), 'Force Boot from default Hard-Drive')
      t.same((await get(r.app, `/boot_target/${board}/0200/no_override`)).json(), { target: 'no_override' })
      t.equal(await selector(), 'No override')
      await ipmitool(r[sim], ['chassis', 'bootdev', 'pxe'], { cipher })
      t.same((await get(r.app, `/boot_target/${board}/0200`)).json(), { target: 'pxe' }, 'ipmitool set pxe')
      t.equal((await get(r.app, `/boot_target/${board}/0200/floppy`)).statusCode, 500)
    }
  })

  await t.test('led: chassis identify on and off reach the BMC as ipmitool sends them', async (t) => {
    for (const { board, sim, cipher } of BOARDS) {
      const identify = (): string => readFileSync(join(r[sim].dir, 'power.0x20.identify'), 'utf8').trim()
      t.same((await get(r.app, `/led/${board}/0200/on`)).json(), { led_color: 'unknown', led_state: 'on' })
      const bridgeOn = identify()
      await ipmitool(r[sim], ['chassis', 'identify', 'force'], { cipher })
      t.equal(bridgeOn, identify(), `${board}: on is ipmitool's 'identify force' (${bridgeOn})`)
      t.same((await get(r.app, `/led/${board}/0200/off`)).json(), { led_color: 'unknown', led_state: 'off' })
      t.match(identify(), /^0\b/, 'off: interval 0')
      // ipmi_sim's Get Chassis Status never reports the identify state, and ipmitool shows none either
      t.notMatch(await ipmitool(r[sim], ['chassis', 'status'], { cipher }), /Identify/i)
      t.same((await get(r.app, `/led/${board}/0200`)).json(), { led_color: 'unknown', led_state: 'unknown' })
      t.equal((await get(r.app, `/led/${board}/0200/blink`)).statusCode, 500)
    }
  })

  await t.test('asset: the FRU fields ipmitool prints, plus bmc_ip', async (t) => {
    for (const { board, sim, cipher } of BOARDS) {
      const fru = await fruFields(r[sim], cipher)
      const asset = (await get(r.app, `/asset/${board}/0200`)).json()
      t.equal(asset.bmc_ip, '127.0.0.1')
      t.same(asset.board_info, {
        manufacturer: fru.get('Board Mfg'), part_number: fru.get('Board Part Number'), product_name: fru.get('Board Product'), serial_number: fru.get('Board Serial')
      }, `${board} board_info`)
      t.same(asset.chassis_info, {
        chassis_type: fru.get('Chassis Type')?.toLowerCase(), part_number: fru.get('Chassis Part Number'), serial_number: fru.get('Chassis Serial')
      }, `${board} chassis_info`)
      t.same(asset.product_info, {
        asset_tag: fru.get('Product Asset Tag') ?? '',
        manufacturer: fru.get('Product Manufacturer'),
        part_number: fru.get('Product Part Number'),
        product_name: fru.get('Product Name'),
        serial_number: fru.get('Product Serial'),
        version: fru.get('Product Version')
      }, `${board} product_info`)
    }
  })

  await t.test('version, location and fan set', async (t) => {
    for (const { board } of BOARDS) {
      t.same((await get(r.app, `/version/${board}`)).json(), { api_version: '1.2', firmware_version: 'OpenDCRE IPMI Bridge v2.0', opendcre_version: '1.2.0' })
      t.same((await get(r.app, `/location/${board}`)).json(), { physical_location: { depth: 'unknown', horizontal: 'unknown', vertical: 'unknown' } })
      t.same((await get(r.app, `/location/${board}/0100`)).json().chassis_location, { depth: 'unknown', horiz_pos: 'unknown', server_node: 'unknown', vert_pos: 'unknown' })
      const fan = await get(r.app, `/fan/${board}/0010/3000`)
      t.equal(fan.statusCode, 500)
      t.same(fan.json(), { message: 'Setting of fan speed for this device is not permitted.' })
    }
    t.same((await get(r.app, '/version/40000003')).json(), { message: 'BMC with board_num was not found.' })
  })

  await t.test('health and metrics show both sessions up, one session each', async (t) => {
    const health = (await get(r.app, '/health')).json()
    t.same(health.backends.ipmi.bmcs.map((b: { board_id: string, session: string }) => [b.board_id, b.session]), [['40000001', 'up'], ['40000002', 'up']])
    const metrics = (await r.app.inject({ method: 'GET', url: '/metrics' })).body
    t.match(metrics, new RegExp(`opendcre_ipmi_sessions_established_total\\{board="40000001",bmc="127.0.0.1:${r.a.port}"\\} 1\\b`), 'one session for everything so far')
    t.match(metrics, /opendcre_ipmi_session_up\{board="40000002",[^}]*\} 1/)
  })

  await t.test('a BMC restarted mid-session: the next request logs in again and succeeds', async (t) => {
    await r.a.restart()
    const started = Date.now()
    const res = await get(r.app, '/power/status/40000001/0100')
    t.equal(res.statusCode, 200, `answered in ${Date.now() - started} ms`)
    t.ok(Date.now() - started < 3500, 'within the request bound')
    const metrics = (await r.app.inject({ method: 'GET', url: '/metrics' })).body
    t.match(metrics, /opendcre_ipmi_relogins_total\{board="40000001",[^}]*\} [1-9]/)
  })

  await t.test('no BMC password in any log line, at trace level', async (t) => {
    const all = r.logs.join('')
    t.ok(all.length > 1000, 'there are logs to look at')
    t.notMatch(all, PASSWORD_A)
    t.notMatch(all, PASSWORD_B)
  })
})

t.test('faults: a dead BMC, wrong credentials; other BMCs and the bus never wait', async (t) => {
  const a = await startSim(t, { name: 'bmc-a', emu: fixture('ipmi/bmc-a.emu'), password: PASSWORD_A })
  const dead = await startSim(t, { name: 'dead', emu: fixture('ipmi/bmc-b.emu') })
  await dead.stop()
  const { logger, lines } = capture()
  const app = await build(t, {
    bmcConfig: bmcConfig([
      { port: a.port, password: PASSWORD_A, algorithms: SUITE_3 },
      { port: dead.port, password: PASSWORD_B, algorithms: SUITE_3 },
      { port: a.port, password: 'wrong-Pw-77', algorithms: SUITE_3 }
    ]),
    // no poller (configured BMCs are polled by default): the dead BMC's queue holds only this test's requests
    poll: false,
    loggerInstance: logger
  })
  await get(app, '/power/status/40000001/0100') // log in to the live BMC first

  const started = Date.now()
  const deadAnswer = get(app, '/power/status/40000002/0100').then((res) => ({ res, ms: Date.now() - started }))
  await new Promise((resolve) => setTimeout(resolve, 50))
  const liveStart = Date.now()
  const live = await get(app, '/read/temperature/40000001/0001')
  const liveMs = Date.now() - liveStart
  const bus = await get(app, '/read/thermistor/00000001/0001')
  const busMs = Date.now() - liveStart
  t.equal(live.statusCode, 200)
  t.ok(liveMs < 2500, `the live BMC answered in ${liveMs} ms while the dead one was pending (its bound: 3 s)`)
  t.equal(bus.statusCode, 200)
  t.ok(busMs < 2500, 'the bus too')
  const { res, ms } = await deadAnswer
  t.equal(res.statusCode, 500)
  t.ok(ms <= 5000, `the dead BMC answered 500 in ${ms} ms (bound 3 s; a loaded machine's timers fire late)`)
  t.match(res.json().message, /^Error returned from BMC in controlling power via IPMI \(.*127\.0\.0\.1:\d+/)

  const wrong = await get(app, '/power/status/40000003/0100')
  t.equal(wrong.statusCode, 500)
  t.match(wrong.json().message, /authentication failed/)
  t.notMatch(wrong.body, /wrong-Pw-77/)

  const scanStart = Date.now()
  const scan = await get(app, '/scan')
  const scanMs = Date.now() - scanStart
  t.equal(scan.statusCode, 200, 'scan-all with a dead BMC still answers')
  t.ok(scanMs < 2500, `within the 1 s scan budget, not the 3 s request bound (${scanMs} ms)`)
  const boards = (scan.json() as { boards: Array<{ board_id: string, devices: unknown[] }> }).boards
  t.equal(boards.find((b) => b.board_id === '40000002')?.devices.length, 2, 'the dead BMC keeps its power and system devices')

  const health = (await get(app, '/health')).json()
  t.same(health.backends.ipmi.bmcs.map((b: { session: string }) => b.session), ['up', 'down', 'down'])
  t.notMatch(JSON.stringify(health), /wrong-Pw-77|secret/)
  t.notMatch(lines.join(''), /wrong-Pw-77|Ax7-secret-A|Bq9-secret-B/)
})

t.test('timeout_ms in bmc_config.json bounds the requests to a BMC', async (t) => {
  const dead = await startSim(t, { name: 'dead', emu: fixture('ipmi/bmc-b.emu') })
  await dead.stop()
  // no poller (configured BMCs are polled by default): the request timed is the only one in the BMC's queue
  const app = await build(t, { bmcConfig: bmcConfig([{ port: dead.port, password: PASSWORD_B, algorithms: SUITE_3, timeoutMs: 800 }]), poll: false })
  const started = Date.now()
  const res = await get(app, '/power/status/40000001/0100')
  const ms = Date.now() - started
  t.equal(res.statusCode, 500)
  t.ok(ms >= 700 && ms < 2500, `answered in ${ms} ms with an 800 ms bound (the default is 3 s)`)
})

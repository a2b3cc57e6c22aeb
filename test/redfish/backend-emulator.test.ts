import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import t from 'tap'
import { pino } from 'pino'
import { loadRedfishEmulatorConfig } from '../../emulators/redfish/emulator-config.js'
import { startRedfishEmulators, type RedfishEmulatorServer } from '../../emulators/redfish/emulator-server.js'
import { DEFAULT_REDFISH_EMULATOR_CONFIG } from '../../config/paths.js'
import { build, get } from '../helper.js'

/**
 * Every OpenDCRE command on Redfish boards, through the HTTP API, against our
 * Redfish BMC emulator (real HTTP on loopback): sessions, ETags, faults.
 */

const dir = mkdtempSync(join(tmpdir(), 'redfish-backend-'))
const SECRET = 'ADMIN'

async function emulators (t: { teardown: (fn: () => unknown) => void }, count = 1, patch: Record<string, unknown> = {}): Promise<RedfishEmulatorServer[]> {
  const config = { ...loadRedfishEmulatorConfig(DEFAULT_REDFISH_EMULATOR_CONFIG), ...patch }
  const servers = await startRedfishEmulators(config, { count })
  t.teardown(async () => { await Promise.all(servers.map(async (s) => await s.close())) })
  return servers
}

function redfishConfig (servers: Array<Record<string, unknown>>): string {
  const file = join(dir, `redfish-${Math.random().toString(36).slice(2)}.json`)
  // each read asks the service (no reading kept for a poll cycle): these tests count calls one by one
  writeFileSync(file, JSON.stringify({ servers, limits: { reading_max_age_ms: 0 } }))
  return file
}

const withCredentials = (s: RedfishEmulatorServer, extra: Record<string, unknown> = {}): Record<string, unknown> =>
  ({ url: s.url, username: 'ADMIN', password: SECRET, timeout_ms: 1000, ...extra })

t.test('a Redfish server is board 70000001: scan, version, reads, power, led, boot target, asset, location, fan, events', async (t) => {
  const [emu] = await emulators(t)
  const app = await build(t, { redfishConfig: redfishConfig([withCredentials(emu)]) })

  const scan = (await get(app, '/scan')).json() as { boards: Array<{ board_id: string, devices: Array<{ device_id: string, device_type: string, device_info?: string }> }> }
  const board = scan.boards.find((b) => b.board_id === '70000001')
  t.ok(board, 'scan-all lists the Redfish board after the bus boards')
  t.equal(scan.boards.at(-1)?.board_id, '70000001')
  t.same(board?.devices.slice(0, 3), [
    { device_id: '0100', device_type: 'power' },
    { device_id: '0200', device_type: 'system' },
    { device_id: '0300', device_type: 'led' }
  ])
  t.same(board?.devices.slice(3).map((d) => [d.device_id, d.device_type, d.device_info]), [
    ['1001', 'temperature', 'CPU1 Temp'],
    ['1002', 'temperature', 'Inlet Temp'],
    ['2001', 'fan_speed', 'System Fan 1'],
    ['2002', 'fan_speed', 'System Fan 2'],
    ['3001', 'voltage', 'P3V3'],
    ['3002', 'voltage', 'P12V'],
    ['4001', 'current', 'PSU1 Input Current'],
    ['5001', 'power', 'Total Power']
  ], 'one device per sensor, by kind, then by the sensor\'s URI (natural order), with the Redfish Name')
  const getsBefore = emu.service.requests.GET
  const one = await get(app, '/scan/70000001')
  t.equal(one.statusCode, 200)
  t.equal(emu.service.requests.GET - getsBefore, 5, 'a fresh discovery: root, systems, system, chassis and the Sensors collection with $expand')
  t.same(one.json().boards[0].devices, board?.devices, 'scanning the one board gives the same ids')

  t.same((await get(app, '/version/70000001')).json().firmware_version, '2.14.0-opendcre-emulator')

  const temp = (await get(app, '/read/temperature/70000001/1001')).json()
  t.ok(temp.temperature_c > 40 && temp.temperature_c < 55, `CPU temperature ${String(temp.temperature_c)}`)
  const fan = (await get(app, '/read/fan_speed/70000001/2001')).json()
  t.ok(Number.isInteger(fan.speed_rpm) && fan.speed_rpm > 5000, `fan ${String(fan.speed_rpm)} rpm`)
  t.ok(Math.abs((await get(app, '/read/voltage/70000001/3002')).json().voltage_v - 12.05) < 0.1)
  t.ok((await get(app, '/read/current/70000001/4001')).json().current_a > 1)
  t.ok((await get(app, '/read/power/70000001/5001')).json().power_w > 150)
  const wrongType = await get(app, '/read/temperature/70000001/2001')
  t.equal(wrongType.statusCode, 500)
  t.match(wrongType.json().message, /no temperature sensor 2001/)
  t.equal((await get(app, '/read/pressure/70000001/1001')).statusCode, 500)
  t.equal((await get(app, '/fan/70000001/2002')).statusCode, 200)
  const setFan = await get(app, '/fan/70000001/2002/3000')
  t.equal(setFan.statusCode, 500, 'Redfish has no standard fan control')
  t.match(setFan.json().message, /not permitted/)

  t.same((await get(app, '/power/70000001/0100/status')).json().power_status, 'on')
  const off = (await get(app, '/power/70000001/0100/off')).json()
  t.equal(off.power_status, 'off')
  t.equal(off.input_power, 0, 'the power reading follows the power state')
  t.equal(emu.service.powerState, 'Off', 'the emulator was reset (ForceOff)')
  t.equal((await get(app, '/read/power/70000001/5001')).json().power_w, 0)
  t.equal((await get(app, '/power/70000001/0100/on')).json().power_status, 'on')
  t.equal((await get(app, '/power/70000001/0100/cycle')).json().power_status, 'on')

  t.same((await get(app, '/led/70000001/0300')).json(), { led_color: 'unknown', led_state: 'off' })
  t.same((await get(app, '/led/70000001/0300/on')).json(), { led_color: 'unknown', led_state: 'on' })
  t.same((await get(app, '/read/led/70000001/0300')).json(), { led_state: 'on' })
  t.same((await get(app, '/led/70000001/0300/off')).json().led_state, 'off')

  t.same((await get(app, '/boot_target/70000001/0200')).json(), { target: 'no_override' })
  t.same((await get(app, '/boot_target/70000001/0200/pxe')).json(), { target: 'pxe' })
  t.same((await get(app, '/boot_target/70000001/0200')).json(), { target: 'pxe' }, 'the PATCH persisted')
  t.same((await get(app, '/boot_target/70000001/0200/hdd')).json(), { target: 'hdd' })
  t.same((await get(app, '/boot_target/70000001/0200/no_override')).json(), { target: 'no_override' })

  const asset = (await get(app, '/asset/70000001/0200')).json()
  t.same(asset.board_info, { manufacturer: 'Vapor IO', part_number: 'RF1-PN-01', product_name: 'Emulated Server RF-1', serial_number: 'RF1-000001' })
  t.same(asset.chassis_info, { chassis_type: 'RackMount', part_number: 'RF1-CH-PN-01', serial_number: 'RF1-CH-000001' })
  t.equal(asset.product_info.asset_tag, 'rack-a-u12')
  t.equal(asset.service_url, emu.url)
  t.equal(asset.bmc_ip, '127.0.0.1')

  t.same((await get(app, '/location/70000001')).json(), { physical_location: { depth: 'A1-U12', horizontal: 'row A, rack A1', vertical: 'U12' } })
  t.same((await get(app, '/location/70000001/0200')).json().physical_location.vertical, 'U12')

  const bus = app.buses.forBoard(0x70000001)
  const events = await bus.events?.(0x70000001)
  t.ok(events !== undefined && events.length >= 5, 'the event log has the configured entries and the resets')
  t.match(events?.[0], { record_id: '1', sensor: 'Inlet Temp', sensor_type: 'Temperature', direction: 'asserted', severity: 'warning' })
  t.match(events?.[1], { direction: 'deasserted', severity: 'ok' })
  t.match(events?.at(-1)?.event, /System reset: PowerCycle/)

  t.equal((await get(app, '/scan/70000002')).json().message, 'Redfish server with board_num was not found.')
  t.equal(emu.sessionCount, 1, 'one session, reused for every call')
  await app.close()
  t.equal(emu.sessionCount, 0, 'the session is deleted on shutdown')
})

t.test('without redfish_config, a Redfish board is not found', async (t) => {
  const app = await build(t)
  const res = await get(app, '/version/70000001')
  t.equal(res.statusCode, 500)
  t.equal(res.json().message, 'Redfish server with board_num was not found.')
})

t.test('an expired session is renewed on 401; Basic when there is no SessionService; ETags on PATCH', async (t) => {
  const [sessions] = await emulators(t)
  const [basic] = await emulators(t, 1, { session_service: false })
  const app = await build(t, { redfishConfig: redfishConfig([withCredentials(sessions), withCredentials(basic)]) })
  t.equal((await get(app, '/power/70000001/0100')).statusCode, 200)
  t.equal(sessions.sessionsCreated, 1)
  sessions.expireSessions()
  t.equal((await get(app, '/power/70000001/0100')).json().power_status, 'on', 'answers after the session expired')
  t.equal(sessions.sessionsCreated, 2, 'by logging in once more')
  sessions.expireSessions()
  const together = await Promise.all([1001, 1002, 2001, 2002, 3001].map(async (d) => await get(app, `/read/${d < 2000 ? 'temperature' : d < 3000 ? 'fan_speed' : 'voltage'}/70000001/${d}`)))
  t.same(together.map((r) => r.statusCode), [200, 200, 200, 200, 200])
  t.equal(sessions.sessionsCreated, 3, 'five calls meeting the same expired session log in once')
  t.equal(sessions.sessionCount, 1)
  t.equal((await get(app, '/led/70000002/0300/on')).json().led_state, 'on', 'Basic authentication')
  t.equal(basic.sessionsCreated, 0)
  const health = (await get(app, '/health')).json()
  t.same(health.backends.redfish.servers.map((s: { auth: string }) => s.auth), ['session', 'basic'])

  // a PATCH whose ETag went stale (changed meanwhile) is retried once with the fresh one
  let patches = 0
  const original = sessions.service.patch.bind(sessions.service)
  sessions.service.patch = (path, body) => { patches++; return original(path, body) }
  t.equal((await get(app, '/boot_target/70000001/0200/pxe')).json().target, 'pxe')
  t.equal(patches, 1)
})

t.test('wrong credentials: 500 with the reason, never the password, and health says so', async (t) => {
  const [emu] = await emulators(t)
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _enc, done) { lines.push(String(chunk)); done() } })
  const app = await build(t, { loggerInstance: pino({ level: 'debug' }, stream), redfishConfig: redfishConfig([withCredentials(emu, { password: 'wrong-Secret-99' })]) })
  const res = await get(app, '/version/70000001')
  t.equal(res.statusCode, 500)
  t.match(res.json().message, /login to http:\/\/127\.0\.0\.1:\d+ refused: HTTP 401/)
  const health = await get(app, '/health')
  t.equal(health.json().backends.redfish.servers[0].session, 'down')
  t.notOk(lines.join('').includes('wrong-Secret-99'), 'the password is in no log line')
  t.notOk(health.body.includes('wrong-Secret-99'))
})

t.test('faults: 5xx, dropped connections, latency past timeout_ms, a server that goes away and returns', async (t) => {
  const [emu, slow] = await emulators(t, 2)
  // no poller: each injected fault is met by the request that follows it, not by a poll cycle
  const app = await build(t, { redfishConfig: redfishConfig([withCredentials(emu), withCredentials(slow, { timeout_ms: 300 })]), poll: false })
  t.equal((await get(app, '/version/70000001')).statusCode, 200)

  emu.faults.failCount = 1
  const failed = await get(app, '/version/70000001')
  t.equal(failed.statusCode, 500)
  t.match(failed.json().message, /HTTP 503/)
  t.equal((await get(app, '/version/70000001')).statusCode, 200, 'the next call succeeds')

  emu.faults.dropCount = 1
  t.equal((await get(app, '/version/70000001')).statusCode, 200, 'a GET whose connection dropped is sent once more')
  emu.faults.dropCount = 1
  emu.faults.dropMethod = 'POST'
  const power = await get(app, '/power/70000001/0100/off')
  t.equal(power.statusCode, 500, 'a Reset whose connection dropped is never re-sent blindly')
  t.equal(emu.service.requests.POST, 1 + 1, 'one login, one Reset')
  emu.faults.dropMethod = undefined

  // scan-all first, so the slow server's discovery is remembered
  const warm = (await get(app, '/scan')).json().boards.filter((b: { board_id: string }) => b.board_id.startsWith('7'))
  t.equal(warm[1].devices.length, 11)
  slow.faults.latencyMs = 2500
  const started = Date.now()
  const timedOut = await get(app, '/read/temperature/70000002/1001')
  t.equal(timedOut.statusCode, 500)
  t.match(timedOut.json().message, /no answer from http:\/\/127\.0\.0\.1:\d+ within 300 ms/)
  t.ok(Date.now() - started < 1500, 'bounded by timeout_ms')
  const meanwhile = Date.now()
  t.equal((await get(app, '/read/temperature/70000001/1001')).statusCode, 200)
  t.ok(Date.now() - meanwhile < 1000, 'the other server is not delayed (the slow one holds each call 2.5 s)')
  const metrics = (await app.inject({ method: 'GET', url: '/metrics' })).body
  t.match(metrics, /opendcre_redfish_timeouts_total\{board="70000002",server="http:\/\/127\.0\.0\.1:\d+"\} [1-9]/)
  t.match(metrics, /opendcre_redfish_up\{board="70000002",server="http:\/\/127\.0\.0\.1:\d+"\} 0/)
  slow.faults.latencyMs = 0

  await emu.goAway()
  const gone = await get(app, '/version/70000001')
  t.equal(gone.statusCode, 500)
  t.match(gone.json().message, /cannot reach http:\/\/127\.0\.0\.1:\d+/)
  t.equal((await get(app, '/health')).json().backends.redfish.servers[0].session, 'down')
  await emu.comeBack()
  t.equal((await get(app, '/version/70000001')).statusCode, 200, 'answers again once the server is back (a new session)')
  t.equal((await get(app, '/health')).json().backends.redfish.servers[0].session, 'up')
})

t.test('scan-all: a slow or dead server is listed as it last answered and holds the scan up for at most the budget', async (t) => {
  const servers = await emulators(t, 3)
  const app = await build(t, { redfish: { scanBudgetMs: 1500, inventoryMaxAgeMs: 0 }, redfishConfig: redfishConfig(servers.map((s) => withCredentials(s, { timeout_ms: 8000 }))) })
  const coldStart = Date.now()
  const first = (await get(app, '/scan')).json().boards.filter((b: { board_id: string }) => b.board_id.startsWith('7'))
  t.comment(`cold scan of 3 servers: ${Date.now() - coldStart} ms`)
  t.same(first.map((b: { board_id: string }) => b.board_id), ['70000001', '70000002', '70000003'])
  t.same(first.map((b: { devices: unknown[] }) => b.devices.length), [11, 11, 11], 'a cold scan within the budget lists every sensor')
  servers[1].faults.latencyMs = 6000
  await servers[2].goAway()
  const started = Date.now()
  const second = (await get(app, '/scan')).json().boards.filter((b: { board_id: string }) => b.board_id.startsWith('7'))
  const took = Date.now() - started
  t.ok(took < 4000, `scan took ${took} ms with a slow and a dead server (budget 1.5 s, the slow one answers in 6 s)`)
  t.same(second, first, 'each listed as it last answered')
  servers[1].faults.latencyMs = 0
})

t.test('an invalid redfish_config.json leaves Redfish unavailable with one log line naming file, field and reason', async (t) => {
  const lines: string[] = []
  const stream = new Writable({ write (chunk, _enc, done) { lines.push(String(chunk)); done() } })
  const file = redfishConfig([{ url: 'http://127.0.0.1:1', username: 'ADMIN', password: 'hunter2-Secret', timeout_ms: 5 }])
  const app = await build(t, { loggerInstance: pino(stream), redfishConfig: file })
  const errors = lines.map((l) => JSON.parse(l)).filter((l) => l.level >= 50)
  t.equal(errors.length, 1)
  t.match(errors[0].msg, `Redfish unavailable: ${file}: servers[0].timeout_ms: must be an integer from 100 to 60000`)
  t.notOk(lines.join('').includes('hunter2-Secret'))
  const health = await get(app, '/health')
  t.equal(health.statusCode, 503)
  t.match(health.json().backends.redfish, { servers: [], reason: /timeout_ms/ })
  t.equal((await get(app, '/scan')).statusCode, 200, 'everything else keeps working')
  t.equal((await get(app, '/version/70000001')).json().message, 'Redfish server with board_num was not found.')

  const broken = join(dir, 'broken.json')
  writeFileSync(broken, '{"servers": [{"url": "http://x", "password": "leaky-Secret" ')
  lines.length = 0
  await build(t, { loggerInstance: pino(stream), redfishConfig: broken })
  t.match(lines.join(''), /invalid JSON at line 1/)
  t.notOk(lines.join('').includes('leaky-Secret'))
})

t.test('few requests: one poll cycle of the emulator\'s board costs one Sensors GET ($expand) and one Systems GET ($expand)', async (t) => {
  const [emu] = await emulators(t)
  const file = join(dir, `redfish-cycle-${Math.random().toString(36).slice(2)}.json`)
  writeFileSync(file, JSON.stringify({ servers: [withCredentials(emu)], limits: { reading_max_age_ms: 60_000 } }))
  // no poller (configured services are polled by default): the count is this cycle's alone
  const app = await build(t, { redfishConfig: file, poll: false })
  const board = (await get(app, '/scan/70000001')).json().boards[0] as { devices: Array<{ device_id: string, device_type: string }> }
  const before = { ...emu.service.requests }
  for (const d of board.devices) {
    if (d.device_id === '0100') t.equal((await get(app, '/power/70000001/0100')).statusCode, 200)
    else if (d.device_id === '0300') t.equal((await get(app, '/led/70000001/0300')).statusCode, 200)
    else if (d.device_id !== '0200') t.equal((await get(app, `/read/${d.device_type}/70000001/${d.device_id}`)).statusCode, 200)
  }
  const gets = emu.service.requests.GET - before.GET
  t.comment(`emulator: ${gets} requests per board per poll cycle for ${board.devices.length} devices`)
  t.ok(gets <= 3, `${gets} GETs for the cycle (at most 3)`)
})

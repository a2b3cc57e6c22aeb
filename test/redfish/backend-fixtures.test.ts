import { createHash } from 'node:crypto'
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { createServer, type IncomingMessage, type Server } from 'node:http'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { build, fixture, get } from '../helper.js'

/**
 * The Redfish backend against static copies of services' answers (written
 * for these tests in the shapes of DMTF's mockups and bmcweb; see each
 * file's "about"), served by a tiny HTTP server that records what it is sent.
 * PATCHes merge into the resource (so a read-back shows them); actions are
 * recorded, not acted on.
 */

interface Fixture { auth: 'session' | 'basic' | 'none', resources: Record<string, any> }
interface Seen { method: string, path: string, headers: IncomingMessage['headers'], body?: any }

const USER = 'operator'
const PASSWORD = 'fixture-Pa55'
const dir = mkdtempSync(join(tmpdir(), 'redfish-fixtures-'))

function merge (target: Record<string, any>, patch: Record<string, any>): void {
  for (const [k, v] of Object.entries(patch)) {
    if (typeof v === 'object' && v !== null && !Array.isArray(v) && typeof target[k] === 'object') merge(target[k], v)
    else target[k] = v
  }
}

const MIB_OF_X = 'x'.repeat(1024 * 1024)
const etagOf = (body: unknown): string => `"${createHash('sha1').update(JSON.stringify(body)).digest('hex').slice(0, 12)}"`

async function serve (t: { teardown: (fn: () => unknown) => void }, name: string): Promise<{ url: string, seen: Seen[], resources: Record<string, any>, control: { changeBeforeNextPatch: boolean, hugeAnswers: boolean, hugeDeclared: boolean } }> {
  const { auth, resources } = JSON.parse(readFileSync(fixture(`redfish/${name}`), 'utf8')) as Fixture
  const seen: Seen[] = []
  const control = { changeBeforeNextPatch: false, hugeAnswers: false, hugeDeclared: false }
  const tokens = new Set<string>()
  const server: Server = createServer((req, res) => {
    let text = ''
    req.on('data', (d) => { text += String(d) })
    req.on('end', () => {
      const path = new URL(req.url ?? '/', 'http://x').pathname.replace(/\/$/, '')
      const body = text === '' ? undefined : JSON.parse(text)
      seen.push({ method: req.method ?? '', path, headers: req.headers, body })
      const send = (status: number, answer?: unknown, headers: Record<string, string> = {}): void => {
        res.writeHead(status, { ...(answer !== undefined ? { 'content-type': 'application/json' } : {}), ...headers })
        res.end(answer !== undefined ? JSON.stringify(answer) : undefined)
      }
      const sessions = '/redfish/v1/SessionService/Sessions'
      if (auth === 'session' && req.method === 'POST' && path === sessions) {
        if (body?.UserName !== USER || body?.Password !== PASSWORD) return send(401, { error: { code: 'Base.1.8.NoValidSession', message: 'Invalid credentials' } })
        const token = `tok-${tokens.size + 1}`
        tokens.add(token)
        return send(201, { Id: String(tokens.size) }, { 'x-auth-token': token, location: `${sessions}/${tokens.size}` })
      }
      const basic = `Basic ${Buffer.from(`${USER}:${PASSWORD}`).toString('base64')}`
      const authorised = auth === 'none' || path === '/redfish/v1' ||
        (auth === 'session' && tokens.has(String(req.headers['x-auth-token']))) || (auth === 'basic' && req.headers.authorization === basic)
      if (!authorised) return send(401, { error: { code: 'Base.1.8.NoValidSession', message: 'No valid session' } })
      if (req.method === 'DELETE' && path.startsWith(`${sessions}/`)) return send(204)
      const resource = resources[path]
      if (req.method === 'GET' && control.hugeDeclared) {
        // declares 17 MiB and sends the first bytes only: the client must not wait for the rest
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': String(17 * 1024 * 1024) })
        return res.write('{"Padding": "')
      }
      if (req.method === 'GET' && control.hugeAnswers) {
        // chunked, with no Content-Length: the client must count what it reads
        res.writeHead(200, { 'content-type': 'application/json', 'transfer-encoding': 'chunked' })
        res.write('{"Padding": "')
        for (let i = 0; i < 17; i++) res.write(MIB_OF_X)
        return res.end('"}')
      }
      if (req.method === 'GET') return resource === undefined ? send(404, { error: { code: 'Base.1.8.ResourceMissingAtURI', message: `${path} not found` } }) : send(200, resource, { etag: etagOf(resource) })
      if (req.method === 'PATCH' && resource !== undefined) {
        if (control.changeBeforeNextPatch) {
          control.changeBeforeNextPatch = false
          resource.AssetTag = 'changed by someone else'
        }
        const ifMatch = req.headers['if-match']
        if (ifMatch !== undefined && ifMatch !== etagOf(resource)) return send(412, { error: { code: 'Base.1.8.PreconditionFailed', message: 'ETag mismatch' } })
        merge(resource, body)
        return send(204)
      }
      if (req.method === 'POST' && path.includes('/Actions/')) return send(204)
      send(405, { error: { code: 'Base.1.8.OperationNotAllowed', message: 'not allowed' } })
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  t.teardown(() => new Promise((resolve) => { server.closeAllConnections(); server.close(resolve) }))
  const address = server.address() as { port: number }
  return { url: `http://127.0.0.1:${address.port}`, seen, resources, control }
}

function config (servers: Array<Record<string, unknown>>): string {
  const file = join(dir, `redfish-${Math.random().toString(36).slice(2)}.json`)
  writeFileSync(file, JSON.stringify({ servers: servers.map((s) => ({ timeout_ms: 2000, ...s })) }))
  return file
}

type Board = { board_id: string, devices: Array<{ device_id: string, device_type: string, device_info?: string }> }

t.test('a Sensors-style service (bmcweb shape, sessions, ActionInfo, LocationIndicatorActive)', async (t) => {
  const svc = await serve(t, 'sensors-style.json')
  const app = await build(t, { redfishConfig: config([{ url: svc.url, username: USER, password: PASSWORD }]) })
  const board = (await get(app, '/scan/70000001')).json().boards[0] as Board
  t.same(board.devices.map((d) => [d.device_id, d.device_type, d.device_info ?? '']), [
    ['0100', 'power', ''], ['0200', 'system', ''], ['0300', 'led', ''],
    ['1001', 'temperature', 'CPU0 Temp'], ['1002', 'temperature', 'Inlet Temp'],
    ['2001', 'fan_speed', 'Fan0_0 Tach'],
    ['3001', 'voltage', 'P12V_STBY'],
    ['4001', 'current', 'PSU0 Input Current'],
    ['5001', 'power', 'PSU0 Input Power'],
    ['6001', 'humidity', 'Inlet Humidity']
  ], 'sensors from the Sensors collection, humidity (ReadingType Humidity) among them')
  t.same((await get(app, '/read/humidity/70000001/6001')).json(), { humidity: 38 })
  t.same((await get(app, '/read/temperature/70000001/1001')).json(), { temperature_c: 61.125 })
  t.same((await get(app, '/read/fan_speed/70000001/2001')).json(), { speed_rpm: 7744 })
  t.same((await get(app, '/read/voltage/70000001/3001')).json(), { voltage_v: 12.136 })
  t.same((await get(app, '/read/current/70000001/4001')).json(), { current_a: 0.875 })
  t.same((await get(app, '/read/power/70000001/5001')).json(), { power_w: 104 })
  t.equal((await get(app, '/version/70000001')).json().firmware_version, '2.14.0-dev-1421-g5d0b9a3e2')

  t.equal((await get(app, '/power/70000001/0100/on')).statusCode, 200)
  const resets = svc.seen.filter((s) => s.method === 'POST' && s.path.endsWith('ComputerSystem.Reset'))
  t.same(resets.map((r) => r.body), [{ ResetType: 'On' }])
  t.ok(svc.seen.some((s) => s.path === '/redfish/v1/Systems/system/ResetActionInfo'), 'the allowable values came from the ActionInfo')
  await get(app, '/power/70000001/0100/cycle')
  await get(app, '/power/70000001/0100/off')
  t.same(svc.seen.filter((s) => s.method === 'POST' && s.path.endsWith('ComputerSystem.Reset')).map((r) => r.body.ResetType), ['On', 'PowerCycle', 'ForceOff'])

  t.same((await get(app, '/led/70000001/0300/on')).json(), { led_color: 'unknown', led_state: 'on' })
  const ledPatch = svc.seen.find((s) => s.method === 'PATCH')
  t.same(ledPatch?.body, { LocationIndicatorActive: true }, 'LocationIndicatorActive is preferred to IndicatorLED')
  t.match(ledPatch?.headers['if-match'], /^"[0-9a-f]{12}"$/, 'the PATCH carries the ETag of the GET')
  t.equal(ledPatch?.headers['x-auth-token'], 'tok-1', 'the one session is reused')

  t.same((await get(app, '/boot_target/70000001/0200/pxe')).json(), { target: 'pxe' })
  t.same(svc.resources['/redfish/v1/Systems/system'].Boot.BootSourceOverrideEnabled, 'Once')

  const asset = (await get(app, '/asset/70000001/0200')).json()
  t.same(asset.board_info, { manufacturer: 'Wiwynn', part_number: 'B81.10810.0008', product_name: 'Yosemite-T', serial_number: 'WY2203000917' })
  t.same(asset.chassis_info, { chassis_type: 'Sled', part_number: 'B81.10810.0011', serial_number: 'WY2203001142' })
  t.equal(asset.product_info.asset_tag, 'row5-web43-u20')
  t.equal(asset.service_url, svc.url)
  t.same((await get(app, '/location/70000001')).json(), { physical_location: { depth: 'Slot 3', horizontal: 'row 5, rack WEB43', vertical: 'U20' } })

  const events = await app.buses.forBoard(0x70000001).events?.(0x70000001)
  t.same(events?.map((e) => [e.record_id, e.time, e.sensor_type, e.direction, e.severity]), [
    ['1697040001', '2026-10-11T16:00:01+00:00', 'Temperature', 'asserted', 'critical'],
    ['1697040120', '2026-10-11T16:02:00+00:00', 'Temperature', 'deasserted', 'ok']
  ])
  t.match(events?.[0].event, /crossed the upper critical threshold/)
  t.equal(svc.seen.filter((s) => s.method === 'POST' && s.path.endsWith('/Sessions')).length, 1, 'one login for all of it')
})

t.test('a legacy Thermal/Power service without authentication (mockup shape, IndicatorLED, inline AllowableValues)', async (t) => {
  const svc = await serve(t, 'legacy-style.json')
  const app = await build(t, { redfishConfig: config([{ url: svc.url }]) })
  const board = (await get(app, '/scan/70000001')).json().boards[0] as Board
  t.same(board.devices.slice(3).map((d) => [d.device_id, d.device_type, d.device_info]), [
    ['1001', 'temperature', 'CPU1 Temp'], ['1002', 'temperature', 'CPU2 Temp'], ['1003', 'temperature', 'Chassis Intake Temp'],
    ['2001', 'fan_speed', 'BaseBoard System Fan'], ['2002', 'fan_speed', 'BaseBoard System Fan Backup'], ['2801', 'fan_speed', 'PSU Fan'],
    ['3001', 'voltage', 'VRM1 Voltage'], ['3002', 'voltage', 'VRM2 Voltage'],
    ['5001', 'power', 'System Input Power'], ['5002', 'power', 'Power Supply Bay']
  ], 'Temperatures, Fans in RPM and the one in percent (numbered apart), Voltages, PowerControl and PowerSupplies')
  t.same((await get(app, '/read/fan_speed/70000001/2801')).json(), { speed_percent: 45 })
  t.match((await get(app, '/fan/70000001/2801')).json().message, /reports percent, not rpm/)
  t.same((await get(app, '/read/temperature/70000001/1003')).json(), { temperature_c: 25 })
  t.same((await get(app, '/read/fan_speed/70000001/2002')).json(), { speed_rpm: 2050 })
  t.same((await get(app, '/fan/70000001/2001')).json(), { speed_rpm: 2100 })
  t.same((await get(app, '/read/voltage/70000001/3002')).json(), { voltage_v: 5 })
  t.same((await get(app, '/read/power/70000001/5001')).json(), { power_w: 344 })
  t.same((await get(app, '/read/power/70000001/5002')).json(), { power_w: 325 })
  t.equal((await get(app, '/version/70000001')).json().firmware_version, '1.00')
  t.same((await get(app, '/boot_target/70000001/0200')).json(), { target: 'pxe' })
  t.same((await get(app, '/led/70000001/0300')).json(), { led_color: 'unknown', led_state: 'off' }, 'the system\'s IndicatorLED')
  t.same((await get(app, '/led/70000001/0300/on')).json().led_state, 'on')
  t.same(svc.seen.find((s) => s.method === 'PATCH')?.body, { IndicatorLED: 'Lit' })
  const power = (await get(app, '/power/70000001/0100/cycle')).json()
  t.equal(power.power_status, 'on')
  t.equal(power.input_power, 344, 'the consumed power from PowerControl')
  t.same(svc.seen.filter((s) => s.path.endsWith('ComputerSystem.Reset')).map((s) => s.body.ResetType), ['ForceRestart'], 'no PowerCycle allowed: ForceRestart')
  t.same((await get(app, '/location/70000001/0200')).json().physical_location, { depth: 'Front bay', horizontal: 'row North, rack WEB43', vertical: 'unknown' })
  t.notOk(svc.seen.some((s) => s.headers.authorization !== undefined || s.headers['x-auth-token'] !== undefined), 'no credentials sent')
  t.same(await app.buses.forBoard(0x70000001).events?.(0x70000001), [], 'no LogServices: no events')
  t.equal((await get(app, '/health')).json().backends.redfish.servers[0].auth, 'none')
})

t.test('a service whose Reset allows only On and GracefulShutdown (Basic, expanded Sensors, LED on the chassis)', async (t) => {
  const svc = await serve(t, 'partial-reset.json')
  const app = await build(t, { redfishConfig: config([{ url: svc.url, username: USER, password: PASSWORD }]) })
  t.same((await get(app, '/scan/70000001')).json().boards[0].devices.slice(3), [
    { device_id: '1001', device_type: 'temperature', device_info: 'CPU Temp' },
    { device_id: '2001', device_type: 'fan_speed', device_info: 'FAN1' }
  ])
  t.notOk(svc.seen.some((s) => s.path === '/redfish/v1/Chassis/1/Sensors/CPUTemp'), 'expanded members need no GET each')
  t.same((await get(app, '/read/temperature/70000001/1001')).json(), { temperature_c: 44 })

  t.equal((await get(app, '/power/70000001/0100/off')).statusCode, 200)
  const cycle = await get(app, '/power/70000001/0100/cycle')
  t.equal(cycle.statusCode, 500)
  t.equal(cycle.json().message, 'Error controlling power via Redfish: the service allows no ResetType for power cycle (it allows: On, GracefulShutdown)')
  t.equal((await get(app, '/power/70000001/0100/on')).statusCode, 200)
  t.same(svc.seen.filter((s) => s.path.endsWith('ComputerSystem.Reset')).map((s) => s.body.ResetType), ['GracefulShutdown', 'On'])

  t.same((await get(app, '/led/70000001/0300/on')).json().led_state, 'on')
  t.same(svc.seen.filter((s) => s.method === 'PATCH').map((s) => [s.path, s.body]), [['/redfish/v1/Chassis/1', { IndicatorLED: 'Lit' }]], 'the chassis\' LED')
  t.ok(svc.seen.filter((s) => s.path !== '/redfish/v1').every((s) => s.headers.authorization?.startsWith('Basic ')), 'Basic on every call: there is no SessionService')

  const boot = await get(app, '/boot_target/70000001/0200/hdd')
  t.same(boot.json(), { target: 'hdd' })
  // a PATCH whose ETag is stale (the resource changed between GET and PATCH): one fresh GET, one more try
  svc.control.changeBeforeNextPatch = true
  t.same((await get(app, '/boot_target/70000001/0200/pxe')).json(), { target: 'pxe' })
  const bootPatches = svc.seen.filter((s) => s.method === 'PATCH' && s.path === '/redfish/v1/Systems/Self')
  t.equal(bootPatches.length, 3, 'hdd, then pxe twice (412, then with the fresh ETag)')
  t.not(bootPatches[1].headers['if-match'], bootPatches[2].headers['if-match'])
  t.equal(svc.resources['/redfish/v1/Systems/Self'].Boot.BootSourceOverrideTarget, 'Pxe')
  t.equal((await get(app, '/fan/70000001/2001/2000')).statusCode, 500, 'no fan control')

  svc.control.hugeAnswers = true
  const huge = await get(app, '/version/70000001')
  t.equal(huge.statusCode, 500)
  t.match(huge.json().message, /the answer from http:\/\/127\.0\.0\.1:\d+ is larger than 16 MiB/)
  svc.control.hugeAnswers = false
  svc.control.hugeDeclared = true
  const declared = await get(app, '/version/70000001')
  t.equal(declared.statusCode, 500)
  t.match(declared.json().message, /the answer from http:\/\/127\.0\.0\.1:\d+ is larger than 16 MiB/, 'a Content-Length over the cap is refused before the body is read')
  svc.control.hugeDeclared = false
  t.equal((await get(app, '/version/70000001')).json().firmware_version, '01.01.08', 'the next answer is read as usual')
})

t.test('wrong credentials on a Sensors-style service: 500, health down, the password nowhere', async (t) => {
  const svc = await serve(t, 'sensors-style.json')
  const app = await build(t, { redfishConfig: config([{ url: svc.url, username: USER, password: 'not-the-Pa55' }]) })
  const res = await get(app, '/scan/70000001')
  t.equal(res.statusCode, 500)
  t.match(res.json().message, /login to http:\/\/127\.0\.0\.1:\d+ refused: HTTP 401 \(Invalid credentials\)/)
  const health = await get(app, '/health')
  t.equal(health.json().backends.redfish.servers[0].session, 'down')
  t.notOk(health.body.includes('not-the-Pa55'))
  // scan-all still lists the board, with its fixed devices
  const all = (await get(app, '/scan')).json().boards as Board[]
  t.same(all.find((b) => b.board_id === '70000001')?.devices.map((d) => d.device_id), ['0100', '0200', '0300'])
})

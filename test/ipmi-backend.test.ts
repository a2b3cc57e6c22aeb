import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import t from 'tap'
import { pino } from 'pino'
import type { BmcSessionStatus, BridgeConnection } from '../plugins/ipmi-bus.js'
import type { BmcTarget } from '../drivers/ipmi/types.js'
import type { BmcConfigEntry } from '../drivers/ipmi/bmc-config.js'
import { build, get } from './helper.js'

/**
 * The IPMI backend plugin with fake BMC connections: configuration loading,
 * registry routing, health and metrics. The real sessions are tested against
 * ipmi_sim in test/ipmi/.
 */

const dir = mkdtempSync(join(tmpdir(), 'ipmi-backend-'))
const SECRET = 'pa55-never-logged'

function bmcConfig (entries: Array<Partial<Record<string, unknown>>>): string {
  const file = join(dir, `bmc-${Math.random().toString(36).slice(2)}.json`)
  writeFileSync(file, JSON.stringify({
    bmcs: entries.map((e) => ({
      bmc_ip: '127.0.0.1', username: 'ADMIN', password: SECRET, auth_type: 'RAKP_HMAC_SHA1', integrity_type: 'HMAC_SHA1_96', encryption_type: 'AES_CBC_128', ...e
    }))
  }))
  return file
}

function fakeConnector (states: Map<number, BmcSessionStatus['state']>): { connect: (entry: BmcConfigEntry) => BridgeConnection, targets: BmcTarget[] } {
  const targets: BmcTarget[] = []
  const connect = ({ target }: BmcConfigEntry): BridgeConnection => {
    targets.push(target)
    const counters = { requests: 0, sessionsEstablished: 0, relogins: 0, timeouts: 0, errors: 0, garbage: 0 }
    let power: 'on' | 'off' = 'off'
    return {
      target,
      close: async () => {},
      status: () => ({ state: states.get(target.port) ?? 'idle', lastSuccessAt: counters.requests > 0 ? 1_700_000_000_000 : null, counters, reason: states.get(target.port) === 'down' ? 'no answer within 3000 ms' : undefined }),
      ops: {
        sensors: async () => { counters.requests++; return [{ number: 1, name: 'CPU Temp', kind: 'temperature' }] },
        readSensor: async () => { counters.requests++; return 48.5 },
        chassisStatus: async () => { counters.requests++; return { power, powerFault: false, identify: 'off' } },
        chassisControl: async (a) => { counters.requests++; power = a === 'off' ? 'off' : 'on' },
        identify: async () => {},
        bootTarget: async () => 'no_override',
        setBootTarget: async () => {},
        fru: async () => ({})
      }
    }
  }
  return { connect, targets }
}

t.test('BMCs become boards after the bus boards, with v1.2 answers', async (t) => {
  const fake = fakeConnector(new Map())
  // no poller (configured BMCs are polled by default): the counters count this test's requests only
  const app = await build(t, { bmcConfig: bmcConfig([{ bmc_port: 7001 }, { bmc_port: 7002 }]), ipmiConnect: fake.connect, poll: false })
  t.same(fake.targets.map((x) => x.port), [7001, 7002])
  const scan = (await get(app, '/scan')).json() as { boards: Array<{ board_id: string }> }
  t.same(scan.boards.slice(-2).map((b) => b.board_id), ['40000001', '40000002'])
  t.ok(scan.boards.length > 2, 'the emulator boards come first')
  t.same((await get(app, '/read/temperature/40000002/0001')).json(), { temperature_c: 48.5 })
  t.equal((await get(app, '/power/on/40000001/0100')).json().power_status, 'on')
  t.equal((await get(app, '/version/40000002')).json().firmware_version, 'OpenDCRE IPMI Bridge v2.0')
  const missing = await get(app, '/version/40000003')
  t.equal(missing.statusCode, 500)
  t.same(missing.json(), { message: 'BMC with board_num was not found.' })
})

t.test('health lists each BMC session; degraded only when every BMC is down', async (t) => {
  const states = new Map<number, BmcSessionStatus['state']>([[7001, 'up'], [7002, 'down']])
  const app = await build(t, { bmcConfig: bmcConfig([{ bmc_port: 7001 }, { bmc_port: 7002 }]), ipmiConnect: fakeConnector(states).connect })
  let health = await get(app, '/health')
  t.equal(health.statusCode, 200)
  const body = health.json()
  t.same(body.backends.ipmi.bmcs.map((b: { board_id: string, session: string }) => [b.board_id, b.session]), [['40000001', 'up'], ['40000002', 'down']])
  t.equal(body.backends.ipmi.bmcs[1].reason, 'no answer within 3000 ms')
  t.notMatch(health.body, SECRET)
  states.set(7001, 'down')
  health = await get(app, '/health')
  t.equal(health.statusCode, 503)
  t.equal(health.json().status, 'degraded')
})

t.test('metrics report per-BMC counters and session state', async (t) => {
  const states = new Map<number, BmcSessionStatus['state']>([[7001, 'up']])
  // no poller (configured BMCs are polled by default): the counters count this test's requests only
  const app = await build(t, { bmcConfig: bmcConfig([{ bmc_port: 7001 }]), ipmiConnect: fakeConnector(states).connect, poll: false })
  await get(app, '/read/temperature/40000001/0001')
  const text = (await app.inject({ method: 'GET', url: '/metrics' })).body
  t.match(text, /opendcre_ipmi_requests_total\{board="40000001",bmc="127\.0\.0\.1:7001"\} 2/)
  t.match(text, /opendcre_ipmi_session_up\{board="40000001",bmc="127\.0\.0\.1:7001"\} 1/)
  t.notMatch(text, SECRET)
})

t.test('a broken bmc_config leaves IPMI unavailable with one log line; the bus keeps working', async (t) => {
  const lines: string[] = []
  const sink = new Writable({ write (chunk, _enc, done) { lines.push(String(chunk)); done() } })
  const file = join(dir, 'broken.json')
  writeFileSync(file, JSON.stringify({ bmcs: [{ bmc_ip: '127.0.0.1', username: 'u', password: SECRET, auth_type: 'MD5', integrity_type: 'HMAC_SHA1_96', encryption_type: 'AES_CBC_128' }] }))
  const app = await build(t, { bmcConfig: file, loggerInstance: pino({ level: 'info' }, sink), ipmiConnect: fakeConnector(new Map()).connect })
  const logged = lines.filter((l) => l.includes('IPMI bridge unavailable'))
  t.equal(logged.length, 1)
  t.match(logged[0], /broken\.json: bmcs\[0\]\.auth_type: must be one of/)
  t.notMatch(lines.join(''), SECRET)
  t.equal((await get(app, '/read/thermistor/00000001/0001')).statusCode, 200, 'the device bus still answers')
  t.equal((await get(app, '/version/40000001')).json().message, 'BMC with board_num was not found.')
  const health = await get(app, '/health')
  t.equal(health.statusCode, 503)
  t.match(health.json().backends.ipmi.reason, /auth_type/)
})

t.test('a missing bmc_config file is named', async (t) => {
  const lines: string[] = []
  const sink = new Writable({ write (chunk, _enc, done) { lines.push(String(chunk)); done() } })
  await build(t, { bmcConfig: join(dir, 'absent.json'), loggerInstance: pino({ level: 'info' }, sink), ipmiConnect: fakeConnector(new Map()).connect })
  t.match(lines.join(''), /IPMI bridge unavailable: .*absent\.json: cannot read file \(ENOENT\)/)
})

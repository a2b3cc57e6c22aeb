import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { loadRedfishConfig } from '../../drivers/redfish/redfish-config.js'
import { DEFAULT_REDFISH_LIMITS } from '../../drivers/redfish/redfish-limits.js'
import { loadRedfishEmulatorConfig } from '../../emulators/redfish/emulator-config.js'
import { DEFAULT_REDFISH_EMULATOR_CONFIG } from '../../config/paths.js'
import { RedfishEmulatorServer } from '../../emulators/redfish/emulator-server.js'
import { RedfishEmulatorService } from '../../emulators/redfish/emulator-service.js'
import { runCli } from '../cli-process.js'

/**
 * redfish_config.json and the emulator's config (file, field, reason; never a
 * password), and the emulator's state under an injected clock: drifting
 * readings and ETags, refused PATCHes and ResetTypes, session time-out.
 */

const dir = mkdtempSync(join(tmpdir(), 'redfish-config-'))
const write = (name: string, value: unknown): string => {
  const file = join(dir, name)
  writeFileSync(file, typeof value === 'string' ? value : JSON.stringify(value))
  return file
}

t.test('redfish_config.json: each mistake names the file, the field and the reason', async (t) => {
  const cases: Array<[unknown, string]> = [
    [[], 'must be a JSON object with a "servers" list'],
    [{}, 'servers: missing: list the Redfish servers under "servers"'],
    [{ servers: [{ url: 'ftp://bmc' }] }, "servers[0].url: must be the service's http:// or https:// address"],
    [{ servers: [{ url: 'https://bmc/redfish/v1' }] }, 'servers[0].url: must be the service'],
    [{ servers: [{ url: 'https://admin:pw@bmc' }] }, 'servers[0].url: must be the service'],
    [{ servers: [{ url: 'https://bmc', username: 'root' }] }, 'servers[0].password: username and password go together'],
    [{ servers: [{ url: 'https://bmc', password: 'Secret-1' }] }, 'servers[0].username: username and password go together'],
    [{ servers: [{ url: 'http://bmc', ca: 'ca.pem' }] }, 'servers[0].ca: a CA certificate needs an https:// url'],
    [{ servers: [{ url: 'https://bmc', verify_tls: 'no' }] }, 'servers[0].verify_tls: must be true or false'],
    [{ servers: [{ url: 'https://bmc', colour: 'red' }] }, 'a server takes {url[, username, password, verify_tls, ca, timeout_ms]}'],
    [{ servers: [], timeout_ms: 60001 }, 'timeout_ms: must be an integer from 100 to 60000']
  ]
  for (const [value, reason] of cases) {
    const file = write('redfish_config.json', value)
    t.throws(() => loadRedfishConfig(file), { name: 'ConfigError', message: new RegExp(`^${file.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}: .*${reason.replace(/[.*+?^${}()|[\]\\]/g, '\\$&')}`) }, reason)
  }
  const leaky = write('leaky.json', '{"servers": [{"url": "https://bmc", "username": "root", "password": "Secret-99"')
  const message = ((): string => {
    try {
      loadRedfishConfig(leaky)
      return ''
    } catch (err) {
      return (err as Error).message
    }
  })()
  t.match(message, /invalid JSON at line 1, column \d+/)
  t.notOk(message.includes('Secret-99'), 'the text around the fault is not quoted')
  const good = write('good.json', { timeout_ms: 5000, servers: [{ url: 'https://10.1.2.3/', username: 'root', password: 'pw' }, { url: 'http://127.0.0.1:8000', timeout_ms: 200, verify_tls: false }] })
  t.same(loadRedfishConfig(good), [
    { url: 'https://10.1.2.3', credentials: { username: 'root', password: 'pw' }, verifyTls: true, ca: undefined, timeoutMs: 5000, limits: DEFAULT_REDFISH_LIMITS },
    { url: 'http://127.0.0.1:8000', credentials: undefined, verifyTls: false, ca: undefined, timeoutMs: 200, limits: DEFAULT_REDFISH_LIMITS }
  ])
  const limited = write('limited.json', { limits: { max_members: 10, max_chassis: 2, concurrency: 1, command_timeout_ms: 500, reading_max_age_ms: 0 }, servers: [{ url: 'http://127.0.0.1:8000' }] })
  t.same(loadRedfishConfig(limited)[0].limits, { maxMembers: 10, maxChassis: 2, concurrency: 1, commandTimeoutMs: 500, readingMaxAgeMs: 0 })
  t.throws(() => loadRedfishConfig(write('bad-limits.json', { limits: { max_members: 0 }, servers: [] })), { name: 'ConfigError', message: /limits\.max_members.*must be an integer from 1 to 100000/ })
})

t.test('opendcre redfish-emulator refuses a bad config, naming file and field', async (t) => {
  const base = loadRedfishEmulatorConfig(DEFAULT_REDFISH_EMULATOR_CONFIG)
  const bad = write('emu-bad.json', { ...base, sensors: [{ name: 'X', type: 'humidity', reading: 1 }] })
  const r = await runCli(['redfish-emulator', '--port', '0', bad])
  t.equal(r.code, 1)
  t.match(r.stderr, `${bad}: sensors[0].type: must be one of temperature, fan, voltage, current, power`)
  const half = write('emu-half.json', { ...base, password: undefined })
  t.match((await runCli(['redfish-emulator', '--port', '0', half])).stderr, 'username and password go together')
  t.match((await runCli(['redfish-emulator', '--count', 'many'])).stderr, "--count: not a number of servers (1-1000): 'many'")
})

t.test('emulator state: readings drift with the clock and ETags follow; off means no fans and no power', async (t) => {
  let now = 1_700_000_000_000
  const service = new RedfishEmulatorService(loadRedfishEmulatorConfig(DEFAULT_REDFISH_EMULATOR_CONFIG), { now: () => now })
  const sensor = '/redfish/v1/Chassis/1/Sensors/CPU1_Temp'
  const first = service.get(sensor)
  now += 15_000
  const later = service.get(sensor)
  const a = (first.body as { Reading: number }).Reading
  const b = (later.body as { Reading: number }).Reading
  t.not(a, b, 'the reading drifted')
  t.ok(Math.abs(a - 48) <= 2 && Math.abs(b - 48) <= 2, 'within the configured drift')
  t.not(first.headers?.etag, later.headers?.etag, 'and the ETag with it')
  t.equal(service.get('/redfish/v1/Systems/1').headers?.etag, service.get('/redfish/v1/Systems/1').headers?.etag, 'a system that did not change keeps its ETag')

  const etag = service.etag('/redfish/v1/Systems/1')
  t.equal(service.reset({ ResetType: 'ForceOff' }).status, 204)
  t.not(service.etag('/redfish/v1/Systems/1'), etag, 'a reset changes the system\'s ETag')
  t.equal((service.get('/redfish/v1/Chassis/1/Sensors/System_Fan_1').body as { Reading: number }).Reading, 0)
  t.equal((service.get('/redfish/v1/Chassis/1/Sensors/Total_Power').body as { Reading: number }).Reading, 0)
  t.equal((service.get('/redfish/v1/Chassis/1/Sensors/CPU1_Temp').body as { Reading: number }).Reading, 22, 'the configured off reading')
  t.equal((service.get('/redfish/v1/Chassis/1/Power').body as { PowerControl: Array<{ PowerConsumedWatts: number }> }).PowerControl[0].PowerConsumedWatts, 0, 'legacy Power agrees')

  t.equal(service.reset({ ResetType: 'Nmi' }).status, 400, 'a ResetType not allowed')
  t.equal(service.reset({}).status, 400)
  t.equal(service.patch('/redfish/v1/Systems/1', { Boot: { BootSourceOverrideTarget: 'Floppy' } }).status, 400)
  t.equal(service.patch('/redfish/v1/Systems/1', { PowerState: 'On' }).status, 400, 'a read-only property')
  t.equal(service.patch('/redfish/v1/Systems/1', { AssetTag: 'new-tag', IndicatorLED: 'Blinking' }).status, 204)
  t.match(service.get('/redfish/v1/Systems/1').body, { AssetTag: 'new-tag', IndicatorLED: 'Blinking', LocationIndicatorActive: true })
  t.equal(service.patch('/redfish/v1/Managers/1', {}).status, 405)
  t.equal(service.get('/redfish/v1/Nowhere').status, 404)
})

t.test('emulator sessions time out after session_timeout_s of disuse', async (t) => {
  let now = 1_700_000_000_000
  const config = { ...loadRedfishEmulatorConfig(DEFAULT_REDFISH_EMULATOR_CONFIG), session_timeout_s: 60 }
  const server = new RedfishEmulatorServer(config, { now: () => now })
  const url = await server.listen(0)
  t.teardown(async () => await server.close())
  const login = await fetch(`${url}/redfish/v1/SessionService/Sessions`, { method: 'POST', body: JSON.stringify({ UserName: 'ADMIN', Password: 'ADMIN' }) })
  t.equal(login.status, 201)
  const token = login.headers.get('x-auth-token') ?? ''
  const systems = async (): Promise<number> => (await fetch(`${url}/redfish/v1/Systems`, { headers: { 'x-auth-token': token } })).status
  t.equal(await systems(), 200)
  now += 59_000
  t.equal(await systems(), 200, 'used within the time-out: still valid')
  now += 61_000
  t.equal(await systems(), 401, 'unused for longer: expired')
  t.equal((await fetch(`${url}/redfish/v1/Systems`)).status, 401, 'no credentials: 401')
  t.equal((await fetch(`${url}/redfish/v1/`)).status, 200, 'the service root is open')
  const wrong = await fetch(`${url}/redfish/v1/SessionService/Sessions`, { method: 'POST', body: JSON.stringify({ UserName: 'ADMIN', Password: 'admin' }) })
  t.equal(wrong.status, 401)
})

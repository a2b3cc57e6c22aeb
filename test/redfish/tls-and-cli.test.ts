import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { loadRedfishEmulatorConfig } from '../../emulators/redfish/emulator-config.js'
import { startRedfishEmulators } from '../../emulators/redfish/emulator-server.js'
import { DEFAULT_REDFISH_EMULATOR_CONFIG } from '../../config/paths.js'
import { startListening } from '../cli-process.js'
import { build, get } from '../helper.js'
import { makeCertificates } from '../tls-certificates.js'

/**
 * Redfish over TLS (verify on with a custom CA, verify on without it, verify
 * off), the redfish_config key of opendcre_config.json, and the CLI's
 * embedded default: `opendcre serve` with no backend flag lists board 70000001.
 */

const dir = mkdtempSync(join(tmpdir(), 'redfish-tls-'))
makeCertificates(dir)

t.test('https: a custom CA verifies the service; without it the certificate is refused; verify_tls false accepts it', async (t) => {
  const config = loadRedfishEmulatorConfig(DEFAULT_REDFISH_EMULATOR_CONFIG)
  const [emu] = await startRedfishEmulators(config, { tls: { cert: readFileSync(join(dir, 'server.crt')), key: readFileSync(join(dir, 'server.key')) } })
  t.teardown(async () => await emu.close())
  t.match(emu.url, /^https:\/\/127\.0\.0\.1:\d+$/)
  const file = join(dir, 'redfish_config.json')
  const server = { url: emu.url, username: 'ADMIN', password: 'ADMIN', timeout_ms: 2000 }
  writeFileSync(file, JSON.stringify({ servers: [{ ...server, ca: 'ca.crt' }, server, { ...server, verify_tls: false }] }))
  // through opendcre_config.json's redfish_config key (relative to that file)
  const opendcreConfig = join(dir, 'opendcre_config.json')
  writeFileSync(opendcreConfig, JSON.stringify({ redfish_config: 'redfish_config.json' }))
  const app = await build(t, { config: opendcreConfig })
  t.equal((await get(app, '/version/70000001')).json().firmware_version, '2.14.0-opendcre-emulator', 'verified with the custom CA')
  const refused = await get(app, '/version/70000002')
  t.equal(refused.statusCode, 500)
  t.match(refused.json().message, /cannot reach https:\/\/127\.0\.0\.1:\d+: .*(self.signed|unable to (get|verify)|certificate)/i)
  t.equal((await get(app, '/version/70000003')).statusCode, 200, 'verify_tls: false')
})

t.test('a CA file that cannot be read is a configuration error naming the field', async (t) => {
  const file = join(dir, 'bad-ca.json')
  writeFileSync(file, JSON.stringify({ servers: [{ url: 'https://127.0.0.1:1', ca: 'absent.pem' }] }))
  const app = await build(t, { redfishConfig: file })
  const health = (await get(app, '/health')).json()
  t.match(health.backends.redfish.reason, `${file}: servers[0].ca: cannot read the CA certificate (ENOENT)`)
})

t.test('opendcre serve with no backend flag: an emulated Redfish server in-process, board 70000001', async (t) => {
  const logDir = mkdtempSync(join(tmpdir(), 'redfish-serve-'))
  const { child, url } = await startListening(process.execPath, ['dist/cli/opendcre.js', 'serve', '--host', '127.0.0.1', '--port', '0', '--log-dir', logDir])
  t.teardown(() => { child.kill('SIGTERM') })
  const scan = await (await fetch(`${url}/opendcre/1.2/scan`)).json() as { boards: Array<{ board_id: string, devices: unknown[] }> }
  const board = scan.boards.find((b) => b.board_id === '70000001')
  t.ok(board, '/scan lists board 70000001')
  t.equal(board?.devices.length, 11)
  const version = await (await fetch(`${url}/opendcre/1.2/version/70000001`)).json() as { firmware_version: string }
  t.equal(version.firmware_version, '2.14.0-opendcre-emulator')
  const power = await (await fetch(`${url}/opendcre/1.2/power/70000001/0100/off`)).json() as { power_status: string }
  t.equal(power.power_status, 'off')
})

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { render } from '../cli/client.js'
import { runCli, serveCli } from './cli-process.js'
import { build } from './helper.js'

/** The client CLI against a real listening service (loopback). */
t.test('opendcre scan/read/power/led/fan/location/version against a URL: tables, --json, errors', async (t) => {
  const app = await build(t)
  const url = await app.listen({ host: '127.0.0.1', port: 0 })

  let r = await runCli(['scan', '--url', url])
  t.equal(r.code, 0)
  t.match(r.stdout, /^BOARD\s+DEVICE\s+TYPE\s+INFO/)
  t.match(r.stdout, /00000001\s+0001\s+thermistor/)
  t.match(r.stdout, /00000002\s+8303\s+temperature/)

  r = await runCli(['read', 'thermistor', '1', '1', '--url', url, '--json'])
  t.equal(r.code, 0)
  t.same(JSON.parse(r.stdout), { temperature_c: 28.78 })

  r = await runCli(['power', '1', 'd', 'on', '--url', url])
  t.equal(r.code, 0)
  t.match(r.stdout, /power_status\s+on/)
  t.match(r.stdout, /pmbus_raw\s+0,0,0,0/)

  r = await runCli(['location', '1', '72df', '--url', url])
  t.match(r.stdout, /chassis_location\.depth\s+middle/)

  r = await runCli(['version', '2'], { OPENDCRE_URL: url })
  t.equal(r.code, 0, 'the URL from $OPENDCRE_URL')
  t.match(r.stdout, /firmware_version\s+OpenDCRE Emulator v1\.2\.0 - Microserver/)

  r = await runCli(['fan', '1', '2', '99999', '--url', url])
  t.equal(r.code, 1)
  t.match(r.stderr, 'opendcre: error (HTTP 500): Error converting fan_speed to integer (Fan speed out of acceptable range.).')

  r = await runCli(['read', 'thermistor', '1', '--url', url])
  t.equal(r.code, 2)
  t.match(r.stderr, 'usage: opendcre read TYPE BOARD DEVICE')

  await app.close()
  r = await runCli(['test', '--url', url])
  t.equal(r.code, 1)
  t.match(r.stderr, /cannot reach http:\/\/127\.0\.0\.1:\d+/)
})

t.test('render: boards as a table, other answers as field/value rows', async (t) => {
  t.equal(render({ led_state: 'on' }), 'FIELD      VALUE\n---------  -----\nled_state  on')
  t.match(render({ boards: [{ board_id: '40000001', devices: [{ device_id: '0019', device_type: 'temperature', device_info: 'CPU Temp' }] }] }),
    /40000001\s+0019\s+temperature\s+CPU Temp/)
})

/** --prefix against opendcre serve whose opendcre_config.json sets endpoint_prefix. */
t.test('--prefix and $OPENDCRE_PREFIX reach a service with a custom endpoint_prefix', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'opendcre-client-prefix-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const config = join(dir, 'opendcre_config.json')
  writeFileSync(config, JSON.stringify({ endpoint_prefix: '/api/dc/' }))
  const { child, url } = await serveCli(['--config', config, '--emulator', 'emulator-configs/simple.json'])
  t.teardown(() => { child.kill('SIGKILL') })

  let r = await runCli(['scan', '--url', url])
  t.equal(r.code, 1, 'the default prefix is not served')
  t.match(r.stderr, /HTTP 404/)

  r = await runCli(['scan', '--url', url, '--prefix', '/api/dc/'])
  t.equal(r.code, 0, r.stderr)
  t.match(r.stdout, /00000001\s+0001\s+thermistor/)

  r = await runCli(['version', '1', '--url', url, '--prefix', '/api/dc', '--json'])
  t.equal(r.code, 0, 'without the trailing slash too')
  t.match(JSON.parse(r.stdout), { firmware_version: /OpenDCRE Emulator/ })

  r = await runCli(['led', '1', '5', '--url', url, '--json'], { OPENDCRE_PREFIX: '/api/dc/' })
  t.equal(r.code, 0, 'the prefix from $OPENDCRE_PREFIX')
  t.match(JSON.parse(r.stdout), { led_state: /^(on|off)$/ })

  r = await runCli(['scan', '--url', url, '--prefix', 'api/dc'])
  t.equal(r.code, 2)
  t.match(r.stderr, "--prefix: must be a path starting with '/'")
})

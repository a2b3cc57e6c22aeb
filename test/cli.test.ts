import type { ChildProcess } from 'node:child_process'
import { join } from 'node:path'
import t from 'tap'
import { packageRoot } from '../config/paths.js'
import { CLI, runCli, startListening } from './cli-process.js'
import { fixture, referenceFile } from './helper.js'

/**
 * The command line as an operator runs it: the built CLI (npm test builds it
 * first), fastify-cli, and npm start. Servers listen on 127.0.0.1:0 and are
 * stopped by the test.
 */

async function stop (child: ChildProcess, group = false): Promise<number | null> {
  if (child.exitCode !== null) return child.exitCode
  const exited = new Promise<number | null>((resolve) => child.once('exit', resolve))
  // a whole process group, as Ctrl-C signals it, for npm and the server it runs
  if (group && child.pid !== undefined) process.kill(-child.pid, 'SIGTERM')
  else child.kill('SIGTERM')
  return await exited
}

t.test('opendcre serve runs the API on the default emulator and stops on SIGTERM with exit 0', async (t) => {
  const { child, url } = await startListening(process.execPath, [CLI, 'serve', '--host', '127.0.0.1', '--port', '0'])
  t.teardown(() => { child.kill('SIGKILL') })
  const test = await fetch(`${url}/opendcre/1.2/test`)
  t.equal(test.status, 200)
  t.same(await test.json(), { status: 'ok' })
  const read = await fetch(`${url}/opendcre/1.2/read/thermistor/00000001/0001`)
  t.same(await read.json(), { temperature_c: 28.78 })
  t.equal(await stop(child), 0)
})

t.test('opendcre serve --config reads opendcre_config.json and --emulator picks the config', async (t) => {
  const { child, url } = await startListening(process.execPath, [CLI, 'serve', '--host', '127.0.0.1', '--port', '0',
    '--config', referenceFile('opendcre_config.json'), '--emulator', referenceFile('endurance-data.json')])
  t.teardown(() => { child.kill('SIGKILL') })
  const res = await fetch(`${url}/opendcre/1.2/version/0000000a`)
  t.same(await res.json(), { api_version: '1.2', firmware_version: 'Version Response 1', opendcre_version: '1.2.0' })
  t.equal(await stop(child), 0)
})

t.test('startup errors name the file, the field and the reason, and exit 1', async (t) => {
  const badDevice = fixture('configs/cli-bad-device-id.json')
  let r = await runCli(['serve', '--port', '0', '--emulator', badDevice])
  t.equal(r.code, 1)
  t.match(r.stderr, `opendcre: ${badDevice}: boards[1].devices[3].device_id: not a 4-digit hex string`)

  const notJson = fixture('configs/cli-not-json.json')
  r = await runCli(['serve', '--port', '0', '--emulator', notJson])
  t.equal(r.code, 1)
  t.match(r.stderr, `${notJson}: --emulator: invalid JSON`)

  const missing = fixture('configs/does-not-exist.json')
  r = await runCli(['serve', '--port', '0', '--emulator', missing])
  t.equal(r.code, 1)
  t.match(r.stderr, `${missing}: --emulator: cannot read file (ENOENT)`)

  const badPort = fixture('configs/cli-bad-port-config.json')
  r = await runCli(['serve', '--config', badPort])
  t.equal(r.code, 1)
  t.match(r.stderr, `${badPort}: port: must be a port number (0-65535)`)

  r = await runCli(['serve', '--emulator', badDevice, '--serial', '/dev/null'])
  t.equal(r.code, 1)
  t.match(r.stderr, 'choose one of --emulator and --serial')

  r = await runCli(['serve', '--bogus'])
  t.equal(r.code, 1)
  t.match(r.stderr, /Unknown option '--bogus'/)
  t.match(r.stderr, /usage: opendcre serve/)

  r = await runCli(['serve', '--port', 'http'])
  t.equal(r.code, 1)
  t.match(r.stderr, "--port: not a port number: 'http'")

  r = await runCli(['serve', '--port', '0', '--hardware', 'rpi-hat-v1', '--serial', '/dev/null'])
  t.equal(r.code, 1, 'the HAT needs Raspberry Pi GPIO: a clear error on this machine')
  t.match(r.stderr, /^opendcre: Raspberry Pi HAT support needs /m)

  r = await runCli(['serve', '--hardware', 'pdp11'])
  t.equal(r.code, 1)
  t.match(r.stderr, "command line: hardware: 'pdp11' is not one of emulator, rpi-hat-v1")

  r = await runCli(['emulator', '--device', '/nonexistent/tty', fixture('routes/errors.json')])
  t.equal(r.code, 1)
  t.match(r.stderr, /^opendcre: .*\/nonexistent\/tty/m)

  r = await runCli(['emulator', fixture('routes/errors.json')])
  t.equal(r.code, 1)
  t.match(r.stderr, 'emulator: needs --device PATH and one CONFIG file')

  r = await runCli(['frobnicate'])
  t.equal(r.code, 1)
  t.match(r.stderr, "unknown command 'frobnicate'")
  t.notMatch(r.stderr, /\n\s+at /, 'no stack traces for an operator')
})

t.test('opendcre --help prints the usage', async (t) => {
  const r = await runCli(['--help'])
  t.equal(r.code, 0)
  t.match(r.stdout, /--emulator FILE/)
})

t.test('fastify-cli can load the app as a plugin: fastify start dist/app.js', async (t) => {
  const fastifyCli = join(packageRoot, 'node_modules', 'fastify-cli', 'cli.js')
  const { child, url } = await startListening(process.execPath, [fastifyCli, 'start', '-a', '127.0.0.1', '-p', '0', '-l', 'info', join('dist', 'app.js')])
  t.teardown(() => { child.kill('SIGKILL') })
  const res = await fetch(`${url}/opendcre/1.2/scan/00000001`)
  t.equal(res.status, 200)
  const body = await res.json() as { boards: Array<{ board_id: string }> }
  t.equal(body.boards[0].board_id, '00000001')
  await stop(child)
})

t.test('npm start builds, runs and forwards extra arguments', async (t) => {
  const npm = process.platform === 'win32' ? 'npm.cmd' : 'npm'
  const { child, url } = await startListening(npm, ['start', '--silent', '--', '--host', '127.0.0.1', '--port', '0'], true)
  t.teardown(() => {
    if (child.exitCode === null && child.pid !== undefined) process.kill(-child.pid, 'SIGKILL')
  })
  const res = await fetch(`${url}/opendcre/1.2/test`)
  t.equal(res.status, 200)
  await stop(child, true)
})

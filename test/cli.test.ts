import type { ChildProcess } from 'node:child_process'
import { connect } from 'node:net'
import { join } from 'node:path'
import t, { type Test } from 'tap'
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

/** What an entry path serves, as a client sees it: headers, limits, refusals, the access line. */
async function servedAs (t: Test, command: string[], stdoutFrom: (child: ChildProcess) => () => string): Promise<void> {
  const { child, url } = await startListening(process.execPath, command)
  t.teardown(() => { child.kill('SIGKILL') })
  const stdout = stdoutFrom(child)
  const api = `${url}/opendcre/1.2`

  const scan = await fetch(`${api}/scan/00000001`)
  t.equal(scan.status, 200)
  t.equal((await scan.json() as { boards: Array<{ board_id: string }> }).boards[0].board_id, '00000001')

  // helmet's headers for a JSON API and v1.2's CORS, on every answer
  const test = await fetch(`${api}/test`)
  const headers = ['x-content-type-options', 'x-frame-options', 'referrer-policy', 'cross-origin-resource-policy', 'access-control-allow-origin', 'content-security-policy', 'strict-transport-security', 'x-powered-by']
  t.same(Object.fromEntries(headers.map((name) => [name, test.headers.get(name)])), {
    'x-content-type-options': 'nosniff',
    'x-frame-options': 'DENY',
    'referrer-policy': 'no-referrer',
    // not readable cross-origin, and no CORS unless cors_origins names origins (docs/security.md)
    'cross-origin-resource-policy': 'same-origin',
    'access-control-allow-origin': null,
    'content-security-policy': null,
    'strict-transport-security': null,
    'x-powered-by': null
  })

  // the URL, parameter and body bounds, each in the API's {"message"} form
  const long = await fetch(`${api}/test?${'a'.repeat(1100)}`)
  t.equal(long.status, 414)
  t.same(await long.json(), { message: 'URL longer than 1024 characters' })
  t.equal(long.headers.get('x-frame-options'), 'DENY', 'a refusal carries the headers too')
  const longParam = await fetch(`${api}/version/${'1'.repeat(250)}`)
  t.same(await longParam.json(), { message: 'a URL parameter is longer than 200 characters' })
  const big = await fetch(`${api}/test`, { method: 'POST', body: 'x'.repeat(70 * 1024), headers: { 'content-type': 'application/octet-stream' } })
  t.equal(big.status, 413)
  t.same(Object.keys(await big.json() as object), ['message'])
  const head = await fetch(`${api}/power/00000001/01ff/on`, { method: 'HEAD' })
  t.equal(head.status, 405)
  t.equal(head.headers.get('allow'), 'GET, POST')

  // the per-address connection cap from the config file (2): the third connection is refused
  const port = Number(new URL(url).port)
  const held = await Promise.all([0, 1].map(async () => {
    const socket = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' })
    socket.on('error', () => {})
    await new Promise((resolve) => socket.once('connect', resolve))
    return socket
  }))
  t.teardown(() => { for (const s of held) s.destroy() })
  const third = connect({ host: '127.0.0.1', port, localAddress: '127.0.0.2' })
  third.on('error', () => {})
  let refused = ''
  third.on('data', (d) => { refused += String(d) })
  await new Promise((resolve) => third.once('close', resolve))
  t.match(refused, /^HTTP\/1.1 503 .*\{"message":"too many connections: try again later"\}$/s)
  for (const s of held) s.destroy()

  // one access line per request, no Fastify request lines
  await new Promise((resolve) => setTimeout(resolve, 400))
  const lines = stdout().split('\n').filter((line) => line.startsWith('{')).map((line) => JSON.parse(line) as Record<string, unknown>)
  const access = lines.find((line) => line.msg === 'request' && line.url === '/opendcre/1.2/test' && line.status === 200)
  t.match(access, { level: 30, method: 'GET', client: '127.0.0.1', identity: 'anonymous', ms: Number })
  t.notOk(lines.some((line) => line.msg === 'incoming request' || line.msg === 'request completed'), 'no Fastify request lines')
  t.notOk(lines.some((line) => line.level === 40 && String(line.msg).includes('server options')), 'started with the server options')

  t.equal(await stop(child), 0, 'SIGTERM: drained and closed, exit 0')
}

/** stdout from now on. */
function collect (child: ChildProcess): () => string {
  let text = ''
  child.stdout!.on('data', (d) => { text += String(d) })
  return () => text
}

t.test('fastify start -o dist/app.js serves what opendcre serve serves', async (t) => {
  const dir = t.testdir({ 'opendcre_config.json': JSON.stringify({ max_connections_per_client: 2 }) })
  const config = join(dir, 'opendcre_config.json')
  t.test('opendcre serve', async (t) => {
    await servedAs(t, [CLI, 'serve', '--host', '127.0.0.1', '--port', '0', '--config', config], collect)
  })
  t.test('fastify start', async (t) => {
    const fastifyCli = join(packageRoot, 'node_modules', 'fastify-cli', 'cli.js')
    await servedAs(t, [fastifyCli, 'start', '-o', '-a', '127.0.0.1', '-p', '0', '-l', 'info', join('dist', 'app.js'), '--', '--config', config], collect)
  })
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

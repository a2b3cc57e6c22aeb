import { mkdtempSync, readFileSync, renameSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { spawn } from 'node:child_process'
import { createServer, request } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Writable } from 'node:stream'
import { setTimeout as sleep } from 'node:timers/promises'
import { pino } from 'pino'
import t from 'tap'
import { ACCESS_LOG, AUDIT_LOG, ERROR_LOG, REDACT } from '../server.js'
import { createBasicProvider } from '../auth/basic.js'
import { basic, userAdd } from './auth/users.js'
import { CLI, exited, serveCli } from './cli-process.js'
import { packageRoot } from '../config/paths.js'
import { build, PREFIX } from './helper.js'

/** A logger like the service's (same redaction), its lines kept in memory. */
function memoryLogger (): { logger: ReturnType<typeof pino>, lines: Array<Record<string, unknown>> } {
  const lines: Array<Record<string, unknown>> = []
  const stream = new Writable({
    write (chunk, _enc, done) {
      for (const line of String(chunk).split('\n')) if (line !== '') lines.push(JSON.parse(line))
      done()
    }
  })
  return { logger: pino({ level: 'info', redact: { paths: REDACT, censor: '[redacted]' } }, stream), lines }
}

t.test('one access line per request: method, URL, status, time, client, identity; no credentials', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'opendcre-access-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const users = join(dir, 'users.json')
  const added = await userAdd(users, 'alice', 'viewer', 'alice secret pw\n')
  t.equal(added.code, 0)
  const { logger, lines } = memoryLogger()
  const app = await build(t, { loggerInstance: logger, authProviders: [createBasicProvider({ usersFile: users })] })

  const ok = await app.inject({ url: `${PREFIX}/read/thermistor/00000001/0001?x=1`, headers: basic('alice', 'alice secret pw'), remoteAddress: '192.0.2.7' })
  t.equal(ok.statusCode, 200)
  const denied = await app.inject({ url: `${PREFIX}/scan`, headers: basic('alice', 'wrong pw') })
  t.equal(denied.statusCode, 401)
  const missing = await app.inject({ url: '/nowhere', headers: basic('alice', 'alice secret pw') })
  t.equal(missing.statusCode, 404)
  await app.inject({ url: `${PREFIX}/health` })

  const access = lines.filter((l) => l.msg === 'request')
  t.equal(access.length, 4, 'one line per request')
  t.notOk(lines.some((l) => l.msg === 'incoming request' || l.msg === 'request completed'), "none of Fastify's two lines")
  t.match(access[0], { level: 30, method: 'GET', url: `${PREFIX}/read/thermistor/00000001/0001?x=1`, status: 200, client: '192.0.2.7', identity: 'alice', reqId: String })
  t.type(access[0].ms, 'number')
  t.ok((access[0].ms as number) >= 0)
  t.match(access[1], { url: `${PREFIX}/scan`, status: 401, identity: 'anonymous' })
  t.match(access[2], { url: '/nowhere', status: 404 })
  t.match(access[3], { url: `${PREFIX}/health`, status: 200, identity: 'anonymous' })
  const text = JSON.stringify(lines)
  t.notMatch(text, /alice secret pw|wrong pw/, 'no password')
  t.notMatch(text, new RegExp(basic('alice', 'alice secret pw').authorization.split(' ')[1]), 'no Authorization header')
  t.notMatch(text, /authorization/i)

  // a request's own lines (made by request.log, lazily) carry the reqId of its access line
  const failed = await app.inject({ url: `${PREFIX}/read/thermistor/00000001/00ff`, headers: basic('alice', 'alice secret pw') })
  t.equal(failed.statusCode, 500)
  const failedLine = lines.find((l) => l.msg === 'request' && l.status === 500)
  const reason = lines.find((l) => l.msg === 'command failed')
  t.match(reason, { level: 40, code: 'timeout', reqId: failedLine?.reqId })
  t.not(failedLine?.reqId, access[0].reqId)
})

t.test('SIGHUP: after logrotate moved the files, the service writes to new ones by the same names', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'opendcre-rotate-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const { child, url } = await serveCli(['--log-dir', dir])
  t.teardown(() => { child.kill('SIGKILL') })
  const read = async (path: string): Promise<number> => (await fetch(`${url}/opendcre/1.2${path}`)).status
  t.equal(await read('/read/thermistor/00000001/0001'), 200)
  t.equal(await read('/power/00000001/000d/on'), 200)
  t.equal(await read('/read/thermistor/00000001/00ff'), 500) // an error line
  await sleep(400) // written out (lines are batched for at most 250 ms)

  for (const name of [ACCESS_LOG, ERROR_LOG, AUDIT_LOG]) renameSync(join(dir, name), join(dir, `${name}.1`))
  child.kill('SIGHUP')
  await sleep(200)
  t.equal(child.exitCode, null, 'SIGHUP does not stop the service')
  t.equal(await read('/read/fan_speed/00000001/0002'), 200)
  t.equal(await read('/power/00000001/000d/off'), 200)
  t.equal(await read('/read/thermistor/00000001/00fe'), 500)
  const exit = exited(child)
  child.kill('SIGTERM')
  t.equal(await exit, 0)

  const lines = (file: string): Array<Record<string, unknown>> => readFileSync(join(dir, file), 'utf8').trim().split('\n').map((l) => JSON.parse(l))
  const oldAccess = lines(`${ACCESS_LOG}.1`).filter((l) => l.msg === 'request').map((l) => l.url)
  const newAccess = lines(ACCESS_LOG).filter((l) => l.msg === 'request').map((l) => l.url)
  t.same(oldAccess, ['/opendcre/1.2/read/thermistor/00000001/0001', '/opendcre/1.2/power/00000001/000d/on', '/opendcre/1.2/read/thermistor/00000001/00ff'], 'before the rotation: the moved file')
  t.same(newAccess, ['/opendcre/1.2/read/fan_speed/00000001/0002', '/opendcre/1.2/power/00000001/000d/off', '/opendcre/1.2/read/thermistor/00000001/00fe'], 'after: the new file')
  t.ok(lines(ACCESS_LOG).some((l) => l.msg === 'log files reopened (SIGHUP)'))
  t.match(lines(`${AUDIT_LOG}.1`), [{ command: 'power on' }])
  t.match(lines(AUDIT_LOG), [{ command: 'power off' }])
  t.equal(lines(`${AUDIT_LOG}.1`).length + lines(AUDIT_LOG).length, 2)
  t.match(lines(`${ERROR_LOG}.1`).map((l) => l.reason), [/No response from bus/])
  t.match(lines(ERROR_LOG).map((l) => l.reason), [/No response from bus/])
})

t.test('the CLI writes each access line once, in pino\'s format, to stdout and the access log; none at --log-level warn', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'opendcre-access-cli-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const { child, url } = await serveCli(['--log-dir', dir, '--emulator', 'emulator-configs/simple.json'])
  t.teardown(() => { child.kill('SIGKILL') })
  let stdout = ''
  child.stdout!.on('data', (d) => { stdout += String(d) })
  // a target with characters JSON must escape, sent as is
  const { port } = new URL(url)
  const raw = '/opendcre/1.2/test?q="quoted"\\back\\'
  const status = await new Promise<number | undefined>((resolve, reject) => {
    request({ host: '127.0.0.1', port, path: raw }, (res) => { res.resume(); res.on('end', () => resolve(res.statusCode)) }).on('error', reject).end()
  })
  t.equal(status, 200)
  t.equal((await fetch(`${url}/opendcre/1.2/read/thermistor/00000001/00ff`)).status, 500)
  const exit = exited(child)
  child.kill('SIGTERM')
  t.equal(await exit, 0)

  const parse = (text: string): Array<Record<string, unknown>> => text.trim().split('\n').map((l) => JSON.parse(l))
  const file = parse(readFileSync(join(dir, ACCESS_LOG), 'utf8'))
  const out = parse(stdout)
  const line = file.find((l) => l.msg === 'request' && l.url === raw)
  t.match(line, { level: 30, time: Number, pid: child.pid, hostname: String, reqId: String, method: 'GET', url: raw, status: 200, ms: Number, client: '127.0.0.1', identity: 'anonymous' })
  t.same(Object.keys(line ?? {}), ['level', 'time', 'pid', 'hostname', 'reqId', 'method', 'url', 'status', 'ms', 'client', 'identity', 'msg'], "the fields in pino's order")
  t.same(out.find((l) => l.msg === 'request' && l.url === raw), line, 'the same line on stdout')
  t.equal(file.filter((l) => l.msg === 'request').length, 2, 'one line per request in the file')
  t.equal(out.filter((l) => l.msg === 'request').length, 2, 'and on stdout')
  t.match(file.find((l) => l.msg === 'request' && l.status === 500), { url: '/opendcre/1.2/read/thermistor/00000001/00ff' })

  // at warn the service does not say where it listens: a port chosen here
  const quiet = join(dir, 'quiet')
  const free = createServer()
  await new Promise<void>((resolve) => free.listen(0, '127.0.0.1', resolve))
  const quietPort = (free.address() as AddressInfo).port
  await new Promise((resolve) => free.close(resolve))
  const q = spawn(process.execPath, [CLI, 'serve', '--host', '127.0.0.1', '--port', String(quietPort), '--log-dir', quiet, '--log-level', 'warn', '--emulator', 'emulator-configs/simple.json'], { cwd: packageRoot, stdio: 'ignore' })
  t.teardown(() => { q.kill('SIGKILL') })
  let answered: number | undefined
  for (let i = 0; i < 200 && answered === undefined; i++) {
    answered = await fetch(`http://127.0.0.1:${quietPort}/opendcre/1.2/test`).then((res) => res.status, async () => { await sleep(100); return undefined })
  }
  t.equal(answered, 200)
  const quietExit = exited(q)
  q.kill('SIGTERM')
  t.equal(await quietExit, 0)
  t.notMatch(readFileSync(join(quiet, ACCESS_LOG), 'utf8'), /"msg":"request"/, 'no access line at warn')
})

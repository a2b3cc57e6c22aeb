import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { addUser } from '../../auth/users-file.js'
import { destination, pino } from 'pino'
import { REDACT } from '../../server.js'
import { build, fixture, PREFIX } from '../helper.js'
import { startSim } from '../ipmi/sim.js'
import { expectedChangeOf, type ExpectedChange } from '../routes/command-routes.js'
import { fuzz, generator, LEAKS, send, type FuzzAnswer } from './fuzz.js'

/**
 * §6 abuse run: thousands of random and malformed requests against the
 * service listening on loopback. It must keep answering, in bounded time,
 * never leak a stack trace, and never let a state change through without
 * an operator's credentials.
 */

const COUNT = Number(process.env.FUZZ_COUNT ?? 2500)
const SEED = Number(process.env.FUZZ_SEED ?? 20261122)
const PER_REQUEST_MS = 10_000

/** The state change a raw request path asks for, as the routes would see it; undefined if none or unroutable. */
export function changeOf (path: string): ExpectedChange | undefined {
  if (!path.startsWith(`${PREFIX}/`)) return undefined
  return expectedChangeOf(path.slice(PREFIX.length))
}

async function listen (app: FastifyInstance): Promise<number> {
  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address()
  if (address === null || typeof address === 'string') throw new Error('no port')
  return address.port
}

function check (t: Test, answers: FuzzAnswer[], secrets: string[]): void {
  const silent = answers.filter((a) => a.status === null)
  t.equal(silent.length, 0, `every request answered (${silent.slice(0, 3).map((a) => `${a.request.method} ${a.request.path.slice(0, 80)}`).join('; ')})`)
  const slowest = Math.max(...answers.map((a) => a.ms))
  t.ok(slowest < PER_REQUEST_MS, `slowest answer ${slowest} ms`)
  const leaks = answers.filter((a) => LEAKS.some((re) => re.test(a.body)))
  t.equal(leaks.length, 0, `no stack trace or source path in a body${leaks.length > 0 ? `: ${leaks[0].body.slice(0, 200)}` : ''}`)
  const secretLeaks = answers.filter((a) => secrets.some((s) => a.body.includes(s) || a.headers.includes(s)))
  t.equal(secretLeaks.length, 0, 'no secret in any answer')
  const serverErrors = answers.filter((a) => a.status !== null && a.status >= 500 && !/^\{"message":/.test(a.body) && a.request.method !== 'HEAD')
  t.equal(serverErrors.length, 0, `every 5xx is the API's JSON error${serverErrors.length > 0 ? `: ${serverErrors[0].status} ${serverErrors[0].body.slice(0, 120)}` : ''}`)
  const statuses = new Map<number | null, number>()
  for (const a of answers) statuses.set(a.status, (statuses.get(a.status) ?? 0) + 1)
  t.comment(`statuses: ${[...statuses].sort((a, b) => (a[0] ?? 0) - (b[0] ?? 0)).map(([s, n]) => `${s}×${n}`).join(' ')}`)
}

t.test('state-change detection matches the routes', async (t) => {
  t.same(changeOf(`${PREFIX}/power/on/00000001/0001`), { command: 'power on', board: '00000001', device: '0001' })
  t.same(changeOf(`${PREFIX}/power/00000001/0001/CYCLE`), { command: 'power cycle', board: '00000001', device: '0001' })
  t.equal(changeOf(`${PREFIX}/power/00000001/0001/status`), undefined)
  t.same(changeOf(`${PREFIX}/fan/00000001/0001/5000?x=1`), { command: 'fan 5000', board: '00000001', device: '0001' })
  t.equal(changeOf(`${PREFIX}/led/00000001/0001`), undefined)
  t.equal(changeOf('/opendcre/1.1/power/on/00000001/0001'), undefined)
})

t.test('open configuration: the service keeps answering, bounded, without leaks', async (t) => {
  const logDir = mkdtempSync(join(tmpdir(), 'opendcre-fuzz-'))
  const logFile = join(logDir, 'access.log')
  const app = await build(t, { loggerInstance: pino({ level: 'info', redact: { paths: REDACT, censor: '[redacted]' } }, destination({ dest: logFile, sync: true })), readTimeoutMs: 10, busPolicy: { scanRetryDelayMs: 0 } })
  const port = await listen(app)
  const started = Date.now()
  const answers = await fuzz(port, generator(SEED, { prefix: PREFIX }), COUNT, 16, PER_REQUEST_MS)
  t.comment(`${answers.length} requests in ${Date.now() - started} ms (seed ${SEED})`)
  check(t, answers, [])
  const after = await send(port, generator(1, { prefix: PREFIX })(), 1000).then(async () => await app.inject({ method: 'GET', url: `${PREFIX}/test` }))
  t.equal(after.statusCode, 200, 'still serving /test afterwards')
  t.equal((await app.inject({ method: 'GET', url: `${PREFIX}/scan` })).statusCode, 200, 'and scans')
  await new Promise((resolve) => setTimeout(resolve, 200))
  const log = readFileSync(logFile, 'utf8')
  t.notMatch(log, /"authorization":"(?!\[redacted\])/i, 'no Authorization header value in the access log')
})

t.test('authentication on: no state change without an operator, nothing at all without credentials', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'opendcre-fuzz-auth-'))
  const users = join(dir, 'users.json')
  await addUser(users, 'vera', 'viewer', 'viewer-Secret-1')
  await addUser(users, 'otto', 'operator', 'operator-Secret-2')
  const basic = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`
  const credentials = { viewer: basic('vera', 'viewer-Secret-1'), operator: basic('otto', 'operator-Secret-2') }
  const logFile = join(dir, 'access.log')
  const app = await build(t, {
    usersFile: users,
    loggerInstance: pino({ level: 'info', redact: { paths: REDACT, censor: '[redacted]' } }, destination({ dest: logFile, sync: true })),
    readTimeoutMs: 10,
    busPolicy: { scanRetryDelayMs: 0 }
  })
  const port = await listen(app)
  const answers = await fuzz(port, generator(SEED + 1, { prefix: PREFIX, credentials }), COUNT, 16, PER_REQUEST_MS)
  check(t, answers, ['viewer-Secret-1', 'operator-Secret-2', credentials.viewer.slice(6), credentials.operator.slice(6)])
  const ok = (a: FuzzAnswer): boolean => a.status !== null && a.status >= 200 && a.status < 300
  // open without credentials: the health check, and the dashboard's page and files (no API data: every call it makes needs credentials)
  const dashboardPath = (path: string): boolean => path === '/' || path.startsWith('/?') || path.startsWith('/dashboard/')
  const anonymous = answers.filter((a) => ok(a) && (a.request.credentials === 'none' || a.request.credentials === 'garbage') && !a.request.path.startsWith(`${PREFIX}/health`) && !dashboardPath(a.request.path))
  t.equal(anonymous.length, 0, `no 2xx without valid credentials${anonymous.length > 0 ? `: ${anonymous[0].request.method} ${anonymous[0].request.path}` : ''}`)
  const openPages = answers.filter((a) => ok(a) && dashboardPath(a.request.path))
  t.ok(openPages.every((a) => !/content-type: application\/json/i.test(a.headers)), `the dashboard's open answers (${openPages.length}) carry no API data`)
  const changes = answers.filter((a) => changeOf(a.request.path) !== undefined)
  t.ok(changes.length > 50, `${changes.length} requests asked for a state change`)
  const unauthorized = changes.filter((a) => ok(a) && a.request.credentials !== 'operator')
  t.equal(unauthorized.length, 0, `no state change without an operator${unauthorized.length > 0 ? `: ${unauthorized[0].request.path}` : ''}`)
  const refused = changes.filter((a) => a.request.credentials === 'viewer' && a.status === 403)
  t.ok(refused.length > 0, `viewers were refused with 403 (${refused.length})`)
  const allowed = answers.filter((a) => ok(a) && a.request.credentials === 'operator' && changeOf(a.request.path) !== undefined)
  t.comment(`${allowed.length} state changes by the operator went through`)
  await new Promise((resolve) => setTimeout(resolve, 200))
  const log = readFileSync(logFile, 'utf8')
  for (const secret of ['viewer-Secret-1', 'operator-Secret-2', credentials.viewer.slice(6), credentials.operator.slice(6)]) {
    t.notMatch(log, secret, 'no credential in the log')
  }
})

t.test('a client that half-closes after its request still gets the answer to a slow request', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'opendcre-half-close-'))
  const users = join(dir, 'users.json')
  await addUser(users, 'vera', 'viewer', 'half-Closed-1')
  const app = await build(t, { usersFile: users })
  const port = await listen(app)
  // the first request with these credentials runs scrypt (~0.1 s): the socket's end arrives long before the answer
  const header = `Basic ${Buffer.from('vera:half-Closed-1').toString('base64')}`
  const raw = Buffer.from(`GET ${PREFIX}/scan HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: ${header}\r\nConnection: close\r\n\r\n`)
  const answer = await send(port, { raw, method: 'GET', path: `${PREFIX}/scan`, credentials: 'viewer' }, 5000)
  t.equal(answer.status, 200)
  t.match(answer.body, /"boards"/)
})

t.test('with the IPMI bridge (a live ipmi_sim BMC and a dead one): still answered, bounded, no password anywhere', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'opendcre-fuzz-ipmi-'))
  const live = await startSim(t, { name: 'fuzz-live', emu: fixture('ipmi/bmc-a.emu'), password: 'Fuzz-live-Pw1' })
  const dead = await startSim(t, { name: 'fuzz-dead', emu: fixture('ipmi/bmc-b.emu') })
  await dead.stop()
  const bmcConfig = join(dir, 'bmc_config.json')
  const entry = (port: number, password: string): Record<string, unknown> => ({
    bmc_ip: '127.0.0.1', bmc_port: port, username: 'ADMIN', password, auth_type: 'RAKP_HMAC_SHA1', integrity_type: 'HMAC_SHA1_96', encryption_type: 'AES_CBC_128'
  })
  writeFileSync(bmcConfig, JSON.stringify({ timeout_ms: 500, bmcs: [entry(live.port, 'Fuzz-live-Pw1'), entry(dead.port, 'Fuzz-dead-Pw2')] }))
  const logFile = join(dir, 'access.log')
  const app = await build(t, {
    bmcConfig,
    loggerInstance: pino({ level: 'debug', redact: { paths: REDACT, censor: '[redacted]' } }, destination({ dest: logFile, sync: true })),
    readTimeoutMs: 10,
    busPolicy: { scanRetryDelayMs: 0 }
  })
  const port = await listen(app)
  const answers = await fuzz(port, generator(SEED + 2, { prefix: PREFIX, plausible: ['40000001', '40000002', '40000001', '40000002', '0001', '0010', '0100', '0200', 'fan_speed', 'hdd', 'cycle'] }), Math.ceil(COUNT / 2), 16, PER_REQUEST_MS)
  check(t, answers, ['Fuzz-live-Pw1', 'Fuzz-dead-Pw2'])
  const ipmi = answers.filter((a) => /\/40000001(\/|$|\?)/.test(a.request.path) && a.status === 200)
  t.ok(ipmi.length > 0, `the live BMC answered fuzzed requests (${ipmi.length} with 200)`)
  t.equal((await app.inject({ method: 'GET', url: `${PREFIX}/read/temperature/40000001/0001` })).json().temperature_c, 48.5, 'and still reads its sensor afterwards')
  await new Promise((resolve) => setTimeout(resolve, 200))
  const log = readFileSync(logFile, 'utf8')
  t.notMatch(log, /Fuzz-live-Pw1|Fuzz-dead-Pw2/, 'no BMC password in the debug log')
})

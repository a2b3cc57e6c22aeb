import { mkdtempSync, readFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t, { type Test } from 'tap'
import type { FastifyInstance } from 'fastify'
import { stateChange } from '../../plugins/audit.js'
import { destination, pino } from 'pino'
import { REDACT } from '../../server.js'
import { build, PREFIX } from '../helper.js'
import { routeOf } from '../routes/command-routes.js'
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
export function changeOf (path: string): ReturnType<typeof stateChange> {
  if (!path.startsWith(`${PREFIX}/`)) return undefined
  const bare = path.slice(PREFIX.length).replace(/[?#].*$/, '')
  const route = routeOf(bare)
  if (route === undefined) return undefined
  const names = route.split('/')
  const values = bare.split('/')
  const params: Record<string, string> = {}
  for (let i = 0; i < names.length; i++) {
    if (!names[i].startsWith(':')) continue
    try {
      params[names[i].slice(1)] = decodeURIComponent(values[i])
    } catch {
      return undefined
    }
  }
  return stateChange(`${PREFIX}${route}`, params)
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

/**
 * Property-based (fast-check): random methods, paths, query strings,
 * headers and bodies against the service as production builds it, with the
 * device-bus emulator and an embedded Redfish server behind it.
 *  - every answer: no 5xx but the documented backend errors (500 or 503
 *    {"message"} of a failed command or a full queue, never an unexpected
 *    error), no stack trace; no stack in any log line;
 *  - authentication on, no operator credentials (anonymous, a viewer, bad
 *    credentials): no state change (read back at the end, and no audit
 *    line 'ok');
 *  - authentication off, every request marked as coming from another site's
 *    page (Origin or Sec-Fetch-Site): no state change.
 * The streams are left out (an event stream never ends; test/security/streams.test.ts).
 */
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import fc from 'fast-check'
import type { FastifyInstance } from 'fastify'
import { pino } from 'pino'
import t, { type Test } from 'tap'
import { addUser } from '../../auth/users-file.js'
import { build } from '../helper.js'

const dir = mkdtempSync(join(tmpdir(), 'opendcre-random-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

const PREFIX = '/opendcre/1.2'
const STACK = /\n\s+at |"stack"|\.ts:\d+:\d+|node_modules/
const basicHeader = (user: string, password: string): string => `Basic ${Buffer.from(`${user}:${password}`).toString('base64')}`

const COMMANDS = ['power', 'led', 'boot_target', 'fan', 'read', 'scan', 'asset', 'location', 'version', 'test', 'history', 'events', 'plc_config', 'health', 'whoami', 'openapi.json', 'nope']
const SEGMENTS = ['00000001', '00000002', '70000001', '40000001', '0100', '0300', '000d', '0005', '0001', 'on', 'off', 'cycle', 'status', 'hdd', 'pxe', 'no_override', 'blink', '1200', 'thermistor', 'temperature', 'power',
  '..', '.', '', '%', '%2e%2e', '0x10', '-1', 'ffffffffffffffff', '\u00e9', '%00', ' ', '7fffffff']

const segment = fc.oneof(fc.constantFrom(...SEGMENTS), fc.string({ maxLength: 12 }).map(encodeURIComponent), fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF'), minLength: 1, maxLength: 10 }))
const path = fc.tuple(
  fc.constantFrom(PREFIX, PREFIX, PREFIX, '', '/dashboard', '/metrics', '/opendcre'),
  fc.oneof(fc.constantFrom(...COMMANDS), fc.string({ maxLength: 8 }).map(encodeURIComponent)),
  fc.array(segment, { maxLength: 5 })
).map(([prefix, command, rest]) => [prefix, command, ...rest].join('/'))
const queryValue = fc.oneof(fc.constantFrom('-1e309', '0x10', ' ', '', '1e3', '5', '0.5', 'NaN', 'Infinity', '86401', '-0'), fc.string({ maxLength: 10 }).map(encodeURIComponent))
const query = fc.array(fc.tuple(fc.constantFrom('max_age', 'board_id', 'device_id', 'x', 'max_age[]'), queryValue), { maxLength: 3 })
  .map((pairs) => pairs.length === 0 ? '' : `?${pairs.map(([k, v]) => `${k}=${v}`).join('&')}`)
const BROWSER = {
  origin: fc.constantFrom('http://127.0.0.2:8080', 'https://attacker.example', 'null', 'http://localhost:80', 'http://localhost'),
  'sec-fetch-site': fc.constantFrom('cross-site', 'same-site', 'same-origin', 'none'),
  host: fc.constantFrom('localhost:80', 'localhost', '127.0.0.1:5000', '[::1]:5000', 'attacker.example', 'localhost.attacker.example', ''),
  'content-type': fc.constantFrom('application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', 'garbage/\u00ff'),
  'access-control-request-method': fc.constantFrom('GET', 'POST', 'DELETE'),
  'x-random': fc.string({ maxLength: 20 }).filter((s) => /^[\x20-\x7e]*$/.test(s))
}
const headers = (authorization: fc.Arbitrary<string>): fc.Arbitrary<Record<string, string>> => fc.record({ ...BROWSER, authorization }, { requiredKeys: [] })
const body = fc.option(fc.oneof(fc.string({ maxLength: 200 }), fc.json({ maxDepth: 2 })), { nil: undefined })
const METHODS = ['GET', 'POST', 'HEAD', 'PUT', 'DELETE', 'OPTIONS', 'PATCH'] as const

interface RandomRequest { method: typeof METHODS[number], url: string, headers: Record<string, string>, body?: string }

function requests (auth: fc.Arbitrary<string>, crossSite: boolean): fc.Arbitrary<RandomRequest> {
  return fc.record({ method: fc.constantFrom(...METHODS), path, query, headers: headers(auth), body, marker: fc.constantFrom('origin', 'sec-fetch-site') })
    .filter((r) => !/\/stream(\/|$|\?)/.test(r.path))
    .map((r) => {
      const h = { ...r.headers }
      if (crossSite && r.marker === 'origin') h.origin = 'https://attacker.example'
      if (crossSite && r.marker === 'sec-fetch-site') h['sec-fetch-site'] = 'cross-site'
      return { method: r.method, url: `${r.path}${r.query}`, headers: h, body: r.method === 'GET' || r.method === 'HEAD' ? undefined : r.body }
    })
}

async function app (t: Test, extra: Record<string, unknown>): Promise<{ app: FastifyInstance, log: string[], audit: string }> {
  const log: string[] = []
  const sink = new Writable({ write (chunk, _encoding, done) { log.push(String(chunk)); done() } })
  const audit = join(mkdtempSync(join(dir, 'audit-')), 'audit.log')
  const instance = await build(t, { loggerInstance: pino({ level: 'info' }, sink), auditLog: audit, readTimeoutMs: 20, redfish: { embedded: true }, ...extra })
  return { app: instance, log, audit }
}

async function boardState (app: FastifyInstance, authorization?: string): Promise<string> {
  const headers = authorization !== undefined ? { authorization } : {}
  // the Redfish board: its state changes only when told (the device-bus emulator's answers cycle by config)
  const paths = ['/power/70000001/0100', '/led/70000001/0300', '/boot_target/70000001/0100']
  const answers = await Promise.all(paths.map(async (p) => {
    const body = (await app.inject({ url: `${PREFIX}${p}`, headers })).json() as Record<string, unknown>
    return JSON.stringify({ power_status: body.power_status, led_state: body.led_state, target: body.target })
  }))
  return answers.join('\n')
}

/** Runs the property; returns how many inputs were tried. */
async function check (t: Test, target: { app: FastifyInstance, log: string[] }, arbitrary: fc.Arbitrary<RandomRequest>, runs: number): Promise<number> {
  let tried = 0
  await fc.assert(fc.asyncProperty(arbitrary, async (request) => {
    tried++
    const res = await target.app.inject({ method: request.method, url: request.url, headers: request.headers, ...(request.body !== undefined ? { payload: request.body } : {}) })
    const where = `${request.method} ${request.url} ${JSON.stringify(request.headers)} -> ${res.statusCode} ${res.body.slice(0, 200)}`
    if (STACK.test(res.body)) throw new Error(`a stack in the answer: ${where}`)
    if (res.statusCode >= 500) {
      if (![500, 503].includes(res.statusCode)) throw new Error(`an undocumented 5xx: ${where}`)
      // HEAD: the same answer without its body
      if (request.method === 'HEAD') return
      const message = (JSON.parse(res.body) as { message?: unknown }).message
      if (typeof message !== 'string' || message === 'Internal Server Error') throw new Error(`an unexpected error: ${where}`)
    }
  }), { numRuns: runs, seed: Number(process.env.FC_SEED ?? Date.now() % 2147483647), endOnFailure: true })
  const stacked = target.log.filter((line) => STACK.test(line) || /unexpected error/.test(line))
  t.same(stacked.slice(0, 3), [], 'no stack, no unexpected error in any log line')
  return tried
}

function okAudits (file: string): string[] {
  try {
    return readFileSync(file, 'utf8').split('\n').filter((l) => l.includes('"result":"ok"'))
  } catch {
    return []
  }
}

const started = Date.now()
let total = 0

t.test('auth off: random requests, no undocumented 5xx, no stack', async (t) => {
  const target = await app(t, {})
  const tried = await check(t, target, requests(fc.constantFrom('', 'Basic Zm9vOmJhcg==', 'Bearer x'), false), 700)
  t.equal(tried, 700)
  total += tried
})

t.test('auth off, every request from another site\'s page: no state change', async (t) => {
  const target = await app(t, {})
  const before = await boardState(target.app)
  const tried = await check(t, target, requests(fc.constantFrom('', 'Bearer x'), true), 600)
  total += tried
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.same(await boardState(target.app), before, 'power, LED and boot target read back unchanged')
  t.same(okAudits(target.audit), [], 'no state change in the audit log')
})

t.test('auth on, anonymous, a viewer or bad credentials: no state change', async (t) => {
  const users = join(dir, 'users.json')
  await addUser(users, 'otto', 'operator', 'random-Op-1')
  await addUser(users, 'vera', 'viewer', 'random-View-1')
  const target = await app(t, { usersFile: users })
  const operator = basicHeader('otto', 'random-Op-1')
  const before = await boardState(target.app, operator)
  const authorization = fc.constantFrom(basicHeader('vera', 'random-View-1'), basicHeader('otto', 'wrong'), basicHeader('nobody', 'x'), '', 'Basic !!!', 'Bearer abc.def.ghi', 'Digest x')
  const tried = await check(t, target, requests(authorization, false), 700)
  total += tried
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.same(await boardState(target.app, operator), before, 'power, LED and boot target read back unchanged')
  t.same(okAudits(target.audit), [], 'no state change in the audit log')
})

t.test('how many inputs', async (t) => {
  const seconds = (Date.now() - started) / 1000
  t.comment(`random requests tried: ${total} in ${seconds.toFixed(1)} s`)
  t.equal(total, 2000)
  t.ok(seconds < 120, 'bounded in time')
})

import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import { PREFIX } from '../helper.js'
import { routeOf } from '../routes/command-routes.js'

/**
 * The role matrix of issue 5 §3, reusable for every provider (Basic, JWT, LDAP):
 *
 *   await checkRoleMatrix(t, appOrBaseUrl, {
 *     viewer: { authorization: 'Basic ...' },     // headers that authenticate a viewer
 *     operator: { authorization: 'Bearer ...' },  // ... an operator
 *     wrong: [{ authorization: 'Basic ...' }]     // credentials of the provider's kind that must fail
 *   }, { challenge: /Basic realm="opendcre"/ })  // what WWW-Authenticate must offer
 *
 * target: a built app (requests go through app.inject) or a listening
 * service's base URL (http://127.0.0.1:PORT, requests go through fetch).
 * The service must run the default emulator configuration (simple.json):
 * the expected statuses below are its answers.
 *
 * For every state-changing route in every URL form (power on/off/cycle in
 * the three power forms, led on/off with and without a color, fan rpm,
 * boot_target set), with GET and with POST: no credentials → 401 JSON with
 * WWW-Authenticate; each wrong credential → 401; viewer → 403 JSON; operator
 * → the backend's normal answer; with HEAD, whoever asks: 405 with Allow:
 * GET, POST (HEAD never changes state). For every read-only command, GET,
 * POST and HEAD: viewer and operator → the backend's answer; no
 * credentials → 401. The health check answers without credentials.
 *
 * Returns every request it made, in order, for checking the audit log.
 */
interface RoleCredentials {
  viewer: Record<string, string>
  operator: Record<string, string>
  wrong: Array<Record<string, string>>
}

interface Answer { status: number, headers: Record<string, unknown>, body: string }
export type Method = 'GET' | 'POST' | 'HEAD'
type Send = (method: Method, path: string, headers: Record<string, string>) => Promise<Answer>

/** Who sent a request: no credentials, wrong ones, a viewer's, an operator's. */
export type Who = 'none' | 'wrong' | 'viewer' | 'operator'

/** One request the matrix made and its answer's status, in order (the audit log's lines follow it). */
export interface Sent { method: Method, path: string, who: Who, status: number }

interface MatrixOptions {
  /** What WWW-Authenticate must offer. */
  challenge: RegExp
  /** The API's base path (default /opendcre/1.2, as the default endpoint_prefix gives). */
  base?: string
}

/** State changes: the path (below /opendcre/1.2) and the operator's answer on simple.json. */
export const STATE_CHANGES: Array<{ path: string, status: number }> = [
  { path: '/power/00000001/000d/on', status: 200 },
  { path: '/power/00000001/000d/off', status: 200 },
  { path: '/power/00000001/000d/cycle', status: 200 },
  { path: '/power/on/00000001/000d', status: 200 }, // v1.2's deprecated order
  { path: '/power/off/00000001/000d', status: 200 },
  { path: '/power/cycle/00000001/000d', status: 200 },
  { path: '/power/power/00000001/000d/on', status: 200 }, // with the device type
  { path: '/power/power/00000001/000d/off', status: 200 },
  { path: '/power/power/00000001/000d/cycle', status: 200 },
  { path: '/led/00000002/0005/on', status: 200 },
  { path: '/led/00000002/0005/off', status: 200 },
  { path: '/led/00000002/0005/on/ff0000', status: 500 }, // color: not supported on the bus
  { path: '/led/00000002/0005/off/ff0000', status: 500 },
  { path: '/fan/00000002/0002/4000', status: 200 },
  { path: '/fan/00000002/0002/0', status: 200 },
  { path: '/boot_target/00000001/0004/pxe', status: 500 }, // not supported on bus boards, as v1.2
  { path: '/boot_target/00000001/0004/hdd', status: 500 },
  { path: '/boot_target/00000001/0004/no_override', status: 500 }
]

/** Read-only commands and their answer on simple.json. */
export const READS: Array<{ path: string, status: number }> = [
  { path: '/test', status: 200 },
  { path: '/scan', status: 200 },
  { path: '/scan/00000001', status: 200 },
  { path: '/version/00000001', status: 200 },
  { path: '/read/thermistor/00000001/0001', status: 200 },
  { path: '/power/00000001/000d', status: 200 },
  { path: '/power/00000001/000d/status', status: 200 },
  { path: '/power/status/00000001/000d', status: 200 },
  { path: '/power/power/00000001/000d/status', status: 200 },
  { path: '/location/00000001', status: 200 },
  { path: '/location/00000001/72df', status: 200 },
  { path: '/led/00000002/0005', status: 200 },
  { path: '/fan/00000002/0002', status: 200 },
  { path: '/asset/00000001/0004', status: 500 },
  { path: '/boot_target/00000001/0004', status: 500 },
  { path: '/plc_config', status: 500 }
]

function injector (app: FastifyInstance, base = PREFIX): Send {
  return async (method, path, headers) => {
    const res = await app.inject({ method, url: `${base}${path}`, headers })
    return { status: res.statusCode, headers: res.headers, body: res.body }
  }
}

export function fetcher (baseUrl: string, base = PREFIX): Send {
  return async (method, path, headers) => {
    const res = await fetch(`${baseUrl}${base}${path}`, { method, headers, signal: AbortSignal.timeout(15_000) })
    return { status: res.status, headers: Object.fromEntries(res.headers), body: await res.text() }
  }
}

function message (body: string): unknown {
  try {
    return (JSON.parse(body) as { message?: unknown }).message
  } catch {
    return undefined
  }
}

export async function checkRoleMatrix (t: Test, target: FastifyInstance | string, credentials: RoleCredentials, options: MatrixOptions): Promise<Sent[]> {
  const base = options.base ?? PREFIX
  const raw = typeof target === 'string' ? fetcher(target, base) : injector(target, base)
  const sent: Sent[] = []
  const send = async (method: Method, path: string, who: Who, headers: Record<string, string>): Promise<Answer> => {
    const answer = await raw(method, path, headers)
    sent.push({ method, path, who, status: answer.status })
    return answer
  }

  const health = await send('GET', '/health', 'none', {})
  t.equal(health.status, 200, 'the health check answers without credentials')

  for (const { path, status } of STATE_CHANGES) {
    t.ok(routeOf(path), `${path} is a command route`)
    for (const method of ['GET', 'POST'] as const) {
      const what = `${method} ${base}${path}`
      const none = await send(method, path, 'none', {})
      t.equal(none.status, 401, `${what}: no credentials → 401`)
      t.match(String(none.headers['www-authenticate']), options.challenge, `${what}: WWW-Authenticate offers the challenge`)
      t.type(message(none.body), 'string', `${what}: 401 body is {"message"}`)
      for (const [i, wrong] of credentials.wrong.entries()) {
        const res = await send(method, path, 'wrong', wrong)
        t.equal(res.status, 401, `${what}: wrong credentials #${i} → 401`)
        t.match(String(res.headers['www-authenticate']), options.challenge, `${what}: wrong credentials #${i}: WWW-Authenticate`)
      }
      const viewer = await send(method, path, 'viewer', credentials.viewer)
      t.equal(viewer.status, 403, `${what}: viewer → 403`)
      t.match(message(viewer.body), /forbidden/, `${what}: viewer: 403 body is {"message"}`)
      const operator = await send(method, path, 'operator', credentials.operator)
      t.equal(operator.status, status, `${what}: operator → the backend's answer (${status})`)
    }
    const what = `HEAD ${base}${path}`
    const asked: Array<[Who, Record<string, string>]> = [['none', {}], ...credentials.wrong.map((w): [Who, Record<string, string>] => ['wrong', w]), ['viewer', credentials.viewer], ['operator', credentials.operator]]
    for (const [who, headers] of asked) {
      const res = await send('HEAD', path, who, headers)
      t.equal(res.status, 405, `${what}: ${who} → 405`)
      t.equal(res.headers.allow, 'GET, POST', `${what}: ${who}: Allow: GET, POST`)
    }
  }

  for (const { path, status } of READS) {
    t.ok(routeOf(path), `${path} is a command route`)
    for (const method of ['GET', 'POST', 'HEAD'] as const) {
      const what = `${method} ${base}${path}`
      t.equal((await send(method, path, 'none', {})).status, 401, `${what}: no credentials → 401`)
      t.equal((await send(method, path, 'viewer', credentials.viewer)).status, status, `${what}: viewer → the backend's answer (${status})`)
      t.equal((await send(method, path, 'operator', credentials.operator)).status, status, `${what}: operator → the backend's answer (${status})`)
    }
  }
  return sent
}

import { connect } from 'node:net'
import { COMMAND_ROUTES } from '../routes/command-routes.js'

/**
 * A seeded fuzzer for the running service: random and malformed paths, ids,
 * methods, headers and bodies, sent as raw bytes over loopback (so nothing
 * a client library would refuse is left out). Seeded: a failure names its
 * seed and request number, and replays exactly.
 */

export interface FuzzRequest {
  /** The raw request bytes. */
  raw: Buffer
  method: string
  path: string
  /** Whether it carried credentials that should let it through. */
  credentials: 'none' | 'garbage' | 'viewer' | 'operator'
}

export interface FuzzAnswer {
  request: FuzzRequest
  /** null: the connection closed or timed out without a status line. */
  status: number | null
  headers: string
  body: string
  ms: number
}

/** mulberry32: small, fast, good enough to pick cases reproducibly. */
function prng (seed: number): () => number {
  let a = seed >>> 0
  return () => {
    a = (a + 0x6d2b79f5) >>> 0
    let x = a
    x = Math.imul(x ^ (x >>> 15), x | 1)
    x ^= x + Math.imul(x ^ (x >>> 7), x | 61)
    return ((x ^ (x >>> 14)) >>> 0) / 4294967296
  }
}

const HEX = '0123456789abcdefABCDEF'

interface FuzzOptions {
  prefix: string
  /** Authorization header values by role, when authentication is on. */
  credentials?: { viewer: string, operator: string }
  /** Well-formed values the route templates should use often (e.g. the boards a backend serves). */
  plausible?: string[]
}

export function generator (seed: number, options: FuzzOptions): () => FuzzRequest {
  const rnd = prng(seed)
  const int = (n: number): number => Math.floor(rnd() * n)
  const pick = <T>(items: readonly T[]): T => items[int(items.length)]
  const hex = (n: number): string => Array.from({ length: n }, () => HEX[int(HEX.length)]).join('')
  const bytes = (n: number): string => Array.from({ length: n }, () => String.fromCharCode(int(256))).join('')

  const id = (): string => pick([
    () => hex(8), () => hex(4), () => hex(int(40)), () => `-${hex(2)}`, () => `0x${hex(6)}`, () => '40000001', () => '80000000',
    () => 'ffffffff', () => '0'.repeat(int(300)), () => encodeURIComponent(bytes(int(8))), () => '%00', () => '%ff%fe', () => '..',
    () => '%2e%2e', () => ' 1', () => '1e5', () => 'NaN', () => 'hot_dog', () => '\u00e9t\u00e9', () => '00000001', () => '0001',
    () => '%', () => '%zz', () => 'ＡＢ', () => '00000001;rm -rf', () => '{{7*7}}', () => '$(id)', () => '<script>'
  ])()
  const word = (): string => pick(['on', 'off', 'cycle', 'status', 'ON', 'Off', 'pxe', 'hdd', 'no_override', 'temperature', 'thermistor',
    'fan_speed', 'humidity', 'led', 'power', 'red', '0', '5000', '10001', '-1', '99999999999999999999999', 'x'.repeat(int(250)), id()])

  const commands = ['test', 'scan', 'version', 'read', 'power', 'asset', 'boot_target', 'location', 'led', 'fan', 'plc_config', 'health',
    'openapi.json', 'docs', 'nope', '', 'Scan', 'SCAN']
  const plausible = ['00000001', '0001', '01ff', 'on', 'off', 'status', 'pxe', 'temperature', '40000001', ...(options.plausible ?? [])]
  // most parameters are URL-encoded (they reach the routes); some go raw (they test the HTTP parser)
  const param = (): string => {
    const value = rnd() < 0.5 ? id() : word()
    return rnd() < 0.85 ? encodeURIComponent(value) : value
  }
  const path = (): string => {
    let p: string
    if (rnd() < 0.7) {
      p = options.prefix + pick(COMMAND_ROUTES).replace(/:[a-z_]+/g, () => rnd() < 0.3 ? pick(plausible) : param())
    } else {
      const base = pick([options.prefix, options.prefix, '/opendcre/1.1', '/opendcre', '', '/metrics', '//opendcre/1.2', '/opendcre/1.2/../1.2'])
      const segments = [pick(commands)]
      const n = int(6)
      for (let i = 0; i < n; i++) segments.push(param())
      p = `${base}/${segments.join('/')}`
    }
    if (rnd() < 0.1) p += '/'
    if (rnd() < 0.1) p += `?${pick(['a=1', 'board_id=1', '__proto__[x]=1', 'x='.padEnd(int(2000), 'y'), 'constructor=1'])}`
    if (rnd() < 0.03) p = `/${'a'.repeat(1000 + int(5000))}`
    if (rnd() < 0.03) p = pick(['*', 'http://evil.example/opendcre/1.2/test', `${options.prefix}/test#frag`, `${options.prefix}/%`])
    return p
  }

  return () => {
    const method = pick(['GET', 'GET', 'GET', 'POST', 'POST', 'PUT', 'DELETE', 'HEAD', 'OPTIONS', 'PATCH', 'TRACE', 'FOO', 'get'])
    const target = path()
    const headers: string[] = ['Host: 127.0.0.1']
    let credentials: FuzzRequest['credentials'] = 'none'
    const auth = rnd()
    if (options.credentials !== undefined && auth < 0.2) {
      credentials = rnd() < 0.5 ? 'viewer' : 'operator'
      headers.push(`Authorization: ${options.credentials[credentials]}`)
    } else if (auth < 0.5) {
      credentials = 'garbage'
      headers.push(`Authorization: ${pick([
        `Basic ${Buffer.from(`${word()}:${word()}`).toString('base64')}`, 'Basic', 'Basic !!!', `Basic ${Buffer.from(bytes(20), 'latin1').toString('base64')}`,
        `Bearer ${hex(int(300))}`, 'Bearer eyJhbGciOiJub25lIn0.eyJyb2xlIjoib3BlcmF0b3IifQ.', 'Bearer a.b.c', 'Negotiate xyz', 'Basic '.padEnd(9000, 'A'),
        `Basic ${Buffer.from('admin:').toString('base64')}`, `Basic ${Buffer.from(':').toString('base64')}`, `Digest username="${word()}"`
      ])}`)
    }
    if (rnd() < 0.2) headers.push(`X-${hex(4)}: ${pick(['1', bytes(int(40)).replace(/[\r\n]/g, ''), 'x'.repeat(int(20000))])}`)
    if (rnd() < 0.1) headers.push('Transfer-Encoding: chunked')
    let body = ''
    if (method === 'POST' || method === 'PUT' || method === 'PATCH') {
      if (rnd() < 0.6) {
        body = pick(['{}', '{"a":', 'null', '[]', '{"__proto__":{"x":1}}', bytes(int(200)), 'x'.repeat(int(80000)), JSON.stringify({ state: word() })])
        headers.push(`Content-Type: ${pick(['application/json', 'text/plain', 'application/x-www-form-urlencoded', 'multipart/form-data; boundary=x', bytes(8).replace(/[\r\n]/g, '')])}`)
      }
    }
    const chunked = headers.includes('Transfer-Encoding: chunked')
    if (!chunked) headers.push(`Content-Length: ${Buffer.byteLength(body, 'latin1')}`)
    const payload = chunked ? `${Buffer.byteLength(body, 'latin1').toString(16)}\r\n${body}\r\n0\r\n\r\n` : body
    const raw = Buffer.from(`${method} ${target} HTTP/1.1\r\n${headers.join('\r\n')}\r\nConnection: close\r\n\r\n${payload}`, 'latin1')
    return { raw, method, path: target, credentials }
  }
}

/** Sends one raw request and reads the whole answer (the server closes: Connection: close). */
export async function send (port: number, request: FuzzRequest, timeoutMs: number): Promise<FuzzAnswer> {
  const started = Date.now()
  return await new Promise((resolve) => {
    const chunks: Buffer[] = []
    const socket = connect({ host: '127.0.0.1', port })
    const finish = (): void => {
      clearTimeout(timer)
      socket.destroy()
      const text = Buffer.concat(chunks).toString('latin1')
      const status = /^HTTP\/1\.1 (\d{3})/.exec(text)
      const split = text.indexOf('\r\n\r\n')
      resolve({
        request,
        status: status === null ? null : Number(status[1]),
        headers: split < 0 ? text : text.slice(0, split),
        body: split < 0 ? '' : text.slice(split + 4),
        ms: Date.now() - started
      })
    }
    const timer = setTimeout(finish, timeoutMs)
    socket.on('data', (chunk) => chunks.push(chunk))
    socket.on('end', finish)
    socket.on('error', finish)
    socket.on('connect', () => socket.end(request.raw))
  })
}

/** Runs `count` requests, `concurrency` at a time. */
export async function fuzz (port: number, next: () => FuzzRequest, count: number, concurrency: number, timeoutMs: number): Promise<FuzzAnswer[]> {
  const answers: FuzzAnswer[] = []
  let sent = 0
  const worker = async (): Promise<void> => {
    while (sent < count) {
      sent++
      answers.push(await send(port, next(), timeoutMs))
    }
  }
  await Promise.all(Array.from({ length: concurrency }, worker))
  return answers
}

/** Things a response must never contain: stack frames, source paths. */
export const LEAKS = [/\n\s+at .+\(/, /\bat [\w.<>]+ \(\/?[\w/.-]+:\d+:\d+\)/, /\/work\/|node_modules|\.ts:\d+|file:\/\//, /\bError: .*\n\s+at /]

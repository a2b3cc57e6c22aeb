/**
 * The client side of the CLI: `opendcre scan`, `opendcre read TYPE BOARD DEVICE`,
 * ... against a running service. A readable table by default, JSON with --json.
 */
import { API_VERSION } from '../config/service-config.js'

/** The service's endpoint_prefix when none is given (v1.2's default). */
const DEFAULT_PREFIX = '/opendcre/'

interface ClientCommand {
  /** The v1.2 path under PREFIX/1.2 for these arguments. */
  path: (args: string[]) => string
  usage: string
  /** How many positional arguments (min, max). */
  arity: [number, number]
}

const seg = (args: string[]): string => args.map((a) => encodeURIComponent(a)).join('/')

export const CLIENT_COMMANDS: Record<string, ClientCommand> = {
  test: { usage: 'test', arity: [0, 0], path: () => '/test' },
  scan: { usage: 'scan [BOARD]', arity: [0, 1], path: (a) => a.length === 0 ? '/scan' : `/scan/${seg(a)}` },
  version: { usage: 'version BOARD', arity: [1, 1], path: (a) => `/version/${seg(a)}` },
  read: { usage: 'read TYPE BOARD DEVICE', arity: [3, 3], path: (a) => `/read/${seg(a)}` },
  power: { usage: 'power BOARD DEVICE [on|off|cycle|status]', arity: [2, 3], path: (a) => `/power/${seg(a)}` },
  location: { usage: 'location BOARD [DEVICE]', arity: [1, 2], path: (a) => `/location/${seg(a)}` },
  led: { usage: 'led BOARD DEVICE [on|off]', arity: [2, 3], path: (a) => `/led/${seg(a)}` },
  fan: { usage: 'fan BOARD DEVICE [RPM]', arity: [2, 3], path: (a) => `/fan/${seg(a)}` },
  asset: { usage: 'asset BOARD DEVICE', arity: [2, 2], path: (a) => `/asset/${seg(a)}` },
  'boot-target': { usage: 'boot-target BOARD DEVICE [hdd|pxe|no_override]', arity: [2, 3], path: (a) => `/boot_target/${seg(a)}` }
}

type Json = null | boolean | number | string | Json[] | { [key: string]: Json }

/** Rows of [key, value] for a nested object: chassis_location.depth  middle */
function flatten (value: Json, prefix = ''): Array<[string, string]> {
  if (value !== null && typeof value === 'object' && !Array.isArray(value)) {
    return Object.entries(value).flatMap(([k, v]) => flatten(v, prefix === '' ? k : `${prefix}.${k}`))
  }
  return [[prefix, typeof value === 'string' ? value : JSON.stringify(value)]]
}

function table (header: string[], rows: string[][]): string {
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => (r[i] ?? '').length)))
  const line = (cells: string[]): string => cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()
  return [line(header), line(widths.map((w) => '-'.repeat(w))), ...rows.map(line)].join('\n')
}

/** A readable rendering: a board/device table for scans, key/value rows otherwise. */
export function render (body: Json): string {
  if (body !== null && typeof body === 'object' && !Array.isArray(body) && Array.isArray(body.boards)) {
    const rows: string[][] = []
    for (const board of body.boards as Array<{ board_id: string, devices: Array<{ device_id: string, device_type: string, device_info?: string }> }>) {
      for (const d of board.devices) rows.push([board.board_id, d.device_id, d.device_type, d.device_info ?? ''])
    }
    return table(['BOARD', 'DEVICE', 'TYPE', 'INFO'], rows)
  }
  return table(['FIELD', 'VALUE'], flatten(body).map(([k, v]) => [k, v]))
}

interface ClientResult { exitCode: number, output: string }

/** HTTP Basic (user and password) or a bearer token, when the service asks for credentials. */
export type ClientCredentials = { user: string, password: string } | { token: string }

function authorizationHeader (credentials: ClientCredentials): string {
  return 'token' in credentials
    ? `Bearer ${credentials.token}`
    : `Basic ${Buffer.from(`${credentials.user}:${credentials.password}`, 'utf8').toString('base64')}`
}

interface ClientOptions {
  url: string
  /** The service's endpoint_prefix, as opendcre_config.json spells it ('/dcre/', '/api/dc'); default DEFAULT_PREFIX. */
  prefix?: string
  json: boolean
  credentials?: ClientCredentials
  fetchImpl?: typeof fetch
}

/** Run one client command; never throws. */
export async function runClient (command: string, args: string[], options: ClientOptions): Promise<ClientResult> {
  const spec = CLIENT_COMMANDS[command]
  if (spec === undefined) return { exitCode: 2, output: `unknown command '${command}'` }
  if (args.length < spec.arity[0] || args.length > spec.arity[1]) return { exitCode: 2, output: `usage: opendcre ${spec.usage}` }
  const prefix = options.prefix ?? DEFAULT_PREFIX
  if (!prefix.startsWith('/')) return { exitCode: 2, output: `--prefix: must be a path starting with '/' (the service's endpoint_prefix), not '${prefix}'` }
  // as the service reads endpoint_prefix: trailing slashes dropped, then the API version
  const url = `${options.url.replace(/\/+$/, '')}${prefix.replace(/\/+$/, '')}/${API_VERSION}${spec.path(args)}`
  let res: Response
  try {
    const headers: Record<string, string> = options.credentials !== undefined ? { authorization: authorizationHeader(options.credentials) } : {}
    res = await (options.fetchImpl ?? fetch)(url, { headers, signal: AbortSignal.timeout(30_000) })
  } catch (err) {
    const cause = (err as Error & { cause?: Error }).cause
    return { exitCode: 1, output: `cannot reach ${options.url}: ${cause?.message ?? (err as Error).message}` }
  }
  const text = await res.text()
  let body: Json
  try {
    body = JSON.parse(text) as Json
  } catch {
    return { exitCode: 1, output: `HTTP ${res.status}: ${text.slice(0, 200)}` }
  }
  if (!res.ok) {
    const message = body !== null && typeof body === 'object' && !Array.isArray(body) && typeof body.message === 'string' ? body.message : text
    if (options.json) return { exitCode: 1, output: text }
    if (res.status === 401) {
      const hint = options.credentials === undefined
        ? 'the service asks for credentials: --user NAME with $OPENDCRE_PASSWORD, or --token TOKEN'
        : 'the service refused these credentials'
      return { exitCode: 1, output: `not authenticated (HTTP 401): ${message}; ${hint} (it accepts: ${res.headers.get('www-authenticate') ?? 'unknown'})` }
    }
    if (res.status === 403) return { exitCode: 1, output: `not allowed (HTTP 403): ${message}` }
    return { exitCode: 1, output: `error (HTTP ${res.status}): ${message}` }
  }
  return { exitCode: 0, output: options.json ? text : render(body) }
}

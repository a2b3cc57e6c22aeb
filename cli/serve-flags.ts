/**
 * The flags of `opendcre serve`, each declared once: this table drives the
 * parsing (node:util parseArgs), the help text and the mapping onto the
 * settings (resolveConfig's options, and the few the server takes itself).
 * One line per flag, so that a change to one flag is a change to one line.
 */
import type { ParseArgsConfig } from 'node:util'
import type { ConfigOptions } from '../config/service-config.js'

/** What `serve` reads from its flags: resolveConfig's options and the server's own. */
interface ServeSettings extends ConfigOptions {
  rateLimit?: number
  corsOrigin?: string
  logLevel?: string
  logDir?: string
  smallMemory?: boolean
}

interface ServeFlag {
  /** The long name, without the dashes. */
  name: string
  type: 'string' | 'boolean'
  /** The value's name in the help ('FILE', 'N'); strings only. */
  arg?: string
  short?: string
  multiple?: boolean
  /** The setting the value goes to; a boolean flag sets it to true, or to false when `negates`. */
  setting?: keyof ServeSettings
  negates?: boolean
  /** Turns the text into the setting's value; throws with the flag's name on a bad one. */
  parse?: (text: string) => number
  /** Help text; '\n' starts a continuation line. */
  help: string
  /** A heading printed before this flag in the help. */
  section?: string
}

const AUTH = 'Authentication (off unless a provider is named; the health check stays open):'

export const SERVE_FLAGS: readonly ServeFlag[] = [
  { name: 'host', type: 'string', arg: 'H', setting: 'host', help: 'address to listen on (default: 127.0.0.1 and ::1 with no\nauthentication; 0.0.0.0 with it); elsewhere without\nauthentication logs a warning' },
  { name: 'port', type: 'string', arg: 'P', setting: 'port', parse: parsePort, help: 'port to listen on (default 5000, or the config file\'s)' },
  { name: 'emulator', type: 'string', arg: 'FILE', setting: 'emulator', help: 'run the device bus on the emulator with this config\n(default: emulator-configs/simple.json; with no\n--emulator, --serial, --bmc-config, --config or\n--hardware, two emulated BMCs on loopback are added as\nIPMI boards 40000001 (suite 17) and 40000002 (suite 3))' },
  { name: 'serial', type: 'string', arg: 'DEVICE', setting: 'serial', help: 'run the device bus on a serial device (e.g. /dev/ttyAMA0)' },
  { name: 'config', type: 'string', arg: 'FILE', setting: 'config', help: 'an opendcre_config.json' },
  { name: 'bmc-config', type: 'string', arg: 'FILE', setting: 'bmcConfig', help: 'the IPMI bridge\'s bmc_config.json' },
  { name: 'redfish-config', type: 'string', arg: 'FILE', setting: 'redfishConfig', help: 'Redfish servers (redfish_config.json)' },
  { name: 'shard', type: 'string', arg: 'I/N', setting: 'shard', help: 'poll and serve only shard I of N of the BMC and Redfish\nconfigs (rendezvous hashing on each address); \'N\' alone\ntakes I from the host name (a StatefulSet\'s name-3 is 3)' },
  { name: 'shard-url', type: 'string', arg: 'URL', multiple: true, setting: 'shardUrls', help: 'each shard\'s URL, in shard order (repeat N times): a\nrequest for another shard\'s board answers 421 naming it' },
  { name: 'fleet-query-url', type: 'string', arg: 'URL', setting: 'fleetQueryUrl', help: 'a Prometheus-compatible query API (Prometheus,\nVictoriaMetrics) holding every shard: the dashboard\'s\nfleet page lists the whole data center from it' },
  { name: 'hardware', type: 'string', arg: 'TYPE', setting: 'hardware', help: 'emulator (default) or rpi-hat-v1: wake and configure the\nOpenDCRE HAT\'s power-line modem over GPIO at startup\n(the bus is then --serial, or serial_default)' },
  { name: 'tls-cert', type: 'string', arg: 'FILE', setting: 'tlsCert', help: 'serve HTTPS with this certificate (PEM) ...' },
  { name: 'tls-key', type: 'string', arg: 'FILE', setting: 'tlsKey', help: '... and this key' },
  { name: 'tls-ca', type: 'string', arg: 'FILE', setting: 'tlsCa', help: 'and require client certificates signed by this CA (mutual TLS)' },
  { name: 'rate-limit', type: 'string', arg: 'N', setting: 'rateLimit', parse: parseRateLimit, help: 'at most N requests a minute per client address (default: no limit)' },
  { name: 'max-connections', type: 'string', arg: 'N', setting: 'maxConnections', parse: parseMaxConnections, help: 'at most N open connections; more are answered 503 and\nclosed (default 1024; other bounds: docs/hardening.md)' },
  { name: 'poll', type: 'boolean', setting: 'poll', help: 'run the shared poller (readings kept for ?max_age, the\nstream, history and per-sensor metrics); default: the\nconfig file\'s poll key, else on with the embedded\nemulator (no --emulator/--serial), off otherwise' },
  { name: 'no-poll', type: 'boolean', setting: 'poll', negates: true, help: 'do not run the shared poller' },
  { name: 'cors-origin', type: 'string', arg: 'O', setting: 'corsOrigin', help: 'an origin whose pages may read answers and change state\n(CORS; default: cors_origins, else none), \'*\' (read only),\nor \'\' for none' },
  { name: 'users', type: 'string', arg: 'FILE', setting: 'usersFile', section: AUTH, help: 'HTTP Basic against this users file (opendcre user add)' },
  { name: 'jwks-url', type: 'string', arg: 'URL', setting: 'jwksUrl', help: 'Bearer JWTs verified with the issuer\'s JWKS (https://) ...' },
  { name: 'jwt-issuer', type: 'string', arg: 'ISS', setting: 'jwtIssuer', help: '... issued by ISS (iss) ...' },
  { name: 'jwt-audience', type: 'string', arg: 'AUD', setting: 'jwtAudience', help: '... for AUD (aud) ...' },
  { name: 'jwt-role-claim', type: 'string', arg: 'C', setting: 'jwtRoleClaim', help: '... the claim naming the role (default role)' },
  { name: 'ldap-url', type: 'string', arg: 'URL', setting: 'ldapUrl', help: 'LDAP / Active Directory: ldap:// or ldaps:// ...' },
  { name: 'ldap-user-dn', type: 'string', arg: 'T', setting: 'ldapUserDn', help: '... bind as the DN template T ({user} replaced), or' },
  { name: 'ldap-search-base', type: 'string', arg: 'DN', setting: 'ldapSearchBase', help: '... search the user\'s DN first, under DN ...' },
  { name: 'ldap-search-filter', type: 'string', arg: 'F', setting: 'ldapSearchFilter', help: '... with the filter F ...' },
  { name: 'ldap-bind-dn', type: 'string', arg: 'DN', setting: 'ldapBindDn', help: '... bound as DN (its password from\n$OPENDCRE_LDAP_BIND_PASSWORD)' },
  { name: 'ldap-viewer-group', type: 'string', arg: 'DN', multiple: true, setting: 'ldapViewerGroups', help: 'members get the viewer role (repeatable)' },
  { name: 'ldap-operator-group', type: 'string', arg: 'DN', multiple: true, setting: 'ldapOperatorGroups', help: 'members get the operator role (repeatable; operator wins)' },
  { name: 'log-level', type: 'string', arg: 'LEVEL', setting: 'logLevel', help: 'fatal, error, warn, info, debug, trace (default info);\ndebug logs every bus packet in hex' },
  { name: 'log-dir', type: 'string', arg: 'DIR', setting: 'logDir', help: 'access and error logs (default ./logs; the Docker\nimage uses /logs); logs also go to stdout' },
  { name: 'small-memory', type: 'boolean', setting: 'smallMemory', help: 'V8 favours memory over speed (--optimize-for-size); the\nyoung generation, most of the difference, is set by node\'s\n--max-semi-space-size: see docs/benchmarks.md' },
  { name: 'help', type: 'boolean', short: 'h', help: 'this text' }
]

/** The table as parseArgs options. */
export function serveParseOptions (): NonNullable<ParseArgsConfig['options']> {
  return Object.fromEntries(SERVE_FLAGS.map((f) => [f.name, {
    type: f.type,
    ...(f.short !== undefined ? { short: f.short } : {}),
    ...(f.multiple === true ? { multiple: true } : {})
  }]))
}

/** What parseArgs returns for the table. */
export type ServeValues = Record<string, string | boolean | string[] | undefined>

/** The settings the given flags name, in table order (so --no-poll wins over --poll); throws on a bad value. */
export function serveSettings (values: ServeValues): ServeSettings {
  const settings: Record<string, unknown> = {}
  for (const f of SERVE_FLAGS) {
    const value = values[f.name]
    if (f.setting === undefined || value === undefined) continue
    if (f.type === 'boolean') {
      if (value === true) settings[f.setting] = f.negates !== true
    } else {
      settings[f.setting] = f.parse !== undefined ? f.parse(value as string) : value
    }
  }
  return settings as ServeSettings
}

const HELP_COLUMN = 22

/** The help lines of the table: the flag, then its text from column 22 (on the next line when the flag is longer). */
export function serveHelp (): string {
  const lines: string[] = []
  for (const f of SERVE_FLAGS) {
    if (f.section !== undefined) lines.push('', `  ${f.section}`)
    const flag = `  ${f.short !== undefined ? `-${f.short}, ` : ''}--${f.name}${f.arg !== undefined ? ` ${f.arg}` : ''}`
    const [first, ...more] = f.help.split('\n')
    if (flag.length < HELP_COLUMN) lines.push(flag.padEnd(HELP_COLUMN) + first)
    else lines.push(flag, ' '.repeat(HELP_COLUMN) + first)
    for (const line of more) lines.push(' '.repeat(HELP_COLUMN) + line)
  }
  return lines.join('\n')
}

function positive (flag: string, what: string): (text: string) => number {
  return (text) => {
    if (!/^\d+$/.test(text) || Number(text) < 1) throw new Error(`--${flag}: not a positive number of ${what}: '${text}'`)
    return Number(text)
  }
}

function parseRateLimit (text: string): number {
  return positive('rate-limit', 'requests')(text)
}

function parseMaxConnections (text: string): number {
  return positive('max-connections', 'connections')(text)
}

function parsePort (text: string): number {
  const port = Number(text)
  if (!/^\d+$/.test(text) || port > 65535) throw new Error(`--port: not a port number: '${text}'`)
  return port
}

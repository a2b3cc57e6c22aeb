#!/usr/bin/env -S node --max-semi-space-size=16 --heap-growing-percent=50
import { join } from 'node:path'
import { createInterface } from 'node:readline'
import { parseArgs } from 'node:util'
import { parseCommandArgs } from './command-args.js'
import { pino } from 'pino'
import { loadEmulatorConfig } from '../emulators/device-bus/emulator-config.js'
import { runBmcEmulator } from './bmc-emulator.js'
import { EmulatorDevice } from '../emulators/device-bus/emulator-device.js'
import { ConfigError } from '../drivers/errors.js'
import { loadBmcConfig } from '../drivers/ipmi/bmc-config.js'
import { openDeviceEnd } from '../drivers/transport/pty-stream.js'
import { CLIENT_COMMANDS, runClient, type ClientCredentials } from './client.js'
import { describeAuth } from '../auth/from-config.js'
import { ROLES, type Role } from '../auth/provider.js'
import { addUser } from '../auth/users-file.js'
import { OPENDCRE_VERSION, resolveConfig, type OpenDcreConfig } from '../config/service-config.js'
import { redfishEmulator } from './redfish-emulator.js'
import { shardOf } from './shard-of.js'
import { AUDIT_LOG, buildServer, createServiceLog, exposedWithoutAuth, tuneRuntime } from '../server.js'
import { serveHelp, serveParseOptions, serveSettings, type ServeValues } from './serve-flags.js'

const USAGE = `usage: opendcre serve [options]
       opendcre emulator --device PATH [--baud N] [--log-level LEVEL] CONFIG
       opendcre bmc-emulator [--host H] [--port P] [--count N] CONFIG
       opendcre redfish-emulator [--host H] [--port P] [--count N] [--tls-cert F --tls-key F] [CONFIG]
       opendcre user add NAME --role viewer|operator --users FILE
       opendcre shard-of ADDRESS... (--shards N | --config FILE) [--shard-url URL]...
       opendcre COMMAND [ARGS] [--url URL] [--prefix P] [--json] [--user NAME | --token TOKEN]

COMMAND, against a running service (--url, or $OPENDCRE_URL, default
http://localhost:5000) under its endpoint_prefix (--prefix, or $OPENDCRE_PREFIX,
default /opendcre/); a table by default, the API's JSON with --json:
  ${Object.values(CLIENT_COMMANDS).map((c) => c.usage).join('\n  ')}
When the service asks for credentials: --user NAME (or $OPENDCRE_USER) with
the password in $OPENDCRE_PASSWORD, or --token TOKEN (or $OPENDCRE_TOKEN), a
bearer token from the identity provider.

opendcre user add: add or replace a user of the users file (created with
mode 0600 when missing); the password is read from standard input, one line.

opendcre shard-of: which shard (serve --shard I/N) owns each BMC (host[:port],
port 623 by default) or Redfish service (its URL), one line each; the count
and the shards' URLs from --shards/--shard-url or an opendcre_config.json

opendcre serve: the REST API

${serveHelp()}

opendcre emulator: the emulator as a device on a serial line (one end of a
socat PTY pair, say), answering the byte protocol from CONFIG
  --device PATH       the serial device to serve on (a socat PTY end is used
                      as a raw tty; a real serial port is opened at --baud)
  --baud N            line speed (default 115200)

opendcre bmc-emulator: IPMI 2.0 BMCs over RMCP+ (UDP), from CONFIG (see
emulator-configs/bmc-emulator.json); N independent BMCs on ports P..P+N-1
  --host H            address to listen on (default 127.0.0.1)
  --port P            the first BMC's UDP port (default 623; 0: each on an
                      ephemeral port, listed in the listening line)
  --count N           how many BMCs (default 1)
  --drop F            drop this fraction (0-1) of datagrams
  --delay-ms MS       answer every datagram MS milliseconds late
  --stats-ms MS       print a JSON line of statistics every MS milliseconds
  --log-level LEVEL   (default info)

opendcre redfish-emulator: emulated Redfish BMCs over HTTP(S), stateful,
with SessionService and Basic (CONFIG default:
emulator-configs/redfish-emulator.json, user ADMIN / password ADMIN)
  --host H            address to listen on (default 127.0.0.1)
  --port P            first port (default 8000; 0: ephemeral ports)
  --count N           N servers on consecutive ports (default 1)
  --tls-cert FILE, --tls-key FILE   serve HTTPS
  Faults for tests: POST /emulator/faults {"latency_ms", "fail_status",
  "fail_count", "drop_count", "drop_method", "expire_sessions", "away_ms"}
`

function fail (message: string): never {
  process.stderr.write(`opendcre: ${message}\n`)
  process.exit(1)
}

/**
 * A startup failure as one line: the file, the setting that named it (or
 * the field inside it) and the reason.
 */
function startupError (err: unknown, values: Record<string, unknown>, config: OpenDcreConfig | undefined): string {
  if (!(err instanceof ConfigError)) return (err as Error).message
  if (err.path !== '') return err.message
  const settings: Array<[string | undefined, string]> = [
    [values.config as string | undefined, '--config'],
    [values.emulator as string | undefined, '--emulator'],
    [values['bmc-config'] as string | undefined, '--bmc-config'],
    [values.users as string | undefined, '--users'],
    [config?.bus.kind === 'emulator' ? config.bus.file : undefined, '--emulator (default)'],
    [config?.bmcConfig, 'bmc_config'],
    [config?.auth.basic?.usersFile, 'auth.users_file']
  ]
  const setting = settings.find(([file]) => file === err.file)?.[1]
  return setting === undefined ? err.message : `${err.file}: ${setting}: ${err.reason}`
}

/**
 * A broken bmc_config stops startup. v1.2's opendcre_config.json names
 * bmc_config.json whether or not there is one: a missing file it names (not
 * one named by --bmc-config) leaves the bridge unavailable, as before.
 */
function checkBmcConfig (file: string, named: boolean): void {
  try {
    loadBmcConfig(file)
  } catch (err) {
    const missing = err instanceof ConfigError && err.path === '' && err.reason.endsWith('(ENOENT)')
    if (named || !missing) throw err
  }
}

async function serve (args: string[]): Promise<void> {
  let values: ServeValues
  try {
    ({ values } = parseArgs({ args, options: serveParseOptions(), strict: true }) as { values: ServeValues })
  } catch (err) {
    fail(`${(err as Error).message}\n\n${USAGE}`)
  }
  if (values.help === true) {
    process.stdout.write(USAGE)
    return
  }
  let server
  let config: OpenDcreConfig | undefined
  // no backend named at all: the device-bus emulator, two emulated BMCs and an emulated Redfish server
  const embeddedRedfish = [values.emulator, values.serial, values.config, values.hardware, values['bmc-config'], values['redfish-config']].every((v) => v === undefined)
  let logs
  try {
    const { rateLimit, corsOrigin, logLevel, logDir: logDirFlag, smallMemory, ...options } = serveSettings(values)
    config = resolveConfig({
      ...options,
      embeddedBmcs: embeddedRedfish,
      pollEmbedded: values.emulator === undefined && values.serial === undefined && values.hardware === undefined,
      ldapBindPassword: process.env.OPENDCRE_LDAP_BIND_PASSWORD
    })
    if (smallMemory === true) tuneRuntime()
    // the IPMI bridge's file is checked here: the service does not start on a broken one
    if (config.bmcConfig !== undefined) checkBmcConfig(config.bmcConfig, values['bmc-config'] !== undefined)
    const logDir = logDirFlag ?? 'logs'
    logs = await createServiceLog(logLevel ?? 'info', logDir)
    server = await buildServer({
      resolved: config,
      loggerInstance: logs.logger,
      accessLog: logs.access,
      auditLog: join(logDir, AUDIT_LOG),
      rateLimit,
      corsOrigin,
      redfish: embeddedRedfish ? { embedded: true } : undefined
    })
    const [address, ...alsoOn] = await server.listenOn(config.listenHosts, config.port)
    const auth = describeAuth(config.auth)
    if (exposedWithoutAuth(config.host, auth !== 'off')) {
      server.log.warn({ host: config.host }, `no authentication, listening on ${config.host}: anyone who can reach this address can switch power; turn authentication on (--users FILE, docs/security.md) or listen on loopback (the default)`)
    }
    server.log.info({
      version: OPENDCRE_VERSION,
      address,
      ...(alsoOn.length > 0 ? { also: alsoOn } : {}),
      prefix: `${config.endpointPrefix}/${config.apiVersion}`,
      backends: { device_bus: config.bus, hardware: config.hardware, ipmi: config.bmcConfig ?? (config.embeddedBmcs ? 'embedded emulator' : null), redfish: config.redfishConfig ?? (embeddedRedfish ? 'embedded emulator' : null) },
      configs: { opendcre: config.configFile ?? null, emulator: config.bus.kind === 'emulator' ? config.bus.file : null, bmc: config.bmcConfig ?? null },
      auth,
      log_dir: logDir
    }, 'OpenDCRE started')
  } catch (err) {
    if (server !== undefined) await server.close().catch(() => {})
    fail(startupError(err, values, config))
  }

  let closing = false
  const shutdown = (signal: string): void => {
    if (closing) return
    closing = true
    server.log.info({ signal }, 'shutting down')
    const force = setTimeout(() => process.exit(1), 10_000)
    force.unref()
    // new requests get 503 + Connection: close, then the listener closes: no client sees a reset
    server.drainAndClose().then(() => process.exit(0), () => process.exit(1))
  }
  process.once('SIGTERM', () => shutdown('SIGTERM'))
  process.once('SIGINT', () => shutdown('SIGINT'))
  // logrotate moved the files: write to new ones by the same names
  process.on('SIGHUP', () => {
    logs.reopen()
    server.auditLog?.reopen()
    server.log.info('log files reopened (SIGHUP)')
  })
}

/** The emulator as a device on a serial line: reads packets, answers as configured. */
async function emulator (args: string[]): Promise<void> {
  const { values, positionals } = parseCommandArgs(args, {
    device: { type: 'string' },
    baud: { type: 'string', default: '115200' },
    'log-level': { type: 'string', default: 'info' }
  }, USAGE, fail)
  if (values.device === undefined || positionals.length !== 1) fail(`emulator: needs --device PATH and one CONFIG file\n\n${USAGE}`)
  const baud = Number(values.baud)
  if (!Number.isInteger(baud) || baud <= 0) fail(`--baud: not a line speed: '${values.baud}'`)
  const log = pino({ level: values['log-level'] })
  let port
  try {
    const config = loadEmulatorConfig(positionals[0])
    port = await openDeviceEnd(values.device, baud)
    new EmulatorDevice(config, { log: log.child({ component: 'emulator' }) }).attach(port)
  } catch (err) {
    fail((err as Error).message)
  }
  log.info({ device: values.device, baud, config: positionals[0] }, 'emulator serving')
  port.on('close', () => {
    log.warn({ device: values.device }, 'serial device closed')
    process.exit(2)
  })
  const stop = (): void => {
    port.removeAllListeners('close')
    port.once('close', () => process.exit(0))
    port.destroy()
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
}

/** The first line of standard input (a password piped in, or typed). */
async function readLine (): Promise<string> {
  if (process.stdin.isTTY) process.stderr.write('password (one line): ')
  const rl = createInterface({ input: process.stdin, terminal: false })
  try {
    const first = await rl[Symbol.asyncIterator]().next()
    return first.done === true ? '' : first.value.replace(/\r$/, '')
  } finally {
    rl.close()
  }
}

/** `opendcre user add NAME --role ROLE --users FILE`: the password from standard input. */
async function user (args: string[]): Promise<void> {
  const { values, positionals } = parseCommandArgs(args, { role: { type: 'string' }, users: { type: 'string' } }, USAGE, fail)
  if (positionals[0] !== 'add' || positionals.length !== 2 || values.role === undefined || values.users === undefined) {
    fail(`usage: opendcre user add NAME --role ${ROLES.join('|')} --users FILE (the password on standard input)`)
  }
  if (!(ROLES as readonly string[]).includes(values.role)) fail(`--role: '${values.role}' is not one of ${ROLES.join(', ')}`)
  const name = positionals[1]
  const password = await readLine()
  if (password === '') fail('empty password on standard input: refused')
  try {
    const { replaced, created } = await addUser(values.users, name, values.role as Role, password)
    process.stdout.write(`${replaced ? 'replaced' : 'added'} user '${name}' (${values.role}) in ${values.users}${created ? ' (created, mode 0600)' : ''}\n`)
  } catch (err) {
    fail((err as Error).message)
  }
}

async function client (command: string, args: string[]): Promise<void> {
  const parsed = parseCommandArgs(args, { url: { type: 'string' }, prefix: { type: 'string' }, json: { type: 'boolean' }, user: { type: 'string' }, token: { type: 'string' } }, USAGE, fail)
  const url = parsed.values.url ?? process.env.OPENDCRE_URL ?? 'http://localhost:5000'
  const credentials = clientCredentials(parsed.values.user, parsed.values.token)
  const envPrefix = process.env.OPENDCRE_PREFIX
  const prefix = parsed.values.prefix ?? (envPrefix === '' ? undefined : envPrefix)
  const result = await runClient(command, parsed.positionals, { url, prefix, json: parsed.values.json === true, credentials })
  const out = result.exitCode === 0 ? process.stdout : process.stderr
  out.write(`${result.exitCode === 0 ? '' : 'opendcre: '}${result.output}\n`)
  process.exitCode = result.exitCode
}

/** --user with $OPENDCRE_PASSWORD, or --token / $OPENDCRE_TOKEN; a password is never a flag. */
function clientCredentials (userFlag: string | undefined, tokenFlag: string | undefined): ClientCredentials | undefined {
  const user = userFlag ?? process.env.OPENDCRE_USER
  const token = tokenFlag ?? process.env.OPENDCRE_TOKEN
  if (userFlag !== undefined && tokenFlag !== undefined) fail('choose one of --user and --token')
  if (user !== undefined && user !== '' && (tokenFlag === undefined)) {
    const password = process.env.OPENDCRE_PASSWORD
    if (password === undefined || password === '') fail(`--user ${user}: set the password in $OPENDCRE_PASSWORD`)
    return { user, password }
  }
  if (token !== undefined && token !== '') return { token }
  return undefined
}

async function main (argv: string[]): Promise<void> {
  const [command, ...rest] = argv
  switch (command) {
    case 'serve':
      return await serve(rest)
    case 'emulator':
      return await emulator(rest)
    case 'bmc-emulator':
      return await runBmcEmulator(rest, USAGE)
    case 'user':
      return await user(rest)
    case 'redfish-emulator':
      return await redfishEmulator(rest, fail, USAGE)
    case 'shard-of':
      shardOf(rest, fail, USAGE)
      return
    case undefined:
    case '-h':
    case '--help':
    case 'help':
      process.stdout.write(USAGE)
      return
    default:
      if (Object.hasOwn(CLIENT_COMMANDS, command)) return await client(command, rest)
      fail(`unknown command '${command}'\n\n${USAGE}`)
  }
}

await main(process.argv.slice(2))

import { readFileSync } from 'node:fs'
import { parseCommandArgs } from './command-args.js'
import { pino } from 'pino'
import { DEFAULT_REDFISH_EMULATOR_CONFIG } from '../config/paths.js'
import { loadRedfishEmulatorConfig } from '../emulators/redfish/emulator-config.js'
import { startRedfishEmulators } from '../emulators/redfish/emulator-server.js'

/** `opendcre redfish-emulator [--host H] [--port P] [--count N] [--tls-cert F --tls-key F] [CONFIG]` */
export async function redfishEmulator (args: string[], fail: (message: string) => never, usage: string): Promise<void> {
  const { values, positionals } = parseCommandArgs(args, {
    host: { type: 'string', default: '127.0.0.1' },
    port: { type: 'string', default: '8000' },
    count: { type: 'string', default: '1' },
    'tls-cert': { type: 'string' },
    'tls-key': { type: 'string' },
    'log-level': { type: 'string', default: 'info' }
  }, usage, fail)
  if (positionals.length > 1) fail(`redfish-emulator: at most one CONFIG file\n\n${usage}`)
  const port = Number(values.port)
  if (!/^\d+$/.test(values.port) || port > 65535) fail(`--port: not a port number: '${values.port}'`)
  const count = Number(values.count)
  if (!/^\d+$/.test(values.count) || count < 1 || count > 1000) fail(`--count: not a number of servers (1-1000): '${values.count}'`)
  if (port !== 0 && port + count - 1 > 65535) fail(`--port ${port} --count ${count}: the ports run past 65535`)
  if ((values['tls-cert'] === undefined) !== (values['tls-key'] === undefined)) fail('--tls-cert and --tls-key go together')
  const log = pino({ level: values['log-level'] })
  const file = positionals[0] ?? DEFAULT_REDFISH_EMULATOR_CONFIG
  let servers
  try {
    const config = loadRedfishEmulatorConfig(file)
    const tls = values['tls-cert'] !== undefined && values['tls-key'] !== undefined
      ? { cert: readFileSync(values['tls-cert']), key: readFileSync(values['tls-key']) }
      : undefined
    servers = await startRedfishEmulators(config, { count, port, host: values.host, tls })
  } catch (err) {
    fail((err as Error).message)
  }
  for (const [i, server] of servers.entries()) log.info({ server: i + 1, url: server.url, config: file }, `Redfish emulator listening at ${server.url}`)
  const stop = (): void => {
    Promise.allSettled(servers.map(async (s) => await s.close())).then(() => process.exit(0), () => process.exit(1))
  }
  process.once('SIGTERM', stop)
  process.once('SIGINT', stop)
}

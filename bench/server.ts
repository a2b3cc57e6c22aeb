/**
 * Servers for the benchmarks besides the service as shipped (harness.ts
 * startShipped), each in its own process so the load generator does not share
 * its core. `node dist/bench/server.js KIND [ARG]`:
 *
 * - hello: the bare Fastify baseline, one route, no logger;
 * - opendcre [EMULATOR_CONFIG]: a diagnostic, labelled so wherever it is
 *   reported: the service with `logger: false` (no log at all: not how it
 *   ships; every headline figure comes from harness.ts startShipped);
 * - opendcre-variant JSON {"logDir", "leaveOut": [...]}: the service as the
 *   CLI builds its default (the embedded emulators, the poller, the same log
 *   destinations, the audit log) with pieces left out: helmet, sensible, cors, metrics,
 *   access-log (AppOptions.leaveOut), audit, stdout (the log's copy on
 *   stdout; the files stay), poller, or embedded (the in-process BMC and
 *   Redfish emulators).
 *
 * Prints {"port": N} on stdout when listening; stops on SIGTERM.
 */
import { join } from 'node:path'
import Fastify from 'fastify'
import { resolveConfig } from '../config/service-config.js'
import { AUDIT_LOG, buildServer, createServiceLog, type ServerOptions } from '../server.js'

const [kind, arg] = process.argv.slice(2)

/** The CLI's log: the logger, and the access lines' own writer. */
async function serviceLog (logDir: string, stdout: boolean): Promise<Pick<ServerOptions, 'loggerInstance' | 'accessLog'>> {
  const log = await createServiceLog('info', logDir, { stdout })
  return { loggerInstance: log.logger, accessLog: log.access }
}

/** Pieces a variant leaves out that are not AppOptions.leaveOut's. */
const OWN_PIECES = new Set(['audit', 'stdout', 'poller', 'embedded'])

async function variant (json: string): ReturnType<typeof buildServer> {
  const { logDir, leaveOut = [] } = JSON.parse(json) as { logDir: string, leaveOut?: string[] }
  const embedded = !leaveOut.includes('embedded')
  // as cli.ts resolves `opendcre serve` with no backend named: the emulated
  // device bus, two emulated BMCs, an emulated Redfish server, the poller
  return await buildServer({
    resolved: resolveConfig({ embeddedBmcs: embedded, pollEmbedded: true, ...(leaveOut.includes('poller') ? { poll: false } : {}) }),
    redfish: embedded ? { embedded: true } : undefined,
    ...await serviceLog(logDir, !leaveOut.includes('stdout')),
    ...(leaveOut.includes('audit') ? {} : { auditLog: join(logDir, AUDIT_LOG) }),
    leaveOut: leaveOut.filter((piece) => !OWN_PIECES.has(piece)) as ServerOptions['leaveOut']
  })
}

const server = kind === 'hello'
  ? Fastify({ logger: false })
  : kind === 'opendcre-variant'
    ? await variant(arg)
    : await buildServer({ logger: false, emulator: arg })
if (kind === 'hello') server.get('/', async () => ({ hello: 'world' }))

await server.listen({ host: '127.0.0.1', port: 0 })
const address = server.server.address()
process.stdout.write(JSON.stringify({ port: typeof address === 'object' && address !== null ? address.port : 0 }) + '\n')
process.once('SIGTERM', () => {
  server.close().then(() => process.exit(0), () => process.exit(1))
})

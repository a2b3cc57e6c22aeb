/**
 * A server for the benchmarks, in its own process so the load generator does
 * not share its core: `node dist/bench/server.js hello|opendcre|opendcre-small-memory [config] | opendcre-serial DEVICE
 * | opendcre-options JSON` (JSON: buildServer's options, e.g. an auth provider or a bmc_config).
 * Prints {"port": N} on stdout when listening; stops on SIGTERM.
 */
import Fastify from 'fastify'
import { buildServer, tuneRuntime, type ServerOptions } from '../server.js'

const [kind, arg] = process.argv.slice(2)

if (kind === 'opendcre-small-memory') tuneRuntime()
// opendcre-serial: the device bus on a serial device (arg), e.g. one end of a socat PTY pair
const server = kind === 'hello'
  ? Fastify({ logger: false })
  : await buildServer(
    kind === 'opendcre-serial'
      ? { logger: false, serial: arg }
      : kind === 'opendcre-options' ? { logger: false, ...JSON.parse(arg) as ServerOptions } : { logger: false, emulator: arg })
if (kind === 'hello') server.get('/', async () => ({ hello: 'world' }))

await server.listen({ host: '127.0.0.1', port: 0 })
const address = server.server.address()
process.stdout.write(JSON.stringify({ port: typeof address === 'object' && address !== null ? address.port : 0 }) + '\n')
process.once('SIGTERM', () => {
  server.close().then(() => process.exit(0), () => process.exit(1))
})

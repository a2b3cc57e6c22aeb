import type { RequestListener } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import v8 from 'node:v8'
import Fastify, { type FastifyBaseLogger, type FastifyInstance, type FastifyServerOptions } from 'fastify'
import { destination, multistream, pino, type Level, type StreamEntry } from 'pino'
import type { TypeBoxTypeProvider } from '@fastify/type-provider-typebox'
import app, { appServerOptions, REDACT, type AppOptions } from './app.js'
import { ConfigError } from './drivers/errors.js'
import { createHttpServer, hardenServer, refusalReporter } from './http/http-server.js'
import { prepareLogDir } from './http/log-dir.js'
import type { AccessWriter } from './plugins/access-log.js'
import { readTlsFiles, resolveConfig } from './config/service-config.js'
import { isLoopbackHost } from './drivers/net.js'

export interface ServerOptions extends AppOptions {
  logger?: FastifyServerOptions['logger']
  /** A ready pino logger (the CLI's: stdout plus the log files). */
  loggerInstance?: FastifyBaseLogger
  /** The access lines' own writer (createServiceLog's); without it they go through the logger. */
  accessLog?: AccessWriter
}

export { REDACT, MAX_PARAM_LENGTH } from './app.js'

export function loggerOptions (level = 'info'): FastifyServerOptions['logger'] {
  return { level, redact: { paths: REDACT, censor: '[redacted]' } }
}

/**
 * Native HTTPS: the certificate and key; with a CA, clients must present a
 * certificate it signed (mutual TLS), else the handshake fails.
 */
function httpsOptions (tls: Parameters<typeof readTlsFiles>[0] | undefined): { cert: Buffer, key: Buffer, ca?: Buffer, requestCert: boolean, rejectUnauthorized: boolean, minVersion: 'TLSv1.2' } | undefined {
  if (tls === undefined) return undefined
  const files = readTlsFiles(tls)
  const mutual = files.ca !== undefined
  return { ...files, requestCert: mutual, rejectUnauthorized: mutual, minVersion: 'TLSv1.2' }
}

/** Listening beyond loopback with no authentication provider deserves one warning at startup. */
export function exposedWithoutAuth (host: string, authConfigured = false): boolean {
  if (authConfigured) return false
  return !isLoopbackHost(host)
}

declare module 'fastify' {
  interface FastifyInstance {
    /**
     * Listen on every address given, on one port (the first address's, when
     * port is 0): Fastify binds only one address when it runs on a server of
     * our own (serverFactory), so each further address gets its own server,
     * made the same way, closed with the first. An address this machine does
     * not have (::1 without IPv6) is skipped, with a warning. Resolves to the
     * URLs listened on.
     */
    listenOn: (hosts: string[], port: number) => Promise<string[]>
  }
}

export const ACCESS_LOG = 'opendcre-access.log'
export const ERROR_LOG = 'opendcre-error.log'
export const AUDIT_LOG = 'opendcre-audit.log'

/** The service's logger, and what log rotation needs from it. */
export interface ServiceLog {
  logger: FastifyBaseLogger
  /** Reopen the log files by name (after logrotate moved them: SIGHUP). */
  reopen: () => void
  /** Where access lines go (plugins/access-log.ts), at info; absent when the level leaves them out. */
  access?: AccessWriter
}

/**
 * A log destination (sonic-boom) fed whole lines. In its text mode sonic-boom
 * measures the pending chunk (up to 16 KB) with Buffer.byteLength on every
 * write, which flattens that growing string each time: measured 2.7 µs of the
 * event loop and a 16 KB allocation per access line. In its buffer mode it
 * adds up lengths; each line is encoded once, here.
 */
type LineDestination = ReturnType<typeof destination> & { writeBytes: (bytes: Buffer) => boolean }

/**
 * Lines that wait for `flushMs` at most: one unref'd timer, armed by a line
 * that finds none armed. sonic-boom's own `periodicFlush` is an interval
 * that writes even when nothing waits: a zero-byte write() per destination
 * every 250 ms, 3-7 % of the service's CPU profile while it polled BMCs and
 * logged nothing (issue 24). Here a quiet log costs nothing.
 */
function lineDestination (options: { dest: string | number, flushMs: number } & Record<string, unknown>): LineDestination {
  const { flushMs, ...rest } = options
  const stream = destination({ ...rest, contentMode: 'buffer' }) as LineDestination
  const write = stream.write.bind(stream) as unknown as (bytes: Buffer) => boolean
  let timer: NodeJS.Timeout | undefined
  const flushLater = (): void => {
    timer = undefined
    // sonic-boom's own fields (not in its types): whether it is closed, writing, and the bytes waiting
    const state = stream as unknown as { destroyed: boolean, _writing: boolean, _len: number }
    // nothing left: the lines went out with a full batch
    if (state.destroyed || state._len === 0) return
    // a write under way takes no flush: ask again after it
    if (state._writing) {
      timer = setTimeout(flushLater, flushMs)
      timer.unref()
      return
    }
    stream.flush()
  }
  const writeBytes = (bytes: Buffer): boolean => {
    const ok = write(bytes)
    if (timer === undefined) {
      timer = setTimeout(flushLater, flushMs)
      timer.unref()
    }
    return ok
  }
  stream.writeBytes = writeBytes
  stream.write = (line: string): boolean => writeBytes(Buffer.from(line))
  stream.once('close', () => { if (timer !== undefined) clearTimeout(timer) })
  return stream
}

/**
 * The service's log: stdout for containers, and in `dir` (as v1.2 kept its
 * logs in /var/log/opendcre) an access log with every line at `level` and an
 * error log with warnings and errors. Bus packets are logged in hex at debug.
 *
 * Every destination is asynchronous (sonic-boom, sync: false): a slow pipe or
 * disk never blocks the event loop; lines are batched into few writes (4 KB,
 * or 250 ms after a line when traffic is light; nothing when nothing is logged). Up to 16 MB per destination can wait
 * for a stuck reader; beyond that lines are dropped, never the service.
 * pino writes out what is buffered when the process exits.
 *
 * Resolves once the log files are open (a process that exits before then
 * cannot flush them), or fails with a ConfigError naming the file.
 */
export async function createServiceLog (level: string, dir?: string, options: { stdout?: boolean } = {}): Promise<ServiceLog> {
  const buffering = { sync: false, minLength: 4096, flushMs: 250, maxLength: 16 * 1024 * 1024 }
  const files: Array<{ level: Level, stream: LineDestination }> = []
  if (dir !== undefined) {
    prepareLogDir(dir)
    const names: Array<[string, Level]> = [[ACCESS_LOG, level as Level], [ERROR_LOG, 'warn']]
    for (const [name, fileLevel] of names) {
      const file = join(dir, name)
      const stream = lineDestination({ dest: file, ...buffering })
      await new Promise<void>((resolve, reject) => {
        stream.once('ready', resolve)
        stream.once('error', (err: NodeJS.ErrnoException) => reject(new ConfigError(file, '--log-dir', `cannot open the log (${err.code ?? err.message})`)))
      })
      files.push({ level: fileLevel, stream })
    }
  }
  // options.stdout false: diagnostics only (bench/breakdown.ts)
  const streams = [...(options.stdout === false ? [] : [{ level: level as Level, stream: lineDestination({ dest: 1, ...buffering }) }]), ...files]
  const logger = pino({ level, redact: { paths: REDACT, censor: '[redacted]' } }, multistream(streams as StreamEntry[]))
  // the access line goes straight to the destinations that take info lines, encoded once for all
  const info = logger.levels.values.info
  const takesInfo = streams.filter((entry) => logger.levels.values[entry.level] <= info).map((entry) => entry.stream)
  const access: AccessWriter | undefined = logger.levels.values[level] > info || takesInfo.length === 0
    ? undefined
    : (line) => {
        const bytes = Buffer.from(line)
        for (const stream of takesInfo) stream.writeBytes(bytes)
      }
  return {
    logger,
    access,
    reopen: () => { for (const { stream } of files) stream.reopen() }
  }
}

/** The Fastify instance with the app registered and ready; the caller listens. */
export async function buildServer (options: ServerOptions = {}): Promise<FastifyInstance> {
  const { logger, loggerInstance, accessLog, ...appOptions } = options
  const resolved = appOptions.resolved ?? resolveConfig(appOptions)
  const https = httpsOptions(resolved.tls)
  let requestHandler: RequestListener | undefined
  const server = Fastify({
    ...appServerOptions({ accessLog, requestLogging: !(appOptions.leaveOut ?? []).includes('access-log') }),
    // Node's server with the configured timeouts, made once here (http-server.ts);
    // `https` stays set so that Fastify names the address https://
    serverFactory: (handler) => {
      requestHandler = handler
      return createHttpServer(handler, resolved.limits, https)
    },
    ...(https !== undefined ? { https } : {}),
    ...(loggerInstance !== undefined ? { loggerInstance } : { logger: logger ?? loggerOptions() })
  }).withTypeProvider<TypeBoxTypeProvider>()
  server.decorate('listenOn', async (hosts: string[], port: number): Promise<string[]> => {
    const first = await server.listen({ host: hosts[0], port })
    const urls = [first]
    const boundPort = (server.server.address() as AddressInfo).port
    for (const host of hosts.slice(1)) {
      const extra = createHttpServer(requestHandler as RequestListener, resolved.limits, https)
      // the same bounds plugins/http-limits.ts gives the first listener
      hardenServer(extra, resolved.limits, refusalReporter(() => server.log))
      try {
        await new Promise<void>((resolve, reject) => {
          extra.once('error', reject)
          extra.listen({ host, port: boundPort }, () => { extra.off('error', reject); resolve() })
        })
      } catch (err) {
        server.log.warn({ host, err: (err as Error).message }, 'cannot listen on this address: skipped')
        continue
      }
      // closed with the first: no new connections, idle ones at once, the rest as they finish
      server.server.once('close', () => { extra.close(); extra.closeIdleConnections() })
      urls.push(`${https !== undefined ? 'https' : 'http'}://${host.includes(':') ? `[${host}]` : host}:${boundPort}`)
    }
    return urls
  })
  await server.register(app, { ...appOptions, resolved })
  await server.ready()
  return server
}

/**
 * `opendcre serve --small-memory`: V8 favours memory over speed
 * (--optimize-for-size). Measured (bench/): within 3 MB of the default's
 * resident memory after 100k requests, either way. The resident memory that
 * can be traded for speed is the young generation, which only Node's
 * command line sets (--max-semi-space-size: 2 instead of the shipped 8 saves
 * ~12 MB, at ~20 % more CPU per read; docs/benchmarks.md). Called by the
 * process owner (the CLI, the bench server), never on import.
 */
export function tuneRuntime (): void {
  v8.setFlagsFromString('--optimize-for-size')
}

import { hostname } from 'node:os'
import { LogController, type FastifyBaseLogger, type FastifyReply, type FastifyRequest } from 'fastify'

/** Writes one finished access line (JSON and a newline) to the service's destinations. */
export type AccessWriter = (line: string) => void

/** What pino puts first on every line of the service's log (its default base: pid and hostname). */
const BASE = `"pid":${process.pid},"hostname":${JSON.stringify(hostname())}`

/**
 * One access line per request, written when the answer has gone out:
 * method, URL, status, response time (ms), client address and identity
 * (`anonymous` until authentication is configured). It replaces Fastify's
 * two request lines ("incoming request", "request completed"): Fastify calls
 * its log controller there anyway, after the onResponse hooks, so the line
 * costs no hook of its own. It carries no header, so no credential.
 *
 *   {"level":30,"time":...,"pid":...,"hostname":"...","reqId":"req-1","method":"GET",
 *    "url":"/opendcre/1.2/test","status":200,"ms":0.41,"client":"127.0.0.1","identity":"anonymous","msg":"request"}
 *
 * With the service's own log (createServiceLog's writer) the line is made
 * in one template, in pino's format, and handed to the destinations once:
 * through pino it cost 1.7 KB of garbage and a serialiser walk per request
 * (docs/benchmarks.md). Otherwise (a logger given by a test or an embedder),
 * and for a request that failed mid-answer, it goes through the logger.
 */
export class AccessLogController extends LogController {
  private access: FastifyBaseLogger | undefined

  constructor (private readonly writer?: AccessWriter) {
    super()
  }

  override incomingRequest (): void {}

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    const ms = Math.round(reply.elapsedTime * 100) / 100
    const identity = request.identity ?? 'anonymous'
    // an error here is the connection's (the client went away mid-answer)
    if (this.writer !== undefined && (error === null || error === undefined)) {
      this.writer(`{"level":30,"time":${Date.now()},${BASE},"reqId":${JSON.stringify(request.id)},"method":${JSON.stringify(request.method)},` +
        `"url":${JSON.stringify(request.url)},"status":${reply.statusCode},"ms":${ms},"client":${JSON.stringify(request.ip)},` +
        `"identity":${JSON.stringify(identity)},"msg":"request"}\n`)
      return
    }
    this.access ??= request.server.log.child({}, { redact: [] })
    const line = { reqId: request.id, method: request.method, url: request.url, status: reply.statusCode, ms, client: request.ip, identity }
    if (error !== null && error !== undefined) this.access.warn({ ...line, err: error }, 'request')
    else this.access.info(line, 'request')
  }
}

type LogArgs = Parameters<FastifyBaseLogger['info']>

/**
 * request.log, made only when a request logs something of its own: Fastify
 * would make a pino child (bindings serialised, redaction set up) for every
 * request, and most never log anything but their access line, which has a
 * logger of its own. Measured: 1-2 µs of server CPU per request.
 */
export class LazyRequestLogger implements FastifyBaseLogger {
  private real: FastifyBaseLogger | undefined

  constructor (private readonly parent: FastifyBaseLogger, private readonly bindings: Record<string, unknown>, private readonly options: object) {}

  private get logger (): FastifyBaseLogger {
    this.real ??= this.parent.child(this.bindings, this.options)
    return this.real
  }

  get level (): string { return this.real?.level ?? this.parent.level }
  set level (level: string) { this.logger.level = level }
  isLevelEnabled (level: string): boolean { return ((this.real ?? this.parent) as { isLevelEnabled?: (level: string) => boolean }).isLevelEnabled?.(level) ?? false }
  fatal (...args: LogArgs): void { this.logger.fatal(...args) }
  error (...args: LogArgs): void { this.logger.error(...args) }
  warn (...args: LogArgs): void { this.logger.warn(...args) }
  info (...args: LogArgs): void { this.logger.info(...args) }
  debug (...args: LogArgs): void { this.logger.debug(...args) }
  trace (...args: LogArgs): void { this.logger.trace(...args) }
  silent (...args: LogArgs): void { this.logger.silent(...args) }
  child (bindings: Record<string, unknown>, options?: object): FastifyBaseLogger { return this.logger.child(bindings, options) }
}

import { LogController, type FastifyBaseLogger, type FastifyReply, type FastifyRequest } from 'fastify'

/**
 * One access line per request, written when the answer has gone out:
 * method, URL, status, response time (ms), client address and identity
 * (`anonymous` until authentication is configured). It replaces Fastify's
 * two request lines ("incoming request", "request completed"): Fastify calls
 * its log controller there anyway, after the onResponse hooks, so the line
 * costs no hook of its own. It carries no header, so no credential: its
 * fields are known strings and numbers, so it is written by a child logger
 * without the service's redaction, which otherwise costs every line a walk
 * through its fields (the wildcard paths).
 *
 *   {"level":30,"time":...,"reqId":"req-1","method":"GET","url":"/opendcre/1.2/test",
 *    "status":200,"ms":0.41,"client":"127.0.0.1","identity":"anonymous","msg":"request"}
 */
export class AccessLogController extends LogController {
  private access: FastifyBaseLogger | undefined

  override incomingRequest (): void {}

  override requestCompleted (error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    this.access ??= request.server.log.child({}, { redact: [] })
    const line = {
      reqId: request.id,
      method: request.method,
      url: request.url,
      status: reply.statusCode,
      ms: Math.round(reply.elapsedTime * 100) / 100,
      client: request.ip,
      identity: request.identity ?? 'anonymous'
    }
    // an error here is the connection's (the client went away mid-answer)
    if (error !== null && error !== undefined) this.access.warn({ ...line, err: error }, 'request')
    else this.access.info(line, 'request')
  }
}

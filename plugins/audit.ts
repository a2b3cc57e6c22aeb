import { createWriteStream, mkdirSync } from 'node:fs'
import { dirname } from 'node:path'
import fp from 'fastify-plugin'
import type { FastifyRequest } from 'fastify'
import { changesState, describeRequest } from '../routes/declaration.js'

export interface AuditOptions {
  /** The audit log file; lines are appended, so it survives restarts. */
  file: string
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Who made the request, once authentication is configured; anonymous until then. */
    identity?: string
  }
}

/**
 * The audit log: one JSON line per request for a state-changing command
 * (power on/off/cycle, led, fan, boot target; as each route declares it, see
 * routes/declaration.ts), answered or refused: time, identity, client
 * address, method, command, target board/device, result and status.
 */
export default fp<AuditOptions>(async (fastify, opts) => {
  mkdirSync(dirname(opts.file), { recursive: true })
  const out = createWriteStream(opts.file, { flags: 'a' })
  out.on('error', (err) => fastify.log.error({ err, file: opts.file }, 'audit log write failed'))
  fastify.addHook('onResponse', (request: FastifyRequest, reply, done) => {
    if (changesState(request)) {
      out.write(JSON.stringify({
        time: new Date().toISOString(),
        identity: request.identity ?? 'anonymous',
        client: request.ip,
        method: request.method,
        ...describeRequest(request),
        result: reply.statusCode < 400 ? 'ok' : 'failed',
        status: reply.statusCode
      }) + '\n')
    }
    done()
  })
  fastify.addHook('onClose', async () => {
    await new Promise<void>((resolve) => out.end(resolve))
  })
}, { name: 'audit', fastify: '5.x', dependencies: ['route-declarations'] })

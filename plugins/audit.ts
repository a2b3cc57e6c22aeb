import fp from 'fastify-plugin'
import { destination } from 'pino'
import type { FastifyRequest, onResponseHookHandler } from 'fastify'
import { changesState, declarationIn, describeRequest } from './route-config.js'

interface AuditOptions {
  /** The audit log file; lines are appended, so it survives restarts. */
  file: string
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Who made the request, once authentication is configured; anonymous until then. */
    identity?: string
  }
  interface FastifyInstance {
    /** The audit log file, when one is kept: reopen() after logrotate moved it (SIGHUP). */
    auditLog?: {
      reopen: () => void
      /** One line for an action no request made directly (a bulk power task's switch of one board); time added. */
      write?: (entry: Record<string, unknown>) => void
    }
  }
}

/**
 * The audit log: one JSON line per request for a state-changing command
 * (power on/off/cycle, led, fan, boot target; as each route declares it, see
 * routes/declaration.ts), answered or refused: time, identity, client
 * address, method, command, target board/device, result and status (and
 * why, when refused as a cross-site request or for its Host).
 */
export default fp<AuditOptions>(async (fastify, opts) => {
  // appended, never blocking the event loop, reopened by name after a rotation
  const out = destination({ dest: opts.file, append: true, mkdir: true, sync: false })
  out.on('error', (err) => fastify.log.error({ err, file: opts.file }, 'audit log write failed'))
  const audit: onResponseHookHandler = (request: FastifyRequest, reply, done) => {
    if (changesState(request)) {
      out.write(JSON.stringify({
        time: new Date().toISOString(),
        identity: request.identity ?? 'anonymous',
        client: request.ip,
        method: request.method,
        ...describeRequest(request),
        result: reply.statusCode < 400 ? 'ok' : 'failed',
        status: reply.statusCode,
        // refused before its handler (plugins/browser-boundary.ts): why
        ...(request.refusal !== undefined ? { refused: request.refusal } : {})
      }) + '\n')
    }
    done()
  }
  // only on routes that can change state (they declare a target; an undeclared
  // route counts as one): reads pay nothing for the audit log
  fastify.addHook('onRoute', (route) => {
    const declaration = declarationIn(route.config)
    if (declaration !== undefined && declaration.target === undefined) return
    const existing = route.onResponse
    route.onResponse = existing === undefined ? [audit] : [...(Array.isArray(existing) ? existing : [existing]), audit]
  })
  fastify.decorate('auditLog', {
    reopen: () => { out.reopen() },
    write: (entry: Record<string, unknown>) => { out.write(JSON.stringify({ time: new Date().toISOString(), ...entry }) + '\n') }
  })
  fastify.addHook('onClose', async () => {
    await new Promise<void>((resolve) => {
      out.once('close', resolve)
      out.once('error', () => resolve())
      out.end()
    })
  })
}, { name: 'audit', fastify: '5.x' })

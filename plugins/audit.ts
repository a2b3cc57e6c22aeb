import fp from 'fastify-plugin'
import { destination } from 'pino'
import type { FastifyRequest, onResponseHookHandler } from 'fastify'

export interface AuditOptions {
  /** The audit log file; lines are appended, so it survives restarts. */
  file: string
}

const POWER_ACTIONS = new Set(['on', 'off', 'cycle', 'status'])

interface AuditEntry { command: string, board: string, device: string }

/** A route's URL pattern without its prefix (/opendcre/1.2). */
function routeTail (route: string): string {
  return route.replace(/^.*\/opendcre\/[^/]+/, '')
}

/** The route patterns stateChange() can find a state change in. */
const STATE_CHANGING_ROUTES = new Set([
  '/power/:first/:second/:third',
  '/power/:device_type/:board_id/:device_id/:action',
  '/led/:board_id/:device_id/:led_state',
  '/led/:board_id/:device_id/:led_state/:led_color',
  '/fan/:board_id/:device_id/:speed_rpm',
  '/boot_target/:board_id/:device_id/:target'
])

/**
 * The state change a request asks for, or undefined for a read-only command.
 * Power status and reads without a value change nothing.
 */
export function stateChange (route: string, params: Record<string, string>): AuditEntry | undefined {
  switch (routeTail(route)) {
    case '/power/:first/:second/:third': {
      const deprecated = POWER_ACTIONS.has(params.first.toLowerCase())
      const action = (deprecated ? params.first : params.third).toLowerCase()
      if (action === 'status') return undefined
      return { command: `power ${action}`, board: deprecated ? params.second : params.first, device: deprecated ? params.third : params.second }
    }
    case '/power/:device_type/:board_id/:device_id/:action':
      if (params.action.toLowerCase() === 'status') return undefined
      return { command: `power ${params.action.toLowerCase()}`, board: params.board_id, device: params.device_id }
    case '/led/:board_id/:device_id/:led_state':
    case '/led/:board_id/:device_id/:led_state/:led_color':
      return { command: `led ${params.led_state}`, board: params.board_id, device: params.device_id }
    case '/fan/:board_id/:device_id/:speed_rpm':
      return { command: `fan ${params.speed_rpm}`, board: params.board_id, device: params.device_id }
    case '/boot_target/:board_id/:device_id/:target':
      return { command: `boot_target ${params.target}`, board: params.board_id, device: params.device_id }
    default:
      return undefined
  }
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Who made the request, once authentication is configured; anonymous until then. */
    identity?: string
  }
  interface FastifyInstance {
    /** The audit log file, when one is kept: reopen() after logrotate moved it (SIGHUP). */
    auditLog?: { reopen: () => void }
  }
}

/**
 * The audit log: one JSON line per state-changing command (power on/off/cycle,
 * led, fan, boot target): time, identity, client address, command, target
 * board/device, result.
 */
export default fp<AuditOptions>(async (fastify, opts) => {
  // appended, never blocking the event loop, reopened by name after a rotation
  const out = destination({ dest: opts.file, append: true, mkdir: true, sync: false })
  out.on('error', (err) => fastify.log.error({ err, file: opts.file }, 'audit log write failed'))
  const audit: onResponseHookHandler = (request: FastifyRequest, reply, done) => {
    const change = stateChange(request.routeOptions.url ?? '', (request.params ?? {}) as Record<string, string>)
    if (change !== undefined) {
      out.write(JSON.stringify({
        time: new Date().toISOString(),
        identity: request.identity ?? 'anonymous',
        client: request.ip,
        ...change,
        result: reply.statusCode < 400 ? 'ok' : 'failed',
        status: reply.statusCode
      }) + '\n')
    }
    done()
  }
  // only on the routes that can change state: reads pay nothing for the audit log
  fastify.addHook('onRoute', (route) => {
    if (!STATE_CHANGING_ROUTES.has(routeTail(route.url))) return
    const existing = route.onResponse
    route.onResponse = existing === undefined ? [audit] : [...(Array.isArray(existing) ? existing : [existing]), audit]
  })
  fastify.decorate('auditLog', { reopen: () => { out.reopen() } })
  fastify.addHook('onClose', async () => {
    await new Promise<void>((resolve) => {
      out.once('close', resolve)
      out.once('error', () => resolve())
      out.end()
    })
  })
}, { name: 'audit', fastify: '5.x' })

import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import type { BusRegistry } from '../plugins/bus-registry.js'
import { Health, type HealthT } from '../schemas/health.js'
import { ErrorResponse } from '../schemas/responses.js'
import { readOnly } from '../plugins/route-config.js'

/**
 * Every configured backend's state, as each backend reports it of itself;
 * 'degraded' when one says it is down.
 */
function healthReport (buses: BusRegistry): HealthT {
  const backends: Record<string, unknown> = {}
  let up = true
  for (const status of buses.statuses()) {
    backends[status.backend] = status.health
    up &&= status.up
  }
  return { backends: backends as HealthT['backends'], status: up ? 'ok' : 'degraded' }
}

/**
 * GET /health: 200 when every configured backend is up, 503 when one is
 * down. It reads the service's state and never touches a bus (v1.2's /test
 * stays as it was). It answers without credentials: load balancers and
 * orchestrators carry none, and it says nothing about the hardware.
 */
const route: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/health', { config: readOnly('health', { open: true }), schema: { response: { 200: Health, 503: Health, 500: ErrorResponse } } }, async (_request, reply) => {
    const health = healthReport(fastify.buses)
    return reply.code(health.status === 'ok' ? 200 : 503).send(health)
  })
}

export default route

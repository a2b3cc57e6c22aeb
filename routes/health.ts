import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { deviceBusStatus, type DeviceBusSources } from '../plugins/device-bus-status.js'
import { Health, type DeviceBusHealthT, type HealthT } from '../schemas/health.js'
import { ErrorResponse } from '../schemas/responses.js'

/** Every configured backend's state; 'degraded' when one is down. */
export function healthReport (fastify: DeviceBusSources): HealthT {
  const backends: HealthT['backends'] = {}
  const bus = deviceBusStatus(fastify)
  if (bus !== undefined) {
    const deviceBus: DeviceBusHealthT = {
      kind: bus.kind,
      last_success: bus.stats.lastSuccessAt === null ? null : new Date(bus.stats.lastSuccessAt).toISOString(),
      open: bus.open,
      transactions: bus.stats.transactions
    }
    if (bus.device !== undefined) deviceBus.device = bus.device
    if (bus.reason !== undefined) deviceBus.reason = bus.reason
    backends.device_bus = deviceBus
  }
  const up = bus === undefined || bus.open
  return { backends, status: up ? 'ok' : 'degraded' }
}

/**
 * GET /health: 200 when every configured backend is up, 503 when one is
 * down. It reads the service's state and never touches a bus (v1.2's /test
 * stays as it was).
 */
const route: FastifyPluginAsyncTypebox = async (fastify) => {
  fastify.get('/health', { schema: { response: { 200: Health, 503: Health, 500: ErrorResponse } } }, async (_request, reply) => {
    const health = healthReport(fastify)
    return reply.code(health.status === 'ok' ? 200 : 503).send(health)
  })
}

export default route

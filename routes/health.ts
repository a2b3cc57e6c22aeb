import type { FastifyPluginAsyncTypebox } from '@fastify/type-provider-typebox'
import { deviceBusStatus, type DeviceBusSources } from '../plugins/device-bus-status.js'
import type { FastifyInstance } from 'fastify'
import { Health, type DeviceBusHealthT, type HealthT, type IpmiHealthT } from '../schemas/health.js'
import { ErrorResponse } from '../schemas/responses.js'

export type HealthSources = DeviceBusSources & Pick<FastifyInstance, 'ipmiBridge'>

/**
 * Every configured backend's state; 'degraded' when one is down: the device
 * bus's link, or the IPMI bridge as a whole (its configuration unusable, or
 * every BMC down). One BMC down among several shows in its own entry
 * without failing the service's health.
 */
export function healthReport (fastify: HealthSources): HealthT {
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
  let ipmiUp = true
  const bridge = fastify.ipmiBridge
  if (bridge !== undefined) {
    const ipmi: IpmiHealthT = {
      bmcs: bridge.bmcs.map((bmc) => {
        const status = bmc.status()
        const entry: IpmiHealthT['bmcs'][number] = {
          bmc_ip: bmc.host,
          bmc_port: bmc.port,
          board_id: bmc.boardId,
          last_success: status.lastSuccessAt === null ? null : new Date(status.lastSuccessAt).toISOString(),
          session: status.state
        }
        if (status.reason !== undefined) entry.reason = status.reason
        return entry
      }),
      config: bridge.file
    }
    if (bridge.unavailable !== undefined) ipmi.reason = bridge.unavailable
    backends.ipmi = ipmi
    ipmiUp = bridge.unavailable === undefined && (ipmi.bmcs.length === 0 || ipmi.bmcs.some((b) => b.session !== 'down'))
  }
  const up = (bus === undefined || bus.open) && ipmiUp
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

import type { FastifyInstance } from 'fastify'
import { BusClient, scanAllMacBytes, type BusPolicy } from '../drivers/device-bus/bus-client.js'
import { DeviceBus, type DeviceBusLink } from '../drivers/device-bus/device-bus.js'
import type { BusTransport } from '../drivers/transport/bus-transport.js'

/** The bus policy the configuration asks for (v1.2: 0.25 s, 3 retries, time slice 75). */
export function busPolicy (fastify: FastifyInstance, overrides: Partial<BusPolicy> = {}): Partial<BusPolicy> {
  const config = fastify.config
  return {
    timeoutMs: config.readTimeoutMs,
    retryLimit: config.retryLimit,
    scanAttempts: Math.max(1, config.retryLimit),
    timeSlice: config.timeSlice,
    macBytes: scanAllMacBytes(config.macAddress),
    queueDepth: config.limits.busQueueDepth,
    queueTimeoutMs: config.limits.busQueueWaitMs,
    ...overrides
  }
}

/** One persistent bus client on `transport`, registered as the device-bus backend. */
export function registerDeviceBus (fastify: FastifyInstance, transport: BusTransport, policy: Partial<BusPolicy>, link: DeviceBusLink): void {
  const client = new BusClient(transport, { policy, log: fastify.log.child({ bus: link.name }) })
  fastify.buses.register(new DeviceBus(client, link))
}

import type { FastifyInstance } from 'fastify'
import { BusClient, scanAllMacBytes, type BusPolicy } from '../drivers/device-bus/bus-client.js'
import { DeviceBus } from '../drivers/device-bus/device-bus.js'
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

declare module 'fastify' {
  interface FastifyInstance {
    /** The device bus's client (its stats feed logs and tests). */
    deviceBusClient?: BusClient
  }
}

/** One persistent bus client on `transport`, registered as the device-bus backend. */
export function registerDeviceBus (fastify: FastifyInstance, transport: BusTransport, policy: Partial<BusPolicy>, busName: string): BusClient {
  const client = new BusClient(transport, { policy, log: fastify.log.child({ bus: busName }) })
  fastify.buses.register('device-bus', new DeviceBus(client))
  fastify.decorate('deviceBusClient', client)
  return client
}

import type { FastifyInstance } from 'fastify'
import type { BusStats } from '../drivers/device-bus/bus-client.js'

/** The device bus as the service has it now: read from state, never from the bus. */
export interface DeviceBusStatus {
  kind: 'emulator' | 'serial'
  /** The `bus` label of its metrics: 'emulator' or the serial device path. */
  name: string
  /** The serial device (serial buses only). */
  device?: string
  /** The link to the devices is up (the emulator's always is; a serial port may not be). */
  open: boolean
  /** Why it is not open. */
  reason?: string
  stats: BusStats
}

export type DeviceBusSources = Pick<FastifyInstance, 'config' | 'deviceBusClient' | 'serialTransport'>

/** The configured device bus, or undefined when there is none. */
export function deviceBusStatus (fastify: DeviceBusSources): DeviceBusStatus | undefined {
  const client = fastify.deviceBusClient
  if (client === undefined) return undefined
  const bus = fastify.config.bus
  if (bus.kind === 'emulator') return { kind: 'emulator', name: 'emulator', open: true, stats: client.stats }
  const transport = fastify.serialTransport
  const open = transport?.isOpen ?? false
  return {
    kind: 'serial',
    name: bus.device,
    device: bus.device,
    open,
    reason: open ? undefined : (transport?.unavailableReason ?? 'serial transport not started'),
    stats: client.stats
  }
}

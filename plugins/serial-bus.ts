import fp from 'fastify-plugin'
import type { BusPolicy } from '../drivers/device-bus/bus-client.js'
import { SerialTransport, type PortOpener } from '../drivers/transport/serial-transport.js'
import { busPolicy, registerDeviceBus } from './device-bus-backend.js'

interface SerialBusOptions {
  device: string
  baudRate: number
  policy?: Partial<BusPolicy>
  /** Tests may pass another opener; production opens with serialport. */
  opener?: PortOpener
}

/**
 * The device bus backend on a serial device (the HAT's /dev/ttyAMA0, or a
 * PTY). The service starts even when the device is not there yet: requests
 * then fail at once with "serial device unavailable" while the port is
 * reopened in the background.
 */
export default fp<SerialBusOptions>(async (fastify, opts) => {
  const transport = new SerialTransport(opts.device, opts.baudRate, opts.opener, {
    log: fastify.log.child({ component: 'serial' })
  })
  await transport.start()
  registerDeviceBus(fastify, transport, busPolicy(fastify, opts.policy), {
    kind: 'serial',
    name: opts.device,
    device: opts.device,
    open: () => transport.isOpen,
    reason: () => transport.unavailableReason
  })
}, { name: 'serial-bus', fastify: '5.x', dependencies: ['config', 'bus-registry'] })

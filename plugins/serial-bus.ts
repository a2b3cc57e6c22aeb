import fp from 'fastify-plugin'
import type { BusPolicy } from '../drivers/device-bus/bus-client.js'
import { OpenDcreError } from '../drivers/errors.js'
import { StreamTransport } from '../drivers/transport/bus-transport.js'
import { busPolicy, registerDeviceBus } from './device-bus-backend.js'

export interface SerialBusOptions {
  device: string
  baudRate: number
  policy?: Partial<BusPolicy>
}

/** The device bus backend on a serial device (the HAT's /dev/ttyAMA0, or a PTY). */
export default fp<SerialBusOptions>(async (fastify, opts) => {
  // loaded only in serial mode: its native binding costs ~15 MB of RSS
  const { SerialPort } = await import('serialport')
  const port = new SerialPort({ path: opts.device, baudRate: opts.baudRate, autoOpen: false })
  await new Promise<void>((resolve, reject) => {
    port.open((err) => {
      if (err == null) resolve()
      else reject(new OpenDcreError('unavailable', `serial device unavailable: ${opts.device}: ${err.message}`, { cause: err }))
    })
  })
  registerDeviceBus(fastify, new StreamTransport(port), busPolicy(fastify, opts.policy), opts.device)
  fastify.log.info({ device: opts.device, baud: opts.baudRate }, 'serial device bus open')
}, { name: 'serial-bus', fastify: '5.x', dependencies: ['config', 'bus-registry'] })

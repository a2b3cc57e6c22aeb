import fp from 'fastify-plugin'
import type { BusPolicy } from '../drivers/device-bus/bus-client.js'
import { loadEmulatorConfig } from '../emulators/device-bus/emulator-config.js'
import { EmulatorDevice } from '../emulators/device-bus/emulator-device.js'
import { StreamTransport } from '../drivers/transport/bus-transport.js'
import { createDuplexPair } from '../drivers/transport/memory-duplex.js'
import { busPolicy, registerDeviceBus } from './device-bus-backend.js'

interface EmulatorBusOptions {
  /** The emulator config file (OpenDCRE's JSON format). */
  file: string
  policy?: Partial<BusPolicy>
  /**
   * Let the emulator tell the client when it has answered (default true).
   * false: the client waits out the read timeout as on a serial line.
   */
  idleHints?: boolean
}

/**
 * The device bus backend on the in-process emulator: the emulator and the bus
 * client talk bytes over an in-memory duplex pair, exactly as over a serial
 * line; the emulator also says when it has answered everything, so a scan
 * need not wait out the read timeout.
 */
export default fp<EmulatorBusOptions>(async (fastify, opts) => {
  const config = loadEmulatorConfig(opts.file)
  const device = new EmulatorDevice(config, { log: fastify.log.child({ component: 'emulator' }) })
  const [clientEnd, deviceEnd] = createDuplexPair()
  device.attach(deviceEnd)
  const idleHints = opts.idleHints ?? true
  if (idleHints) device.on('idle', (packets: number) => deviceEnd.sendEvent('idle', packets))
  const transport = new StreamTransport(clientEnd, idleHints ? clientEnd : undefined)
  registerDeviceBus(fastify, transport, busPolicy(fastify, opts.policy), { kind: 'emulator', name: 'emulator', open: () => true, reason: () => undefined })
  fastify.addHook('onClose', async () => {
    deviceEnd.destroy()
  })
  fastify.log.info({ file: opts.file, boards: config.boards.length }, 'emulator loaded')
}, { name: 'emulator-bus', fastify: '5.x', dependencies: ['config', 'bus-registry'] })

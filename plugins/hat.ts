import fp from 'fastify-plugin'
import { loadRpioGpio } from '../drivers/hat/gpio.js'
import { HatModem } from '../drivers/hat/hat-modem.js'
import { MODEM_CONTROL_BAUD, StreamModemSerial } from '../drivers/hat/modem-serial.js'
import type { PlcConfig } from '../drivers/hat/sig60-modem.js'

export type { PlcConfig }
import { openSerialPort } from '../drivers/transport/serial-transport.js'

interface HatOptions {
  /** The bus serial device; the modem's control registers are on the same line at 19200 baud. */
  device: string
}

declare module 'fastify' {
  interface FastifyInstance {
    /** The SIG60 modem's configuration as read back at start-up (HAT only). */
    plcConfig?: PlcConfig
  }
}

/**
 * Raspberry Pi HAT v1 (docs/protocol.md §9.3, §9.4): wake and configure the SIG60
 * power-line modem through GPIO (rpio) before the device bus opens the
 * serial line. On a machine without the HAT's GPIO, startup stops with a
 * clear error.
 */
export default fp<HatOptions>(async (fastify, opts) => {
  const gpio = await loadRpioGpio()
  const modem = new HatModem({
    gpio,
    openSerial: async () => new StreamModemSerial(await openSerialPort(opts.device, MODEM_CONTROL_BAUD)),
    log: fastify.log.child({ component: 'hat' })
  })
  fastify.decorate('plcConfig', await modem.initialize())
}, { name: 'hat', fastify: '5.x', dependencies: ['config'] })

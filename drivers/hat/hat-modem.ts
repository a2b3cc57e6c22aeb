import { silentLogger, type DriverLogger } from '../logger.js'
import type { Gpio } from './gpio.js'
import type { ModemSerial } from './modem-serial.js'
import {
  DEFAULT_MODEM_CONFIG,
  decodeRegisters,
  encodeRegisters,
  initializeHat,
  readRegisters,
  wake,
  type PlcConfig
} from './sig60-modem.js'

export type ClosableModemSerial = ModemSerial & { close: () => Promise<void> }

interface HatModemOptions {
  gpio: Gpio
  /** Opens the modem's serial line at MODEM_CONTROL_BAUD; closed after each procedure. */
  openSerial: () => Promise<ClosableModemSerial>
  /** Written at start-up; default DEFAULT_MODEM_CONFIG. */
  config?: PlcConfig
  log?: DriverLogger
  /**
   * Runs each procedure. The control registers share the device bus's serial
   * line at another baud rate, so once the bus is up the wiring passes a
   * function that holds the bus idle meanwhile. Default: run at once.
   */
  exclusive?: <T>(fn: () => Promise<T>) => Promise<T>
}

/**
 * The HAT's modem as the service uses it: initialize() at start-up,
 * readConfiguration() for GET /plc_config (wake, then read, as the reference
 * endpoint does). One procedure at a time.
 */
export class HatModem {
  readonly config: PlcConfig
  private readonly gpio: Gpio
  private readonly openSerial: () => Promise<ClosableModemSerial>
  private readonly log: DriverLogger
  private readonly exclusive: <T>(fn: () => Promise<T>) => Promise<T>
  private tail: Promise<unknown> = Promise.resolve()

  constructor (options: HatModemOptions) {
    this.gpio = options.gpio
    this.openSerial = options.openSerial
    this.config = options.config ?? DEFAULT_MODEM_CONFIG
    this.log = (options.log ?? silentLogger).child({ component: 'sig60' })
    this.exclusive = options.exclusive ?? (async (fn) => await fn())
    encodeRegisters(this.config)
  }

  /** Wake and configure the modem (twice) and return the configuration it reports. */
  async initialize (): Promise<PlcConfig> {
    return await this.run(async (serial) => {
      const readBack = await initializeHat(this.gpio, serial, this.config)
      const differs = CONFIGURED_FIELDS.filter((field) => readBack[field] !== this.config[field])
      if (differs.length > 0) {
        this.log.warn({ wanted: this.config, readBack, differs }, 'modem reports another configuration than the one written')
      } else {
        this.log.info({ config: readBack }, 'modem configured')
      }
      return readBack
    })
  }

  /** Wake the modem and read its control registers (FREQ at the configured frequency number). */
  async readConfiguration (): Promise<PlcConfig> {
    return await this.run(async (serial) => {
      await wake(this.gpio)
      const [reg0, reg1] = await readRegisters(this.gpio, serial, this.config.frequency_number)
      this.log.debug({ reg0: hex(reg0), reg1: hex(reg1) }, 'modem control registers')
      return decodeRegisters(reg0, reg1)
    })
  }

  private run<T> (fn: (serial: ModemSerial) => Promise<T>): Promise<T> {
    const run = this.tail.then(async () => await this.exclusive(async () => {
      const serial = await this.openSerial()
      try {
        return await fn(serial)
      } finally {
        await serial.close()
      }
    }))
    this.tail = run.catch(() => {})
    return run
  }
}

/** Every field but the status bit the modem sets itself. */
const CONFIGURED_FIELDS = (Object.keys(DEFAULT_MODEM_CONFIG) as Array<keyof PlcConfig>).filter((field) => field !== 'interference_detected')

function hex (byte: number): string {
  return byte.toString(16).padStart(2, '0')
}

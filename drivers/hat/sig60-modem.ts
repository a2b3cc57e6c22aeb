import { OpenDcreError } from '../errors.js'
import type { Gpio, Level } from './gpio.js'
import type { ModemSerial } from './modem-serial.js'

/**
 * The SIG60 power-line modem on the Raspberry Pi HAT v1 (docs/protocol.md §9):
 * its two control registers (pure codecs) and the GPIO + serial procedures
 * that wake it, write its configuration and read it back, in the order and
 * with the delays of the reference (OpenDCRE v1.2.1 plc_rpi_v1.py).
 */

/** The modem configuration, as GET /plc_config answers it. */
export interface PlcConfig {
  /** Which of the pair is in use: 0 -> f0, 1 -> f1. */
  frequency_number: 0 | 1
  remote_loopback: boolean
  interference_hopping: boolean
  long_wum: boolean
  auto_sleep: boolean
  auto_wum: boolean
  loopback_enabled: boolean
  /** A status bit, reported by the modem. */
  interference_detected: boolean
  /** MHz; (f0, f1) must be one of FREQUENCY_PAIRS. */
  f0: number
  f1: number
  /** bps; one of the rates the frequency in use offers (bitRatesFor). */
  bit_rate: number
}

type Reg0Fields = Pick<PlcConfig, 'frequency_number' | 'remote_loopback' | 'interference_hopping' | 'long_wum' | 'auto_sleep' | 'auto_wum' | 'loopback_enabled' | 'interference_detected'>
type Reg1Fields = Pick<PlcConfig, 'f0' | 'f1' | 'bit_rate'>

/** GPIO pins, BOARD (physical) numbering. */
export const PIN = {
  CMD: 13,
  FREQ: 19,
  HDI: 8,
  HDO: 10,
  INH: 15,
  nSLEEP: 11,
  /** Switches the serial line between the modem and the HAT's PIC. */
  SELECT: 21
} as const

/** reg1 bits 0-3 index this list (MHz). */
export const FREQUENCY_PAIRS: ReadonlyArray<readonly [number, number]> = [
  [1.75, 4.5], [1.75, 5.5], [1.75, 6.0], [1.75, 6.5],
  [4.5, 5.5], [4.5, 6.0], [4.5, 6.5], [4.5, 10.5],
  [10.5, 13.0],
  [5.5, 10.5], [5.5, 13.0],
  [6.0, 10.5], [6.0, 13.0],
  [6.5, 10.5], [6.5, 13.0],
  [5.5, 6.5]
]

/** reg1 bits 4-5 index one of these, by the frequency in use. */
export const BIT_RATES_BELOW_10_MHZ = [38400, 57600, 9600, 19200] as const
export const BIT_RATES_FROM_10_MHZ = [38400, 57600, 115200, 19200] as const

export const DEFAULT_MODEM_CONFIG: Readonly<PlcConfig> = Object.freeze({
  frequency_number: 1,
  remote_loopback: false,
  interference_hopping: false,
  long_wum: true,
  auto_sleep: true,
  auto_wum: false,
  loopback_enabled: false,
  interference_detected: false,
  f0: 5.5,
  f1: 10.5,
  bit_rate: 115200
})

/** Serial commands while CMD is low. */
const COMMAND = {
  WRITE_REG0: 0x05,
  WRITE_REG1: 0x15,
  READ_REG0: 0x0d,
  READ_REG1: 0x1d
} as const

/** How long wake() polls INH before giving up. */
const WAKE_TIMEOUT_MS = 1000
/** After INH goes high, the modem sends its wake-up message. */
const WAKE_SETTLE_MS = 150

// ---- register codecs ----------------------------------------------------

/** reg0: bit 0 frequency_number, 1 remote_loopback, 2 interference_hopping, 3 long_wum, 4 NOT auto_sleep, 5 NOT auto_wum, 6 NOT loopback_enabled, 7 interference_detected. */
export function encodeReg0 (config: Reg0Fields): number {
  if (config.frequency_number !== 0 && config.frequency_number !== 1) {
    throw new OpenDcreError('invalid-argument', `modem frequency_number must be 0 or 1, not ${String(config.frequency_number)}`)
  }
  return config.frequency_number |
    bit(config.remote_loopback) << 1 |
    bit(config.interference_hopping) << 2 |
    bit(config.long_wum) << 3 |
    bit(!config.auto_sleep) << 4 |
    bit(!config.auto_wum) << 5 |
    bit(!config.loopback_enabled) << 6 |
    bit(config.interference_detected) << 7
}

export function decodeReg0 (byte: number): Reg0Fields {
  checkByte(byte, 'reg0')
  return {
    frequency_number: (byte & 0x01) as 0 | 1,
    remote_loopback: (byte & 0x02) !== 0,
    interference_hopping: (byte & 0x04) !== 0,
    long_wum: (byte & 0x08) !== 0,
    auto_sleep: (byte & 0x10) === 0,
    auto_wum: (byte & 0x20) === 0,
    loopback_enabled: (byte & 0x40) === 0,
    interference_detected: (byte & 0x80) !== 0
  }
}

/** The bit rates the frequency in use (f0 or f1, by frequency_number) offers. */
function bitRatesFor (frequencyMhz: number): readonly number[] {
  return frequencyMhz < 10 ? BIT_RATES_BELOW_10_MHZ : BIT_RATES_FROM_10_MHZ
}

/** reg1: bits 0-3 the index of (f0, f1) in FREQUENCY_PAIRS, bits 4-5 the bit-rate index. Throws when either is not representable. */
export function encodeReg1 (config: Reg1Fields & Pick<PlcConfig, 'frequency_number'>): number {
  const pair = FREQUENCY_PAIRS.findIndex(([f0, f1]) => f0 === config.f0 && f1 === config.f1)
  if (pair < 0) {
    throw new OpenDcreError('invalid-argument', `modem frequency pair (${config.f0}, ${config.f1}) MHz is not one the SIG60 offers`)
  }
  const inUse = config.frequency_number === 0 ? config.f0 : config.f1
  const rates = bitRatesFor(inUse)
  const rate = rates.indexOf(config.bit_rate)
  if (rate < 0) {
    throw new OpenDcreError('invalid-argument', `modem bit rate ${config.bit_rate} is not available at ${inUse} MHz (one of ${rates.join(', ')})`)
  }
  return rate << 4 | pair
}

/** `frequencyNumber` (reg0 bit 0) says which frequency's bit-rate list bits 4-5 index. Bits 6-7 are ignored, as the reference does. */
export function decodeReg1 (byte: number, frequencyNumber: 0 | 1): Reg1Fields {
  checkByte(byte, 'reg1')
  const [f0, f1] = FREQUENCY_PAIRS[byte & 0x0f]
  const bitRate = bitRatesFor(frequencyNumber === 0 ? f0 : f1)[(byte >> 4) & 0x03]
  return { f0, f1, bit_rate: bitRate }
}

export function encodeRegisters (config: PlcConfig): [reg0: number, reg1: number] {
  return [encodeReg0(config), encodeReg1(config)]
}

export function decodeRegisters (reg0: number, reg1: number): PlcConfig {
  const fields0 = decodeReg0(reg0)
  return { ...fields0, ...decodeReg1(reg1, fields0.frequency_number) }
}

function bit (value: boolean): number {
  return value ? 1 : 0
}

function checkByte (byte: number, name: string): void {
  if (!Number.isInteger(byte) || byte < 0 || byte > 0xff) throw new RangeError(`${name} must be a byte, not ${byte}`)
}

// ---- procedures ---------------------------------------------------------

/**
 * Wake the modem (and the devices on the bus) if it sleeps: INH low means
 * asleep. Pulse nSLEEP low for 1 ms, then poll INH every 1 ms until it is
 * high, giving up after 1 s; then wait 150 ms for the wake-up message. If INH
 * is already high, nothing else happens. nSLEEP is returned to an input
 * afterwards, as the reference's GPIO.cleanup() does.
 */
export async function wake (gpio: Gpio): Promise<void> {
  gpio.setupInput(PIN.INH)
  if (gpio.read(PIN.INH) === 1) return
  gpio.setupOutput(PIN.nSLEEP, 0)
  try {
    await gpio.sleepMs(1)
    gpio.write(PIN.nSLEEP, 1)
    await gpio.sleepMs(1)
    // elapsed time counts the 1 ms waits, so a fake clock never really waits
    for (let waitedMs = 0; gpio.read(PIN.INH) === 0; waitedMs++) {
      if (waitedMs >= WAKE_TIMEOUT_MS) {
        throw new OpenDcreError('unavailable', 'modem wake failed: INH stayed low for 1 s')
      }
      await gpio.sleepMs(1)
    }
    await gpio.sleepMs(WAKE_SETTLE_MS)
  } finally {
    gpio.setupInput(PIN.nSLEEP)
  }
}

/**
 * Write both control registers: FREQ to the frequency number; nSLEEP, CMD
 * and SELECT as inputs; CMD low; after 1 ms `0x05 reg0 0x15 reg1`; after
 * 1 ms CMD high and released. Encodes first, so a configuration the modem
 * cannot hold throws before any pin moves.
 */
export async function configure (gpio: Gpio, serial: ModemSerial, config: PlcConfig): Promise<void> {
  const [reg0, reg1] = encodeRegisters(config)
  await serial.flush?.()
  await commandMode(gpio, config.frequency_number, async () => {
    await serial.write(Buffer.from([COMMAND.WRITE_REG0, reg0, COMMAND.WRITE_REG1, reg1]))
    await gpio.sleepMs(1)
  })
}

/**
 * Read both control registers (the same pin setup, with FREQ at
 * `frequencyNumber`; the reference's plc_config endpoint reads at 1).
 */
export async function readRegisters (gpio: Gpio, serial: ModemSerial, frequencyNumber: 0 | 1 = 1): Promise<[reg0: number, reg1: number]> {
  await serial.flush?.()
  return await commandMode(gpio, frequencyNumber, async () => {
    const reg0 = await readRegister(serial, COMMAND.READ_REG0, 'reg0')
    const reg1 = await readRegister(serial, COMMAND.READ_REG1, 'reg1')
    return [reg0, reg1]
  })
}

/** The decoded configuration the modem holds (GET /plc_config). */
export async function readConfiguration (gpio: Gpio, serial: ModemSerial, frequencyNumber: 0 | 1 = 1): Promise<PlcConfig> {
  const [reg0, reg1] = await readRegisters(gpio, serial, frequencyNumber)
  return decodeRegisters(reg0, reg1)
}

/**
 * Start-up: wake and configure, twice, as the reference does; then read
 * the configuration back and return it. `serial` must be at MODEM_CONTROL_BAUD.
 */
export async function initializeHat (gpio: Gpio, serial: ModemSerial, config: PlcConfig = DEFAULT_MODEM_CONFIG): Promise<PlcConfig> {
  encodeRegisters(config)
  for (let pass = 0; pass < 2; pass++) {
    await wake(gpio)
    await configure(gpio, serial, config)
  }
  return await readConfiguration(gpio, serial, config.frequency_number)
}

/**
 * Hold CMD low around `fn` (1 ms after CMD goes low), then drive it high and
 * return CMD and FREQ to inputs, as the reference's GPIO.cleanup() does;
 * CMD is released even when `fn` fails, so the modem leaves command mode.
 */
async function commandMode<T> (gpio: Gpio, frequencyNumber: Level, fn: () => Promise<T>): Promise<T> {
  gpio.setupOutput(PIN.FREQ, frequencyNumber)
  gpio.setupInput(PIN.nSLEEP)
  gpio.setupInput(PIN.CMD)
  gpio.setupInput(PIN.SELECT)
  gpio.setupOutput(PIN.CMD, 0)
  try {
    await gpio.sleepMs(1)
    return await fn()
  } finally {
    gpio.write(PIN.CMD, 1)
    gpio.setupInput(PIN.CMD)
    gpio.setupInput(PIN.FREQ)
  }
}

async function readRegister (serial: ModemSerial, command: number, name: string): Promise<number> {
  await serial.write(Buffer.from([command]))
  const answer = await serial.read(1)
  if (answer.length !== 1) {
    throw new OpenDcreError('timeout', `modem did not answer the ${name} read (${answer.length} bytes)`)
  }
  return answer[0]
}

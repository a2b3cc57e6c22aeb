import { OpenDcreError } from '../errors.js'
import type { PowerStatus } from '../bus.js'

/**
 * Raw device values -> API values (docs/protocol.md §5). Pure functions.
 *
 * A ConversionError is 'value' when the raw text is not a number at all
 * (Python's ValueError in v1.2) and 'range' when the number cannot be
 * converted; the API words the two differently, as v1.2 did.
 */
export class ConversionError extends OpenDcreError {
  constructor (readonly kind: 'value' | 'range', message: string) {
    super('conversion', message)
    this.name = 'ConversionError'
  }
}

/** Python's round(x, 2): rounds the exact binary value (toFixed does too). */
function round2 (x: number): number {
  return Number(x.toFixed(2))
}

/** Parse an ASCII decimal integer the way Python's int() does (surrounding blanks allowed). */
export function parseRawInteger (raw: string): number {
  const text = raw.trim()
  if (!/^[+-]?\d+$/.test(text)) throw new ConversionError('value', `invalid literal for int() with base 10: '${raw}'`)
  return Number(text)
}

/** Like parseRawInteger, keeping integers past 2^53 exact as bigint. */
export function parseRawBigInteger (raw: string): number | bigint {
  const n = parseRawInteger(raw)
  return Number.isSafeInteger(n) ? n : BigInt(raw.trim())
}

/** Parse an ASCII decimal number the way Python's float() does for plain decimals. */
export function parseRawFloat (raw: string): number {
  const text = raw.trim()
  if (!/^[+-]?(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?$/.test(text)) {
    throw new ConversionError('value', `could not convert string to float: ${raw}`)
  }
  return Number(text)
}

/** Thermistor ADC counts -> °C, two decimals; 65535 and above is an error. */
export function convertThermistor (adc: number): number {
  if (adc >= 65535) throw new ConversionError('range', 'Thermistor value > 0xFFFF received.')
  let c: number
  if (adc > 745) c = -0.131 * adc + 118.638
  else if (adc > 542) c = -0.0985 * adc + 93.399
  else if (adc > 354) c = -0.106 * adc + 97.66
  else if (adc > 218) c = -0.147 * adc + 112.046
  else c = -0.235 * adc + 131.294
  return round2(c)
}

/** 32-bit humidity sensor word -> {humidity %, temperature °C}. */
export function convertHumidity (raw: number): { humidity: number, temperature_c: number } {
  if (!Number.isInteger(raw) || raw < 0 || raw > 0xffffffff) {
    throw new ConversionError('range', 'Humidity value > 0xFFFFFFFF received.')
  }
  const humidity = (Math.floor(raw / 0x10000) & 0x3fff) / (2 ** 14 - 2) * 100
  const temperature = (((raw & 0xffff) >> 2) / 16382) * 165 - 40
  return { humidity: round2(humidity), temperature_c: round2(temperature) }
}

export function convertLedState (raw: number): 'on' | 'off' {
  if (raw === 1) return 'on'
  if (raw === 0) return 'off'
  throw new ConversionError('value', `Invalid raw value returned: (${raw})`)
}

/** PMBus direct format: X = (Y * 10^-R - b) / m. */
function pmbusDirect (y: number, m: number, b: number, r: number): number {
  return (y * 10 ** -r - b) / m
}

/** "status,power,voltage,current" (PMBus raw values) -> power status. */
export function convertPower (raw: string): PowerStatus {
  const fields = raw.split(',')
  if (fields.length < 4) throw new ConversionError('value', 'list index out of range')
  const [status, power, voltage, current] = fields.slice(0, 4).map((f) => parseRawInteger(f))
  return {
    input_power: pmbusDirect(power, 6043, 0, -2),
    input_voltage: pmbusDirect(voltage, 19199, 0, -2),
    output_current: pmbusDirect(current, 807, 20745, -1),
    over_current: ((status >> 4) & 1) === 1,
    pmbus_raw: raw,
    power_ok: ((status >> 11) & 1) === 0,
    power_status: ((status >> 6) & 1) === 1 ? 'off' : 'on',
    under_voltage: ((status >> 3) & 1) === 1
  }
}

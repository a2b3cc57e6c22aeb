/**
 * Sensor Data Records (IPMI v2.0 §43) and reading conversion (§36.3). Pure
 * functions: parseSdr turns one record's bytes (5-byte header included) into
 * a sensor description, convertReading turns a Get Sensor Reading byte into a
 * value with it. Records other than full (0x01) and compact (0x02) sensor
 * records come back as { kind: 'other' } so callers skip them; a record too
 * short for what its header claims is an SdrFormatError, never a crash.
 */
import { decodeField, decodeTypeLength } from './fru.js'
import { IpmiError } from './types.js'
import type { SensorThresholds } from '../bus.js'

export class SdrFormatError extends IpmiError {
  constructor (message: string) {
    super('protocol', message)
    this.name = 'SdrFormatError'
  }
}

const SDR_TYPE = { full: 0x01, compact: 0x02 } as const

/** Sensor units 1, bits 7:6 (§43.1 byte 21). */
export type AnalogFormat = 'unsigned' | 'ones-complement' | 'twos-complement' | 'none'
const FORMATS: AnalogFormat[] = ['unsigned', 'ones-complement', 'twos-complement', 'none']

/** Linearization (§43.1 byte 24, table 43-1 / §36.3): 0x00-0x0b, 0x70-0x7f non-linear. */
type Linearization = 'linear' | 'ln' | 'log10' | 'log2' | 'e' | 'exp10' | 'exp2' | '1/x' | 'sqr' | 'cube' | 'sqrt' | 'cube-root' | 'non-linear'
const LINEARIZATIONS: Linearization[] = ['linear', 'ln', 'log10', 'log2', 'e', 'exp10', 'exp2', '1/x', 'sqr', 'cube', 'sqrt', 'cube-root']

/** Sensor unit type codes (§43.17), as ipmitool names them; the first 20 cover the sensors met in practice. */
const UNITS = [
  'unspecified', 'degrees C', 'degrees F', 'degrees K', 'Volts', 'Amps', 'Watts', 'Joules', 'Coulombs',
  'VA', 'Nits', 'lumen', 'lux', 'Candela', 'kPa', 'PSI', 'Newton', 'CFM', 'RPM', 'Hz'
]

function unitName (code: number): string {
  return UNITS[code] ?? `unit 0x${code.toString(16).padStart(2, '0')}`
}

/** The conversion factors of a full sensor record (§43.1 bytes 24-30). */
export interface ConversionFactors {
  linearization: Linearization
  linearizationCode: number
  /** 10-bit two's complement. */
  m: number
  /** 6 bits, in +/- half raw counts. */
  tolerance: number
  /** 10-bit two's complement. */
  b: number
  /** 10 bits, in 1/100 percent scaled up by accuracyExp. */
  accuracy: number
  accuracyExp: number
  /** 4-bit two's complement result exponent ("K2"). */
  rExp: number
  /** 4-bit two's complement B exponent ("K1"). */
  bExp: number
}

export interface SensorRecord {
  kind: 'full' | 'compact'
  recordId: number
  sdrVersion: number
  ownerId: number
  ownerLun: number
  channel: number
  sensorNumber: number
  entityId: number
  entityInstance: number
  logicalEntity: boolean
  sensorType: number
  eventReadingType: number
  analogFormat: AnalogFormat
  rateUnit: number
  modifierUnitUse: number
  percentage: boolean
  baseUnit: number
  modifierUnit: number
  unit: string
  /** Full records only; compact records have no conversion factors (§43.2). */
  factors: ConversionFactors | null
  /** The id string (§43.15), decoded. */
  name: string
  /**
   * Threshold sensors (event/reading type 0x01, full or compact): how their
   * thresholds are reached (§43.1 byte 12 bits 3:2: none, readable and
   * settable with Get/Set Sensor Thresholds per the masks, or fixed and
   * unreadable) and the readable mask (byte 19 bits 0-5).
   */
  thresholdAccess?: 'none' | 'readable' | 'settable' | 'fixed'
  readableThresholds?: number
  /**
   * Full records of threshold sensors (event/reading type 0x01): the
   * readable thresholds (§43.1 byte 19 mask, bytes 37-42), converted like
   * readings. Absent otherwise.
   */
  thresholds?: SensorThresholds
}

interface OtherRecord {
  kind: 'other'
  recordId: number
  recordType: number
  length: number
}

type SdrRecord = SensorRecord | OtherRecord

function signed (value: number, bits: number): number {
  const sign = 1 << (bits - 1)
  return (value & (sign - 1)) - (value & sign)
}

/** Fixed bytes before the id string type/length byte (header included): §43.1 byte 48, §43.2 byte 32. */
const ID_AT = { full: 47, compact: 31 } as const

/**
 * Parses one SDR: `bytes` starts with the 5-byte header (record id LS first,
 * SDR version, record type, length of the rest).
 */
export function parseSdr (bytes: Uint8Array): SdrRecord {
  if (bytes.length < 5) throw new SdrFormatError(`SDR: ${bytes.length} byte(s), the header alone is 5`)
  const recordId = bytes[0] | (bytes[1] << 8)
  const sdrVersion = bytes[2]
  const recordType = bytes[3]
  const length = bytes[4]
  const where = `SDR 0x${recordId.toString(16).padStart(4, '0')}`
  if (bytes.length < 5 + length) throw new SdrFormatError(`${where}: truncated, ${bytes.length - 5} of ${length} body byte(s)`)
  if (recordType !== SDR_TYPE.full && recordType !== SDR_TYPE.compact) {
    return { kind: 'other', recordId, recordType, length }
  }
  const kind = recordType === SDR_TYPE.full ? 'full' : 'compact'
  const idAt = ID_AT[kind]
  const r = bytes.subarray(0, 5 + length)
  if (r.length <= idAt) throw new SdrFormatError(`${where}: a ${kind} sensor record needs ${idAt + 1 - 5} body bytes, has ${length}`)

  const units1 = r[20]
  let factors: ConversionFactors | null = null
  if (kind === 'full') {
    const code = r[23] & 0x7f
    const accuracy = (r[27] & 0x3f) | ((r[28] & 0xf0) << 2)
    factors = {
      linearization: LINEARIZATIONS[code] ?? 'non-linear',
      linearizationCode: code,
      m: signed(r[24] | ((r[25] & 0xc0) << 2), 10),
      tolerance: r[25] & 0x3f,
      b: signed(r[26] | ((r[27] & 0xc0) << 2), 10),
      accuracy,
      accuracyExp: (r[28] >> 2) & 0x03,
      rExp: signed(r[29] >> 4, 4),
      bExp: signed(r[29] & 0x0f, 4)
    }
  }

  const tl = decodeTypeLength(r[idAt], true, 0x1f)
  const idEnd = idAt + 1 + tl.length
  if (idEnd > r.length) throw new SdrFormatError(`${where}: id string of ${tl.length} byte(s) runs past the record`)
  const name = tl.length === 0 ? '' : decodeField(tl.encoding === 'binary' ? 'unicode' : tl.encoding, r.subarray(idAt + 1, idEnd))

  const record: SensorRecord = {
    kind,
    recordId,
    sdrVersion,
    ownerId: r[5],
    ownerLun: r[6] & 0x03,
    channel: r[6] >> 4,
    sensorNumber: r[7],
    entityId: r[8],
    entityInstance: r[9] & 0x7f,
    logicalEntity: (r[9] & 0x80) !== 0,
    sensorType: r[12],
    eventReadingType: r[13],
    analogFormat: FORMATS[units1 >> 6],
    rateUnit: (units1 >> 3) & 0x07,
    modifierUnitUse: (units1 >> 1) & 0x03,
    percentage: (units1 & 0x01) !== 0,
    baseUnit: r[21],
    modifierUnit: r[22],
    unit: unitName(r[21]),
    factors,
    name
  }
  if (record.eventReadingType === 0x01 && record.analogFormat !== 'none') {
    record.thresholdAccess = THRESHOLD_ACCESS[(r[11] >> 2) & 0x03]
    record.readableThresholds = r[18] & 0x3f
  }
  if (kind === 'full' && record.eventReadingType === 0x01 && record.analogFormat !== 'none') {
    const thresholds = parseThresholds(record, r)
    if (thresholds !== undefined) record.thresholds = thresholds
  }
  return record
}

const THRESHOLD_ACCESS = ['none', 'readable', 'settable', 'fixed'] as const

/** Where Get Sensor Thresholds (§35.9) is the way to a sensor's thresholds: the SDR says they are readable (or settable) and names some. */
export function thresholdsReadable (record: SensorRecord): boolean {
  return (record.thresholdAccess === 'readable' || record.thresholdAccess === 'settable') && (record.readableThresholds ?? 0) !== 0
}

/**
 * Get Sensor Thresholds' answer (§35.9: readable mask, raw lnc, lcr, lnr,
 * unc, ucr, unr) converted like readings (a compact record's raw value is
 * its reading, §43.2).
 */
export function convertThresholds (record: SensorRecord, readable: number, raw: readonly number[]): SensorThresholds {
  const names: Array<keyof SensorThresholds> = ['lower_non_critical', 'lower_critical', 'lower_non_recoverable', 'upper_non_critical', 'upper_critical', 'upper_non_recoverable']
  const out: SensorThresholds = {}
  if (record.factors?.linearization === 'non-linear') return out
  names.forEach((name, bit) => {
    if ((readable & (1 << bit)) === 0) return
    const value = convertReading(record, raw[bit])
    if (value !== null && Number.isFinite(value)) out[name] = value
  })
  return out
}

/**
 * §43.1 byte 19 (readable threshold mask, bits 0-5: lnc, lcr, lnr, unc, ucr,
 * unr) and bytes 37-42 (unr, ucr, unc, lnr, lcr, lnc raw values), converted
 * with the record's factors. Undefined when none is readable or the sensor
 * is non-linear (its factors are not in the record).
 */
function parseThresholds (record: SensorRecord, r: Uint8Array): SensorThresholds | undefined {
  const mask = r[18] & 0x3f
  if (mask === 0 || record.factors?.linearization === 'non-linear') return undefined
  // mask bit -> (name, byte index, 0-based with the header)
  const layout: Array<[keyof SensorThresholds, number]> = [
    ['lower_non_critical', 41], ['lower_critical', 40], ['lower_non_recoverable', 39],
    ['upper_non_critical', 38], ['upper_critical', 37], ['upper_non_recoverable', 36]
  ]
  const out: SensorThresholds = {}
  layout.forEach(([name, at], bit) => {
    if ((mask & (1 << bit)) === 0) return
    const value = convertReading(record, r[at])
    if (value !== null && Number.isFinite(value)) out[name] = value
  })
  return out
}

/**
 * Get Sensor Reading's threshold comparison status (§35.14 response byte 3,
 * bits 0-5: at or below lnc, lcr, lnr; at or above unc, ucr, unr) as a
 * condition: a critical or non-recoverable bit is critical, a non-critical
 * one a warning.
 */
export function thresholdCondition (status: number): 'ok' | 'warning' | 'critical' {
  if ((status & 0x36) !== 0) return 'critical'
  if ((status & 0x09) !== 0) return 'warning'
  return 'ok'
}

/** The raw reading byte as a signed or unsigned number per the analog data format; null for 'none'. */
export function rawValue (format: AnalogFormat, raw: number): number | null {
  const x = raw & 0xff
  switch (format) {
    case 'unsigned': return x
    // 1's complement: a set sign bit means -(~x & 0x7f); 0xff is minus zero.
    case 'ones-complement': return (x & 0x80) !== 0 ? 0 - ((~x) & 0x7f) || 0 : x
    case 'twos-complement': return signed(x, 8)
    case 'none': return null
  }
}

function linearize (l: Linearization, y: number): number {
  switch (l) {
    case 'linear': return y
    case 'ln': return Math.log(y)
    case 'log10': return Math.log10(y)
    case 'log2': return Math.log2(y)
    case 'e': return Math.exp(y)
    case 'exp10': return 10 ** y
    case 'exp2': return 2 ** y
    case '1/x': return 1 / y
    case 'sqr': return y * y
    case 'cube': return y * y * y
    case 'sqrt': return Math.sqrt(y)
    case 'cube-root': return Math.cbrt(y)
    case 'non-linear': throw new SdrFormatError('non-linear sensor: its reading factors need Get Sensor Reading Factors, which is not supported')
  }
}

/** Rounds away binary noise (0.1 * 3 = 0.30000000000000004) to 10 significant digits. */
function tidy (v: number): number {
  return Number.isFinite(v) ? Number(v.toPrecision(10)) : v
}

/**
 * §36.3: y = L[(M * x + B * 10^Bexp) * 10^Rexp], x per the analog data format.
 * Compact records carry no factors: their reading is x itself. Returns null when
 * the sensor has no analog reading (format 'none').
 */
export function convertReading (record: SensorRecord, raw: number): number | null {
  const x = rawValue(record.analogFormat, raw)
  if (x === null) return null
  const f = record.factors
  if (f === null) return x
  // Integer exponent arithmetic keeps 0.1 steps exact where 10 ** -1 would not.
  const inner = f.m * x + scale(f.b, f.bExp)
  return tidy(linearize(f.linearization, scale(inner, f.rExp)))
}

function scale (v: number, exp: number): number {
  return exp >= 0 ? v * 10 ** exp : v / 10 ** -exp
}

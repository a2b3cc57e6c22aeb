/**
 * The BMC side's encoders for what the client's parsers read: Sensor Data
 * Records (IPMI v2.0 §43.1 full, §43.2 compact), the FRU inventory image
 * (Platform Management FRU Information Storage Definition v1.0 §8-§13) and
 * SEL event records (IPMI v2.0 §32.1). Pure functions; the client's parsers in
 * drivers/ipmi (sdr.ts, fru.ts) are their tests' judges.
 */
import type { FruConfig, SensorConfig, SensorKind } from './bmc-emulator-config.js'

/** Default sensor type (table 42-3), base unit (§43.17) and entity (table 43-13) per kind. */
const KIND_DEFAULTS: Record<SensorKind, { sensorType: number, unit: number, entity: number }> = {
  temperature: { sensorType: 0x01, unit: 1, entity: 0x03 }, // degrees C, processor
  voltage: { sensorType: 0x02, unit: 4, entity: 0x07 }, // Volts, system board
  current: { sensorType: 0x03, unit: 5, entity: 0x0a }, // Amps, power supply
  fan: { sensorType: 0x04, unit: 18, entity: 0x1d }, // RPM, fan device
  power: { sensorType: 0x0b, unit: 6, entity: 0x0a }, // Watts, other units-based sensor on a power supply
  discrete: { sensorType: 0x08, unit: 0, entity: 0x0a } // power supply status
}

export const THRESHOLD_NAMES = ['lnc', 'lcr', 'lnr', 'unc', 'ucr', 'unr'] as const
export type ThresholdName = typeof THRESHOLD_NAMES[number]

/** The conversion of one analog sensor (§36.3, linear only). */
export interface Conversion {
  m: number
  b: number
  bExp: number
  rExp: number
  signed: boolean
}

export function conversionOf (s: SensorConfig): Conversion {
  return { m: s.m ?? 1, b: s.b ?? 0, bExp: s.b_exp ?? 0, rExp: s.r_exp ?? 0, signed: s.signed ?? false }
}

/** Engineering units to the raw byte: x = (y / 10^Rexp - B * 10^Bexp) / M, rounded and clamped. */
export function toRaw (c: Conversion, value: number): number {
  const x = Math.round((value / 10 ** c.rExp - c.b * 10 ** c.bExp) / c.m)
  if (c.signed) return Math.max(-128, Math.min(127, x)) & 0xff
  return Math.max(0, Math.min(255, x))
}

/** The raw byte back to engineering units (what a client computes). */
export function fromRaw (c: Conversion, raw: number): number {
  const x = c.signed ? ((raw & 0x80) !== 0 ? raw - 256 : raw) : raw
  return Number(((c.m * x + c.b * 10 ** c.bExp) * 10 ** c.rExp).toPrecision(10))
}

/** Readable threshold mask bits (§43.1 byte 19; §35.9 response byte 1): lnc 0 .. unr 5. */
export function thresholdMask (s: SensorConfig): number {
  let mask = 0
  THRESHOLD_NAMES.forEach((name, bit) => { if (s.thresholds?.[name] !== undefined) mask |= 1 << bit })
  return mask
}

/** Assertion event mask: going-low events for lower thresholds, going-high for upper (§43.1 bytes 15-16). */
function assertionMask (mask: number): number {
  let events = 0
  if ((mask & 0x01) !== 0) events |= 1 << 0 // lnc going low
  if ((mask & 0x02) !== 0) events |= 1 << 2 // lcr going low
  if ((mask & 0x04) !== 0) events |= 1 << 4 // lnr going low
  if ((mask & 0x08) !== 0) events |= 1 << 7 // unc going high
  if ((mask & 0x10) !== 0) events |= 1 << 9 // ucr going high
  if ((mask & 0x20) !== 0) events |= 1 << 11 // unr going high
  // bits 14:12: which lower threshold comparisons Get Sensor Reading returns
  return events | ((mask & 0x07) << 12)
}

function deassertionMask (mask: number): number {
  // same events; bits 14:12: the upper threshold comparisons returned
  return (assertionMask(mask) & 0x0fff) | (((mask >> 3) & 0x07) << 12)
}

function idString (name: string): Buffer {
  const text = Buffer.from(name, 'latin1').subarray(0, 16)
  return Buffer.concat([Buffer.of(0xc0 | text.length), text])
}

function header (recordId: number, type: number, body: Buffer): Buffer {
  const h = Buffer.alloc(5)
  h.writeUInt16LE(recordId, 0)
  h[2] = 0x51 // SDR version 1.5 (§43)
  h[3] = type
  h[4] = body.length
  return Buffer.concat([h, body])
}

export function sensorTypeOf (s: SensorConfig): number {
  return s.sensor_type ?? KIND_DEFAULTS[s.kind].sensorType
}

export function eventReadingTypeOf (s: SensorConfig): number {
  return s.event_reading_type ?? (s.kind === 'discrete' ? 0x6f : 0x01)
}

function recordKindOf (s: SensorConfig): 'full' | 'compact' {
  return s.record ?? (s.kind === 'discrete' ? 'compact' : 'full')
}

/** One sensor's SDR: full (§43.1) or compact (§43.2), thresholds and conversion from the config. */
export function encodeSensorSdr (recordId: number, s: SensorConfig, bmcAddress = 0x20): Buffer {
  const kind = recordKindOf(s)
  const defaults = KIND_DEFAULTS[s.kind]
  const threshold = eventReadingTypeOf(s) === 0x01
  const mask = threshold ? thresholdMask(s) : 0
  const c = conversionOf(s)
  // bytes 6.. of the record (index 0 = record byte 6)
  const common = Buffer.alloc(18)
  common[0] = bmcAddress
  common[1] = 0x00 // channel 0, LUN 0
  common[2] = s.number
  common[3] = s.entity_id ?? defaults.entity
  common[4] = s.entity_instance ?? 1
  common[5] = 0x7f // initialization: scanning, events, thresholds, hysteresis, type; scanning enabled
  // capabilities: auto re-arm; hysteresis readable; thresholds readable+settable (threshold sensors); per-threshold event control
  common[6] = threshold ? (mask !== 0 ? 0x68 : 0x40) : 0x40
  common[7] = sensorTypeOf(s)
  common[8] = eventReadingTypeOf(s)
  if (threshold) {
    common.writeUInt16LE(assertionMask(mask), 9)
    common.writeUInt16LE(deassertionMask(mask), 11)
    common[13] = mask // readable thresholds
    common[14] = mask // settable thresholds
  } else {
    common.writeUInt16LE(s.kind === 'discrete' ? 0x0003 : 0, 9)
    common.writeUInt16LE(s.kind === 'discrete' ? 0x0003 : 0, 11)
    common.writeUInt16LE(s.kind === 'discrete' ? 0x0003 : 0, 13)
  }
  // units 1: analog format (unsigned / 2's complement, or none for discrete), no rate, no modifier
  common[15] = s.kind === 'discrete' ? 0xc0 : (c.signed ? 0x80 : 0x00)
  common[16] = s.kind === 'discrete' ? 0 : defaults.unit
  common[17] = 0x00
  if (kind === 'compact') {
    // 24-25 record sharing: none; 26-27 hysteresis; 28-30 reserved; 31 OEM
    const rest = Buffer.alloc(8)
    return header(recordId, 0x02, Buffer.concat([common, rest, idString(s.name)]))
  }
  const full = Buffer.alloc(25)
  const m = c.m & 0x3ff
  const b = c.b & 0x3ff
  full[0] = 0x00 // linear
  full[1] = m & 0xff
  full[2] = (m >> 8) << 6 // tolerance 0
  full[3] = b & 0xff
  full[4] = (b >> 8) << 6 // accuracy 0
  full[5] = 0x00 // accuracy, exp, direction unspecified
  full[6] = ((c.rExp & 0x0f) << 4) | (c.bExp & 0x0f)
  const hasRange = s.min !== undefined && s.max !== undefined
  full[7] = hasRange ? 0x07 : 0x01 // nominal reading, normal max, normal min specified
  full[8] = toRaw(c, s.value)
  full[9] = toRaw(c, s.max ?? s.value)
  full[10] = toRaw(c, s.min ?? s.value)
  full[11] = c.signed ? 0x7f : 0xff // sensor maximum reading
  full[12] = c.signed ? 0x80 : 0x00 // sensor minimum reading
  const t = s.thresholds ?? {}
  full[13] = t.unr !== undefined ? toRaw(c, t.unr) : 0
  full[14] = t.ucr !== undefined ? toRaw(c, t.ucr) : 0
  full[15] = t.unc !== undefined ? toRaw(c, t.unc) : 0
  full[16] = t.lnr !== undefined ? toRaw(c, t.lnr) : 0
  full[17] = t.lcr !== undefined ? toRaw(c, t.lcr) : 0
  full[18] = t.lnc !== undefined ? toRaw(c, t.lnc) : 0
  full[19] = 0x00 // positive-going hysteresis
  full[20] = 0x00 // negative-going hysteresis
  // 21-22 reserved, 23 OEM
  return header(recordId, 0x01, Buffer.concat([common, full.subarray(0, 24), idString(s.name)]))
}

// ---------------------------------------------------------------------------
// FRU (Platform Management FRU Information Storage Definition v1.0)

/** 8-bit ASCII type/length field (§13: type 11b, length in bits 5:0). */
function fruField (text: string | undefined): Buffer {
  const bytes = Buffer.from(text ?? '', 'latin1').subarray(0, 63)
  return Buffer.concat([Buffer.of(0xc0 | bytes.length), bytes])
}

function zeroChecksum (bytes: Uint8Array): number {
  let sum = 0
  for (const b of bytes) sum = (sum + b) & 0xff
  return (0x100 - sum) & 0xff
}

/** An area: the fixed part, its fields, 0xC1, padding to 8 bytes, checksum (§10-§12). */
function area (fixed: number[], fields: Buffer[]): Buffer {
  const body = Buffer.concat([Buffer.from(fixed), ...fields, Buffer.of(0xc1)])
  const length = Math.ceil((body.length + 1) / 8) * 8
  const out = Buffer.alloc(length)
  body.copy(out)
  out[1] = length / 8
  out[length - 1] = zeroChecksum(out.subarray(0, length - 1))
  return out
}

const FRU_EPOCH_MS = Date.UTC(1996, 0, 1)

/** The FRU image of the BMC's built-in FRU device 0: common header, chassis, board and product areas. */
export function encodeFru (fru: FruConfig): Buffer {
  const parts: Buffer[] = []
  const offsets = [0, 0, 0, 0, 0]
  let at = 8
  if (fru.chassis !== undefined) {
    const a = area([0x01, 0, fru.chassis.type ?? 0x17], [fruField(fru.chassis.part_number), fruField(fru.chassis.serial_number)])
    offsets[1] = at / 8
    parts.push(a)
    at += a.length
  }
  if (fru.board !== undefined) {
    const b = fru.board
    const minutes = b.mfg_date !== undefined ? Math.max(0, Math.floor((Date.parse(b.mfg_date) - FRU_EPOCH_MS) / 60_000)) : 0
    const a = area([0x01, 0, 0x00, minutes & 0xff, (minutes >> 8) & 0xff, (minutes >> 16) & 0xff],
      [fruField(b.manufacturer), fruField(b.product_name), fruField(b.serial_number), fruField(b.part_number), fruField('')])
    offsets[2] = at / 8
    parts.push(a)
    at += a.length
  }
  if (fru.product !== undefined) {
    const p = fru.product
    const a = area([0x01, 0, 0x00], [fruField(p.manufacturer), fruField(p.product_name), fruField(p.part_number),
      fruField(p.version), fruField(p.serial_number), fruField(p.asset_tag), fruField('')])
    offsets[3] = at / 8
    parts.push(a)
    at += a.length
  }
  const head = Buffer.from([0x01, offsets[0], offsets[1], offsets[2], offsets[3], offsets[4], 0x00, 0x00])
  head[7] = zeroChecksum(head.subarray(0, 7))
  return Buffer.concat([head, ...parts])
}

// ---------------------------------------------------------------------------
// SEL (§32.1 table 32-1, system event record)

export interface SelEvent {
  timestamp: number
  sensorType: number
  sensorNumber: number
  eventType: number
  deassertion: boolean
  eventData: Buffer
}

export function encodeSelRecord (recordId: number, e: SelEvent, generatorId = 0x0020): Buffer {
  const out = Buffer.alloc(16)
  out.writeUInt16LE(recordId, 0)
  out[2] = 0x02 // system event record
  out.writeUInt32LE(e.timestamp >>> 0, 3)
  out.writeUInt16LE(generatorId, 7)
  out[9] = 0x04 // EvM revision (IPMI 1.5+)
  out[10] = e.sensorType
  out[11] = e.sensorNumber
  out[12] = (e.deassertion ? 0x80 : 0) | (e.eventType & 0x7f)
  e.eventData.copy(out, 13, 0, 3)
  return out
}

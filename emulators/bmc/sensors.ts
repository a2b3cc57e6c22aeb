/**
 * The emulated BMC's sensors and its SDR repository: readings that drift by
 * steps of drift_interval_ms (evaluated lazily from the clock), thresholds
 * whose crossings log SEL events, the Sensor/Event commands and the SDR
 * repository commands. Section numbers are those of the IPMI v2.0
 * specification (rev 1.1).
 */
import type { SensorConfig } from './bmc-emulator-config.js'
import { CC, type Answer } from './ipmi-codes.js'
import {
  conversionOf, encodeSensorSdr, eventReadingTypeOf, fromRaw, sensorTypeOf, thresholdMask,
  toRaw, THRESHOLD_NAMES, type Conversion, type SelEvent, type ThresholdName
} from './records.js'

/** The device's clock and randomness, and what the sensors ask of the rest of the BMC. */
export interface SensorHost {
  /** ms since the epoch. */
  now: () => number
  /** [0, 1). */
  random: () => number
  driftIntervalMs: number
  /** Whether the chassis is powered now (off_value applies when it is not). */
  powerOn: () => boolean
  /** Logs a SEL event (a threshold crossing). */
  logEvent: (e: SelEvent) => void
}

interface SensorState {
  config: SensorConfig
  conversion: Conversion
  value: number
  /** A value pinned by fault injection (no drift while pinned). */
  pinned: boolean
  lastStep: number
  /** The threshold comparison bits at the last reading (for SEL events on crossings). */
  status: number
}

/** Threshold comparison bits of Get Sensor Reading byte 3 (§35.14). */
const STATUS_BIT: Record<ThresholdName, number> = { lnc: 0x01, lcr: 0x02, lnr: 0x04, unc: 0x08, ucr: 0x10, unr: 0x20 }
/** Event offsets for threshold events (table 42-2): going low for lower thresholds, going high for upper. */
const EVENT_OFFSET: Record<ThresholdName, number> = { lnc: 0x00, lcr: 0x02, lnr: 0x04, unc: 0x07, ucr: 0x09, unr: 0x0b }

function reflect (v: number, min: number, max: number): number {
  if (max <= min) return min
  let x = v
  for (let i = 0; i < 4 && (x < min || x > max); i++) x = x < min ? 2 * min - x : 2 * max - x
  return Math.min(max, Math.max(min, x))
}

/** `value` after `steps` random steps of up to ±drift (at most 32), kept within [min, max] by reflection. */
export function drift (value: number, steps: number, amount: number, min: number, max: number, random: () => number): number {
  let v = value
  for (let i = 0; i < Math.min(steps, 32); i++) v = reflect(v + (random() * 2 - 1) * amount, min, max)
  return v
}

export class SensorBank {
  private readonly sensors = new Map<number, SensorState>()
  private sdrRecords: Buffer[] = []
  private sdrReservation = 0
  private sdrAddTime: number
  private sdrEraseTime = 0

  constructor (sensors: SensorConfig[], private readonly host: SensorHost) {
    for (const s of sensors) this.sensors.set(s.number, this.freshSensor(s))
    this.rebuildSdr()
    this.sdrAddTime = this.seconds()
  }

  private freshSensor (s: SensorConfig): SensorState {
    return { config: s, conversion: conversionOf(s), value: s.value, pinned: false, lastStep: this.host.now(), status: 0 }
  }

  private seconds (): number {
    return Math.floor(this.host.now() / 1000)
  }

  private rebuildSdr (): void {
    this.sdrRecords = [...this.sensors.values()].map((s, i) => encodeSensorSdr(i + 1, s.config))
  }

  // ---------------------------------------------------------------------------
  // state, as the fault API and tests see it

  get sdrCount (): number {
    return this.sdrRecords.length
  }

  get configs (): SensorConfig[] {
    return [...this.sensors.values()].map((s) => s.config)
  }

  config (sensorNumber: number): SensorConfig | undefined {
    return this.sensors.get(sensorNumber)?.config
  }

  /** A sensor's current value in engineering units (after drift), as Get Sensor Reading reports it. */
  reading (sensorNumber: number): number | undefined {
    const s = this.sensors.get(sensorNumber)
    if (s === undefined) return undefined
    return fromRaw(s.conversion, this.rawReading(s))
  }

  /** Pins a sensor's value (engineering units); a threshold crossing logs a SEL event. */
  setReading (sensorNumber: number, value: number): void {
    const s = this.sensors.get(sensorNumber)
    if (s === undefined) throw new RangeError(`no sensor ${sensorNumber}`)
    s.value = value
    s.pinned = true
    this.rawReading(s)
  }

  /** Lets a pinned sensor drift again from where it is. */
  unpin (sensorNumber: number): void {
    const s = this.sensors.get(sensorNumber)
    if (s !== undefined) { s.pinned = false; s.lastStep = this.host.now() }
  }

  /** Moves a sensor just past one of its thresholds (one raw count beyond), which logs the SEL event. */
  crossThreshold (sensorNumber: number, threshold: ThresholdName): number {
    const s = this.sensors.get(sensorNumber)
    const t = s?.config.thresholds?.[threshold]
    if (s === undefined || t === undefined) throw new RangeError(`sensor ${sensorNumber} has no ${threshold} threshold`)
    const step = Math.abs(s.conversion.m * 10 ** s.conversion.rExp)
    const value = threshold.startsWith('u') ? t + step : t - step
    this.setReading(sensorNumber, value)
    return value
  }

  /**
   * The SDR repository changes (a sensor added or removed, as after a
   * firmware update): `sensors` replaces the list; reservations are cancelled
   * and the add/erase timestamps move, so clients re-read.
   */
  replace (sensors: SensorConfig[]): void {
    this.sensors.clear()
    for (const s of sensors) this.sensors.set(s.number, this.freshSensor(s))
    this.rebuildSdr()
    this.sdrReservation = (this.sdrReservation + 1) & 0xffff
    this.sdrAddTime = Math.max(this.seconds(), this.sdrAddTime + 1)
    this.sdrEraseTime = this.sdrAddTime
  }

  // ---------------------------------------------------------------------------
  // readings

  private sensorValue (s: SensorState): number {
    const c = s.config
    if (!this.host.powerOn() && c.off_value !== undefined && !s.pinned) return c.off_value
    const amount = c.drift ?? 0
    const interval = this.host.driftIntervalMs
    const now = this.host.now()
    if (s.pinned || amount === 0 || c.kind === 'discrete') {
      s.lastStep = now
      return s.value
    }
    const steps = Math.floor((now - s.lastStep) / interval)
    if (steps > 0) {
      s.value = drift(s.value, steps, amount, c.min ?? c.value - 5 * amount, c.max ?? c.value + 5 * amount, this.host.random)
      s.lastStep += steps * interval
    }
    return s.value
  }

  private rawReading (s: SensorState): number {
    const value = this.sensorValue(s)
    if (s.config.kind === 'discrete') return Math.round(value) & 0xff
    const raw = toRaw(s.conversion, value)
    this.checkThresholds(s, raw)
    return raw
  }

  /** Threshold comparison bits for a raw reading; a newly asserted threshold logs a SEL event (§29.7 threshold events). */
  private checkThresholds (s: SensorState, raw: number): void {
    const t = s.config.thresholds
    if (t === undefined) return
    const v = fromRaw(s.conversion, raw)
    let status = 0
    for (const name of THRESHOLD_NAMES) {
      const limit = t[name]
      if (limit === undefined) continue
      const hit = name.startsWith('u') ? v >= limit : v <= limit
      if (hit) status |= STATUS_BIT[name]
    }
    const asserted = status & ~s.status
    const deasserted = s.status & ~status
    for (const name of THRESHOLD_NAMES) {
      const bit = STATUS_BIT[name]
      if ((asserted & bit) === 0 && (deasserted & bit) === 0) continue
      const limit = toRaw(s.conversion, t[name] as number)
      this.host.logEvent({
        timestamp: this.seconds(),
        sensorType: sensorTypeOf(s.config),
        sensorNumber: s.config.number,
        eventType: 0x01,
        deassertion: (deasserted & bit) !== 0,
        // byte 1: trigger reading in byte 2, trigger threshold in byte 3, the offset
        eventData: Buffer.from([0x50 | EVENT_OFFSET[name], raw, limit])
      })
    }
    s.status = status
  }

  // ---------------------------------------------------------------------------
  // the commands

  /** The Sensor/Event network function's sensor commands; undefined for any other command. */
  sensorEvent (cmd: number, data: Buffer): Answer | undefined {
    if (cmd !== 0x2d && cmd !== 0x27 && cmd !== 0x25 && cmd !== 0x29 && cmd !== 0x2b) return undefined
    if (data.length < 1) return { cc: CC.requestDataLengthInvalid }
    const s = this.sensors.get(data[0])
    if (s === undefined) return { cc: CC.notPresent }
    const mask = eventReadingTypeOf(s.config) === 0x01 ? thresholdMask(s.config) : 0
    switch (cmd) {
      case 0x2d: { // Get Sensor Reading (§35.14)
        const raw = this.rawReading(s)
        if (s.config.kind === 'discrete') return { cc: 0, data: Uint8Array.of(0x00, 0xc0, raw & 0xff, 0x80) }
        return { cc: 0, data: Uint8Array.of(raw, 0xc0, s.status, 0x80) }
      }
      case 0x27: { // Get Sensor Thresholds (§35.9): mask, LNC, LC, LNR, UNC, UC, UNR
        const t = s.config.thresholds ?? {}
        const raw = (name: ThresholdName): number => t[name] !== undefined ? toRaw(s.conversion, t[name] as number) : 0
        return { cc: 0, data: Uint8Array.of(mask, raw('lnc'), raw('lcr'), raw('lnr'), raw('unc'), raw('ucr'), raw('unr')) }
      }
      case 0x25: return { cc: 0, data: Uint8Array.of(0xff, 0x00, 0x00) } // Get Sensor Hysteresis (§35.7)
      case 0x29: { // Get Sensor Event Enable (§35.11)
        const sdr = encodeSensorSdr(0, s.config)
        return { cc: 0, data: Buffer.concat([Uint8Array.of(0xc0), sdr.subarray(14, 16), sdr.subarray(16, 18)]) }
      }
      default: { // 0x2b, Get Sensor Event Status (§35.13)
        this.rawReading(s)
        return { cc: 0, data: Uint8Array.of(0xc0, s.status & 0xff, 0x00, 0x00, 0x00) }
      }
    }
  }

  /** The Storage network function's SDR repository commands; undefined for any other command. */
  sdrRepository (cmd: number, data: Buffer): Answer | undefined {
    switch (cmd) {
      case 0x20: { // Get SDR Repository Info (§33.9)
        const out = Buffer.alloc(14)
        out[0] = 0x51
        out.writeUInt16LE(this.sdrRecords.length, 1)
        out.writeUInt16LE(0x4000, 3)
        out.writeUInt32LE(this.sdrAddTime >>> 0, 5)
        out.writeUInt32LE(this.sdrEraseTime >>> 0, 9)
        out[13] = 0x23 // non-modal update, reserve and allocation info supported
        return { cc: 0, data: out }
      }
      case 0x21: // Get SDR Repository Allocation Info (§33.10)
        return { cc: 0, data: Uint8Array.of(0x00, 0x04, 0x40, 0x00, 0x00, 0x02, 0x00, 0x02, 0x01) }
      case 0x22: // Reserve SDR Repository (§33.11)
        this.sdrReservation = this.sdrReservation >= 0xffff ? 1 : this.sdrReservation + 1
        return { cc: 0, data: Uint8Array.of(this.sdrReservation & 0xff, this.sdrReservation >> 8) }
      case 0x23: return this.getSdr(data)
    }
    return undefined
  }

  private getSdr (data: Buffer): Answer {
    // Get SDR (§33.12): reservation (LS first), record id (0 = first), offset, count (0xff = all)
    if (data.length < 6) return { cc: CC.requestDataLengthInvalid }
    const reservation = data.readUInt16LE(0)
    const id = data.readUInt16LE(2)
    const offset = data[4]
    const count = data[5]
    if (offset > 0 && reservation !== this.sdrReservation) return { cc: CC.reservationCancelled }
    if (reservation !== 0 && reservation !== this.sdrReservation) return { cc: CC.reservationCancelled }
    const index = id === 0 ? 0 : this.sdrRecords.findIndex((r) => r.readUInt16LE(0) === id)
    const record = this.sdrRecords[index]
    if (record === undefined) return { cc: CC.notPresent }
    if (offset > record.length) return { cc: CC.parameterOutOfRange }
    const next = index + 1 < this.sdrRecords.length ? this.sdrRecords[index + 1].readUInt16LE(0) : 0xffff
    const end = count === 0xff ? record.length : Math.min(record.length, offset + count)
    return { cc: 0, data: Buffer.concat([Uint8Array.of(next & 0xff, next >> 8), record.subarray(offset, end)]) }
  }
}

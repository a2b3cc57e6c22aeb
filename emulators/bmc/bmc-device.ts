/**
 * One emulated BMC's state and its IPMI commands, without any transport:
 * handle(netFn, cmd, data, privilege) answers as a BMC would (completion code
 * and data). The RMCP+ server (rmcp-server.ts) owns sessions and calls this
 * for every in-session request. State is evaluated lazily from the clock, so
 * a thousand idle BMCs cost no timers: readings drift by steps of
 * drift_interval_ms, a power cycle comes back on after cycle_ms, a boot flag
 * loses its valid bit after valid_timeout_s.
 *
 * Section numbers are those of the IPMI v2.0 specification (rev 1.1) and of
 * DCMI v1.5 for the group extension commands.
 */
import type { BmcEmulatorConfig, SensorConfig } from './bmc-emulator-config.js'
import { BOOT_DEVICE_NAMES } from './bmc-emulator-config.js'
import type { SwitchingRecorder } from './power-switching.js'
import {
  conversionOf, encodeFru, encodeSelRecord, encodeSensorSdr, eventReadingTypeOf, fromRaw, sensorTypeOf, thresholdMask,
  toRaw, THRESHOLD_NAMES, type Conversion, type SelEvent, type ThresholdName
} from './records.js'

export const NETFN = { chassis: 0x00, sensorEvent: 0x04, app: 0x06, storage: 0x0a, transport: 0x0c, groupExtension: 0x2c } as const
export const PRIV = { callback: 1, user: 2, operator: 3, administrator: 4 } as const
export const PRIVILEGE_LEVEL: Record<'user' | 'operator' | 'administrator', number> = { user: 2, operator: 3, administrator: 4 }

/** Completion codes (§5.2 table 5-2). */
export const CC = {
  ok: 0x00,
  paramNotSupported: 0x80,
  busy: 0xc0,
  invalidCommand: 0xc1,
  reservationCancelled: 0xc5,
  requestDataLengthInvalid: 0xc7,
  parameterOutOfRange: 0xc9,
  cannotReturnRequestedLength: 0xca,
  notPresent: 0xcb,
  invalidDataField: 0xcc,
  notSupportedInPresentState: 0xd5,
  insufficientPrivilege: 0xd4,
  unspecified: 0xff
} as const

export interface Answer { cc: number, data?: Uint8Array }

const DCMI_GROUP = 0xdc

export interface BmcDeviceOptions {
  /** ms since the epoch; default Date.now. */
  now?: () => number
  /** [0, 1); default Math.random. */
  random?: () => number
  /** Told of every power-up that takes time (chassis.power_on_delay_ms), shared by a fleet. */
  switching?: SwitchingRecorder
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

export class BmcDevice {
  readonly guid: Buffer
  private readonly now: () => number
  private readonly random: () => number
  private readonly sensors = new Map<number, SensorState>()
  private sdrRecords: Buffer[] = []
  private sdrReservation = 0
  private sdrAddTime: number
  private sdrEraseTime = 0
  private sel: Buffer[] = []
  private selNextId = 1
  private selReservation = 0
  private selAddTime = 0xffffffff
  private selEraseTime = 0xffffffff
  private readonly fru: Buffer
  // chassis
  private powerOn: boolean
  /** While a power cycle is under way: when the power comes back (ms). */
  private powerBackAt: number | undefined
  private lastPowerEvent = 0
  private identifyUntil = 0
  private identifyForever = false
  // boot options (§28.12): parameter -> data bytes
  private readonly bootParams = new Map<number, Buffer>()
  private bootFlagsSetAt = 0
  // DCMI power statistics
  private powerWatts: number
  private powerLastStep: number
  private powerMin = Number.POSITIVE_INFINITY
  private powerMax = 0
  private powerSum = 0
  private powerSamples = 0
  private readonly startedAt: number
  /** Unknown commands seen (netFn/cmd), for the log and tests. */
  readonly unknownCommands = new Set<string>()

  constructor (readonly config: BmcEmulatorConfig, private readonly options: BmcDeviceOptions = {}) {
    this.now = options.now ?? Date.now
    this.random = options.random ?? Math.random
    this.startedAt = this.now()
    this.guid = config.device?.guid !== undefined ? Buffer.from(config.device.guid, 'hex') : Buffer.from('4f70656e4443524520424d4320454d55', 'hex')
    for (const s of config.sensors) this.sensors.set(s.number, this.freshSensor(s))
    this.rebuildSdr()
    this.sdrAddTime = this.seconds()
    for (const e of config.sel ?? []) {
      const s = this.sensors.get(e.sensor)?.config
      if (s === undefined) continue
      const eventType = e.event_type ?? eventReadingTypeOf(s)
      const data = e.event_data !== undefined ? Buffer.from(e.event_data, 'hex') : Buffer.from([0x59, 0xff, 0xff])
      this.addSel({ timestamp: Math.floor(Date.parse(e.time) / 1000), sensorType: sensorTypeOf(s), sensorNumber: s.number, eventType, deassertion: e.deassertion === true, eventData: data })
    }
    this.fru = config.fru !== undefined ? encodeFru(config.fru) : Buffer.alloc(0)
    this.powerOn = (config.chassis?.power ?? 'on') === 'on'
    const boot = config.boot ?? {}
    const selector = BOOT_DEVICE_NAMES.indexOf(boot.device ?? 'no_override')
    const deviceBits = selector === BOOT_DEVICE_NAMES.length - 1 ? 0xf : selector
    const valid = (boot.device ?? 'no_override') !== 'no_override'
    this.bootParams.set(0, Buffer.of(0x00))
    this.bootParams.set(3, Buffer.of(0x00))
    this.bootParams.set(4, Buffer.of(0x00, 0x00))
    this.bootParams.set(5, Buffer.of((valid ? 0x80 : 0) | (boot.persistent === true ? 0x40 : 0) | (boot.efi === true ? 0x20 : 0), deviceBits << 2, 0, 0, 0))
    this.bootFlagsSetAt = this.now()
    this.powerWatts = config.dcmi?.power ?? 0
    this.powerLastStep = this.now()
  }

  private freshSensor (s: SensorConfig): SensorState {
    return { config: s, conversion: conversionOf(s), value: s.value, pinned: false, lastStep: this.now(), status: 0 }
  }

  private seconds (): number {
    return Math.floor(this.now() / 1000)
  }

  // ---------------------------------------------------------------------------
  // state, as the fault API and tests see it

  get power (): 'on' | 'off' {
    this.settlePower()
    return this.powerOn ? 'on' : 'off'
  }

  get identify (): 'off' | 'temporary' | 'indefinite' {
    if (this.identifyForever) return 'indefinite'
    return this.now() < this.identifyUntil ? 'temporary' : 'off'
  }

  /** The boot flags parameter (5) as stored, valid bit as it reads now. */
  get bootFlags (): Buffer {
    this.settleBootFlags()
    return Buffer.from(this.bootParams.get(5) as Buffer)
  }

  get selCount (): number {
    return this.sel.length
  }

  get sdrCount (): number {
    return this.sdrRecords.length
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
    if (s !== undefined) { s.pinned = false; s.lastStep = this.now() }
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
  replaceSensors (sensors: SensorConfig[]): void {
    this.sensors.clear()
    for (const s of sensors) this.sensors.set(s.number, this.freshSensor(s))
    this.rebuildSdr()
    this.sdrReservation = (this.sdrReservation + 1) & 0xffff
    this.sdrAddTime = Math.max(this.seconds(), this.sdrAddTime + 1)
    this.sdrEraseTime = this.sdrAddTime
  }

  get sensorConfigs (): SensorConfig[] {
    return [...this.sensors.values()].map((s) => s.config)
  }

  private rebuildSdr (): void {
    this.sdrRecords = [...this.sensors.values()].map((s, i) => encodeSensorSdr(i + 1, s.config))
  }

  private addSel (e: SelEvent): void {
    const id = this.selNextId
    this.selNextId = this.selNextId >= 0xfffe ? 1 : this.selNextId + 1
    this.sel.push(encodeSelRecord(id, e))
    if (this.sel.length > 1024) this.sel.shift()
    this.selAddTime = this.seconds()
  }

  // ---------------------------------------------------------------------------
  // readings

  private sensorValue (s: SensorState): number {
    const c = s.config
    if (!this.powerOnNow() && c.off_value !== undefined && !s.pinned) return c.off_value
    const drift = c.drift ?? 0
    const interval = this.config.drift_interval_ms ?? 2000
    const now = this.now()
    if (s.pinned || drift === 0 || c.kind === 'discrete') {
      s.lastStep = now
      return s.value
    }
    const steps = Math.floor((now - s.lastStep) / interval)
    if (steps > 0) {
      const min = c.min ?? c.value - 5 * drift
      const max = c.max ?? c.value + 5 * drift
      for (let i = 0; i < Math.min(steps, 32); i++) s.value = reflect(s.value + (this.random() * 2 - 1) * drift, min, max)
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
      this.addSel({
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

  private thresholdStatus (s: SensorState): number {
    return s.status
  }

  // ---------------------------------------------------------------------------
  // chassis and power

  private settlePower (): void {
    if (this.powerBackAt !== undefined && this.now() >= this.powerBackAt) {
      this.powerBackAt = undefined
      this.powerUp()
    }
  }

  private powerOnNow (): boolean {
    this.settlePower()
    return this.powerOn
  }

  private powerUp (): void {
    this.powerOn = true
    // a boot consumes a next-boot-only override (§28.12: the BMC clears the valid bit)
    const flags = this.bootParams.get(5) as Buffer
    if ((flags[0] & 0x80) !== 0 && (flags[0] & 0x40) === 0) flags[0] &= 0x7f
  }

  private startPowerUp (): void {
    const delay = this.config.chassis?.power_on_delay_ms ?? 0
    if (delay === 0) return this.powerUp()
    this.powerBackAt = this.now() + delay
    this.options.switching?.started(this.now(), this.powerBackAt)
  }

  private settleBootFlags (): void {
    this.settlePower()
    const timeout = this.config.boot?.valid_timeout_s ?? 60
    const flags = this.bootParams.get(5) as Buffer
    const dontClearOnTimeout = ((this.bootParams.get(3) as Buffer)[0] & 0x02) !== 0
    if (timeout > 0 && !dontClearOnTimeout && (flags[0] & 0x80) !== 0 && (flags[0] & 0x40) === 0 &&
      this.now() - this.bootFlagsSetAt >= timeout * 1000) flags[0] &= 0x7f
  }

  private dcmiPower (): number {
    const d = this.config.dcmi
    if (d === undefined) return 0
    if (!this.powerOnNow()) return Math.round(d.off_power ?? 0)
    const drift = d.drift ?? 0
    const interval = this.config.drift_interval_ms ?? 2000
    const steps = Math.floor((this.now() - this.powerLastStep) / interval)
    if (steps > 0 && drift > 0) {
      const min = d.min ?? d.power * 0.8
      const max = d.max ?? d.power * 1.2
      for (let i = 0; i < Math.min(steps, 32); i++) this.powerWatts = reflect(this.powerWatts + (this.random() * 2 - 1) * drift, min, max)
    }
    if (steps > 0) this.powerLastStep += steps * interval
    return Math.round(this.powerWatts)
  }

  // ---------------------------------------------------------------------------
  // the commands

  /** Minimum privilege per command (§G, "command privilege levels"); absent: user. */
  private static readonly PRIVILEGE: Record<string, number> = {
    '0/2': PRIV.operator, // chassis control
    '0/4': PRIV.operator, // chassis identify
    '0/8': PRIV.operator, // set system boot options
    '4/38': PRIV.operator, // set sensor thresholds (0x26)
    '10/71': PRIV.operator, // clear SEL (0x47)
    '10/73': PRIV.operator, // set SEL time (0x49)
    '44/4': PRIV.operator, // DCMI set power limit
    '44/5': PRIV.operator // DCMI activate power limit
  }

  handle (netFn: number, cmd: number, data: Buffer, privilege: number): Answer {
    const need = BmcDevice.PRIVILEGE[`${netFn}/${cmd}`] ?? PRIV.user
    if (privilege < need) return { cc: CC.insufficientPrivilege }
    try {
      switch (netFn) {
        case NETFN.app: return this.app(cmd, data)
        case NETFN.chassis: return this.chassis(cmd, data)
        case NETFN.sensorEvent: return this.sensorEvent(cmd, data)
        case NETFN.storage: return this.storage(cmd, data)
        case NETFN.groupExtension: return this.dcmi(cmd, data)
      }
    } catch (err) {
      if (err instanceof RangeError) return { cc: CC.requestDataLengthInvalid }
      throw err
    }
    return this.unknown(netFn, cmd)
  }

  private unknown (netFn: number, cmd: number): Answer {
    this.unknownCommands.add(`0x${netFn.toString(16).padStart(2, '0')}/0x${cmd.toString(16).padStart(2, '0')}`)
    return { cc: CC.invalidCommand }
  }

  private deviceIdBytes (): Buffer {
    const d = this.config.device ?? {}
    const [major, minor] = (d.firmware ?? '1.00').split('.')
    const minorBcd = parseInt(minor.padStart(2, '0'), 16)
    const mfg = d.manufacturer_id ?? 0x0002a2 // an IANA number: 674 (Dell) by default
    const out = Buffer.alloc(15)
    out[0] = d.device_id ?? 0x20
    out[1] = d.device_revision ?? 0x01 // no device SDRs: the SDR repository holds them
    out[2] = Number(major) & 0x7f
    out[3] = minorBcd
    out[4] = 0x02 // IPMI 2.0
    out[5] = 0x9f // chassis, event receiver, FRU, SEL, SDR repository, sensor device
    out[6] = mfg & 0xff
    out[7] = (mfg >> 8) & 0xff
    out[8] = (mfg >> 16) & 0x0f
    out.writeUInt16LE(d.product_id ?? 0x0100, 9)
    Buffer.from(d.aux_firmware ?? '00000000', 'hex').copy(out, 11)
    return out
  }

  private app (cmd: number, data: Buffer): Answer {
    switch (cmd) {
      case 0x01: return { cc: 0, data: this.deviceIdBytes() } // Get Device ID (§20.1)
      case 0x04: return { cc: 0, data: Uint8Array.of(0x55, 0x00) } // Get Self Test Results (§20.4): no error
      case 0x07: return { cc: 0, data: Uint8Array.of(this.powerOnNow() ? 0x00 : 0x05, 0x00) } // Get ACPI Power State (§20.7): S0 / S5
      case 0x08: // Get Device GUID (§20.8)
      case 0x37: return { cc: 0, data: this.guid } // Get System GUID (§22.14)
      case 0x42: { // Get Channel Info (§22.24): channel 1, 802.3 LAN, IPMB-1.0 protocol... multi-session
        const channel = (data[0] ?? 0x0e) & 0x0f
        return { cc: 0, data: Uint8Array.of(channel === 0x0e ? 0x01 : channel, 0x04, 0x01, 0x82, 0xf2, 0x1b, 0x00, 0x00, 0x00) }
      }
    }
    return this.unknown(NETFN.app, cmd)
  }

  private chassis (cmd: number, data: Buffer): Answer {
    switch (cmd) {
      case 0x00: return { cc: 0, data: Uint8Array.of(0x80, 0x00, 0x00, 0x00, 0x00) } // Get Chassis Capabilities (§28.1)
      case 0x01: { // Get Chassis Status (§28.2)
        const policy = ['always-off', 'previous', 'always-on'].indexOf(this.config.chassis?.power_restore_policy ?? 'previous')
        const identify = this.identify === 'indefinite' ? 2 : this.identify === 'temporary' ? 1 : 0
        return { cc: 0, data: Uint8Array.of((this.powerOnNow() ? 0x01 : 0) | (policy << 5), this.lastPowerEvent, 0x40 | (identify << 4), 0x00) }
      }
      case 0x02: { // Chassis Control (§28.3)
        if (data.length < 1) return { cc: CC.requestDataLengthInvalid }
        const on = this.powerOnNow()
        switch (data[0] & 0x0f) {
          case 0x00: // power down
          case 0x05: // soft shutdown (ACPI)
            this.powerOn = false
            this.powerBackAt = undefined
            return { cc: 0 }
          case 0x01: // power up (after power_on_delay_ms: the chassis reports off until then)
            if (!on && this.powerBackAt === undefined) this.startPowerUp()
            this.lastPowerEvent = 0x10 // last power on via IPMI command
            return { cc: 0 }
          case 0x02: // power cycle: off, then on after cycle_ms
            if (!on) return { cc: CC.notSupportedInPresentState }
            this.powerOn = false
            this.powerBackAt = this.now() + (this.config.chassis?.cycle_ms ?? 1000)
            this.lastPowerEvent = 0x10
            if (this.powerBackAt <= this.now()) this.settlePower()
            return { cc: 0 }
          case 0x03: // hard reset
            if (!on) return { cc: CC.notSupportedInPresentState }
            this.powerUp()
            return { cc: 0 }
          case 0x04: // pulse diagnostic interrupt
            return { cc: on ? 0 : CC.notSupportedInPresentState }
        }
        return { cc: CC.invalidDataField }
      }
      case 0x04: { // Chassis Identify (§28.5): interval (default 15 s), force on
        const interval = data.length >= 1 ? data[0] : 15
        const force = data.length >= 2 && (data[1] & 0x01) !== 0
        this.identifyForever = force
        this.identifyUntil = force ? 0 : this.now() + interval * 1000
        return { cc: 0 }
      }
      case 0x06: // Set Power Restore Policy (§28.8): policy supported mask
        return { cc: 0, data: Uint8Array.of(0x07) }
      case 0x07: // Get System Restart Cause (§28.11): chassis control command, channel 1
        return { cc: 0, data: Uint8Array.of(0x01, 0x01) }
      case 0x08: return this.setBootOption(data)
      case 0x09: return this.getBootOption(data)
      case 0x0f: { // Get POH Counter (§28.14): minutes per count, counter
        const minutes = Math.floor((this.now() - this.startedAt) / 60000)
        const out = Buffer.alloc(5)
        out[0] = 1
        out.writeUInt32LE(minutes, 1)
        return { cc: 0, data: out }
      }
    }
    return this.unknown(NETFN.chassis, cmd)
  }

  /** Parameter data lengths this BMC keeps (§28.13 table 28-14). */
  private static readonly BOOT_PARAM_LENGTH: Record<number, number> = { 0: 1, 3: 1, 4: 2, 5: 5 }

  private setBootOption (data: Buffer): Answer {
    if (data.length < 1) return { cc: CC.requestDataLengthInvalid }
    const param = data[0] & 0x7f
    const length = BmcDevice.BOOT_PARAM_LENGTH[param]
    if (length === undefined) return { cc: CC.paramNotSupported }
    const value = data.subarray(1)
    if (value.length < length) return { cc: CC.requestDataLengthInvalid }
    const stored = this.bootParams.get(param) as Buffer
    if (param === 0) {
      const state = value[0] & 0x03
      if (state === 0x01 && (stored[0] & 0x03) === 0x01) return { cc: 0x81 } // set in progress already
      if (state === 0x03) return { cc: CC.invalidDataField }
      stored[0] = state === 0x02 ? 0x00 : state // commit write: back to set complete
      return { cc: 0 }
    }
    if (param === 4) {
      // boot info acknowledge: byte 1 is a write mask for byte 2
      stored[1] = (stored[1] & ~value[0]) | (value[1] & value[0])
      return { cc: 0 }
    }
    value.copy(stored, 0, 0, length)
    if (param === 5) this.bootFlagsSetAt = this.now()
    return { cc: 0 }
  }

  private getBootOption (data: Buffer): Answer {
    if (data.length < 3) return { cc: CC.requestDataLengthInvalid }
    const param = data[0] & 0x7f
    if (BmcDevice.BOOT_PARAM_LENGTH[param] === undefined) return { cc: CC.paramNotSupported }
    if (param === 5) this.settleBootFlags()
    return { cc: 0, data: Buffer.concat([Uint8Array.of(0x01, param), this.bootParams.get(param) as Buffer]) }
  }

  private sensorEvent (cmd: number, data: Buffer): Answer {
    if (cmd === 0x2d || cmd === 0x27 || cmd === 0x25 || cmd === 0x29 || cmd === 0x2b) {
      if (data.length < 1) return { cc: CC.requestDataLengthInvalid }
      const s = this.sensors.get(data[0])
      if (s === undefined) return { cc: CC.notPresent }
      const mask = eventReadingTypeOf(s.config) === 0x01 ? thresholdMask(s.config) : 0
      switch (cmd) {
        case 0x2d: { // Get Sensor Reading (§35.14)
          const raw = this.rawReading(s)
          if (s.config.kind === 'discrete') return { cc: 0, data: Uint8Array.of(0x00, 0xc0, raw & 0xff, 0x80) }
          return { cc: 0, data: Uint8Array.of(raw, 0xc0, this.thresholdStatus(s), 0x80) }
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
        case 0x2b: { // Get Sensor Event Status (§35.13)
          this.rawReading(s)
          return { cc: 0, data: Uint8Array.of(0xc0, s.status & 0xff, 0x00, 0x00, 0x00) }
        }
      }
    }
    return this.unknown(NETFN.sensorEvent, cmd)
  }

  private storage (cmd: number, data: Buffer): Answer {
    switch (cmd) {
      case 0x10: { // Get FRU Inventory Area Info (§34.1)
        if (data.length < 1) return { cc: CC.requestDataLengthInvalid }
        if (data[0] !== 0 || this.fru.length === 0) return { cc: CC.notPresent }
        return { cc: 0, data: Uint8Array.of(this.fru.length & 0xff, this.fru.length >> 8, 0x00) }
      }
      case 0x11: { // Read FRU Data (§34.2)
        if (data.length < 4) return { cc: CC.requestDataLengthInvalid }
        if (data[0] !== 0 || this.fru.length === 0) return { cc: CC.notPresent }
        const offset = data.readUInt16LE(1)
        if (offset >= this.fru.length) return { cc: CC.parameterOutOfRange }
        const chunk = this.fru.subarray(offset, Math.min(this.fru.length, offset + data[3]))
        return { cc: 0, data: Buffer.concat([Uint8Array.of(chunk.length), chunk]) }
      }
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
      case 0x40: { // Get SEL Info (§31.2)
        const out = Buffer.alloc(14)
        out[0] = 0x51
        out.writeUInt16LE(this.sel.length, 1)
        out.writeUInt16LE((1024 - this.sel.length) * 16, 3)
        out.writeUInt32LE(this.selAddTime >>> 0, 5)
        out.writeUInt32LE(this.selEraseTime >>> 0, 9)
        out[13] = 0x0b // delete, reserve and allocation info supported
        return { cc: 0, data: out }
      }
      case 0x41: { // Get SEL Allocation Info (§31.3): units, unit size 16, free units, largest free block, max record size
        const out = Buffer.alloc(9)
        out.writeUInt16LE(1024, 0)
        out.writeUInt16LE(16, 2)
        out.writeUInt16LE(1024 - this.sel.length, 4)
        out.writeUInt16LE(1024 - this.sel.length, 6)
        out[8] = 1
        return { cc: 0, data: out }
      }
      case 0x42: // Reserve SEL (§31.4)
        this.selReservation = this.selReservation >= 0xffff ? 1 : this.selReservation + 1
        return { cc: 0, data: Uint8Array.of(this.selReservation & 0xff, this.selReservation >> 8) }
      case 0x43: return this.getSelEntry(data)
      case 0x46: { // Delete SEL Entry (§31.8)
        if (data.length < 4) return { cc: CC.requestDataLengthInvalid }
        if (data.readUInt16LE(0) !== this.selReservation) return { cc: CC.reservationCancelled }
        const id = data.readUInt16LE(2)
        const i = this.selIndex(id)
        if (i < 0) return { cc: CC.notPresent }
        const deleted = this.sel[i].readUInt16LE(0)
        this.sel.splice(i, 1)
        this.selEraseTime = this.seconds()
        return { cc: 0, data: Uint8Array.of(deleted & 0xff, deleted >> 8) }
      }
      case 0x47: { // Clear SEL (§31.9): reservation, 'CLR', 0xAA initiate / 0x00 status
        if (data.length < 6) return { cc: CC.requestDataLengthInvalid }
        if (data.readUInt16LE(0) !== this.selReservation) return { cc: CC.reservationCancelled }
        if (data.toString('latin1', 2, 5) !== 'CLR') return { cc: CC.invalidDataField }
        if (data[5] === 0xaa) {
          this.sel = []
          this.selEraseTime = this.seconds()
          this.selReservation = 0
        }
        return { cc: 0, data: Uint8Array.of(0x01) } // erasure completed
      }
      case 0x48: { // Get SEL Time (§31.10)
        const out = Buffer.alloc(4)
        out.writeUInt32LE(this.seconds() >>> 0, 0)
        return { cc: 0, data: out }
      }
      case 0x49: return { cc: 0 } // Set SEL Time: accepted, the emulator keeps the host's clock
      case 0x5c: return { cc: 0, data: Uint8Array.of(0x00, 0x00) } // Get SEL Time UTC Offset (§31.11a): UTC
    }
    return this.unknown(NETFN.storage, cmd)
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

  private selIndex (id: number): number {
    if (this.sel.length === 0) return -1
    if (id === 0x0000) return 0
    if (id === 0xffff) return this.sel.length - 1
    return this.sel.findIndex((r) => r.readUInt16LE(0) === id)
  }

  private getSelEntry (data: Buffer): Answer {
    // Get SEL Entry (§31.5): reservation, record id (0 first, 0xffff last), offset, count (0xff all)
    if (data.length < 6) return { cc: CC.requestDataLengthInvalid }
    const reservation = data.readUInt16LE(0)
    const offset = data[4]
    if (offset > 0 && reservation !== this.selReservation) return { cc: CC.reservationCancelled }
    const i = this.selIndex(data.readUInt16LE(2))
    if (i < 0) return { cc: CC.notPresent }
    const record = this.sel[i]
    const next = i + 1 < this.sel.length ? this.sel[i + 1].readUInt16LE(0) : 0xffff
    const end = data[5] === 0xff ? 16 : Math.min(16, offset + data[5])
    return { cc: 0, data: Buffer.concat([Uint8Array.of(next & 0xff, next >> 8), record.subarray(offset, end)]) }
  }

  /** DCMI group extension commands (DCMI v1.5 §6): the first data byte is the group id 0xDC. */
  private dcmi (cmd: number, data: Buffer): Answer {
    // PICMG / HPM.1 probes (group 0x00): not an ATCA board, "invalid command" as real server BMCs answer
    if (data.length < 1 || data[0] !== DCMI_GROUP) return { cc: CC.invalidCommand }
    if (this.config.dcmi === undefined) return this.unknown(NETFN.groupExtension, cmd)
    switch (cmd) {
      case 0x01: { // Get DCMI Capability Info (§6.1.1): group, spec 1.5, parameter revision 2, data
        const param = data[1] ?? 1
        const head = [DCMI_GROUP, 0x01, 0x05, 0x02]
        switch (param) {
          case 1: return { cc: 0, data: Uint8Array.of(...head, 0x00, 0x01, 0x08) } // power management; primary LAN out-of-band
          case 2: return { cc: 0, data: Uint8Array.of(...head, 0x00, 0x04, 0x00, 0x00) } // SEL 1024 entries, no identification/temperature attributes
          case 3: return { cc: 0, data: Uint8Array.of(...head, 0x40, 0x00) } // power management controller 0x40, channel 0
          case 4: return { cc: 0, data: Uint8Array.of(...head, 0x01, 0xff, 0xff) } // primary LAN channel 1
          case 5: return { cc: 0, data: Uint8Array.of(...head, 0x00) } // no rolling average periods
        }
        return { cc: CC.invalidDataField }
      }
      case 0x02: { // Get Power Reading (§6.6.1): mode 1 system power statistics
        const watts = this.dcmiPower()
        this.powerMin = Math.min(this.powerMin, watts)
        this.powerMax = Math.max(this.powerMax, watts)
        this.powerSum += watts
        this.powerSamples++
        const out = Buffer.alloc(18)
        out[0] = DCMI_GROUP
        out.writeUInt16LE(watts, 1)
        out.writeUInt16LE(this.powerMin, 3)
        out.writeUInt16LE(this.powerMax, 5)
        out.writeUInt16LE(Math.round(this.powerSum / this.powerSamples), 7)
        out.writeUInt32LE(this.seconds() >>> 0, 9)
        out.writeUInt32LE(Math.min(0xffffffff, this.now() - this.startedAt), 13)
        out[17] = this.powerOnNow() ? 0x40 : 0x00 // power measurement active
        return { cc: 0, data: out }
      }
      case 0x03: // Get Power Limit (§6.6.2): 0x80 = no active set power limit, with the (empty) limit fields
        return { cc: 0x80, data: Uint8Array.of(DCMI_GROUP, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) }
    }
    return this.unknown(NETFN.groupExtension, cmd)
  }
}

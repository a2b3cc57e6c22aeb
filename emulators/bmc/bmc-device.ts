/**
 * One emulated BMC's state and its IPMI commands, without any transport:
 * handle(netFn, cmd, data, privilege) answers as a BMC would (completion code
 * and data). The RMCP+ server (rmcp-server.ts) owns sessions and calls this
 * for every in-session request. State is evaluated lazily from the clock, so
 * a thousand idle BMCs cost no timers: readings drift by steps of
 * drift_interval_ms, a power cycle comes back on after cycle_ms, a boot flag
 * loses its valid bit after valid_timeout_s.
 *
 * The state and commands live by responsibility: the chassis (chassis.ts),
 * the sensors and SDR repository (sensors.ts), the SEL (sel.ts), DCMI power
 * (dcmi.ts); this file holds the device identity, the FRU, the privilege
 * check and the dispatch by network function.
 *
 * Section numbers are those of the IPMI v2.0 specification (rev 1.1) and of
 * DCMI v1.5 for the group extension commands.
 */
import type { BmcEmulatorConfig, SensorConfig } from './bmc-emulator-config.js'
import { Chassis } from './chassis.js'
import type { SwitchingRecorder } from './power-switching.js'
import { DCMI_GROUP, DcmiPower } from './dcmi.js'
import { CC, NETFN, PRIV, type Answer } from './ipmi-codes.js'
import { encodeFru, eventReadingTypeOf, sensorTypeOf, type ThresholdName } from './records.js'
import { SelLog } from './sel.js'
import { SensorBank, type SensorHost } from './sensors.js'

export interface BmcDeviceOptions {
  /** ms since the epoch; default Date.now. */
  now?: () => number
  /** [0, 1); default Math.random. */
  random?: () => number
  /** Told of every power-up that takes time (chassis.power_on_delay_ms), shared by a fleet. */
  switching?: SwitchingRecorder
}

/** Minimum privilege per command (§G, "command privilege levels"); absent: user. */
const COMMAND_PRIVILEGE: Record<string, number> = {
  '0/2': PRIV.operator, // chassis control
  '0/4': PRIV.operator, // chassis identify
  '0/8': PRIV.operator, // set system boot options
  '4/38': PRIV.operator, // set sensor thresholds (0x26)
  '10/71': PRIV.operator, // clear SEL (0x47)
  '10/73': PRIV.operator, // set SEL time (0x49)
  '44/4': PRIV.operator, // DCMI set power limit
  '44/5': PRIV.operator // DCMI activate power limit
}

export class BmcDevice {
  readonly guid: Buffer
  private readonly chassis: Chassis
  private readonly sensors: SensorBank
  private readonly sel: SelLog
  private readonly dcmi: DcmiPower | undefined
  private readonly fru: Buffer
  /** Unknown commands seen (netFn/cmd), for the log and tests. */
  readonly unknownCommands = new Set<string>()

  constructor (readonly config: BmcEmulatorConfig, options: BmcDeviceOptions = {}) {
    const now = options.now ?? Date.now
    const seconds = (): number => Math.floor(now() / 1000)
    this.guid = config.device?.guid !== undefined ? Buffer.from(config.device.guid, 'hex') : Buffer.from('4f70656e4443524520424d4320454d55', 'hex')
    this.sel = new SelLog(seconds)
    this.chassis = new Chassis(config, now, options.switching)
    const host: SensorHost = {
      now,
      random: options.random ?? Math.random,
      driftIntervalMs: config.drift_interval_ms ?? 2000,
      powerOn: () => this.chassis.isOn(),
      logEvent: (e) => this.sel.add(e)
    }
    this.sensors = new SensorBank(config.sensors, host)
    for (const e of config.sel ?? []) {
      const s = this.sensors.config(e.sensor)
      if (s === undefined) continue
      const eventType = e.event_type ?? eventReadingTypeOf(s)
      const data = e.event_data !== undefined ? Buffer.from(e.event_data, 'hex') : Buffer.from([0x59, 0xff, 0xff])
      this.sel.add({ timestamp: Math.floor(Date.parse(e.time) / 1000), sensorType: sensorTypeOf(s), sensorNumber: s.number, eventType, deassertion: e.deassertion === true, eventData: data })
    }
    this.fru = config.fru !== undefined ? encodeFru(config.fru) : Buffer.alloc(0)
    this.dcmi = config.dcmi !== undefined ? new DcmiPower(config.dcmi, host) : undefined
  }

  // ---------------------------------------------------------------------------
  // state, as the fault API and tests see it

  get power (): 'on' | 'off' {
    return this.chassis.power
  }

  get identify (): 'off' | 'temporary' | 'indefinite' {
    return this.chassis.identify
  }

  /** The boot flags parameter (5) as stored, valid bit as it reads now. */
  get bootFlags (): Buffer {
    return this.chassis.bootFlags
  }

  get selCount (): number {
    return this.sel.count
  }

  get sdrCount (): number {
    return this.sensors.sdrCount
  }

  /** A sensor's current value in engineering units (after drift), as Get Sensor Reading reports it. */
  reading (sensorNumber: number): number | undefined {
    return this.sensors.reading(sensorNumber)
  }

  /** Pins a sensor's value (engineering units); a threshold crossing logs a SEL event. */
  setReading (sensorNumber: number, value: number): void {
    this.sensors.setReading(sensorNumber, value)
  }

  /** Lets a pinned sensor drift again from where it is. */
  unpin (sensorNumber: number): void {
    this.sensors.unpin(sensorNumber)
  }

  /** Moves a sensor just past one of its thresholds (one raw count beyond), which logs the SEL event. */
  crossThreshold (sensorNumber: number, threshold: ThresholdName): number {
    return this.sensors.crossThreshold(sensorNumber, threshold)
  }

  /**
   * The SDR repository changes (a sensor added or removed, as after a
   * firmware update): `sensors` replaces the list; reservations are cancelled
   * and the add/erase timestamps move, so clients re-read.
   */
  replaceSensors (sensors: SensorConfig[]): void {
    this.sensors.replace(sensors)
  }

  get sensorConfigs (): SensorConfig[] {
    return this.sensors.configs
  }

  // ---------------------------------------------------------------------------
  // the commands

  handle (netFn: number, cmd: number, data: Buffer, privilege: number): Answer {
    const need = COMMAND_PRIVILEGE[`${netFn}/${cmd}`] ?? PRIV.user
    if (privilege < need) return { cc: CC.insufficientPrivilege }
    let answer: Answer | undefined
    try {
      switch (netFn) {
        case NETFN.app: answer = this.app(cmd, data); break
        case NETFN.chassis: answer = this.chassis.command(cmd, data); break
        case NETFN.sensorEvent: answer = this.sensors.sensorEvent(cmd, data); break
        case NETFN.storage: answer = this.fruCommand(cmd, data) ?? this.sensors.sdrRepository(cmd, data) ?? this.sel.command(cmd, data); break
        case NETFN.groupExtension: {
          // PICMG / HPM.1 probes (group 0x00): not an ATCA board, "invalid command" as real server BMCs answer
          if (data.length < 1 || data[0] !== DCMI_GROUP) return { cc: CC.invalidCommand }
          answer = this.dcmi?.command(cmd, data)
          break
        }
      }
    } catch (err) {
      if (err instanceof RangeError) return { cc: CC.requestDataLengthInvalid }
      throw err
    }
    return answer ?? this.unknown(netFn, cmd)
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

  private app (cmd: number, data: Buffer): Answer | undefined {
    switch (cmd) {
      case 0x01: return { cc: 0, data: this.deviceIdBytes() } // Get Device ID (§20.1)
      case 0x04: return { cc: 0, data: Uint8Array.of(0x55, 0x00) } // Get Self Test Results (§20.4): no error
      case 0x07: return { cc: 0, data: Uint8Array.of(this.chassis.isOn() ? 0x00 : 0x05, 0x00) } // Get ACPI Power State (§20.7): S0 / S5
      case 0x08: // Get Device GUID (§20.8)
      case 0x37: return { cc: 0, data: this.guid } // Get System GUID (§22.14)
      case 0x42: { // Get Channel Info (§22.24): channel 1, 802.3 LAN, IPMB-1.0 protocol... multi-session
        const channel = (data[0] ?? 0x0e) & 0x0f
        return { cc: 0, data: Uint8Array.of(channel === 0x0e ? 0x01 : channel, 0x04, 0x01, 0x82, 0xf2, 0x1b, 0x00, 0x00, 0x00) }
      }
    }
    return undefined
  }

  /** The Storage network function's FRU commands; undefined for any other command. */
  private fruCommand (cmd: number, data: Buffer): Answer | undefined {
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
    }
    return undefined
  }
}

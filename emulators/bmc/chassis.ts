/**
 * The emulated BMC's chassis: power (a power cycle comes back on after
 * cycle_ms), the identify light, the system boot options (a boot flag loses
 * its valid bit after valid_timeout_s), all evaluated lazily from the clock,
 * and the Chassis network function's commands. Section numbers are those of
 * the IPMI v2.0 specification (rev 1.1).
 */
import { BOOT_DEVICE_NAMES, type BmcEmulatorConfig } from './bmc-emulator-config.js'
import { CC, type Answer } from './ipmi-codes.js'
import type { SwitchingRecorder } from './power-switching.js'

/** Parameter data lengths this BMC keeps (§28.13 table 28-14). */
const BOOT_PARAM_LENGTH: Record<number, number> = { 0: 1, 3: 1, 4: 2, 5: 5 }

export class Chassis {
  private powerOn: boolean
  /** While a power cycle is under way: when the power comes back (ms). */
  private powerBackAt: number | undefined
  private lastPowerEvent = 0
  private identifyUntil = 0
  private identifyForever = false
  // boot options (§28.12): parameter -> data bytes
  private readonly bootParams = new Map<number, Buffer>()
  private bootFlagsSetAt = 0
  private readonly startedAt: number

  constructor (private readonly config: BmcEmulatorConfig, private readonly now: () => number, private readonly switching?: SwitchingRecorder) {
    this.startedAt = now()
    this.powerOn = (config.chassis?.power ?? 'on') === 'on'
    const boot = config.boot ?? {}
    const selector = BOOT_DEVICE_NAMES.indexOf(boot.device ?? 'no_override')
    const deviceBits = selector === BOOT_DEVICE_NAMES.length - 1 ? 0xf : selector
    const valid = (boot.device ?? 'no_override') !== 'no_override'
    this.bootParams.set(0, Buffer.of(0x00))
    this.bootParams.set(3, Buffer.of(0x00))
    this.bootParams.set(4, Buffer.of(0x00, 0x00))
    this.bootParams.set(5, Buffer.of((valid ? 0x80 : 0) | (boot.persistent === true ? 0x40 : 0) | (boot.efi === true ? 0x20 : 0), deviceBits << 2, 0, 0, 0))
    this.bootFlagsSetAt = now()
  }

  get power (): 'on' | 'off' {
    return this.isOn() ? 'on' : 'off'
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

  /** Whether the power is on now (a power cycle's off time over). */
  isOn (): boolean {
    this.settlePower()
    return this.powerOn
  }

  private settlePower (): void {
    if (this.powerBackAt !== undefined && this.now() >= this.powerBackAt) {
      this.powerBackAt = undefined
      this.powerUp()
    }
  }

  /** A power-up that takes chassis.power_on_delay_ms, told to the fleet's recorder; at once without a delay. */
  private startPowerUp (): void {
    const delay = this.config.chassis?.power_on_delay_ms ?? 0
    if (delay === 0) return this.powerUp()
    this.powerBackAt = this.now() + delay
    this.switching?.started(this.now(), this.powerBackAt)
  }

  private powerUp (): void {
    this.powerOn = true
    // a boot consumes a next-boot-only override (§28.12: the BMC clears the valid bit)
    const flags = this.bootParams.get(5) as Buffer
    if ((flags[0] & 0x80) !== 0 && (flags[0] & 0x40) === 0) flags[0] &= 0x7f
  }

  private settleBootFlags (): void {
    this.settlePower()
    const timeout = this.config.boot?.valid_timeout_s ?? 60
    const flags = this.bootParams.get(5) as Buffer
    const dontClearOnTimeout = ((this.bootParams.get(3) as Buffer)[0] & 0x02) !== 0
    if (timeout > 0 && !dontClearOnTimeout && (flags[0] & 0x80) !== 0 && (flags[0] & 0x40) === 0 &&
      this.now() - this.bootFlagsSetAt >= timeout * 1000) flags[0] &= 0x7f
  }

  /** The Chassis network function's commands; undefined for any other command. */
  command (cmd: number, data: Buffer): Answer | undefined {
    switch (cmd) {
      case 0x00: return { cc: 0, data: Uint8Array.of(0x80, 0x00, 0x00, 0x00, 0x00) } // Get Chassis Capabilities (§28.1)
      case 0x01: { // Get Chassis Status (§28.2)
        const policy = ['always-off', 'previous', 'always-on'].indexOf(this.config.chassis?.power_restore_policy ?? 'previous')
        const identify = this.identify === 'indefinite' ? 2 : this.identify === 'temporary' ? 1 : 0
        return { cc: 0, data: Uint8Array.of((this.isOn() ? 0x01 : 0) | (policy << 5), this.lastPowerEvent, 0x40 | (identify << 4), 0x00) }
      }
      case 0x02: return this.control(data)
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
    return undefined
  }

  /** Chassis Control (§28.3). */
  private control (data: Buffer): Answer {
    if (data.length < 1) return { cc: CC.requestDataLengthInvalid }
    const on = this.isOn()
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

  private setBootOption (data: Buffer): Answer {
    if (data.length < 1) return { cc: CC.requestDataLengthInvalid }
    const param = data[0] & 0x7f
    const length = BOOT_PARAM_LENGTH[param]
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
    if (BOOT_PARAM_LENGTH[param] === undefined) return { cc: CC.paramNotSupported }
    if (param === 5) this.settleBootFlags()
    return { cc: 0, data: Buffer.concat([Uint8Array.of(0x01, param), this.bootParams.get(param) as Buffer]) }
  }
}

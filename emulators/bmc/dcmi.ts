/**
 * The emulated BMC's DCMI power reading: watts that drift by steps of
 * drift_interval_ms (evaluated lazily from the clock), the statistics since
 * start, and the DCMI group extension commands (DCMI v1.5 §6).
 */
import type { BmcEmulatorConfig } from './bmc-emulator-config.js'
import { CC, type Answer } from './ipmi-codes.js'
import { drift, type SensorHost } from './sensors.js'

/** The group id, the first data byte of every DCMI request and answer. */
export const DCMI_GROUP = 0xdc

type DcmiConfig = NonNullable<BmcEmulatorConfig['dcmi']>

export class DcmiPower {
  private watts: number
  private lastStep: number
  private min = Number.POSITIVE_INFINITY
  private max = 0
  private sum = 0
  private samples = 0
  private readonly startedAt: number

  constructor (private readonly config: DcmiConfig, private readonly host: Pick<SensorHost, 'now' | 'random' | 'driftIntervalMs' | 'powerOn'>) {
    this.startedAt = host.now()
    this.watts = config.power
    this.lastStep = host.now()
  }

  private power (): number {
    const d = this.config
    if (!this.host.powerOn()) return Math.round(d.off_power ?? 0)
    const amount = d.drift ?? 0
    const interval = this.host.driftIntervalMs
    const steps = Math.floor((this.host.now() - this.lastStep) / interval)
    if (steps > 0 && amount > 0) this.watts = drift(this.watts, steps, amount, d.min ?? d.power * 0.8, d.max ?? d.power * 1.2, this.host.random)
    if (steps > 0) this.lastStep += steps * interval
    return Math.round(this.watts)
  }

  /** A DCMI command whose group byte has been checked; undefined for a command this BMC does not know. */
  command (cmd: number, data: Buffer): Answer | undefined {
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
        const watts = this.power()
        this.min = Math.min(this.min, watts)
        this.max = Math.max(this.max, watts)
        this.sum += watts
        this.samples++
        const out = Buffer.alloc(18)
        out[0] = DCMI_GROUP
        out.writeUInt16LE(watts, 1)
        out.writeUInt16LE(this.min, 3)
        out.writeUInt16LE(this.max, 5)
        out.writeUInt16LE(Math.round(this.sum / this.samples), 7)
        out.writeUInt32LE(Math.floor(this.host.now() / 1000) >>> 0, 9)
        out.writeUInt32LE(Math.min(0xffffffff, this.host.now() - this.startedAt), 13)
        out[17] = this.host.powerOn() ? 0x40 : 0x00 // power measurement active
        return { cc: 0, data: out }
      }
      case 0x03: // Get Power Limit (§6.6.2): 0x80 = no active set power limit, with the (empty) limit fields
        return { cc: 0x80, data: Uint8Array.of(DCMI_GROUP, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) }
    }
    return undefined
  }
}

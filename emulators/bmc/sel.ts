/**
 * The emulated BMC's System Event Log: up to 1024 records of 16 bytes, the
 * oldest dropped first, and the Storage network function's SEL commands.
 * Section numbers are those of the IPMI v2.0 specification (rev 1.1).
 */
import { CC, type Answer } from './ipmi-codes.js'
import { encodeSelRecord, type SelEvent } from './records.js'

const SEL_CAPACITY = 1024

export class SelLog {
  private records: Buffer[] = []
  private nextId = 1
  private reservation = 0
  private addTime = 0xffffffff
  private eraseTime = 0xffffffff

  /** `seconds`: the device's clock in seconds since the epoch. */
  constructor (private readonly seconds: () => number) {}

  get count (): number {
    return this.records.length
  }

  add (e: SelEvent): void {
    const id = this.nextId
    this.nextId = this.nextId >= 0xfffe ? 1 : this.nextId + 1
    this.records.push(encodeSelRecord(id, e))
    if (this.records.length > SEL_CAPACITY) this.records.shift()
    this.addTime = this.seconds()
  }

  /** The Storage network function's SEL commands; undefined for any other command. */
  command (cmd: number, data: Buffer): Answer | undefined {
    switch (cmd) {
      case 0x40: { // Get SEL Info (§31.2)
        const out = Buffer.alloc(14)
        out[0] = 0x51
        out.writeUInt16LE(this.records.length, 1)
        out.writeUInt16LE((SEL_CAPACITY - this.records.length) * 16, 3)
        out.writeUInt32LE(this.addTime >>> 0, 5)
        out.writeUInt32LE(this.eraseTime >>> 0, 9)
        out[13] = 0x0b // delete, reserve and allocation info supported
        return { cc: 0, data: out }
      }
      case 0x41: { // Get SEL Allocation Info (§31.3): units, unit size 16, free units, largest free block, max record size
        const out = Buffer.alloc(9)
        out.writeUInt16LE(SEL_CAPACITY, 0)
        out.writeUInt16LE(16, 2)
        out.writeUInt16LE(SEL_CAPACITY - this.records.length, 4)
        out.writeUInt16LE(SEL_CAPACITY - this.records.length, 6)
        out[8] = 1
        return { cc: 0, data: out }
      }
      case 0x42: // Reserve SEL (§31.4)
        this.reservation = this.reservation >= 0xffff ? 1 : this.reservation + 1
        return { cc: 0, data: Uint8Array.of(this.reservation & 0xff, this.reservation >> 8) }
      case 0x43: return this.getEntry(data)
      case 0x46: { // Delete SEL Entry (§31.8)
        if (data.length < 4) return { cc: CC.requestDataLengthInvalid }
        if (data.readUInt16LE(0) !== this.reservation) return { cc: CC.reservationCancelled }
        const i = this.index(data.readUInt16LE(2))
        if (i < 0) return { cc: CC.notPresent }
        const deleted = this.records[i].readUInt16LE(0)
        this.records.splice(i, 1)
        this.eraseTime = this.seconds()
        return { cc: 0, data: Uint8Array.of(deleted & 0xff, deleted >> 8) }
      }
      case 0x47: { // Clear SEL (§31.9): reservation, 'CLR', 0xAA initiate / 0x00 status
        if (data.length < 6) return { cc: CC.requestDataLengthInvalid }
        if (data.readUInt16LE(0) !== this.reservation) return { cc: CC.reservationCancelled }
        if (data.toString('latin1', 2, 5) !== 'CLR') return { cc: CC.invalidDataField }
        if (data[5] === 0xaa) {
          this.records = []
          this.eraseTime = this.seconds()
          this.reservation = 0
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
    return undefined
  }

  private index (id: number): number {
    if (this.records.length === 0) return -1
    if (id === 0x0000) return 0
    if (id === 0xffff) return this.records.length - 1
    return this.records.findIndex((r) => r.readUInt16LE(0) === id)
  }

  private getEntry (data: Buffer): Answer {
    // Get SEL Entry (§31.5): reservation, record id (0 first, 0xffff last), offset, count (0xff all)
    if (data.length < 6) return { cc: CC.requestDataLengthInvalid }
    const reservation = data.readUInt16LE(0)
    const offset = data[4]
    if (offset > 0 && reservation !== this.reservation) return { cc: CC.reservationCancelled }
    const i = this.index(data.readUInt16LE(2))
    if (i < 0) return { cc: CC.notPresent }
    const record = this.records[i]
    const next = i + 1 < this.records.length ? this.records[i + 1].readUInt16LE(0) : 0xffff
    const end = data[5] === 0xff ? 16 : Math.min(16, offset + data[5])
    return { cc: 0, data: Buffer.concat([Uint8Array.of(next & 0xff, next >> 8), record.subarray(offset, end)]) }
  }
}

import { PACKET_HEADER } from './packet-codec.js'

/**
 * Bytes -> candidate frames (docs/protocol.md §1.4, "Reading a packet from the byte
 * stream"): discard bytes until the 0x01 header, read the length byte L, read L
 * bytes, read one trailer byte. The frame is returned whole (header to trailer)
 * for decodePacket() to judge; bytes after it stay buffered for the next read,
 * so line noise after one packet is junk ahead of the next.
 *
 * Pure and synchronous: no timers, no I/O. The bus client owns the timeouts.
 */
export class PacketFramer {
  private buf: Buffer = Buffer.alloc(0)
  /** Bytes discarded while looking for a header since the last reset. */
  discarded = 0

  push (chunk: Uint8Array): void {
    this.buf = this.buf.length === 0 ? Buffer.from(chunk) : Buffer.concat([this.buf, chunk])
  }

  /** The next complete frame, or undefined while more bytes are needed. */
  next (): Buffer | undefined {
    const start = this.buf.indexOf(PACKET_HEADER)
    if (start === -1) {
      this.discarded += this.buf.length
      this.buf = Buffer.alloc(0)
      return undefined
    }
    if (start > 0) {
      this.discarded += start
      this.buf = this.buf.subarray(start)
    }
    if (this.buf.length < 2) return undefined
    const total = this.buf[1] + 3 // header + length byte + L bytes + trailer
    if (this.buf.length < total) return undefined
    const frame = Buffer.from(this.buf.subarray(0, total))
    this.buf = this.buf.subarray(total)
    return frame
  }

  /** Bytes buffered and not yet returned in a frame. */
  get pending (): number {
    return this.buf.length
  }

  /** Drop everything buffered (serial input flush). */
  clear (): void {
    this.buf = Buffer.alloc(0)
  }
}

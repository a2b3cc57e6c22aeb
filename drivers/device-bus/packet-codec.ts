import { PacketError } from '../errors.js'

/**
 * Device-bus packet codec: pure functions (docs/protocol.md §1).
 *
 *   0      header 0x01
 *   1      length = 9 + len(data): bytes from sequence to checksum inclusive
 *   2      sequence
 *   3      device type
 *   4..7   board id (big-endian)
 *   8..9   device id (big-endian)
 *   10..   data
 *   10+n   checksum: two's complement of the low byte of sum(bytes 2 .. 9+n)
 *   11+n   trailer 0x04
 */
export const PACKET_HEADER = 0x01
const PACKET_TRAILER = 0x04
export const MIN_PACKET_LENGTH = 12
/** Bytes the length byte counts besides the data. */
const LENGTH_OVERHEAD = 9
export const MAX_DATA_LENGTH = 0xff - LENGTH_OVERHEAD

export interface Packet {
  sequence: number
  deviceType: number
  boardId: number
  deviceId: number
  data: Buffer
}

/** Two's complement of the low byte of the sum of `bytes[start, end)`. */
export function checksum (bytes: Uint8Array, start = 0, end = bytes.length): number {
  let sum = 0
  for (let i = start; i < end; i++) sum += bytes[i]
  return (-sum) & 0xff
}

export function encodePacket (packet: Packet): Buffer {
  const n = packet.data.length
  if (n > MAX_DATA_LENGTH) throw new RangeError(`packet data too long (${n} > ${MAX_DATA_LENGTH} bytes)`)
  const out = Buffer.allocUnsafe(MIN_PACKET_LENGTH + n)
  out[0] = PACKET_HEADER
  out[1] = LENGTH_OVERHEAD + n
  out[2] = packet.sequence & 0xff
  out[3] = packet.deviceType & 0xff
  out.writeUInt32BE(packet.boardId >>> 0, 4)
  out.writeUInt16BE(packet.deviceId & 0xffff, 8)
  packet.data.copy(out, 10)
  out[10 + n] = checksum(out, 2, 10 + n)
  out[11 + n] = PACKET_TRAILER
  return out
}

/**
 * Decode one complete packet. Throws a PacketError: 'checksum' for a checksum
 * mismatch, 'malformed' for everything else a decoder rejects.
 */
export function decodePacket (bytes: Uint8Array): Packet {
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength)
  if (buf.length < MIN_PACKET_LENGTH) {
    throw new PacketError('malformed', `packet too short (${buf.length} bytes, at least ${MIN_PACKET_LENGTH})`)
  }
  if (buf[0] !== PACKET_HEADER) {
    throw new PacketError('malformed', `bad packet header 0x${hex(buf[0])}`)
  }
  if (buf[1] !== buf.length - 3) {
    throw new PacketError('malformed', `packet length byte ${buf[1]} does not match ${buf.length - 3}`)
  }
  const end = buf.length - 2
  const expected = checksum(buf, 2, end)
  if (buf[end] !== expected) {
    throw new PacketError('checksum', `bad packet checksum 0x${hex(buf[end])} (expected 0x${hex(expected)})`)
  }
  if (buf[buf.length - 1] !== PACKET_TRAILER) {
    throw new PacketError('malformed', `bad packet trailer 0x${hex(buf[buf.length - 1])}`)
  }
  return {
    sequence: buf[2],
    deviceType: buf[3],
    boardId: buf.readUInt32BE(4),
    deviceId: buf.readUInt16BE(8),
    data: Buffer.from(buf.subarray(10, end))
  }
}

/** Sequence numbers run 0..254: n = (n + 1) % 0xFF (docs/protocol.md §1.3). */
export function nextSequence (n: number): number {
  return (n + 1) % 0xff
}

export function toHex (bytes: Uint8Array): string {
  return Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('hex')
}

function hex (n: number): string {
  return n.toString(16).padStart(2, '0')
}

/**
 * RMCP framing (IPMI v2.0 §13.1): the 4-byte RMCP header every IPMI-over-LAN
 * datagram starts with, and the ASF presence ping / pong (§13.2) that carries
 * no IPMI at all. Pure functions, no state.
 */
import { hex8, protocol } from './internal.js'

// ---------------------------------------------------------------------------
// §13.1.3 RMCP header: version 0x06, reserved, sequence 0xFF (no RMCP ACK), class

export const RMCP_VERSION = 0x06
const RMCP_NO_ACK_SEQUENCE = 0xff
/** §13.1.3 table 13-1, message class (bits 4:0). */
export const RMCP_CLASS_ASF = 0x06
export const RMCP_CLASS_IPMI = 0x07
export const RMCP_HEADER_LENGTH = 4

interface RmcpHeader {
  version: number
  sequence: number
  messageClass: number
  /** Bit 7 of the class byte: this is an RMCP ACK. */
  ack: boolean
}

export function encodeRmcpHeader (messageClass: number, out: Buffer = Buffer.alloc(RMCP_HEADER_LENGTH), offset = 0): Buffer {
  out[offset] = RMCP_VERSION
  out[offset + 1] = 0x00
  out[offset + 2] = RMCP_NO_ACK_SEQUENCE
  out[offset + 3] = messageClass & 0x1f
  return out
}

export function decodeRmcpHeader (buf: Buffer): RmcpHeader {
  if (buf.length < RMCP_HEADER_LENGTH) throw protocol(`RMCP header needs 4 bytes, got ${buf.length}`)
  if (buf[0] !== RMCP_VERSION) throw protocol(`RMCP version 0x${hex8(buf[0])}, expected 0x06`)
  return { version: buf[0], sequence: buf[2], messageClass: buf[3] & 0x1f, ack: (buf[3] & 0x80) !== 0 }
}

// ---------------------------------------------------------------------------
// §13.2.3/§13.2.4 ASF presence ping / pong (RMCP class ASF, IANA 4542)

const ASF_IANA = 0x000011be
const ASF_PRESENCE_PING = 0x80
const ASF_PRESENCE_PONG = 0x40

export function encodeAsfPing (tag: number): Buffer {
  const out = Buffer.alloc(12)
  encodeRmcpHeader(RMCP_CLASS_ASF, out)
  out.writeUInt32BE(ASF_IANA, 4)
  out[8] = ASF_PRESENCE_PING
  out[9] = tag & 0xff
  out[10] = 0x00
  out[11] = 0x00 // data length
  return out
}

/** The message tag of an ASF presence pong. */
export function decodeAsfPong (buf: Buffer): { tag: number } {
  const h = decodeRmcpHeader(buf)
  if (h.messageClass !== RMCP_CLASS_ASF) throw protocol('not an ASF message')
  if (buf.length < 12) throw protocol('ASF message too short')
  if (buf.readUInt32BE(4) !== ASF_IANA || buf[8] !== ASF_PRESENCE_PONG) throw protocol('not an ASF presence pong')
  return { tag: buf[9] }
}

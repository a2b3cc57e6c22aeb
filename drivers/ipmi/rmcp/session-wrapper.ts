/**
 * The session wrappers around a payload (IPMI v2.0 §13.6 table 13-8): IPMI
 * v1.5 with authentication type none (only for the pre-session commands) and
 * the IPMI v2.0 RMCP+ wrapper with its payload types, integrity trailer
 * (§13.28.4) and AES-CBC-128 confidentiality (§13.29). The keys come from
 * crypto.ts; no state here.
 */
import { timingSafeEqual } from 'node:crypto'
import { AES_CBC_128_BLOCK, authCodeLength, decryptAesCbc128, encryptAesCbc128, integrityAuthCode, NO_KEYS, type SessionKeys } from './crypto.js'
import { RMCP_CLASS_IPMI, RMCP_HEADER_LENGTH, decodeRmcpHeader, encodeRmcpHeader } from './framing.js'
import { protocol } from './internal.js'

// ---------------------------------------------------------------------------
// §13.6 table 13-8, IPMI v1.5 session wrapper (authentication type none only)

const AUTHTYPE_NONE = 0x00
export const AUTHTYPE_RMCP_PLUS = 0x06

/** RMCP header + authtype none, sequence 0, session id 0, length, message. */
export function encodeV15Packet (message: Uint8Array): Buffer {
  if (message.length > 0xff) throw protocol('IPMI v1.5 message longer than 255 bytes')
  const out = Buffer.allocUnsafe(14 + message.length)
  encodeRmcpHeader(RMCP_CLASS_IPMI, out)
  out[4] = AUTHTYPE_NONE
  out.writeUInt32LE(0, 5)
  out.writeUInt32LE(0, 9)
  out[13] = message.length
  out.set(message, 14)
  return out
}

interface V15Packet {
  authType: number
  sequence: number
  sessionId: number
  message: Buffer
}

export function decodeV15Packet (buf: Buffer): V15Packet {
  const h = decodeRmcpHeader(buf)
  if (h.messageClass !== RMCP_CLASS_IPMI) throw protocol('not an IPMI RMCP message')
  if (buf.length < 14) throw protocol('IPMI v1.5 session header too short')
  const authType = buf[4] & 0x0f
  if (authType === AUTHTYPE_RMCP_PLUS) throw protocol('an RMCP+ packet, not IPMI v1.5')
  const lengthAt = authType === AUTHTYPE_NONE ? 13 : 29
  if (buf.length < lengthAt + 1) throw protocol('IPMI v1.5 session header too short')
  const length = buf[lengthAt]
  if (buf.length < lengthAt + 1 + length) throw protocol('IPMI v1.5 message length exceeds the datagram')
  return {
    authType,
    sequence: buf.readUInt32LE(5),
    sessionId: buf.readUInt32LE(9),
    message: buf.subarray(lengthAt + 1, lengthAt + 1 + length)
  }
}

// ---------------------------------------------------------------------------
// §13.6 table 13-8 / §13.28 IPMI v2.0 RMCP+ session wrapper

/** §13.27.3 table 13-16, payload types. */
export const PAYLOAD_TYPE = {
  ipmi: 0x00,
  sol: 0x01,
  oem: 0x02,
  openSessionRequest: 0x10,
  openSessionResponse: 0x11,
  rakp1: 0x12,
  rakp2: 0x13,
  rakp3: 0x14,
  rakp4: 0x15
} as const

/** §13.28.5 next header field: always 0x07. */
const NEXT_HEADER = 0x07
/** RMCP header + authtype + payload type + session id + sequence + payload length. */
const RMCP_PLUS_HEADER_LENGTH = 16

interface RmcpPlusPacket {
  payloadType: number
  encrypted: boolean
  authenticated: boolean
  sessionId: number
  sequence: number
  /** The plaintext payload (decrypted when the packet was encrypted). */
  payload: Buffer
}

interface RmcpPlusEncodeOptions {
  payloadType: number
  sessionId: number
  sequence: number
  payload: Uint8Array
  keys?: SessionKeys
  /** AES-CBC-128 initialization vector (16 random bytes per packet); tests fix it. */
  iv?: Uint8Array
}

/**
 * §13.6 table 13-8: RMCP header, authtype 0x06, payload type (bit 7
 * encrypted, bit 6 authenticated), session id, session sequence, payload
 * length, payload, and when authenticated the integrity pad (0xFF to a 4-byte
 * boundary of authtype..next header), pad length, next header 0x07 and the
 * AuthCode (HMAC-SHA1-96 or HMAC-SHA256-128 keyed with K1 over authtype..next
 * header, §13.28.4).
 */
export function encodeRmcpPlusPacket (opts: RmcpPlusEncodeOptions): Buffer {
  const keys = opts.keys ?? NO_KEYS
  let payload = opts.payload
  const encrypted = keys.confidentialityKey !== undefined
  const authenticated = keys.integrityKey !== undefined
  if (encrypted) {
    if (opts.iv === undefined || opts.iv.length !== AES_CBC_128_BLOCK) throw protocol('AES-CBC-128 needs a 16-byte IV')
    payload = encryptAesCbc128(keys.confidentialityKey as Buffer, opts.iv, payload)
  }
  if (payload.length > 0xffff) throw protocol('RMCP+ payload longer than 65535 bytes')
  const afterPayload = RMCP_PLUS_HEADER_LENGTH + payload.length
  const pad = authenticated ? integrityPadLength(payload.length) : 0
  const macLength = authenticated ? authCodeLength(keys.integrity) : 0
  const total = authenticated ? afterPayload + pad + 2 + macLength : afterPayload
  const out = Buffer.allocUnsafe(total)
  encodeRmcpHeader(RMCP_CLASS_IPMI, out)
  out[4] = AUTHTYPE_RMCP_PLUS
  out[5] = (opts.payloadType & 0x3f) | (encrypted ? 0x80 : 0) | (authenticated ? 0x40 : 0)
  out.writeUInt32LE(opts.sessionId >>> 0, 6)
  out.writeUInt32LE(opts.sequence >>> 0, 10)
  out.writeUInt16LE(payload.length, 14)
  out.set(payload, RMCP_PLUS_HEADER_LENGTH)
  if (authenticated) {
    out.fill(0xff, afterPayload, afterPayload + pad)
    out[afterPayload + pad] = pad
    out[afterPayload + pad + 1] = NEXT_HEADER
    const mac = integrityAuthCode(keys.integrityKey as Buffer, out.subarray(RMCP_HEADER_LENGTH, total - macLength), keys.integrity)
    mac.copy(out, total - macLength)
  }
  return out
}

/** §13.28.4: pad so that authtype..next header (12 + payload + pad + 2 bytes) is a multiple of 4. */
export function integrityPadLength (payloadLength: number): number {
  return (4 - ((payloadLength + 2) % 4)) % 4
}

/**
 * Decodes an RMCP+ packet. When `keys` has an integrity key the packet must be
 * authenticated and its AuthCode must match; with a confidentiality key it must
 * be encrypted and decrypt with valid padding. Session set-up packets (session
 * id 0) are decoded without keys.
 */
export function decodeRmcpPlusPacket (buf: Buffer, keys: SessionKeys = NO_KEYS): RmcpPlusPacket {
  const h = decodeRmcpHeader(buf)
  if (h.messageClass !== RMCP_CLASS_IPMI) throw protocol('not an IPMI RMCP message')
  if (buf.length < RMCP_PLUS_HEADER_LENGTH) throw protocol(`RMCP+ header needs 16 bytes, got ${buf.length}`)
  if ((buf[4] & 0x0f) !== AUTHTYPE_RMCP_PLUS) throw protocol('not an RMCP+ packet (authtype is not 0x06)')
  const payloadType = buf[5] & 0x3f
  if (payloadType === PAYLOAD_TYPE.oem) throw protocol('OEM explicit payloads are not supported')
  const encrypted = (buf[5] & 0x80) !== 0
  const authenticated = (buf[5] & 0x40) !== 0
  const sessionId = buf.readUInt32LE(6)
  const sequence = buf.readUInt32LE(10)
  const length = buf.readUInt16LE(14)
  const afterPayload = RMCP_PLUS_HEADER_LENGTH + length
  if (afterPayload > buf.length) throw protocol('RMCP+ payload length exceeds the datagram')

  if (keys.integrityKey !== undefined) {
    if (!authenticated) throw protocol('unauthenticated packet in a session with integrity')
    const total = buf.length
    const mac = authCodeLength(keys.integrity)
    if (total < afterPayload + 2 + mac) throw protocol('RMCP+ integrity trailer too short')
    if (buf[total - mac - 1] !== NEXT_HEADER) throw protocol('RMCP+ next header is not 0x07')
    const pad = buf[total - mac - 2]
    if (afterPayload + pad + 2 + mac !== total) throw protocol('RMCP+ integrity pad length does not match the datagram')
    if ((total - RMCP_HEADER_LENGTH - mac) % 4 !== 0) throw protocol('RMCP+ integrity data is not 4-byte aligned')
    const expected = integrityAuthCode(keys.integrityKey, buf.subarray(RMCP_HEADER_LENGTH, total - mac), keys.integrity)
    if (!timingSafeEqual(expected, buf.subarray(total - mac))) throw protocol('RMCP+ integrity check failed')
  } else if (authenticated && sessionId === 0) {
    throw protocol('authenticated packet outside a session')
  }

  let payload = buf.subarray(RMCP_PLUS_HEADER_LENGTH, afterPayload)
  if (keys.confidentialityKey !== undefined) {
    if (!encrypted) throw protocol('unencrypted packet in a session with confidentiality')
    payload = decryptAesCbc128(keys.confidentialityKey, payload)
  } else if (encrypted) {
    throw protocol('encrypted packet without a confidentiality key')
  }
  return { payloadType, encrypted, authenticated, sessionId, sequence, payload }
}

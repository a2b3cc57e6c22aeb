/**
 * IPMI over LAN, the codec: pure encode/decode functions for RMCP, the IPMI v1.5
 * session wrapper (authentication type none only, for the pre-session Get
 * Channel Authentication Capabilities), the IPMI v2.0 RMCP+ session wrapper
 * (integrity HMAC-SHA1-96, confidentiality AES-CBC-128), the IPMI LAN message,
 * the RMCP+ session set-up payloads (Open Session, RAKP 1-4) and their
 * RAKP-HMAC-SHA1 key derivation. Section numbers are those of the IPMI v2.0
 * specification (rev. 1.1). No state, no sockets: session.ts owns those.
 *
 * Every decoder throws IpmiError('protocol', ...) on bytes that cannot be what
 * it decodes; the session counts them as garbage and carries on.
 */
import { createCipheriv, createDecipheriv, createHmac, timingSafeEqual } from 'node:crypto'
import { IpmiError, type AuthAlgorithm, type ConfidentialityAlgorithm, type IntegrityAlgorithm } from './types.js'

// ---------------------------------------------------------------------------
// §13.1.3 RMCP header: version 0x06, reserved, sequence 0xFF (no RMCP ACK), class

export const RMCP_VERSION = 0x06
export const RMCP_NO_ACK_SEQUENCE = 0xff
/** §13.1.3 table 13-1, message class (bits 4:0). */
export const RMCP_CLASS_ASF = 0x06
export const RMCP_CLASS_IPMI = 0x07
export const RMCP_HEADER_LENGTH = 4

export interface RmcpHeader {
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
export const ASF_PRESENCE_PING = 0x80
export const ASF_PRESENCE_PONG = 0x40

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

// ---------------------------------------------------------------------------
// §13.8 IPMI LAN message (table 13-4 request, 13-5 response) and its checksums

/** BMC responder address (§5.5: the BMC is 0x20) and the remote console's software id (0x81). */
export const BMC_SLAVE_ADDRESS = 0x20
export const REMOTE_CONSOLE_SWID = 0x81

/** IPMB checksum: the two's complement of the byte sum of buf[start, end). */
export function ipmbChecksum (buf: Uint8Array, start: number, end: number): number {
  let sum = 0
  for (let i = start; i < end; i++) sum += buf[i]
  return (0x100 - (sum & 0xff)) & 0xff
}

export interface LanRequest {
  netFn: number
  cmd: number
  /** 6-bit requester sequence number, echoed by the BMC. */
  rqSeq: number
  data?: Uint8Array
  rsAddr?: number
  rsLun?: number
  rqAddr?: number
  rqLun?: number
}

/** rsAddr, netFn/rsLUN, checksum, rqAddr, rqSeq/rqLUN, cmd, data, checksum (§13.8). */
export function encodeLanRequest (req: LanRequest): Buffer {
  const data = req.data ?? EMPTY
  const out = Buffer.allocUnsafe(7 + data.length)
  out[0] = req.rsAddr ?? BMC_SLAVE_ADDRESS
  out[1] = ((req.netFn & 0x3f) << 2) | ((req.rsLun ?? 0) & 0x03)
  out[2] = ipmbChecksum(out, 0, 2)
  out[3] = req.rqAddr ?? REMOTE_CONSOLE_SWID
  out[4] = ((req.rqSeq & 0x3f) << 2) | ((req.rqLun ?? 0) & 0x03)
  out[5] = req.cmd
  out.set(data, 6)
  out[6 + data.length] = ipmbChecksum(out, 3, 6 + data.length)
  return out
}

export interface LanResponse {
  rqAddr: number
  /** The response netFn (request netFn + 1). */
  netFn: number
  rqLun: number
  rsAddr: number
  rqSeq: number
  rsLun: number
  cmd: number
  completionCode: number
  /** Response data after the completion code. */
  data: Buffer
}

/** rqAddr, netFn/rqLUN, checksum, rsAddr, rqSeq/rsLUN, cmd, completion code, data, checksum (§13.8). */
export function decodeLanResponse (buf: Buffer): LanResponse {
  if (buf.length < 8) throw protocol(`IPMI LAN response needs at least 8 bytes, got ${buf.length}`)
  if (ipmbChecksum(buf, 0, 3) !== 0) throw protocol('IPMI LAN response: header checksum mismatch')
  if (ipmbChecksum(buf, 3, buf.length) !== 0) throw protocol('IPMI LAN response: data checksum mismatch')
  return {
    rqAddr: buf[0],
    netFn: buf[1] >> 2,
    rqLun: buf[1] & 0x03,
    rsAddr: buf[3],
    rqSeq: buf[4] >> 2,
    rsLun: buf[4] & 0x03,
    cmd: buf[5],
    completionCode: buf[6],
    data: buf.subarray(7, buf.length - 1)
  }
}

/** Decodes a request the way a BMC would (for tests and fakes). */
export function decodeLanRequest (buf: Buffer): Required<LanRequest> & { data: Buffer } {
  if (buf.length < 7) throw protocol(`IPMI LAN request needs at least 7 bytes, got ${buf.length}`)
  if (ipmbChecksum(buf, 0, 3) !== 0) throw protocol('IPMI LAN request: header checksum mismatch')
  if (ipmbChecksum(buf, 3, buf.length) !== 0) throw protocol('IPMI LAN request: data checksum mismatch')
  return {
    rsAddr: buf[0],
    netFn: buf[1] >> 2,
    rsLun: buf[1] & 0x03,
    rqAddr: buf[3],
    rqSeq: buf[4] >> 2,
    rqLun: buf[4] & 0x03,
    cmd: buf[5],
    data: buf.subarray(6, buf.length - 1)
  }
}

/** Encodes a response the way a BMC would (for tests and fakes). */
export function encodeLanResponse (res: Omit<LanResponse, 'data' | 'rqAddr' | 'rsAddr' | 'rqLun' | 'rsLun'> & { data?: Uint8Array }): Buffer {
  const data = res.data ?? EMPTY
  const out = Buffer.allocUnsafe(8 + data.length)
  out[0] = REMOTE_CONSOLE_SWID
  out[1] = (res.netFn & 0x3f) << 2
  out[2] = ipmbChecksum(out, 0, 2)
  out[3] = BMC_SLAVE_ADDRESS
  out[4] = (res.rqSeq & 0x3f) << 2
  out[5] = res.cmd
  out[6] = res.completionCode
  out.set(data, 7)
  out[7 + data.length] = ipmbChecksum(out, 3, 7 + data.length)
  return out
}

// ---------------------------------------------------------------------------
// §13.6 table 13-8, IPMI v1.5 session wrapper (authentication type none only)

export const AUTHTYPE_NONE = 0x00
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

export interface V15Packet {
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

/** §13.28.4 table 13-18: HMAC-SHA1-96 is 12 bytes of HMAC-SHA1. */
export const HMAC_SHA1_96_LENGTH = 12
/** §13.28.5 next header field: always 0x07. */
export const NEXT_HEADER = 0x07
/** RMCP header + authtype + payload type + session id + sequence + payload length. */
export const RMCP_PLUS_HEADER_LENGTH = 16
export const AES_CBC_128_BLOCK = 16

/** The keys of an active session; absent when the algorithm is "none". */
export interface SessionKeys {
  /** K1, 20 bytes (§13.32): integrity key for HMAC-SHA1-96. */
  integrityKey?: Buffer
  /** The first 16 bytes of K2 (§13.29): AES-CBC-128 key. */
  confidentialityKey?: Buffer
}

export interface RmcpPlusPacket {
  payloadType: number
  encrypted: boolean
  authenticated: boolean
  sessionId: number
  sequence: number
  /** The plaintext payload (decrypted when the packet was encrypted). */
  payload: Buffer
}

export interface RmcpPlusEncodeOptions {
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
 * AuthCode (HMAC-SHA1-96 keyed with K1 over authtype..next header, §13.28.4).
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
  const total = authenticated ? afterPayload + pad + 2 + HMAC_SHA1_96_LENGTH : afterPayload
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
    const mac = integrityAuthCode(keys.integrityKey as Buffer, out.subarray(RMCP_HEADER_LENGTH, total - HMAC_SHA1_96_LENGTH))
    mac.copy(out, total - HMAC_SHA1_96_LENGTH)
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
    if (total < afterPayload + 2 + HMAC_SHA1_96_LENGTH) throw protocol('RMCP+ integrity trailer too short')
    if (buf[total - HMAC_SHA1_96_LENGTH - 1] !== NEXT_HEADER) throw protocol('RMCP+ next header is not 0x07')
    const pad = buf[total - HMAC_SHA1_96_LENGTH - 2]
    if (afterPayload + pad + 2 + HMAC_SHA1_96_LENGTH !== total) throw protocol('RMCP+ integrity pad length does not match the datagram')
    if ((total - RMCP_HEADER_LENGTH - HMAC_SHA1_96_LENGTH) % 4 !== 0) throw protocol('RMCP+ integrity data is not 4-byte aligned')
    const expected = integrityAuthCode(keys.integrityKey, buf.subarray(RMCP_HEADER_LENGTH, total - HMAC_SHA1_96_LENGTH))
    if (!timingSafeEqual(expected, buf.subarray(total - HMAC_SHA1_96_LENGTH))) throw protocol('RMCP+ integrity check failed')
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

// ---------------------------------------------------------------------------
// §13.29 AES-CBC-128 confidentiality: IV, then the encrypted
// payload + confidentiality pad (1, 2, 3, ...) + pad length, to 16 bytes

export function encryptAesCbc128 (key: Buffer, iv: Uint8Array, plain: Uint8Array): Buffer {
  const pad = (AES_CBC_128_BLOCK - ((plain.length + 1) % AES_CBC_128_BLOCK)) % AES_CBC_128_BLOCK
  const padded = Buffer.allocUnsafe(plain.length + pad + 1)
  padded.set(plain, 0)
  for (let i = 0; i < pad; i++) padded[plain.length + i] = i + 1
  padded[plain.length + pad] = pad
  const cipher = createCipheriv('aes-128-cbc', key.subarray(0, 16), iv)
  cipher.setAutoPadding(false)
  const out = Buffer.allocUnsafe(AES_CBC_128_BLOCK + padded.length)
  out.set(iv, 0)
  const a = cipher.update(padded)
  a.copy(out, AES_CBC_128_BLOCK)
  cipher.final().copy(out, AES_CBC_128_BLOCK + a.length)
  return out
}

export function decryptAesCbc128 (key: Buffer, payload: Buffer): Buffer {
  if (payload.length < 2 * AES_CBC_128_BLOCK || payload.length % AES_CBC_128_BLOCK !== 0) {
    throw protocol(`AES-CBC-128 payload of ${payload.length} bytes is not IV + whole blocks`)
  }
  const decipher = createDecipheriv('aes-128-cbc', key.subarray(0, 16), payload.subarray(0, AES_CBC_128_BLOCK))
  decipher.setAutoPadding(false)
  const a = decipher.update(payload.subarray(AES_CBC_128_BLOCK))
  const b = decipher.final()
  const plain = b.length === 0 ? a : Buffer.concat([a, b])
  const pad = plain[plain.length - 1]
  if (pad >= AES_CBC_128_BLOCK || pad + 1 > plain.length) throw protocol('AES-CBC-128 confidentiality pad length invalid')
  const end = plain.length - 1 - pad
  for (let i = 0; i < pad; i++) {
    if (plain[end + i] !== i + 1) throw protocol('AES-CBC-128 confidentiality pad bytes invalid')
  }
  return plain.subarray(0, end)
}

// ---------------------------------------------------------------------------
// §13.28.4 integrity: HMAC-SHA1-96

export function integrityAuthCode (k1: Buffer, data: Uint8Array): Buffer {
  return createHmac('sha1', k1).update(data).digest().subarray(0, HMAC_SHA1_96_LENGTH)
}

// ---------------------------------------------------------------------------
// §13.28 algorithm numbers (tables 13-17, 13-18, 13-19)

export const AUTH_ALGORITHM_CODE: Record<AuthAlgorithm, number> = {
  NO_AUTHENTICATION_ALGORITHM: 0x00,
  RAKP_HMAC_SHA1: 0x01
}
export const INTEGRITY_ALGORITHM_CODE: Record<IntegrityAlgorithm, number> = {
  NO_INTEGRITY_ALGORITHM: 0x00,
  HMAC_SHA1_96: 0x01
}
export const CONFIDENTIALITY_ALGORITHM_CODE: Record<ConfidentialityAlgorithm, number> = {
  NO_ENCRYPTION_ALGORITHM: 0x00,
  AES_CBC_128: 0x01
}

/** §6.8 privilege levels. */
export const PRIVILEGE = { callback: 1, user: 2, operator: 3, administrator: 4 } as const

/** §13.24 table 13-15, RMCP+ and RAKP message status codes. */
export const RMCP_PLUS_STATUS: Record<number, string> = {
  0x00: 'no errors',
  0x01: 'insufficient resources to create a session',
  0x02: 'invalid session ID',
  0x03: 'invalid payload type',
  0x04: 'invalid authentication algorithm',
  0x05: 'invalid integrity algorithm',
  0x06: 'no matching authentication payload',
  0x07: 'no matching integrity payload',
  0x08: 'inactive session ID',
  0x09: 'invalid role',
  0x0a: 'unauthorized role or privilege level requested',
  0x0b: 'insufficient resources to create a session at the requested role',
  0x0c: 'invalid name length',
  0x0d: 'unauthorized name',
  0x0e: 'unauthorized GUID',
  0x0f: 'invalid integrity check value',
  0x10: 'invalid confidentiality algorithm',
  0x11: 'no cipher suite match with proposed security algorithms',
  0x12: 'illegal or unrecognized parameter'
}

export function rmcpPlusStatusText (status: number): string {
  return RMCP_PLUS_STATUS[status] ?? `status 0x${hex8(status)}`
}

// ---------------------------------------------------------------------------
// §22.13 Get Channel Authentication Capabilities (App 0x38)

export const CMD_GET_CHANNEL_AUTH_CAPABILITIES = 0x38
export const CMD_GET_DEVICE_ID = 0x01
export const CMD_SET_SESSION_PRIVILEGE_LEVEL = 0x3b
export const CMD_CLOSE_SESSION = 0x3c
export const NETFN_APP = 0x06

/** Request data: bit 7 = "get IPMI v2.0 extended data", channel 0xE = this channel; max privilege. */
export function encodeGetChannelAuthCapabilities (privilege: number): Buffer {
  return Buffer.from([0x8e, privilege & 0x0f])
}

export interface ChannelAuthCapabilities {
  channel: number
  /** Byte 2 bit 7: IPMI v2.0+ extended capabilities available. */
  extended: boolean
  /** Byte 2 bits 5:0: IPMI v1.5 authentication types (bitmask). */
  authTypes: number
  /** Byte 4 bit 1: IPMI v2.0 connections (RMCP+) supported. */
  ipmi20: boolean
  /** Byte 4 bit 0: IPMI v1.5 connections supported. */
  ipmi15: boolean
  /** Byte 3 bit 5: the BMC has a non-null key Kg. */
  kgSet: boolean
  oemId: number
}

/** Decodes the response data after the completion code (8 bytes). */
export function decodeGetChannelAuthCapabilities (data: Buffer): ChannelAuthCapabilities {
  if (data.length < 8) throw protocol(`Get Channel Authentication Capabilities: 8 data bytes expected, got ${data.length}`)
  return {
    channel: data[0] & 0x0f,
    extended: (data[1] & 0x80) !== 0,
    authTypes: data[1] & 0x3f,
    kgSet: (data[2] & 0x20) !== 0,
    ipmi20: (data[1] & 0x80) !== 0 && (data[3] & 0x02) !== 0,
    ipmi15: (data[1] & 0x80) === 0 || (data[3] & 0x01) !== 0,
    oemId: data[4] | (data[5] << 8) | (data[6] << 16)
  }
}

// ---------------------------------------------------------------------------
// §13.17 Open Session Request, §13.18 Open Session Response

export interface OpenSessionRequest {
  tag: number
  /** Requested maximum privilege (0 = highest the algorithms allow). */
  privilege: number
  consoleSessionId: number
  auth: number
  integrity: number
  confidentiality: number
}

export function encodeOpenSessionRequest (r: OpenSessionRequest): Buffer {
  const out = Buffer.alloc(32)
  out[0] = r.tag & 0xff
  out[1] = r.privilege & 0x0f
  out.writeUInt32LE(r.consoleSessionId >>> 0, 4)
  writeAlgorithmPayload(out, 8, 0x00, r.auth)
  writeAlgorithmPayload(out, 16, 0x01, r.integrity)
  writeAlgorithmPayload(out, 24, 0x02, r.confidentiality)
  return out
}

function writeAlgorithmPayload (out: Buffer, at: number, type: number, algorithm: number): void {
  out[at] = type
  out[at + 3] = 0x08 // payload length
  out[at + 4] = algorithm & 0x3f
}

export interface OpenSessionResponse {
  tag: number
  status: number
  /** Present when status is 0. */
  privilege?: number
  consoleSessionId?: number
  bmcSessionId?: number
  auth?: number
  integrity?: number
  confidentiality?: number
}

export function decodeOpenSessionResponse (p: Buffer): OpenSessionResponse {
  if (p.length < 2) throw protocol('Open Session Response too short')
  const tag = p[0]
  const status = p[1]
  if (status !== 0) {
    return p.length >= 8 ? { tag, status, consoleSessionId: p.readUInt32LE(4) } : { tag, status }
  }
  if (p.length < 36) throw protocol(`Open Session Response needs 36 bytes, got ${p.length}`)
  if (p[12] !== 0x00 || p[20] !== 0x01 || p[28] !== 0x02) throw protocol('Open Session Response: algorithm payloads out of order')
  return {
    tag,
    status,
    privilege: p[2] & 0x0f,
    consoleSessionId: p.readUInt32LE(4),
    bmcSessionId: p.readUInt32LE(8),
    auth: p[16] & 0x3f,
    integrity: p[24] & 0x3f,
    confidentiality: p[32] & 0x3f
  }
}

/** For fakes: a successful Open Session Response. */
export function encodeOpenSessionResponse (r: Required<OpenSessionResponse>): Buffer {
  const out = Buffer.alloc(36)
  out[0] = r.tag
  out[1] = r.status
  out[2] = r.privilege
  out.writeUInt32LE(r.consoleSessionId >>> 0, 4)
  out.writeUInt32LE(r.bmcSessionId >>> 0, 8)
  writeAlgorithmPayload(out, 12, 0x00, r.auth)
  writeAlgorithmPayload(out, 20, 0x01, r.integrity)
  writeAlgorithmPayload(out, 28, 0x02, r.confidentiality)
  return out
}

// ---------------------------------------------------------------------------
// §13.20 RAKP Message 1 .. §13.23 RAKP Message 4

/** RoleM bit 4: name-only lookup (the privilege is a request, not part of the user lookup). */
export const ROLE_NAME_ONLY_LOOKUP = 0x10

export interface Rakp1 {
  tag: number
  bmcSessionId: number
  /** Rm, 16 random bytes. */
  consoleRandom: Uint8Array
  /** RoleM: requested privilege | ROLE_NAME_ONLY_LOOKUP. */
  role: number
  username: Uint8Array
}

export function encodeRakp1 (r: Rakp1): Buffer {
  if (r.consoleRandom.length !== 16) throw protocol('RAKP1: Rm must be 16 bytes')
  if (r.username.length > 16) throw protocol('RAKP1: user name longer than 16 bytes')
  const out = Buffer.alloc(28 + r.username.length)
  out[0] = r.tag & 0xff
  out.writeUInt32LE(r.bmcSessionId >>> 0, 4)
  out.set(r.consoleRandom, 8)
  out[24] = r.role
  out[27] = r.username.length
  out.set(r.username, 28)
  return out
}

export function decodeRakp1 (p: Buffer): Rakp1 {
  if (p.length < 28 || p.length < 28 + p[27]) throw protocol('RAKP1 too short')
  return {
    tag: p[0],
    bmcSessionId: p.readUInt32LE(4),
    consoleRandom: p.subarray(8, 24),
    role: p[24],
    username: p.subarray(28, 28 + p[27])
  }
}

export interface Rakp2 {
  tag: number
  status: number
  consoleSessionId: number
  /** Rc, GUIDc and the key exchange auth code; present when status is 0. */
  bmcRandom?: Buffer
  bmcGuid?: Buffer
  authCode?: Buffer
}

export function decodeRakp2 (p: Buffer): Rakp2 {
  if (p.length < 8) throw protocol('RAKP2 too short')
  const tag = p[0]
  const status = p[1]
  const consoleSessionId = p.readUInt32LE(4)
  if (status !== 0) return { tag, status, consoleSessionId }
  if (p.length < 40) throw protocol(`RAKP2 needs at least 40 bytes, got ${p.length}`)
  return { tag, status, consoleSessionId, bmcRandom: p.subarray(8, 24), bmcGuid: p.subarray(24, 40), authCode: p.subarray(40) }
}

export function encodeRakp2 (r: Required<Rakp2>): Buffer {
  const out = Buffer.alloc(40 + r.authCode.length)
  out[0] = r.tag
  out[1] = r.status
  out.writeUInt32LE(r.consoleSessionId >>> 0, 4)
  r.bmcRandom.copy(out, 8)
  r.bmcGuid.copy(out, 24)
  r.authCode.copy(out, 40)
  return out
}

export interface Rakp3 {
  tag: number
  status: number
  bmcSessionId: number
  authCode: Uint8Array
}

export function encodeRakp3 (r: Rakp3): Buffer {
  const out = Buffer.alloc(8 + r.authCode.length)
  out[0] = r.tag & 0xff
  out[1] = r.status
  out.writeUInt32LE(r.bmcSessionId >>> 0, 4)
  out.set(r.authCode, 8)
  return out
}

export function decodeRakp3 (p: Buffer): Rakp3 {
  if (p.length < 8) throw protocol('RAKP3 too short')
  return { tag: p[0], status: p[1], bmcSessionId: p.readUInt32LE(4), authCode: p.subarray(8) }
}

export interface Rakp4 {
  tag: number
  status: number
  consoleSessionId: number
  /** Integrity check value; empty for RAKP-none. */
  icv: Buffer
}

export function decodeRakp4 (p: Buffer): Rakp4 {
  if (p.length < 8) throw protocol('RAKP4 too short')
  return { tag: p[0], status: p[1], consoleSessionId: p.readUInt32LE(4), icv: p.subarray(8) }
}

export function encodeRakp4 (r: Rakp4): Buffer {
  const out = Buffer.alloc(8 + r.icv.length)
  out[0] = r.tag
  out[1] = r.status
  out.writeUInt32LE(r.consoleSessionId >>> 0, 4)
  r.icv.copy(out, 8)
  return out
}

// ---------------------------------------------------------------------------
// §13.31 RAKP-HMAC-SHA1 and §13.32 key derivation

/** Kuid: the user's password, zero-padded to 20 bytes (§13.31, IPMI v2.0 passwords are up to 20 bytes). */
export function passwordKey (password: string): Buffer {
  const bytes = Buffer.from(password, 'latin1')
  if (bytes.length > 20) throw new IpmiError('auth', 'IPMI v2.0 passwords are at most 20 bytes')
  const out = Buffer.alloc(20)
  bytes.copy(out)
  return out
}

/** What both ends of a RAKP exchange know after RAKP2. */
export interface RakpContext {
  consoleSessionId: number
  bmcSessionId: number
  consoleRandom: Uint8Array
  bmcRandom: Uint8Array
  bmcGuid: Uint8Array
  role: number
  username: Uint8Array
}

function u32le (n: number): Buffer {
  const b = Buffer.allocUnsafe(4)
  b.writeUInt32LE(n >>> 0, 0)
  return b
}

/** RAKP2 key exchange auth code: HMAC-SHA1(Kuid, SIDm | SIDc | Rm | Rc | GUIDc | RoleM | ULengthM | UNameM) (§13.31). */
export function rakp2AuthCode (kuid: Buffer, c: RakpContext): Buffer {
  return createHmac('sha1', kuid)
    .update(u32le(c.consoleSessionId)).update(u32le(c.bmcSessionId))
    .update(c.consoleRandom).update(c.bmcRandom).update(c.bmcGuid)
    .update(Uint8Array.of(c.role, c.username.length)).update(c.username)
    .digest()
}

/** RAKP3 key exchange auth code: HMAC-SHA1(Kuid, Rc | SIDm | RoleM | ULengthM | UNameM) (§13.31). */
export function rakp3AuthCode (kuid: Buffer, c: RakpContext): Buffer {
  return createHmac('sha1', kuid)
    .update(c.bmcRandom).update(u32le(c.consoleSessionId))
    .update(Uint8Array.of(c.role, c.username.length)).update(c.username)
    .digest()
}

/** SIK = HMAC-SHA1(Kg, Rm | Rc | RoleM | ULengthM | UNameM); Kg is Kuid when the BMC key is null (§13.31). */
export function sessionIntegrityKey (kg: Buffer, c: RakpContext): Buffer {
  return createHmac('sha1', kg)
    .update(c.consoleRandom).update(c.bmcRandom)
    .update(Uint8Array.of(c.role, c.username.length)).update(c.username)
    .digest()
}

/** RAKP4 integrity check value: HMAC-SHA1-96(SIK, Rm | SIDc | GUIDc) (§13.31). */
export function rakp4Icv (sik: Buffer, c: RakpContext): Buffer {
  return createHmac('sha1', sik)
    .update(c.consoleRandom).update(u32le(c.bmcSessionId)).update(c.bmcGuid)
    .digest().subarray(0, HMAC_SHA1_96_LENGTH)
}

/** §13.32: K1 = HMAC(SIK, 0x01 * 20), K2 = HMAC(SIK, 0x02 * 20), ... */
export function deriveKey (sik: Buffer, n: number): Buffer {
  return createHmac('sha1', sik).update(Buffer.alloc(20, n)).digest()
}

/** The session keys a negotiated cipher suite uses. */
export function sessionKeys (sik: Buffer | undefined, integrity: number, confidentiality: number): SessionKeys {
  if (sik === undefined) return NO_KEYS
  const keys: SessionKeys = {}
  if (integrity === INTEGRITY_ALGORITHM_CODE.HMAC_SHA1_96) keys.integrityKey = deriveKey(sik, 1)
  if (confidentiality === CONFIDENTIALITY_ALGORITHM_CODE.AES_CBC_128) keys.confidentialityKey = deriveKey(sik, 2).subarray(0, 16)
  return keys
}

// ---------------------------------------------------------------------------

const EMPTY = new Uint8Array(0)
const NO_KEYS: SessionKeys = Object.freeze({})

function hex8 (n: number): string {
  return n.toString(16).padStart(2, '0')
}

function protocol (message: string): IpmiError {
  return new IpmiError('protocol', message)
}

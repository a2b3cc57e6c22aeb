/**
 * IPMI over LAN, the codec: pure encode/decode functions for RMCP, the IPMI v1.5
 * session wrapper (authentication type none only, for the pre-session Get
 * Channel Authentication Capabilities), the IPMI v2.0 RMCP+ session wrapper
 * (integrity HMAC-SHA1-96 or HMAC-SHA256-128, confidentiality AES-CBC-128),
 * the IPMI LAN message, the RMCP+ session set-up payloads (Open Session,
 * RAKP 1-4) and their RAKP-HMAC-SHA1 / RAKP-HMAC-SHA256 key derivation, the
 * cipher suite table and Get Channel Cipher Suites. Section numbers are those
 * of the IPMI v2.0 specification (rev. 1.1; the SHA-256 algorithms and cipher
 * suite 17 come from its errata 4 / markup E4 to §13.28 and table 22-20).
 * No state, no sockets: the client session (session.ts) and the BMC emulator
 * own those, and both use these functions.
 *
 * Every decoder throws IpmiError('protocol', ...) on bytes that cannot be what
 * it decodes; the session counts them as garbage and carries on.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { aesCbcDecrypt, aesCbcEncrypt, hmac } from './packet-crypto.js'
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
/** §13.28.4 (errata 4): HMAC-SHA256-128 is the first 16 bytes of HMAC-SHA256. */
export const HMAC_SHA256_128_LENGTH = 16
const AUTH_RAKP_NONE = 0x00
const AUTH_RAKP_HMAC_SHA1 = 0x01
const AUTH_RAKP_HMAC_SHA256 = 0x03
const INTEGRITY_HMAC_SHA1_96 = 0x01
const INTEGRITY_HMAC_SHA256_128 = 0x04
const CONFIDENTIALITY_AES_CBC_128 = 0x01

/** §13.28.5 next header field: always 0x07. */
export const NEXT_HEADER = 0x07
/** RMCP header + authtype + payload type + session id + sequence + payload length. */
export const RMCP_PLUS_HEADER_LENGTH = 16
export const AES_CBC_128_BLOCK = 16

/** The keys of an active session; absent when the algorithm is "none". */
export interface SessionKeys {
  /** K1 (§13.32): the integrity key, 20 bytes from RAKP-HMAC-SHA1, 32 from RAKP-HMAC-SHA256. */
  integrityKey?: Buffer
  /** The integrity algorithm number (table 13-18) the AuthCode uses; HMAC-SHA1-96 when absent. */
  integrity?: number
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

// ---------------------------------------------------------------------------
// §13.29 AES-CBC-128 confidentiality: IV, then the encrypted
// payload + confidentiality pad (1, 2, 3, ...) + pad length, to 16 bytes

export function encryptAesCbc128 (key: Buffer, iv: Uint8Array, plain: Uint8Array): Buffer {
  const pad = (AES_CBC_128_BLOCK - ((plain.length + 1) % AES_CBC_128_BLOCK)) % AES_CBC_128_BLOCK
  const padded = Buffer.allocUnsafe(plain.length + pad + 1)
  padded.set(plain, 0)
  for (let i = 0; i < pad; i++) padded[plain.length + i] = i + 1
  padded[plain.length + pad] = pad
  const out = Buffer.allocUnsafe(AES_CBC_128_BLOCK + padded.length)
  out.set(iv, 0)
  aesCbcEncrypt(key, iv, padded, out, AES_CBC_128_BLOCK)
  return out
}

export function decryptAesCbc128 (key: Buffer, payload: Buffer): Buffer {
  if (payload.length < 2 * AES_CBC_128_BLOCK || payload.length % AES_CBC_128_BLOCK !== 0) {
    throw protocol(`AES-CBC-128 payload of ${payload.length} bytes is not IV + whole blocks`)
  }
  const plain = aesCbcDecrypt(key, payload.subarray(0, AES_CBC_128_BLOCK), payload.subarray(AES_CBC_128_BLOCK))
  const pad = plain[plain.length - 1]
  if (pad >= AES_CBC_128_BLOCK || pad + 1 > plain.length) throw protocol('AES-CBC-128 confidentiality pad length invalid')
  const end = plain.length - 1 - pad
  for (let i = 0; i < pad; i++) {
    if (plain[end + i] !== i + 1) throw protocol('AES-CBC-128 confidentiality pad bytes invalid')
  }
  return plain.subarray(0, end)
}

// ---------------------------------------------------------------------------
// §13.28.4 integrity: HMAC-SHA1-96 (algorithm 1), HMAC-SHA256-128 (algorithm 4)

/** The AuthCode length of an integrity algorithm (default HMAC-SHA1-96). */
export function authCodeLength (integrity: number = INTEGRITY_HMAC_SHA1_96): number {
  if (integrity === INTEGRITY_HMAC_SHA1_96) return HMAC_SHA1_96_LENGTH
  if (integrity === INTEGRITY_HMAC_SHA256_128) return HMAC_SHA256_128_LENGTH
  throw protocol(`integrity algorithm ${integrity} is not supported`)
}

/** The AuthCode trailer of an authenticated packet: HMAC(K1, data) truncated per algorithm (default HMAC-SHA1-96). */
export function integrityAuthCode (k1: Buffer, data: Uint8Array, integrity: number = INTEGRITY_HMAC_SHA1_96): Buffer {
  const hash = integrity === INTEGRITY_HMAC_SHA256_128 ? 'sha256' : 'sha1'
  return hmac(hash, k1, data).subarray(0, authCodeLength(integrity))
}

// ---------------------------------------------------------------------------
// §13.28 algorithm numbers (tables 13-17, 13-18, 13-19)

export const AUTH_ALGORITHM_CODE: Record<AuthAlgorithm, number> = {
  NO_AUTHENTICATION_ALGORITHM: 0x00,
  RAKP_HMAC_SHA1: 0x01,
  RAKP_HMAC_SHA256: 0x03
}
export const INTEGRITY_ALGORITHM_CODE: Record<IntegrityAlgorithm, number> = {
  NO_INTEGRITY_ALGORITHM: 0x00,
  HMAC_SHA1_96: 0x01,
  HMAC_SHA256_128: 0x04
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
// §13.31 RAKP-HMAC-SHA1 / RAKP-HMAC-SHA256 and §13.32 key derivation
//
// Every function takes the authentication algorithm number (table 13-17: 1
// RAKP-HMAC-SHA1, 3 RAKP-HMAC-SHA256; default 1): the HMAC of the key
// exchange auth codes, the SIK and K1/K2 is SHA-1 or SHA-256 accordingly, and
// the RAKP4 integrity check value is HMAC-SHA1-96 (12 bytes) or
// HMAC-SHA256-128 (16 bytes). The keys stay what they are in §13.31/§13.32:
// Kuid is the 20-byte password, and K1/K2 are keyed over 20 bytes of 0x01/0x02.

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

/** The hash of a RAKP authentication algorithm's HMAC; throws for RAKP-none and unknown numbers. */
export function rakpHash (auth: number = AUTH_RAKP_HMAC_SHA1): 'sha1' | 'sha256' {
  if (auth === AUTH_RAKP_HMAC_SHA1) return 'sha1'
  if (auth === AUTH_RAKP_HMAC_SHA256) return 'sha256'
  throw protocol(auth === AUTH_RAKP_NONE ? 'RAKP-none has no key exchange auth codes' : `authentication algorithm ${auth} is not supported`)
}

/** Length of the RAKP2/RAKP3 auth codes and of the SIK: 20 (SHA-1), 32 (SHA-256), 0 for RAKP-none. */
export function rakpAuthCodeLength (auth: number = AUTH_RAKP_HMAC_SHA1): number {
  if (auth === AUTH_RAKP_NONE) return 0
  return rakpHash(auth) === 'sha1' ? 20 : 32
}

/** Length of the RAKP4 integrity check value: 12 (HMAC-SHA1-96), 16 (HMAC-SHA256-128), 0 for RAKP-none. */
export function rakp4IcvLength (auth: number = AUTH_RAKP_HMAC_SHA1): number {
  if (auth === AUTH_RAKP_NONE) return 0
  return rakpHash(auth) === 'sha1' ? HMAC_SHA1_96_LENGTH : HMAC_SHA256_128_LENGTH
}

/** RAKP2 key exchange auth code: HMAC(Kuid, SIDm | SIDc | Rm | Rc | GUIDc | RoleM | ULengthM | UNameM) (§13.31). */
export function rakp2AuthCode (kuid: Buffer, c: RakpContext, auth: number = AUTH_RAKP_HMAC_SHA1): Buffer {
  return createHmac(rakpHash(auth), kuid)
    .update(u32le(c.consoleSessionId)).update(u32le(c.bmcSessionId))
    .update(c.consoleRandom).update(c.bmcRandom).update(c.bmcGuid)
    .update(Uint8Array.of(c.role, c.username.length)).update(c.username)
    .digest()
}

/** RAKP3 key exchange auth code: HMAC(Kuid, Rc | SIDm | RoleM | ULengthM | UNameM) (§13.31). */
export function rakp3AuthCode (kuid: Buffer, c: RakpContext, auth: number = AUTH_RAKP_HMAC_SHA1): Buffer {
  return createHmac(rakpHash(auth), kuid)
    .update(c.bmcRandom).update(u32le(c.consoleSessionId))
    .update(Uint8Array.of(c.role, c.username.length)).update(c.username)
    .digest()
}

/** SIK = HMAC(Kg, Rm | Rc | RoleM | ULengthM | UNameM); Kg is Kuid when the BMC key is null (§13.31). */
export function sessionIntegrityKey (kg: Buffer, c: RakpContext, auth: number = AUTH_RAKP_HMAC_SHA1): Buffer {
  return createHmac(rakpHash(auth), kg)
    .update(c.consoleRandom).update(c.bmcRandom)
    .update(Uint8Array.of(c.role, c.username.length)).update(c.username)
    .digest()
}

/** RAKP4 integrity check value: HMAC-SHA1-96 or HMAC-SHA256-128 (SIK, Rm | SIDc | GUIDc) (§13.31). */
export function rakp4Icv (sik: Buffer, c: RakpContext, auth: number = AUTH_RAKP_HMAC_SHA1): Buffer {
  return createHmac(rakpHash(auth), sik)
    .update(c.consoleRandom).update(u32le(c.bmcSessionId)).update(c.bmcGuid)
    .digest().subarray(0, rakp4IcvLength(auth))
}

/** §13.32: K1 = HMAC(SIK, 0x01 * 20), K2 = HMAC(SIK, 0x02 * 20), ...; 20 bytes (SHA-1) or 32 (SHA-256). */
export function deriveKey (sik: Buffer, n: number, auth: number = AUTH_RAKP_HMAC_SHA1): Buffer {
  return createHmac(rakpHash(auth), sik).update(Buffer.alloc(20, n)).digest()
}

/** The session keys a negotiated cipher suite uses (`auth`: the RAKP algorithm that made the SIK, default RAKP-HMAC-SHA1). */
export function sessionKeys (sik: Buffer | undefined, integrity: number, confidentiality: number, auth: number = AUTH_RAKP_HMAC_SHA1): SessionKeys {
  if (sik === undefined) return NO_KEYS
  const keys: SessionKeys = {}
  if (integrity !== 0) {
    authCodeLength(integrity) // throws for an algorithm we cannot compute
    keys.integrityKey = deriveKey(sik, 1, auth)
    keys.integrity = integrity
  }
  if (confidentiality === CONFIDENTIALITY_AES_CBC_128) keys.confidentialityKey = deriveKey(sik, 2, auth).subarray(0, 16)
  else if (confidentiality !== 0) throw protocol(`confidentiality algorithm ${confidentiality} is not supported`)
  return keys
}

// ---------------------------------------------------------------------------
// §22.15.2 table 22-20 cipher suite ids: the suites this bridge speaks

export interface CipherSuite {
  id: number
  auth: AuthAlgorithm
  integrity: IntegrityAlgorithm
  confidentiality: ConfidentialityAlgorithm
}

export const CIPHER_SUITES: Readonly<Record<number, CipherSuite>> = Object.freeze({
  0: { id: 0, auth: 'NO_AUTHENTICATION_ALGORITHM', integrity: 'NO_INTEGRITY_ALGORITHM', confidentiality: 'NO_ENCRYPTION_ALGORITHM' },
  1: { id: 1, auth: 'RAKP_HMAC_SHA1', integrity: 'NO_INTEGRITY_ALGORITHM', confidentiality: 'NO_ENCRYPTION_ALGORITHM' },
  2: { id: 2, auth: 'RAKP_HMAC_SHA1', integrity: 'HMAC_SHA1_96', confidentiality: 'NO_ENCRYPTION_ALGORITHM' },
  3: { id: 3, auth: 'RAKP_HMAC_SHA1', integrity: 'HMAC_SHA1_96', confidentiality: 'AES_CBC_128' },
  17: { id: 17, auth: 'RAKP_HMAC_SHA256', integrity: 'HMAC_SHA256_128', confidentiality: 'AES_CBC_128' }
})

/** The suites above, strongest first: what a client picks from when a BMC offers several. */
export const CIPHER_SUITE_PREFERENCE: readonly number[] = Object.freeze([17, 3, 2, 1, 0])

/** The cipher suite id of an algorithm triple, or undefined when it is not one of CIPHER_SUITES. */
export function cipherSuiteId (auth: number, integrity: number, confidentiality: number): number | undefined {
  for (const s of Object.values(CIPHER_SUITES)) {
    if (AUTH_ALGORITHM_CODE[s.auth] === auth && INTEGRITY_ALGORITHM_CODE[s.integrity] === integrity &&
      CONFIDENTIALITY_ALGORITHM_CODE[s.confidentiality] === confidentiality) return s.id
  }
  return undefined
}

// ---------------------------------------------------------------------------
// §22.15 Get Channel Cipher Suites (App 0x54)

export const CMD_GET_CHANNEL_CIPHER_SUITES = 0x54
/** §22.15.1 records: start of a standard (0xC0) or OEM (0xC1) cipher suite record; algorithm tags. */
const CS_RECORD_STANDARD = 0xc0
const CS_RECORD_OEM = 0xc1
const CS_TAG_MASK = 0xc0
const CS_TAG_AUTH = 0x00
const CS_TAG_INTEGRITY = 0x40
const CS_TAG_CONFIDENTIALITY = 0x80
/** Each response carries at most 16 bytes of the record data. */
export const CIPHER_SUITE_DATA_CHUNK = 16

/** Request: channel (0x0E: this one), payload type IPMI, bit 7 "list algorithms by cipher suite", list index 0-63. */
export function encodeGetChannelCipherSuites (index: number, channel = 0x0e): Buffer {
  return Buffer.from([channel & 0x0f, PAYLOAD_TYPE.ipmi, 0x80 | (index & 0x3f)])
}

export function decodeGetChannelCipherSuitesRequest (data: Buffer): { channel: number, payloadType: number, byCipherSuite: boolean, index: number } {
  if (data.length < 3) throw protocol(`Get Channel Cipher Suites request: 3 data bytes expected, got ${data.length}`)
  return { channel: data[0] & 0x0f, payloadType: data[1] & 0x3f, byCipherSuite: (data[2] & 0x80) !== 0, index: data[2] & 0x3f }
}

/** Response data after the completion code: the channel number and up to 16 bytes of records. */
export function decodeGetChannelCipherSuitesChunk (data: Buffer): { channel: number, records: Buffer } {
  if (data.length < 1) throw protocol('Get Channel Cipher Suites: no channel number in the answer')
  return { channel: data[0] & 0x0f, records: data.subarray(1, 1 + CIPHER_SUITE_DATA_CHUNK) }
}

export interface CipherSuiteRecord {
  id: number
  /** The IANA enterprise number of an OEM suite (record 0xC1). */
  oemIana?: number
  auth: number[]
  integrity: number[]
  confidentiality: number[]
}

/** Parses the concatenated record data (§22.15.1 table 22-19): one entry per cipher suite record. */
export function decodeCipherSuiteRecords (records: Buffer): CipherSuiteRecord[] {
  const out: CipherSuiteRecord[] = []
  let i = 0
  while (i < records.length) {
    const start = records[i]
    if (start !== CS_RECORD_STANDARD && start !== CS_RECORD_OEM) throw protocol(`cipher suite record starts with 0x${hex8(start)}, expected 0xC0 or 0xC1`)
    if (i + 1 >= records.length) throw protocol('cipher suite record without an id')
    const rec: CipherSuiteRecord = { id: records[i + 1], auth: [], integrity: [], confidentiality: [] }
    i += 2
    if (start === CS_RECORD_OEM) {
      if (i + 3 > records.length) throw protocol('OEM cipher suite record without its IANA number')
      rec.oemIana = records[i] | (records[i + 1] << 8) | (records[i + 2] << 16)
      i += 3
    }
    while (i < records.length && records[i] !== CS_RECORD_STANDARD && records[i] !== CS_RECORD_OEM) {
      const tag = records[i] & CS_TAG_MASK
      const alg = records[i] & 0x3f
      if (tag === CS_TAG_AUTH) rec.auth.push(alg)
      else if (tag === CS_TAG_INTEGRITY) rec.integrity.push(alg)
      else if (tag === CS_TAG_CONFIDENTIALITY) rec.confidentiality.push(alg)
      i++
    }
    out.push(rec)
  }
  return out
}

/** For BMCs (the emulator) and fakes: the record data of standard suites, to be served 16 bytes per answer. */
export function encodeCipherSuiteRecords (suites: readonly number[]): Buffer {
  const bytes: number[] = []
  for (const id of suites) {
    const s = CIPHER_SUITES[id]
    if (s === undefined) throw protocol(`cipher suite ${id} is not one of ${Object.keys(CIPHER_SUITES).join(', ')}`)
    bytes.push(CS_RECORD_STANDARD, id,
      CS_TAG_AUTH | AUTH_ALGORITHM_CODE[s.auth],
      CS_TAG_INTEGRITY | INTEGRITY_ALGORITHM_CODE[s.integrity],
      CS_TAG_CONFIDENTIALITY | CONFIDENTIALITY_ALGORITHM_CODE[s.confidentiality])
  }
  return Buffer.from(bytes)
}

/** For BMCs: the answer data to list index `index` (channel number, then that 16-byte slice of the records). */
export function encodeGetChannelCipherSuitesChunk (channel: number, records: Buffer, index: number): Buffer {
  const slice = records.subarray(index * CIPHER_SUITE_DATA_CHUNK, (index + 1) * CIPHER_SUITE_DATA_CHUNK)
  return Buffer.concat([Uint8Array.of(channel & 0x0f), slice])
}

/** The strongest suite of CIPHER_SUITE_PREFERENCE that a BMC's records offer with exactly its algorithms; undefined if none. */
export function strongestCipherSuite (records: readonly CipherSuiteRecord[]): number | undefined {
  for (const id of CIPHER_SUITE_PREFERENCE) {
    const s = CIPHER_SUITES[id]
    const offered = records.some((r) => r.oemIana === undefined && r.id === id &&
      r.auth.includes(AUTH_ALGORITHM_CODE[s.auth]) && r.integrity.includes(INTEGRITY_ALGORITHM_CODE[s.integrity]) &&
      r.confidentiality.includes(CONFIDENTIALITY_ALGORITHM_CODE[s.confidentiality]))
    if (offered) return id
  }
  return undefined
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

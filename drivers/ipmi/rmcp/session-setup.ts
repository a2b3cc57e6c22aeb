/**
 * The RMCP+ session set-up messages (IPMI v2.0 §13.17-§13.23): Open Session
 * Request / Response and RAKP Messages 1-4, with the privilege levels (§6.8)
 * and the status codes (§13.24) they carry. The auth codes inside RAKP 2-4
 * are computed in crypto.ts.
 */
import { hex8, protocol } from './internal.js'

// ---------------------------------------------------------------------------
// §6.8 privilege levels, §13.24 RMCP+ and RAKP status codes

/** §6.8 privilege levels. */
export const PRIVILEGE = { callback: 1, user: 2, operator: 3, administrator: 4 } as const

/** §13.24 table 13-15, RMCP+ and RAKP message status codes. */
const RMCP_PLUS_STATUS: Record<number, string> = {
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
// §13.17 Open Session Request, §13.18 Open Session Response

interface OpenSessionRequest {
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

interface OpenSessionResponse {
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

interface Rakp1 {
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

interface Rakp2 {
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

interface Rakp3 {
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

interface Rakp4 {
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

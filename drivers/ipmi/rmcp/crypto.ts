/**
 * The cryptography of RMCP+ (IPMI v2.0 §13.28-§13.32): AES-CBC-128
 * confidentiality, the HMAC-SHA1-96 / HMAC-SHA256-128 integrity AuthCode,
 * and RAKP-HMAC-SHA1 / RAKP-HMAC-SHA256: the key exchange auth codes, the
 * session integrity key and the K1/K2 derivation (the SHA-256 algorithms
 * come from errata 4 / markup E4 to §13.28).
 */
import { createHmac } from 'node:crypto'
import { aesCbcDecrypt, aesCbcEncrypt, hmac } from '../packet-crypto.js'
import { IpmiError } from '../types.js'
import { protocol } from './internal.js'

/** §13.28.4 table 13-18: HMAC-SHA1-96 is 12 bytes of HMAC-SHA1. */
const HMAC_SHA1_96_LENGTH = 12
/** §13.28.4 (errata 4): HMAC-SHA256-128 is the first 16 bytes of HMAC-SHA256. */
const HMAC_SHA256_128_LENGTH = 16
const AUTH_RAKP_NONE = 0x00
const AUTH_RAKP_HMAC_SHA1 = 0x01
const AUTH_RAKP_HMAC_SHA256 = 0x03
const INTEGRITY_HMAC_SHA1_96 = 0x01
const INTEGRITY_HMAC_SHA256_128 = 0x04
const CONFIDENTIALITY_AES_CBC_128 = 0x01
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

/** Before a session is active: no integrity, no confidentiality. */
export const NO_KEYS: SessionKeys = Object.freeze({})

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
function rakpHash (auth: number = AUTH_RAKP_HMAC_SHA1): 'sha1' | 'sha256' {
  if (auth === AUTH_RAKP_HMAC_SHA1) return 'sha1'
  if (auth === AUTH_RAKP_HMAC_SHA256) return 'sha256'
  throw protocol(auth === AUTH_RAKP_NONE ? 'RAKP-none has no key exchange auth codes' : `authentication algorithm ${auth} is not supported`)
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

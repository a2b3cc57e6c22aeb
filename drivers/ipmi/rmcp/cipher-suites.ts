/**
 * The security algorithms of RMCP+ (IPMI v2.0 §13.28 tables 13-17 to 13-19),
 * the cipher suites this bridge speaks (§22.15.2 table 22-20, suite 17 from
 * errata 4) and Get Channel Cipher Suites (§22.15), which a client asks
 * before a session to learn which suites a BMC offers.
 */
import type { AuthAlgorithm, ConfidentialityAlgorithm, IntegrityAlgorithm } from '../types.js'
import { hex8, protocol } from './internal.js'
import { PAYLOAD_TYPE } from './session-wrapper.js'

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

// ---------------------------------------------------------------------------
// §22.15.2 table 22-20 cipher suite ids: the suites this bridge speaks

interface CipherSuite {
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
const CIPHER_SUITE_PREFERENCE: readonly number[] = Object.freeze([17, 3, 2, 1, 0])

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

interface CipherSuiteRecord {
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

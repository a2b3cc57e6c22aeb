/**
 * The IPMI bridge's shared types: what a BMC entry of bmc_config.json becomes,
 * and the one call every IPMI command goes through. The session layer
 * (session.ts) implements IpmiRequester; the command layer (commands/,
 * sdr.ts, fru.ts) only ever sees an IpmiRequester, so it is tested with a fake.
 */

import { OpenDcreError, type OpenDcreErrorCode } from '../errors.js'

/** §13.28 tables 13-17/13-18 (and the SHA-256 additions of IPMI v2.0 rev. 1.1 errata 4): cipher suites 0-3 and 17. */
export const AUTH_ALGORITHMS = ['NO_AUTHENTICATION_ALGORITHM', 'RAKP_HMAC_SHA1', 'RAKP_HMAC_SHA256'] as const
export const INTEGRITY_ALGORITHMS = ['NO_INTEGRITY_ALGORITHM', 'HMAC_SHA1_96', 'HMAC_SHA256_128'] as const
export const CONFIDENTIALITY_ALGORITHMS = ['NO_ENCRYPTION_ALGORITHM', 'AES_CBC_128'] as const

export type AuthAlgorithm = typeof AUTH_ALGORITHMS[number]
export type IntegrityAlgorithm = typeof INTEGRITY_ALGORITHMS[number]
export type ConfidentialityAlgorithm = typeof CONFIDENTIALITY_ALGORITHMS[number]

/** One BMC to talk to (a bmc_config.json entry, validated). */
export interface BmcTarget {
  host: string
  /** UDP port; 623 unless bmc_config.json's bmc_port says otherwise. */
  port: number
  username: string
  /** Never logged, never in an error message or a response. */
  password: string
  /**
   * The algorithms to propose in Open Session. All three absent: the session
   * asks the BMC (Get Channel Cipher Suites, IPMI v2.0 §22.15) and takes the
   * strongest suite it offers of 17, 3, 2, 1, 0.
   */
  auth?: AuthAlgorithm
  integrity?: IntegrityAlgorithm
  confidentiality?: ConfidentialityAlgorithm
}

export interface Algorithms {
  auth: AuthAlgorithm
  integrity: IntegrityAlgorithm
  confidentiality: ConfidentialityAlgorithm
}

/**
 * Why RMCP+ cannot key this combination of algorithms, naming the one at
 * fault; undefined when it can. The integrity and confidentiality keys come
 * from the authentication exchange (IPMI v2.0 §13.28), and encryption is only
 * ever used with integrity.
 */
export function algorithmConflict (t: Algorithms): { field: 'integrity' | 'confidentiality', reason: string } | undefined {
  if (t.auth === 'NO_AUTHENTICATION_ALGORITHM' && t.integrity !== 'NO_INTEGRITY_ALGORITHM') {
    return { field: 'integrity', reason: 'integrity needs an authentication algorithm (RAKP_HMAC_SHA1 or RAKP_HMAC_SHA256)' }
  }
  if (t.integrity === 'NO_INTEGRITY_ALGORITHM' && t.confidentiality !== 'NO_ENCRYPTION_ALGORITHM') {
    return { field: 'confidentiality', reason: 'encryption needs an integrity algorithm (HMAC_SHA1_96 or HMAC_SHA256_128)' }
  }
  return undefined
}

/** Timing of one BMC's session; every field has a default in session.ts. */
export interface IpmiPolicy {
  /** Time to wait for one answer before retransmitting (ms). */
  retransmitMs: number
  /** Retransmissions of one request before it fails. */
  retries: number
  /** Upper bound for a whole request, session set-up included (ms); default 3000. */
  requestTimeoutMs: number
  /** An idle session is kept alive with a no-op request this often (ms). */
  keepAliveMs: number
}

/** Network functions (IPMI v2.0 §5.1, table 5-1), request codes. */
export const NETFN = {
  chassis: 0x00,
  sensorEvent: 0x04,
  app: 0x06,
  storage: 0x0a,
  /** Group extension (§5.1): DCMI commands carry group extension id 0xDC first. */
  groupExtension: 0x2c
} as const

/**
 * Sends one IPMI request to one BMC over its long-lived session and resolves
 * with the response data after the completion code. A non-zero completion
 * code rejects with IpmiCompletionError; no answer in time, an unreachable
 * BMC or a failed login reject with IpmiError (see errors below).
 * Requests to one BMC are queued: one in flight at a time.
 */
export interface IpmiRequester {
  request: (netFn: number, cmd: number, data?: Uint8Array) => Promise<Buffer>
}

type IpmiErrorKind = 'timeout' | 'auth' | 'session' | 'protocol' | 'closed'

/** Each kind's place in the one error family (drivers/errors.ts). */
const IPMI_ERROR_CODES: Record<IpmiErrorKind, OpenDcreErrorCode> = { timeout: 'timeout', auth: 'auth', session: 'session', protocol: 'malformed', closed: 'unavailable' }

/** A failed IPMI exchange; the message names the BMC by host:port, never the password. */
export class IpmiError extends OpenDcreError {
  constructor (readonly kind: IpmiErrorKind, message: string, options?: { cause?: unknown, code?: OpenDcreErrorCode }) {
    super(options?.code ?? IPMI_ERROR_CODES[kind], message, options)
    this.name = 'IpmiError'
  }
}

/**
 * The BMC's session table is full: Open Session answered "insufficient
 * resources" (RMCP+ status 0x01, or 0x0b at the requested role) until the
 * request's bound ran out. The bridge then leaves the BMC alone for
 * `retryAfterMs` (every request in that time fails at once with this error):
 * it adds no Open Session of its own to a table that is already full.
 */
export class BmcSessionsFullError extends IpmiError {
  constructor (readonly bmc: string, readonly retryAfterMs: number, readonly status: number) {
    super('session', `BMC ${bmc} has no free session (its session table is full: Open Session status 0x${status.toString(16).padStart(2, '0')}, insufficient resources); not asked again for ${Math.ceil(retryAfterMs / 1000)} s`)
    this.name = 'BmcSessionsFullError'
  }
}

/** The BMC answered with a non-zero completion code (IPMI v2.0 §5.2, table 5-2). */
export class IpmiCompletionError extends IpmiError {
  constructor (readonly netFn: number, readonly cmd: number, readonly completionCode: number, message: string) {
    super('protocol', message, { code: 'device-error' })
    this.name = 'IpmiCompletionError'
  }
}

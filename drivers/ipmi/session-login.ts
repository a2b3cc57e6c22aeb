/**
 * Logging in to a BMC (IPMI v2.0 §13.15 session activation): Get Channel
 * Authentication Capabilities (§22.13), Get Channel Cipher Suites (§22.15)
 * when the configuration names no algorithms, Open Session and RAKP 1-4
 * (§13.17-§13.23, RAKP-HMAC-SHA1 or RAKP-HMAC-SHA256, cipher suites 0-3 and
 * 17) and Set Session Privilege Level (§22.18). SessionLogin holds who logs
 * in (user, password key, algorithms) and the steps; IpmiSession (session.ts)
 * extends it with what carries the steps: the exchange primitive with its
 * retransmission, the request queue and the keep-alive.
 */
import type { DriverLogger } from '../logger.js'
import {
  AUTH_ALGORITHM_CODE,
  CIPHER_SUITES,
  CMD_GET_CHANNEL_CIPHER_SUITES,
  CIPHER_SUITE_DATA_CHUNK,
  CMD_GET_CHANNEL_AUTH_CAPABILITIES,
  CMD_SET_SESSION_PRIVILEGE_LEVEL,
  CONFIDENTIALITY_ALGORITHM_CODE,
  INTEGRITY_ALGORITHM_CODE,
  NETFN_APP,
  PAYLOAD_TYPE,
  PRIVILEGE,
  ROLE_NAME_ONLY_LOOKUP,
  cipherSuiteId,
  decodeCipherSuiteRecords,
  decodeGetChannelAuthCapabilities,
  decodeGetChannelCipherSuitesChunk,
  encodeGetChannelCipherSuites,
  strongestCipherSuite,
  decodeOpenSessionResponse,
  decodeRakp2,
  decodeRakp4,
  encodeGetChannelAuthCapabilities,
  encodeLanRequest,
  encodeOpenSessionRequest,
  encodeRakp1,
  encodeRakp3,
  encodeRmcpPlusPacket,
  encodeV15Packet,
  passwordKey,
  rakp2AuthCode,
  rakp3AuthCode,
  rakp4Icv,
  rmcpPlusStatusText,
  sessionIntegrityKey,
  sessionKeys,
  type LanResponse,
  type RakpContext,
  type SessionKeys
} from './rmcp/index.js'
import { algorithmConflict, BmcSessionsFullError, IpmiError, type Algorithms, type BmcTarget } from './types.js'

/** Time, injectable: tests pass a fake, production the system clock. */
export interface Clock {
  now: () => number
  /** `unref`: the timer alone does not keep the process alive. */
  setTimeout: (fn: () => void, ms: number, unref?: boolean) => unknown
  clearTimeout: (handle: unknown) => void
}

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms, unref) => {
    const t = setTimeout(fn, ms)
    if (unref === true) t.unref()
    return t
  },
  clearTimeout: (handle) => clearTimeout(handle as ReturnType<typeof setTimeout>)
}

/** A decoded inbound message, handed to whatever exchange is pending. */
export type Inbound =
  | { kind: 'setup', payloadType: number, payload: Buffer }
  | { kind: 'v15', lan: LanResponse }
  | { kind: 'lan', lan: LanResponse }
  | { kind: 'replay' }

/** The in-session state; undefined while no session is active. */
export interface ActiveSession {
  consoleSessionId: number
  bmcSessionId: number
  keys: SessionKeys
  encrypted: boolean
  /** Outbound session sequence number (§13.6: starts at 1, never 0). */
  sequence: number
  /** Highest inbound session sequence number accepted, and the 32 below it seen (bit n = high - n). */
  inboundHigh: number
  inboundSeen: number
  privilege: number
}

/** Retries of one exchange used up before the overall deadline. */
/** After a request gave up on a full session table, the BMC is left alone this long (ms). */
export const BUSY_BACKOFF_MS = 2000

export class AttemptsExhausted extends Error {}

/** Fresh log-ins after a RAKP 4 that says the BMC's RAKP state is not the one the console answered. */
const MAX_RAKP_RESTARTS = 2

/** RAKP 4 refused a RAKP 3 made from a verified RAKP 2: the two sides are out of step, not the password wrong. */
class RakpOutOfStep extends Error {
  constructor (readonly reason: IpmiError) {
    super(reason.message)
  }
}
/** The overall deadline of the request passed. */
export class DeadlinePassed extends Error {}

const EMPTY = new Uint8Array(0)

export abstract class SessionLogin {
  protected readonly clock: Clock
  protected readonly log: DriverLogger
  protected readonly random: (size: number) => Buffer
  protected readonly label: string
  private readonly kuid: Buffer
  private readonly username: Buffer
  private tag = 0
  /** The configured algorithms, or the suite the BMC offered (asked at the first log-in); undefined until then. */
  protected algorithms: Algorithms | undefined
  /** Until then (clock ms), the BMC's session table is taken as full: log-ins fail at once (BmcSessionsFullError). */
  private busyUntil = 0
  private busyStatus = 0x01
  protected readonly negotiates: boolean

  constructor (protected readonly target: BmcTarget, clock: Clock, log: DriverLogger, random: (size: number) => Buffer) {
    this.clock = clock
    this.random = random
    this.label = `${target.host}:${target.port}`
    this.log = log.child({ bmc: this.label })
    // validated here so a bad entry fails loudly, but never echoed back
    this.kuid = passwordKey(target.password)
    const username = Buffer.from(target.username, 'latin1')
    // kept for the session's life: memory of its own, not a slice of Node's shared pool that keeps a whole 8 KB slab alive
    this.username = Buffer.from(username.buffer.slice(username.byteOffset, username.byteOffset + username.length))
    if (this.username.length > 16) throw new IpmiError('auth', `BMC ${this.label}: user names are at most 16 bytes`)
    const named = [target.auth, target.integrity, target.confidentiality].filter((a) => a !== undefined).length
    if (named !== 0 && named !== 3) throw new IpmiError('session', `BMC ${this.label}: name all three algorithms or none`)
    this.negotiates = named === 0
    if (!this.negotiates) {
      this.algorithms = { auth: target.auth, integrity: target.integrity, confidentiality: target.confidentiality } as Algorithms
      const conflict = algorithmConflict(this.algorithms)
      if (conflict !== undefined) throw new IpmiError('session', `BMC ${this.label}: ${conflict.reason}`)
    }
  }

  /** The cipher suite of the algorithms in use (configured or negotiated); undefined before a negotiating session's first log-in. */
  get cipherSuite (): number | undefined {
    const a = this.algorithms
    if (a === undefined) return undefined
    return cipherSuiteId(AUTH_ALGORITHM_CODE[a.auth], INTEGRITY_ALGORITHM_CODE[a.integrity], CONFIDENTIALITY_ALGORITHM_CODE[a.confidentiality])
  }

  /** Carries one datagram to the BMC and back, with retransmission (session.ts). */
  protected abstract exchange (datagram: Buffer, match: (m: Inbound) => boolean, deadline: number): Promise<Inbound>
  /** Sends a datagram and does not wait. */
  protected abstract send (datagram: Buffer): void
  /** One IPMI request inside the active session. */
  protected abstract sendInSession (netFn: number, cmd: number, data: Uint8Array, deadline: number): Promise<LanResponse>
  protected abstract nextRqSeq (): number

  protected async getChannelAuthCapabilities (deadline: number): Promise<void> {
    const rqSeq = this.nextRqSeq()
    const datagram = encodeV15Packet(encodeLanRequest({
      netFn: NETFN_APP, cmd: CMD_GET_CHANNEL_AUTH_CAPABILITIES, rqSeq, data: encodeGetChannelAuthCapabilities(PRIVILEGE.administrator)
    }))
    const m = await this.exchange(datagram, (m) => m.kind === 'v15' && m.lan.rqSeq === rqSeq && m.lan.cmd === CMD_GET_CHANNEL_AUTH_CAPABILITIES, deadline)
    const lan = (m as { lan: LanResponse }).lan
    // 0xCC: administrator above the channel's limit; RMCP+ may still allow a lower role
    if (lan.completionCode !== 0 && lan.completionCode !== 0xcc) {
      throw new IpmiError('protocol', `BMC ${this.label} refused Get Channel Authentication Capabilities (completion code 0x${hex(lan.completionCode)})`)
    }
    if (lan.completionCode === 0 && !decodeGetChannelAuthCapabilities(lan.data).ipmi20) {
      throw new IpmiError('protocol', `BMC ${this.label} does not support IPMI v2.0 (RMCP+) on this channel`)
    }
  }

  /**
   * §22.15 Get Channel Cipher Suites, outside a session (authtype none), list
   * by cipher suite, 16 bytes of records per answer until a short one; then
   * the strongest suite of 17, 3, 2, 1, 0 that the BMC offers. A BMC that
   * does not know the command is offered suite 3, the v1.2 bridge's usual.
   */
  protected async chooseCipherSuite (deadline: number): Promise<Algorithms> {
    const chunks: Buffer[] = []
    for (let index = 0; index < 64; index++) {
      const rqSeq = this.nextRqSeq()
      const datagram = encodeV15Packet(encodeLanRequest({ netFn: NETFN_APP, cmd: CMD_GET_CHANNEL_CIPHER_SUITES, rqSeq, data: encodeGetChannelCipherSuites(index) }))
      const m = await this.exchange(datagram, (m) => m.kind === 'v15' && m.lan.rqSeq === rqSeq && m.lan.cmd === CMD_GET_CHANNEL_CIPHER_SUITES, deadline)
      const lan = (m as { lan: LanResponse }).lan
      if (lan.completionCode !== 0) {
        if (index > 0) break
        this.log.info({ event: 'ipmi-cipher-suites-unknown', completionCode: lan.completionCode }, 'BMC does not list its cipher suites; proposing suite 3')
        return { ...CIPHER_SUITES[3] }
      }
      const { records } = decodeGetChannelCipherSuitesChunk(lan.data)
      chunks.push(records)
      if (records.length < CIPHER_SUITE_DATA_CHUNK) break
    }
    const offered = decodeCipherSuiteRecords(Buffer.concat(chunks))
    const id = strongestCipherSuite(offered)
    if (id === undefined) {
      throw new IpmiError('session', `BMC ${this.label} offers no cipher suite the bridge speaks (offered: ${offered.map((r) => r.id).join(', ') || 'none'}; the bridge speaks 17, 3, 2, 1, 0)`)
    }
    this.log.info({ event: 'ipmi-cipher-suite', cipherSuite: id, offered: offered.map((r) => r.id) }, `using cipher suite ${id}`)
    const { auth, integrity, confidentiality } = CIPHER_SUITES[id]
    return { auth, integrity, confidentiality }
  }

  protected async openAndAuthenticate (algorithms: Algorithms, deadline: number): Promise<ActiveSession> {
    const auth = AUTH_ALGORITHM_CODE[algorithms.auth]
    const integrity = INTEGRITY_ALGORITHM_CODE[algorithms.integrity]
    const confidentiality = CONFIDENTIALITY_ALGORITHM_CODE[algorithms.confidentiality]
    let privilege: number = PRIVILEGE.administrator
    let backoff = 50
    let restarts = 0
    let refusedBusy = false
    let busyStatus = 0x01
    // the BMC said it is full, and a request gave up on it lately: fail at once, without another Open Session
    const leftToWait = this.busyUntil - this.clock.now()
    if (leftToWait > 0) throw new BmcSessionsFullError(this.label, leftToWait, this.busyStatus)
    const noFreeSession = (): IpmiError => {
      this.busyUntil = this.clock.now() + BUSY_BACKOFF_MS
      this.busyStatus = busyStatus
      this.log.warn({ event: 'ipmi-session-table-full', status: busyStatus, backoff_ms: BUSY_BACKOFF_MS }, 'BMC has no free session: leaving it alone for a while')
      return new BmcSessionsFullError(this.label, BUSY_BACKOFF_MS, busyStatus)
    }
    for (;;) {
      const consoleSessionId = this.random(4).readUInt32LE(0) || 1
      const tag = this.nextTag()
      let open: Buffer
      try {
        open = await this.setup(PAYLOAD_TYPE.openSessionRequest, encodeOpenSessionRequest({
          tag, privilege, consoleSessionId, auth, integrity, confidentiality
        }), PAYLOAD_TYPE.openSessionResponse, tag, consoleSessionId, deadline)
      } catch (err) {
        // the bound ran out while the BMC kept saying it is full: that is the reason, not the silence
        if (refusedBusy && (err instanceof AttemptsExhausted || err instanceof DeadlinePassed)) throw noFreeSession()
        throw err
      }
      const r = decodeOpenSessionResponse(open)
      if (r.status === 0x01 || r.status === 0x0b) {
        // insufficient resources: too many sessions on the BMC. Back off, try again within the bound.
        refusedBusy = true
        busyStatus = r.status
        const wait = Math.min(backoff, deadline - this.clock.now())
        this.log.debug({ event: 'ipmi-open-session-busy', status: r.status }, 'BMC has no free session, backing off')
        if (wait <= 0) throw noFreeSession()
        await this.sleep(wait)
        if (this.clock.now() >= deadline) throw noFreeSession()
        backoff = Math.min(backoff * 2, 500)
        continue
      }
      if ((r.status === 0x09 || r.status === 0x0a) && privilege > PRIVILEGE.user) {
        privilege--
        continue
      }
      if (r.status === 0x0d) throw this.authError(`Open Session: ${rmcpPlusStatusText(r.status)}`)
      if (r.status !== 0) {
        throw new IpmiError('session', `BMC ${this.label} refused Open Session: ${rmcpPlusStatusText(r.status)}`)
      }
      if (r.auth !== auth || r.integrity !== integrity || r.confidentiality !== confidentiality) {
        throw new IpmiError('session', `BMC ${this.label} answered Open Session with other algorithms than proposed`)
      }
      const bmcSessionId = r.bmcSessionId as number
      if (bmcSessionId === 0) throw new IpmiError('protocol', `BMC ${this.label} gave session id 0`)
      try {
        return await this.rakp(consoleSessionId, bmcSessionId, privilege, auth, integrity, confidentiality, deadline)
      } catch (err) {
        if (!(err instanceof RakpOutOfStep)) throw err
        // a fresh session from Open Session on, at most twice, within the request's time
        if (++restarts > MAX_RAKP_RESTARTS || this.clock.now() >= deadline) throw err.reason
        this.log.info({ event: 'ipmi-rakp-restart', reason: err.reason.message }, 'RAKP out of step with the BMC (a retransmission answered twice): logging in again')
      }
    }
  }

  private async rakp (consoleSessionId: number, bmcSessionId: number, privilege: number, auth: number,
    integrity: number, confidentiality: number, deadline: number): Promise<ActiveSession> {
    const consoleRandom = Buffer.from(this.random(16))
    const role = privilege | ROLE_NAME_ONLY_LOOKUP
    const tag1 = this.nextTag()
    const r2 = decodeRakp2(await this.setup(PAYLOAD_TYPE.rakp1, encodeRakp1({
      tag: tag1, bmcSessionId, consoleRandom, role, username: this.username
    }), PAYLOAD_TYPE.rakp2, tag1, consoleSessionId, deadline))
    if (r2.status !== 0) throw this.authError(`RAKP 2: ${rmcpPlusStatusText(r2.status)}`)
    const ctx: RakpContext = {
      consoleSessionId,
      bmcSessionId,
      consoleRandom,
      bmcRandom: r2.bmcRandom as Buffer,
      bmcGuid: r2.bmcGuid as Buffer,
      role,
      username: this.username
    }
    const rakp = auth !== AUTH_ALGORITHM_CODE.NO_AUTHENTICATION_ALGORITHM
    let sik: Buffer | undefined
    const tag3 = this.nextTag()
    if (rakp) {
      const expected = rakp2AuthCode(this.kuid, ctx, auth)
      if (r2.authCode === undefined || !expected.equals(r2.authCode)) {
        // tell the BMC to drop the half-open session (§13.22 RAKP 3 with an error status)
        this.send(encodeRmcpPlusPacket({ payloadType: PAYLOAD_TYPE.rakp3, sessionId: 0, sequence: 0, payload: encodeRakp3({ tag: tag3, status: 0x0f, bmcSessionId, authCode: EMPTY }) }))
        throw this.authError('RAKP 2 key exchange auth code mismatch (wrong password?)')
      }
      sik = sessionIntegrityKey(this.kuid, ctx, auth)
    }
    const r4 = decodeRakp4(await this.setup(PAYLOAD_TYPE.rakp3, encodeRakp3({
      tag: tag3, status: 0, bmcSessionId, authCode: rakp ? rakp3AuthCode(this.kuid, ctx, auth) : EMPTY
    }), PAYLOAD_TYPE.rakp4, tag3, consoleSessionId, deadline))
    // RAKP 2 verified, so both sides hold the same password key: a RAKP 3 the BMC finds wrong (or a session it
    // no longer knows) was made from another RAKP 2 than its current one (it ran a retransmitted RAKP 1 again)
    if (r4.status === 0x0f || r4.status === 0x02) throw new RakpOutOfStep(this.authError(`RAKP 4: ${rmcpPlusStatusText(r4.status)}`))
    if (r4.status !== 0) throw this.authError(`RAKP 4: ${rmcpPlusStatusText(r4.status)}`)
    if (sik !== undefined && !rakp4Icv(sik, ctx, auth).equals(r4.icv)) throw this.authError('RAKP 4 integrity check value mismatch')
    return {
      consoleSessionId,
      bmcSessionId,
      keys: sessionKeys(sik, integrity, confidentiality, auth),
      encrypted: confidentiality !== 0,
      sequence: 1,
      inboundHigh: 0,
      inboundSeen: 0,
      privilege
    }
  }

  protected async setPrivilege (active: ActiveSession, deadline: number): Promise<void> {
    for (let level = active.privilege; level >= PRIVILEGE.user; level--) {
      const lan = await this.sendInSession(NETFN_APP, CMD_SET_SESSION_PRIVILEGE_LEVEL, Uint8Array.of(level), deadline)
      if (lan.completionCode === 0) {
        active.privilege = level
        return
      }
      // 0x80/0x81: role not available for this user or this session; try the next lower
      if (lan.completionCode !== 0x80 && lan.completionCode !== 0x81 && lan.completionCode !== 0xd4) {
        throw new IpmiError('session', `BMC ${this.label} refused Set Session Privilege Level (completion code 0x${hex(lan.completionCode)})`)
      }
    }
    throw this.authError('no privilege level above callback allowed')
  }

  private authError (detail: string): IpmiError {
    return new IpmiError('auth', `authentication failed for BMC ${this.label} (user "${this.target.username}"): ${detail}`)
  }

  /** One session set-up exchange (sid 0, sequence 0), matched by payload type, message tag and our session id. */
  private async setup (payloadType: number, payload: Buffer, answerType: number, tag: number, consoleSessionId: number, deadline: number): Promise<Buffer> {
    const datagram = encodeRmcpPlusPacket({ payloadType, sessionId: 0, sequence: 0, payload })
    const m = await this.exchange(datagram, (m) => {
      if (m.kind !== 'setup' || m.payloadType !== answerType || m.payload[0] !== tag) return false
      // error answers may be 2 bytes (tag and status); otherwise our session id is at 4..7
      return m.payload.length < 8 || m.payload.readUInt32LE(4) === consoleSessionId
    }, deadline)
    return (m as { payload: Buffer }).payload
  }

  private sleep (ms: number): Promise<void> {
    return new Promise((resolve) => { this.clock.setTimeout(resolve, ms) })
  }

  private nextTag (): number {
    this.tag = (this.tag + 1) & 0xff
    return this.tag
  }
}

function hex (n: number): string {
  return n.toString(16).padStart(2, '0')
}

/**
 * §6.12.13: inbound session sequence numbers are checked against a sliding
 * window, so an authentic datagram replayed later is not taken for a new
 * answer. Accepts a number above the highest seen, or one of the 32 below it
 * not seen yet.
 */
export function acceptSequence (s: ActiveSession, seq: number): boolean {
  if (seq === 0) return false
  if (seq > s.inboundHigh) {
    const shift = seq - s.inboundHigh
    s.inboundSeen = shift >= 32 ? 1 : ((s.inboundSeen << shift) | 1) >>> 0
    s.inboundHigh = seq
    return true
  }
  const back = s.inboundHigh - seq
  if (back >= 32) return false
  const bit = (1 << back) >>> 0
  if ((s.inboundSeen & bit) !== 0) return false
  s.inboundSeen = (s.inboundSeen | bit) >>> 0
  return true
}

/**
 * One long-lived IPMI v2.0 RMCP+ session per BMC (IPMI v2.0 §13.15 session
 * activation, §22.15 Get Channel Cipher Suites when the configuration names
 * no algorithms, §13.17-§13.23 Open Session and RAKP with RAKP-HMAC-SHA1 or
 * RAKP-HMAC-SHA256 (cipher suites 0-3 and 17), §22.18 Set Session
 * Privilege Level, §22.19 Close Session). This is the one place that owns
 * session ids, sequence numbers, keys, retransmission, timeouts, re-login and
 * the request queue (one request in flight per BMC). It implements
 * IpmiRequester; the command layer never sees any of this.
 *
 * Retransmission sends the identical datagram again (same session sequence
 * number, same rqSeq). A BMC that executed the first copy and lost its answer
 * may execute the command twice; IPMI has no "repeat the last answer" like the
 * device bus, and for the idempotent commands the bridge sends (reads, chassis
 * power on/off, identify, boot flags) a repeat is harmless. A power cycle or
 * reset that is re-sent could act twice, which is the accepted simplification.
 */
import { randomBytes, randomFillSync } from 'node:crypto'
import { logs, silentLogger, type DriverLogger } from '../logger.js'
import {
  AUTH_ALGORITHM_CODE,
  CIPHER_SUITES,
  CMD_CLOSE_SESSION,
  CMD_GET_CHANNEL_CIPHER_SUITES,
  CIPHER_SUITE_DATA_CHUNK,
  CMD_GET_CHANNEL_AUTH_CAPABILITIES,
  CMD_GET_DEVICE_ID,
  CMD_SET_SESSION_PRIVILEGE_LEVEL,
  CONFIDENTIALITY_ALGORITHM_CODE,
  INTEGRITY_ALGORITHM_CODE,
  NETFN_APP,
  PAYLOAD_TYPE,
  PRIVILEGE,
  ROLE_NAME_ONLY_LOOKUP,
  AUTHTYPE_RMCP_PLUS,
  cipherSuiteId,
  decodeCipherSuiteRecords,
  decodeGetChannelAuthCapabilities,
  decodeGetChannelCipherSuitesChunk,
  encodeGetChannelCipherSuites,
  strongestCipherSuite,
  decodeLanResponse,
  decodeOpenSessionResponse,
  decodeRakp2,
  decodeRakp4,
  decodeRmcpPlusPacket,
  decodeV15Packet,
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
import { algorithmConflict, IpmiCompletionError, IpmiError, type Algorithms, type BmcTarget, type IpmiPolicy, type IpmiRequester } from './types.js'
import { udpTransportFactory, type DatagramTransport, type DatagramTransportFactory } from './udp-transport.js'

export const DEFAULT_IPMI_POLICY: Readonly<IpmiPolicy> = Object.freeze({
  retransmitMs: 700,
  retries: 2,
  requestTimeoutMs: 3000,
  // ipmi_sim expires an idle session after about 30 s (the spec suggests 60 s)
  keepAliveMs: 20000
})

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

export interface IpmiSessionOptions {
  /** Creates the datagram link to the BMC; default node:dgram. */
  transport?: DatagramTransportFactory
  policy?: Partial<IpmiPolicy>
  clock?: Clock
  log?: DriverLogger
  /** Random bytes (session ids, Rm, IVs); tests may fix them. */
  random?: (size: number) => Buffer
}

/** idle: no session yet (or closed cleanly); up: session active; down: the last log-in or request failed. */
export type IpmiSessionState = 'idle' | 'up' | 'down'

export interface IpmiSessionCounters {
  /** Requests accepted by request(), keep-alives excluded. */
  requests: number
  /** Sessions activated (RAKP 4 verified and privilege set). */
  sessionsEstablished: number
  /** Sessions dropped and logged in again to retry a request. */
  relogins: number
  /** Datagrams sent again after retransmitMs without an answer. */
  retransmits: number
  /** Requests that failed with IpmiError 'timeout'. */
  timeouts: number
  /** Log-ins refused: wrong password, unknown user, bad RAKP check values. */
  authFailures: number
  /** Requests that failed otherwise (auth, session, protocol, closed; completion codes excluded). */
  errors: number
  /** Requests answered with a non-zero completion code. */
  completionErrors: number
  /** Datagrams that could not be ours: runts, wrong session id, bad integrity, undecryptable, bad checksum. */
  garbage: number
  /** Valid datagrams nobody waited for (late answers to retransmissions). */
  stale: number
  /** Authentic in-session datagrams whose session sequence number was already seen or too old (§6.12.13 window). */
  replays: number
  /** Keep-alive requests sent on an idle session. */
  keepAlives: number
}

interface Job {
  netFn: number
  cmd: number
  data: Uint8Array
  deadline: number
  keepAlive: boolean
  resolve: (data: Buffer) => void
  reject: (err: unknown) => void
}

/** A decoded inbound message, handed to whatever exchange is pending. */
type Inbound =
  | { kind: 'setup', payloadType: number, payload: Buffer }
  | { kind: 'v15', lan: LanResponse }
  | { kind: 'lan', lan: LanResponse }
  | { kind: 'replay' }

interface Pending {
  datagram: Buffer
  match: (m: Inbound) => boolean
  retriesLeft: number
  deadline: number
  timer: unknown
  resolve: (m: Inbound) => void
  reject: (err: unknown) => void
}

/** The in-session state; undefined while no session is active. */
interface ActiveSession {
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
class AttemptsExhausted extends Error {}
/** The overall deadline of the request passed. */
class DeadlinePassed extends Error {}

const EMPTY = new Uint8Array(0)
const SETUP_PAYLOADS = new Set<number>([PAYLOAD_TYPE.openSessionResponse, PAYLOAD_TYPE.rakp2, PAYLOAD_TYPE.rakp4])

export class IpmiSession implements IpmiRequester {
  readonly counters: IpmiSessionCounters = {
    requests: 0,
    sessionsEstablished: 0,
    relogins: 0,
    retransmits: 0,
    timeouts: 0,
    authFailures: 0,
    errors: 0,
    completionErrors: 0,
    garbage: 0,
    stale: 0,
    replays: 0,
    keepAlives: 0
  }

  private readonly policy: IpmiPolicy
  private readonly clock: Clock
  private readonly log: DriverLogger
  private readonly random: (size: number) => Buffer
  private readonly transportFactory: DatagramTransportFactory
  private readonly label: string
  private readonly kuid: Buffer
  private readonly username: Buffer
  private readonly iv = Buffer.alloc(16)

  private transport: DatagramTransport | undefined
  private session: ActiveSession | undefined
  private pending: Pending | undefined
  private readonly queue: Job[] = []
  private busy = false
  private closed = false
  private closing: Promise<void> | undefined
  private drained: (() => void) | undefined
  private rqSeq = 0
  private tag = 0
  /** The configured algorithms, or the suite the BMC offered (asked at the first log-in); undefined until then. */
  private algorithms: Algorithms | undefined
  private readonly negotiates: boolean
  private lastActivity = 0
  private keepAliveTimer: unknown
  private _state: IpmiSessionState = 'idle'

  /** The BMC as host:port (the target itself, with its password, stays private). */
  readonly bmc: string

  constructor (private readonly target: BmcTarget, options: IpmiSessionOptions = {}) {
    this.policy = { ...DEFAULT_IPMI_POLICY, ...options.policy }
    this.clock = options.clock ?? systemClock
    this.random = options.random ?? randomBytes
    this.transportFactory = options.transport ?? udpTransportFactory
    this.label = `${target.host}:${target.port}`
    this.bmc = this.label
    this.log = (options.log ?? silentLogger).child({ bmc: this.label })
    // validated here so a bad entry fails loudly, but never echoed back
    this.kuid = passwordKey(target.password)
    this.username = Buffer.from(target.username, 'latin1')
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

  get state (): IpmiSessionState {
    return this._state
  }

  /** Sends one request over the session (logging in first when needed); resolves with the data after the completion code. */
  request (netFn: number, cmd: number, data: Uint8Array = EMPTY): Promise<Buffer> {
    if (this.closed) return Promise.reject(new IpmiError('closed', `IPMI session to BMC ${this.label} is closed`))
    this.counters.requests++
    return new Promise((resolve, reject) => {
      this.queue.push({ netFn, cmd, data, deadline: this.clock.now() + this.policy.requestTimeoutMs, keepAlive: false, resolve, reject })
      if (!this.busy) void this.pump()
    })
  }

  /** Closes the session on the BMC (Close Session) and frees the socket; queued requests fail with 'closed'. */
  close (): Promise<void> {
    if (this.closing !== undefined) return this.closing
    this.closed = true
    this.closing = this.shutdown()
    return this.closing
  }

  private async shutdown (): Promise<void> {
    const queued = this.queue.splice(0)
    for (const job of queued) job.reject(new IpmiError('closed', `IPMI session to BMC ${this.label} is closed`))
    if (this.busy) await new Promise<void>((resolve) => { this.drained = resolve })
    this.stopKeepAlive()
    if (this.session !== undefined && this.transport !== undefined) {
      const deadline = this.clock.now() + Math.min(this.policy.requestTimeoutMs, 2 * this.policy.retransmitMs)
      try {
        await this.closeSessionOnBmc(deadline)
      } catch {
        // the BMC will expire it
      }
    }
    this.session = undefined
    this._state = 'idle'
    const transport = this.transport
    this.transport = undefined
    await transport?.close()
  }

  // -------------------------------------------------------------------------
  // the queue: one request in flight per BMC

  private async pump (): Promise<void> {
    this.busy = true
    try {
      for (let job = this.queue.shift(); job !== undefined; job = this.queue.shift()) {
        try {
          job.resolve(await this.run(job))
        } catch (err) {
          this.count(err, job)
          job.reject(err)
        }
        this.lastActivity = this.clock.now()
      }
    } finally {
      this.busy = false
      const drained = this.drained
      this.drained = undefined
      drained?.()
    }
  }

  private count (err: unknown, job: Job): void {
    if (job.keepAlive) return
    if (err instanceof IpmiCompletionError) this.counters.completionErrors++
    else if (err instanceof IpmiError && err.kind === 'timeout') this.counters.timeouts++
    else this.counters.errors++
  }

  private async run (job: Job): Promise<Buffer> {
    let relogged = false
    for (;;) {
      if (this.clock.now() >= job.deadline) throw this.timeoutError(job, 'waiting in the queue')
      if (this.session === undefined) {
        if (job.keepAlive) throw new IpmiError('session', 'no session to keep alive')
        await this.login(job.deadline)
      }
      try {
        const lan = await this.sendInSession(job.netFn, job.cmd, job.data, job.deadline)
        if (lan.completionCode !== 0) {
          throw new IpmiCompletionError(job.netFn, job.cmd, lan.completionCode,
            `BMC ${this.label} answered netFn 0x${hex(job.netFn)} cmd 0x${hex(job.cmd)} with completion code 0x${hex(lan.completionCode)}`)
        }
        return lan.data
      } catch (err) {
        if (!(err instanceof AttemptsExhausted || err instanceof DeadlinePassed)) throw err
        // no answer inside an established session: the BMC restarted, expired
        // the session, or is gone. Drop it; log in again once if time is left.
        this.dropSession('no answer in session')
        if (err instanceof AttemptsExhausted && !relogged && !job.keepAlive && this.clock.now() < job.deadline) {
          relogged = true
          this.counters.relogins++
          this.log.info({ event: 'ipmi-relogin' }, 'no answer in the IPMI session, logging in again')
          continue
        }
        throw this.timeoutError(job, 'in session')
      }
    }
  }

  private timeoutError (job: Job, where: string): IpmiError {
    return new IpmiError('timeout', `no answer from BMC ${this.label} for netFn 0x${hex(job.netFn)} cmd 0x${hex(job.cmd)} (${where}) within ${this.policy.requestTimeoutMs} ms`)
  }

  // -------------------------------------------------------------------------
  // session activation (§13.15): Get Channel Auth Capabilities, Open Session, RAKP 1-4, Set Session Privilege Level

  private async login (deadline: number): Promise<void> {
    this.ensureTransport()
    try {
      await this.getChannelAuthCapabilities(deadline)
      if (this.algorithms === undefined) this.algorithms = await this.chooseCipherSuite(deadline)
      const active = await this.openAndAuthenticate(this.algorithms, deadline)
      this.session = active
      await this.setPrivilege(active, deadline)
      this._state = 'up'
      this.counters.sessionsEstablished++
      this.lastActivity = this.clock.now()
      this.startKeepAlive()
      this.log.debug({ event: 'ipmi-session-up', privilege: active.privilege, sessionId: active.bmcSessionId }, 'IPMI session established')
    } catch (err) {
      // activated but the privilege step failed: close it on the BMC rather than leave it to expire
      this.dropSession('log-in failed')
      this._state = 'down'
      // ask again next time: the BMC may have been reconfigured or replaced
      if (this.negotiates) this.algorithms = undefined
      if (err instanceof IpmiError && err.kind === 'auth') this.counters.authFailures++
      if (err instanceof AttemptsExhausted || err instanceof DeadlinePassed) {
        throw new IpmiError('timeout', `no answer from BMC ${this.label} while logging in within ${this.policy.requestTimeoutMs} ms`)
      }
      throw err
    }
  }

  private async getChannelAuthCapabilities (deadline: number): Promise<void> {
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
  private async chooseCipherSuite (deadline: number): Promise<Algorithms> {
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

  private async openAndAuthenticate (algorithms: Algorithms, deadline: number): Promise<ActiveSession> {
    const auth = AUTH_ALGORITHM_CODE[algorithms.auth]
    const integrity = INTEGRITY_ALGORITHM_CODE[algorithms.integrity]
    const confidentiality = CONFIDENTIALITY_ALGORITHM_CODE[algorithms.confidentiality]
    let privilege: number = PRIVILEGE.administrator
    let backoff = 50
    let refusedBusy = false
    const noFreeSession = (): IpmiError => new IpmiError('session', `BMC ${this.label} has no free session (${rmcpPlusStatusText(0x01)})`)
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
      return await this.rakp(consoleSessionId, bmcSessionId, privilege, auth, integrity, confidentiality, deadline)
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

  private async setPrivilege (active: ActiveSession, deadline: number): Promise<void> {
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

  // -------------------------------------------------------------------------
  // in-session messages

  private sendInSession (netFn: number, cmd: number, data: Uint8Array, deadline: number): Promise<LanResponse> {
    const s = this.session
    if (s === undefined) return Promise.reject(new IpmiError('session', `no IPMI session to BMC ${this.label}`))
    const rqSeq = this.nextRqSeq()
    const payload = encodeLanRequest({ netFn, cmd, rqSeq, data })
    const datagram = this.wrap(s, payload)
    const answerNetFn = netFn | 1
    return this.exchange(datagram, (m) => m.kind === 'lan' && m.lan.rqSeq === rqSeq && m.lan.cmd === cmd && m.lan.netFn === answerNetFn, deadline)
      .then((m) => (m as { lan: LanResponse }).lan)
  }

  private wrap (s: ActiveSession, payload: Buffer): Buffer {
    const sequence = s.sequence
    s.sequence = (s.sequence + 1) >>> 0 || 1
    if (s.encrypted) randomFillSync(this.iv)
    return encodeRmcpPlusPacket({ payloadType: PAYLOAD_TYPE.ipmi, sessionId: s.bmcSessionId, sequence, payload, keys: s.keys, iv: this.iv })
  }

  private async closeSessionOnBmc (deadline: number): Promise<void> {
    const s = this.session
    if (s === undefined) return
    const id = Buffer.allocUnsafe(4)
    id.writeUInt32LE(s.bmcSessionId, 0)
    await this.sendInSession(NETFN_APP, CMD_CLOSE_SESSION, id, deadline)
  }

  /** Forgets the session; sends Close Session once, without waiting, in case the BMC still has it. */
  private dropSession (why: string): void {
    const s = this.session
    if (s === undefined) return
    this.stopKeepAlive()
    const id = Buffer.allocUnsafe(4)
    id.writeUInt32LE(s.bmcSessionId, 0)
    this.send(this.wrap(s, encodeLanRequest({ netFn: NETFN_APP, cmd: CMD_CLOSE_SESSION, rqSeq: this.nextRqSeq(), data: id })))
    this.session = undefined
    this._state = 'down'
    this.log.debug({ event: 'ipmi-session-dropped', reason: why }, 'IPMI session dropped')
  }

  // -------------------------------------------------------------------------
  // keep-alive: one unref'd timer per session, re-armed when it fires every
  // keepAliveMs / 4; a session is never idle longer than keepAliveMs

  private startKeepAlive (): void {
    this.stopKeepAlive()
    const quarter = Math.max(1, Math.floor(this.policy.keepAliveMs / 4))
    const tick = (): void => {
      this.keepAliveTimer = undefined
      if (this.session === undefined || this.closed) return
      if (!this.busy && this.queue.length === 0 && this.clock.now() - this.lastActivity >= 3 * quarter) {
        this.counters.keepAlives++
        this.queue.push({
          netFn: NETFN_APP,
          cmd: CMD_GET_DEVICE_ID,
          data: EMPTY,
          deadline: this.clock.now() + this.policy.requestTimeoutMs,
          keepAlive: true,
          resolve: () => {},
          reject: () => {}
        })
        void this.pump()
      }
      this.keepAliveTimer = this.clock.setTimeout(tick, quarter, true)
    }
    this.keepAliveTimer = this.clock.setTimeout(tick, quarter, true)
  }

  private stopKeepAlive (): void {
    if (this.keepAliveTimer !== undefined) this.clock.clearTimeout(this.keepAliveTimer)
    this.keepAliveTimer = undefined
  }

  // -------------------------------------------------------------------------
  // the one exchange primitive: send, retransmit, match, time out

  private exchange (datagram: Buffer, match: (m: Inbound) => boolean, deadline: number): Promise<Inbound> {
    return new Promise((resolve, reject) => {
      const now = this.clock.now()
      if (now >= deadline) {
        reject(new DeadlinePassed())
        return
      }
      const p: Pending = { datagram, match, retriesLeft: this.policy.retries, deadline, timer: undefined, resolve, reject }
      this.pending = p
      p.timer = this.clock.setTimeout(() => this.onTimer(p), Math.min(this.policy.retransmitMs, deadline - now))
      this.send(datagram)
    })
  }

  private onTimer (p: Pending): void {
    if (this.pending !== p) return
    const now = this.clock.now()
    if (now >= p.deadline) {
      this.pending = undefined
      p.reject(new DeadlinePassed())
      return
    }
    if (p.retriesLeft <= 0) {
      this.pending = undefined
      p.reject(new AttemptsExhausted())
      return
    }
    p.retriesLeft--
    this.counters.retransmits++
    p.timer = this.clock.setTimeout(() => this.onTimer(p), Math.min(this.policy.retransmitMs, p.deadline - now))
    this.send(p.datagram)
  }

  private send (datagram: Buffer): void {
    if (logs(this.log, 'trace')) this.log.trace({ tx: datagram.toString('hex') }, 'ipmi tx')
    this.transport?.send(datagram)
  }

  private ensureTransport (): void {
    if (this.transport !== undefined) return
    const transport = this.transportFactory(this.target.host, this.target.port)
    transport.onMessage((datagram) => this.onDatagram(datagram))
    this.transport = transport
  }

  private onDatagram (datagram: Buffer): void {
    if (logs(this.log, 'trace')) this.log.trace({ rx: datagram.toString('hex') }, 'ipmi rx')
    let m: Inbound
    try {
      m = this.decode(datagram)
    } catch {
      this.counters.garbage++
      return
    }
    if (m.kind === 'replay') {
      this.counters.replays++
      return
    }
    const p = this.pending
    if (p === undefined || !p.match(m)) {
      this.counters.stale++
      return
    }
    this.pending = undefined
    this.clock.clearTimeout(p.timer)
    p.resolve(m)
  }

  /** Decodes whatever arrived; throws on anything that cannot be a datagram for us. */
  private decode (datagram: Buffer): Inbound {
    if (datagram.length < 16) throw new IpmiError('protocol', 'runt datagram')
    if ((datagram[4] & 0x0f) !== AUTHTYPE_RMCP_PLUS) {
      // outside any session (authtype none): only ever the answer to Get Channel Auth Capabilities
      return { kind: 'v15', lan: decodeLanResponse(decodeV15Packet(datagram).message) }
    }
    const sessionId = datagram.readUInt32LE(6)
    if (sessionId === 0) {
      const p = decodeRmcpPlusPacket(datagram)
      if (!SETUP_PAYLOADS.has(p.payloadType)) throw new IpmiError('protocol', 'unexpected payload outside a session')
      return { kind: 'setup', payloadType: p.payloadType, payload: p.payload }
    }
    const s = this.session
    if (s === undefined || sessionId !== s.consoleSessionId) throw new IpmiError('protocol', 'datagram for another session')
    const p = decodeRmcpPlusPacket(datagram, s.keys)
    if (p.payloadType !== PAYLOAD_TYPE.ipmi) throw new IpmiError('protocol', 'not an IPMI message payload')
    const lan = decodeLanResponse(p.payload)
    if (!acceptSequence(s, p.sequence)) return { kind: 'replay' }
    return { kind: 'lan', lan }
  }

  private sleep (ms: number): Promise<void> {
    return new Promise((resolve) => { this.clock.setTimeout(resolve, ms) })
  }

  private nextRqSeq (): number {
    this.rqSeq = (this.rqSeq + 1) & 0x3f
    return this.rqSeq
  }

  private nextTag (): number {
    this.tag = (this.tag + 1) & 0xff
    return this.tag
  }
}

/**
 * §6.12.13: inbound session sequence numbers are checked against a sliding
 * window, so an authentic datagram replayed later is not taken for a new
 * answer. Accepts a number above the highest seen, or one of the 32 below it
 * not seen yet.
 */
function acceptSequence (s: ActiveSession, seq: number): boolean {
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

function hex (n: number): string {
  return n.toString(16).padStart(2, '0')
}

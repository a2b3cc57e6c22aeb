/**
 * One long-lived IPMI v2.0 RMCP+ session per BMC. The log-in steps (§13.15
 * session activation: cipher suite negotiation, Open Session, RAKP 1-4, Set
 * Session Privilege Level) are in session-login.ts, which IpmiSession
 * extends; here is what carries them and every request after: the exchange
 * primitive (send, retransmit, match, time out), the request queue (one
 * request in flight per BMC), re-login, the keep-alive, the inbound replay
 * window and §22.19 Close Session. Together they are the one place that owns
 * session ids, sequence numbers and keys. It implements IpmiRequester; the
 * command layer never sees any of this.
 *
 * Retransmission sends the identical datagram again (same session sequence
 * number, same rqSeq). A BMC that executed the first copy and lost its answer
 * may execute the command twice; IPMI has no "repeat the last answer" like the
 * device bus, and for the idempotent commands the bridge sends (reads, chassis
 * power on/off, identify, boot flags) a repeat is harmless. A power cycle or
 * reset that is re-sent could act twice, which is the accepted simplification.
 */
import { randomBytes } from 'node:crypto'
import { logs, silentLogger } from '../logger.js'
import { IvPool } from './packet-crypto.js'
import {
  AUTHTYPE_RMCP_PLUS,
  CMD_CLOSE_SESSION,
  CMD_GET_DEVICE_ID,
  NETFN_APP,
  PAYLOAD_TYPE,
  decodeLanResponse,
  decodeRmcpPlusPacket,
  decodeV15Packet,
  encodeLanRequest,
  encodeRmcpPlusPacket,
  type LanResponse
} from './rmcp/index.js'
import { acceptSequence, AttemptsExhausted, DeadlinePassed, SessionLogin, systemClock, type ActiveSession, type Inbound } from './session-login.js'
import { DEFAULT_IPMI_POLICY, type IpmiSessionCounters, type IpmiSessionOptions, type IpmiSessionState, type Job, type Pending } from './session-types.js'
import { IpmiCompletionError, IpmiError, type BmcTarget, type IpmiPolicy, type IpmiRequester } from './types.js'
import { udpTransportFactory, type DatagramTransport, type DatagramTransportFactory } from './udp-transport.js'

export type { Clock } from './session-login.js'
export { DEFAULT_IPMI_POLICY, type IpmiSessionOptions } from './session-types.js'

const EMPTY = new Uint8Array(0)
const SETUP_PAYLOADS = new Set<number>([PAYLOAD_TYPE.openSessionResponse, PAYLOAD_TYPE.rakp2, PAYLOAD_TYPE.rakp4])

export class IpmiSession extends SessionLogin implements IpmiRequester {
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
  private readonly transportFactory: DatagramTransportFactory
  /** AES-CBC-128 IVs, each used once (packet-crypto.ts). */
  private readonly ivs = new IvPool()

  private transport: DatagramTransport | undefined
  private session: ActiveSession | undefined
  private pending: Pending | undefined
  private readonly queue: Job[] = []
  /** The job in flight (one at a time). */
  private current: Job | undefined
  private busy = false
  private closed = false
  private closing: Promise<void> | undefined
  private drained: (() => void) | undefined
  private rqSeq = 0
  private lastActivity = 0
  private keepAliveTimer: unknown
  /**
   * The one retransmit timer, and when it fires: armed by an exchange that
   * finds none armed, left armed when the answer comes (the next exchange,
   * usually a few ms later, reuses it), re-armed when it fires early for the
   * exchange in flight, and not re-armed when none is. A board's 12 polls
   * cost one timer, not 12 set and cleared.
   */
  private retransmitTimer: unknown
  private retransmitAt = 0
  private readonly onRetransmitTimer = (): void => { this.retransmitFired() }
  /** Whether the trace level was on when the last datagram went out (its answer is traced alike). */
  private tracing = false
  private _state: IpmiSessionState = 'idle'

  /** The BMC as host:port (the target itself, with its password, stays private). */
  readonly bmc: string

  constructor (target: BmcTarget, options: IpmiSessionOptions = {}) {
    super(target, options.clock ?? systemClock, options.log ?? silentLogger, options.random ?? randomBytes)
    this.policy = { ...DEFAULT_IPMI_POLICY, ...options.policy }
    this.transportFactory = options.transport ?? udpTransportFactory
    this.bmc = this.label
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
      if (!this.busy) this.pump()
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
    this.stopRetransmit()
    const transport = this.transport
    this.transport = undefined
    await transport?.close()
  }

  // -------------------------------------------------------------------------
  // the queue: one request in flight per BMC

  /**
   * Starts the next job (the one in flight is `current`), or ends the run of
   * jobs. Every request comes here, so no async frame: a job in an
   * established session is one exchange and two handlers made once
   * (`attempt`); anything else (log-in, re-login, time-outs) goes through
   * `run`.
   */
  private pump (): void {
    const job = this.queue.shift()
    if (job === undefined) {
      this.current = undefined
      this.busy = false
      const drained = this.drained
      this.drained = undefined
      drained?.()
      return
    }
    this.busy = true
    this.current = job
    let done: Promise<Buffer>
    try {
      done = this.attempt(job)
    } catch (err) {
      done = Promise.reject(err)
    }
    done.then(this.jobDone, this.jobFailed)
  }

  private attempt (job: Job): Promise<Buffer> {
    if (this.session === undefined || this.clock.now() >= job.deadline) return this.run(job)
    return this.exchangeInSession(job.netFn, job.cmd, job.data, job.deadline).then(this.currentAnswered, this.currentUnanswered)
  }

  private readonly currentAnswered = (m: Inbound): Buffer => this.dataOf(this.current as Job, m)
  private readonly currentUnanswered = (err: unknown): Promise<Buffer> => this.run(this.current as Job, err)

  private readonly jobDone = (data: Buffer): void => {
    (this.current as Job).resolve(data)
    this.lastActivity = this.clock.now()
    this.pump()
  }

  private readonly jobFailed = (err: unknown): void => {
    const job = this.current as Job
    this.count(err, job)
    job.reject(err)
    this.lastActivity = this.clock.now()
    this.pump()
  }

  private count (err: unknown, job: Job): void {
    if (job.keepAlive) return
    if (err instanceof IpmiCompletionError) this.counters.completionErrors++
    else if (err instanceof IpmiError && err.kind === 'timeout') this.counters.timeouts++
    else this.counters.errors++
  }

  /** The data of an in-session answer, after its completion code (a non-zero one is an IpmiCompletionError). */
  private dataOf (job: Job, m: Inbound): Buffer {
    const lan = (m as { lan: LanResponse }).lan
    if (lan.completionCode !== 0) {
      throw new IpmiCompletionError(job.netFn, job.cmd, lan.completionCode,
        `BMC ${this.label} answered netFn 0x${hex(job.netFn)} cmd 0x${hex(job.cmd)} with completion code 0x${hex(lan.completionCode)}`)
    }
    return lan.data
  }

  /** A job the slow way: logging in first, logging in again once after no answer. `failed`: how its first exchange (attempt's) failed. */
  private async run (job: Job, failed?: unknown): Promise<Buffer> {
    let relogged = false
    let failure = failed
    for (;;) {
      if (failure === undefined) {
        if (this.clock.now() >= job.deadline) throw this.timeoutError(job, 'waiting in the queue')
        if (this.session === undefined) {
          if (job.keepAlive) throw new IpmiError('session', 'no session to keep alive')
          await this.login(job.deadline)
        }
        try {
          return this.dataOf(job, await this.exchangeInSession(job.netFn, job.cmd, job.data, job.deadline))
        } catch (err) {
          failure = err
        }
      }
      const err = failure
      failure = undefined
      // a completion code, a protocol error: the answer as it is
      if (!(err instanceof AttemptsExhausted || err instanceof DeadlinePassed)) throw err
      // no answer inside an established session: the BMC restarted, expired
      // the session, or is gone. Drop it and its socket; log in again once if time is left.
      this.dropSession('no answer in session')
      this.renewTransport()
      if (err instanceof AttemptsExhausted && !relogged && !job.keepAlive && this.clock.now() < job.deadline) {
        relogged = true
        this.counters.relogins++
        this.log.info({ event: 'ipmi-relogin' }, 'no answer in the IPMI session, logging in again')
        continue
      }
      throw this.timeoutError(job, 'in session')
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
        this.renewTransport()
        throw new IpmiError('timeout', `no answer from BMC ${this.label} while logging in within ${this.policy.requestTimeoutMs} ms`)
      }
      throw err
    }
  }

  // -------------------------------------------------------------------------
  // in-session messages

  protected sendInSession (netFn: number, cmd: number, data: Uint8Array, deadline: number): Promise<LanResponse> {
    return this.exchangeInSession(netFn, cmd, data, deadline).then((m) => (m as { lan: LanResponse }).lan)
  }

  /** One request in the session; resolves with its answer (kind 'lan'). */
  private exchangeInSession (netFn: number, cmd: number, data: Uint8Array, deadline: number): Promise<Inbound> {
    const s = this.session
    if (s === undefined) return Promise.reject(new IpmiError('session', `no IPMI session to BMC ${this.label}`))
    const rqSeq = this.nextRqSeq()
    const payload = encodeLanRequest({ netFn, cmd, rqSeq, data })
    const datagram = this.wrap(s, payload)
    const answerNetFn = netFn | 1
    return this.exchange(datagram, (m) => m.kind === 'lan' && m.lan.rqSeq === rqSeq && m.lan.cmd === cmd && m.lan.netFn === answerNetFn, deadline)
  }

  private wrap (s: ActiveSession, payload: Buffer): Buffer {
    const sequence = s.sequence
    s.sequence = (s.sequence + 1) >>> 0 || 1
    return encodeRmcpPlusPacket({ payloadType: PAYLOAD_TYPE.ipmi, sessionId: s.bmcSessionId, sequence, payload, keys: s.keys, iv: s.encrypted ? this.ivs.next() : undefined })
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
        this.pump()
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

  protected exchange (datagram: Buffer, match: (m: Inbound) => boolean, deadline: number): Promise<Inbound> {
    return new Promise((resolve, reject) => {
      const now = this.clock.now()
      if (now >= deadline) {
        reject(new DeadlinePassed())
        return
      }
      const p: Pending = { datagram, match, retriesLeft: this.policy.retries, deadline, due: now + Math.min(this.policy.retransmitMs, deadline - now), resolve, reject }
      this.pending = p
      this.armRetransmit(p.due)
      this.send(datagram)
    })
  }

  /** The timer fires at `due` or before it (then it is armed again for what is in flight). */
  private armRetransmit (due: number): void {
    if (this.retransmitTimer !== undefined) {
      if (this.retransmitAt <= due) return
      this.clock.clearTimeout(this.retransmitTimer)
    }
    this.retransmitAt = due
    // ref'd as the socket is (a process waiting for an answer stays up); close() clears it
    this.retransmitTimer = this.clock.setTimeout(this.onRetransmitTimer, Math.max(0, due - this.clock.now()))
  }

  private stopRetransmit (): void {
    if (this.retransmitTimer !== undefined) this.clock.clearTimeout(this.retransmitTimer)
    this.retransmitTimer = undefined
  }

  private retransmitFired (): void {
    this.retransmitTimer = undefined
    const p = this.pending
    if (p === undefined) return
    const now = this.clock.now()
    if (now < p.due) {
      // armed for an earlier exchange, answered since
      this.armRetransmit(p.due)
      return
    }
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
    p.due = now + Math.min(this.policy.retransmitMs, p.deadline - now)
    this.armRetransmit(p.due)
    this.send(p.datagram)
  }

  protected send (datagram: Buffer): void {
    // asked once per datagram sent; the answers to it are traced (or not) alike
    this.tracing = logs(this.log, 'trace')
    if (this.tracing) this.log.trace({ tx: datagram.toString('hex') }, 'ipmi tx')
    this.transport?.send(datagram)
  }

  /** Closes the socket (without waiting); the next log-in makes another, connected to wherever the BMC's name resolves then. */
  private renewTransport (): void {
    const transport = this.transport
    this.transport = undefined
    transport?.close().catch(() => {})
  }

  private ensureTransport (): void {
    if (this.transport !== undefined) return
    const transport = this.transportFactory(this.target.host, this.target.port)
    transport.onMessage((datagram) => this.onDatagram(datagram))
    this.transport = transport
  }

  private onDatagram (datagram: Buffer): void {
    if (this.tracing) this.log.trace({ rx: datagram.toString('hex') }, 'ipmi rx')
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
    // the retransmit timer stays armed for the next exchange (retransmitFired)
    this.pending = undefined
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

  protected nextRqSeq (): number {
    this.rqSeq = (this.rqSeq + 1) & 0x3f
    return this.rqSeq
  }
}

function hex (n: number): string {
  return n.toString(16).padStart(2, '0')
}

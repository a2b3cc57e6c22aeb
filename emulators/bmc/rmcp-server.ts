/**
 * The BMC side of IPMI over LAN (IPMI v2.0 §13): one UDP socket per BMC,
 * ASF presence ping, the pre-session IPMI v1.5 commands (Get Channel
 * Authentication Capabilities, Get Channel Cipher Suites), RMCP+ session
 * set-up (Open Session, RAKP 1-4 with RAKP-none, RAKP-HMAC-SHA1 or
 * RAKP-HMAC-SHA256), and in-session requests with per-session sequence
 * numbers, a replay window, privilege levels and idle expiry. Everything else
 * goes to the BmcDevice. The wire formats come from the client's codec
 * (drivers/ipmi/rmcp/); the session logic here is the BMC's own.
 *
 * Fault injection: `faults` (BmcFaults) drops or delays datagrams, reboots
 * (silence, then every session gone), fills the session table.
 */
import { createSocket, type RemoteInfo, type Socket } from 'node:dgram'
import { randomBytes, timingSafeEqual } from 'node:crypto'
import { isIP } from 'node:net'
import {
  AUTHTYPE_RMCP_PLUS, PAYLOAD_TYPE, RMCP_CLASS_ASF, RMCP_VERSION, AUTH_ALGORITHM_CODE, cipherSuiteId, decodeGetChannelCipherSuitesRequest,
  decodeLanRequest, decodeRakp1, decodeRakp3, decodeRmcpPlusPacket, decodeV15Packet, encodeCipherSuiteRecords,
  encodeGetChannelCipherSuitesChunk, encodeLanResponse, encodeOpenSessionResponse, encodeRakp2, encodeRakp4,
  encodeRmcpHeader, encodeRmcpPlusPacket, encodeV15Packet, passwordKey, rakp2AuthCode, rakp3AuthCode, rakp4Icv,
  sessionIntegrityKey, sessionKeys
} from '../../drivers/ipmi/rmcp/index.js'
import { logs, silentLogger, type DriverLogger } from '../../drivers/logger.js'
import type { BmcEmulatorConfig } from './bmc-emulator-config.js'
import type { ThresholdName } from './records.js'
import { BmcDevice, type BmcDeviceOptions } from './bmc-device.js'
import { CC, NETFN, PRIV, PRIVILEGE_LEVEL, type Answer } from './ipmi-codes.js'
import { SessionTable, SETUP_TIMEOUT_MS, type Session } from './session-table.js'

/** §13.24 table 13-15 RMCP+ status codes the BMC answers with. */
const RMCP_STATUS = {
  ok: 0x00,
  insufficientResources: 0x01,
  invalidSessionId: 0x02,
  invalidRole: 0x09,
  unauthorizedRole: 0x0a,
  unauthorizedName: 0x0d,
  invalidIntegrityCheck: 0x0f,
  noCipherSuiteMatch: 0x11
} as const

/** The replay window: sequence numbers accepted around the highest seen (§6.12.13: 16 for RMCP+). */
const SEQUENCE_WINDOW = 16

export interface BmcServerOptions extends BmcDeviceOptions {
  host?: string
  port?: number
  log?: DriverLogger
  /** An existing device (state survives a server restart); default: a new one from the config. */
  device?: BmcDevice
}

/** What tests and the CLI script: every fault of the emulated BMC. */
interface BmcFaults {
  /** Fraction (0-1) of incoming datagrams dropped at random. */
  dropRate: number
  /** The next n incoming datagrams are dropped. */
  dropNext: (n: number) => void
  /** Every answer is sent this many ms late. */
  delayMs: number
  /** Stops answering for `ms` (forever when undefined, until resume()); every session is lost, as in a BMC reboot. */
  reboot: (ms?: number) => void
  /** Answers again after reboot(). */
  resume: () => void
  /** Fills the session table with sessions of other consoles (Open Session then answers "insufficient resources"). */
  fillSessionTable: () => void
  /** Frees the slots that fillSessionTable took. */
  freeSessionTable: () => void
}

export class BmcServer {
  readonly device: BmcDevice
  readonly faults: BmcFaults
  private socket: Socket | undefined
  private readonly sessions: SessionTable
  private readonly now: () => number
  private readonly log: DriverLogger
  private readonly users: Array<{ name: Buffer, kuid: Buffer, privilege: number }>
  private readonly suites: number[]
  private readonly suiteRecords: Buffer
  private silentUntil = 0
  private dropCount = 0
  private timers = new Set<NodeJS.Timeout>()
  /** Counters for tests, the CLI and the bench. */
  readonly counters: { datagrams: number, dropped: number, sessionsOpened: number, sessionsRefused: number, rakpFailures: number, replays: number, readonly expired: number, readonly evicted: number }
  private boundPort = 0

  constructor (readonly config: BmcEmulatorConfig, private readonly options: BmcServerOptions = {}) {
    this.device = options.device ?? new BmcDevice(config, options)
    this.now = options.now ?? Date.now
    this.log = options.log ?? silentLogger
    this.users = config.users.map((u) => ({ name: Buffer.from(u.name, 'latin1'), kuid: passwordKey(u.password), privilege: PRIVILEGE_LEVEL[u.privilege] }))
    this.suites = [...new Set(config.cipher_suites)]
    this.suiteRecords = encodeCipherSuiteRecords(this.suites)
    const sessions = new SessionTable(config.session?.max_sessions ?? 16, (config.session?.idle_timeout_s ?? 60) * 1000, this.now, (config.session?.setup_timeout_s ?? SETUP_TIMEOUT_MS / 1000) * 1000)
    this.sessions = sessions
    this.counters = { datagrams: 0, dropped: 0, sessionsOpened: 0, sessionsRefused: 0, rakpFailures: 0, replays: 0, get expired () { return sessions.expired }, get evicted () { return sessions.evicted } }
    const f = config.faults ?? {}
    const server = this
    this.faults = {
      dropRate: f.drop ?? 0,
      delayMs: f.delay_ms ?? 0,
      dropNext: (n) => { server.dropCount += n },
      reboot: (ms) => {
        server.silentUntil = ms === undefined ? Number.POSITIVE_INFINITY : server.now() + ms
        server.sessions.clear()
        server.log.info({ ms }, 'BMC reboot: sessions lost, silent')
      },
      resume: () => { server.silentUntil = 0 },
      fillSessionTable: () => server.sessions.fillWithPhantoms(),
      freeSessionTable: () => server.sessions.freePhantoms()
    }
    if (f.session_table_full === true) this.faults.fillSessionTable()
    if (f.reboot_every_s !== undefined) {
      const t = setInterval(() => this.faults.reboot(f.reboot_ms ?? 5000), f.reboot_every_s * 1000)
      t.unref()
      this.timers.add(t)
    }
    if (f.sdr_change_after_s !== undefined) {
      this.after(f.sdr_change_after_s, () => this.device.replaceSensors(this.device.sensorConfigs.slice(0, -1)))
    }
    const crossing = f.threshold_crossing
    if (crossing !== undefined) {
      this.after(crossing.after_s, () => this.device.crossThreshold(crossing.sensor, crossing.threshold as ThresholdName))
    }
  }

  private after (seconds: number, run: () => void): void {
    const t = setTimeout(() => { this.timers.delete(t); run() }, seconds * 1000)
    t.unref()
    this.timers.add(t)
  }

  /** Binds the UDP socket; resolves with the port. */
  async listen (): Promise<number> {
    const host = this.options.host ?? '127.0.0.1'
    const socket = createSocket({ type: isIP(host) === 6 ? 'udp6' : 'udp4' })
    this.socket = socket
    socket.on('error', (err) => this.log.warn({ err: err.message }, 'BMC emulator socket error'))
    socket.on('message', (msg, rinfo) => this.receive(msg, rinfo))
    await new Promise<void>((resolve, reject) => {
      socket.once('error', reject)
      socket.bind(this.options.port ?? 0, host, () => {
        socket.off('error', reject)
        resolve()
      })
    })
    this.boundPort = socket.address().port
    return this.boundPort
  }

  get port (): number {
    return this.boundPort
  }

  async close (): Promise<void> {
    for (const t of this.timers) clearTimeout(t)
    this.timers.clear()
    const socket = this.socket
    this.socket = undefined
    if (socket !== undefined) await new Promise<void>((resolve) => socket.close(() => resolve()))
  }

  /** Sessions the BMC holds now (active or being set up), idle ones expired first. */
  get sessionCount (): number {
    return this.sessions.size
  }

  get activeSessionCount (): number {
    return this.sessions.activeCount
  }

  /** The cipher suite of each active session (tests check what a client negotiated). */
  get activeSuites (): number[] {
    return this.sessions.activeSuites
  }

  private send (datagram: Buffer, rinfo: RemoteInfo): void {
    const socket = this.socket
    if (socket === undefined) return
    const go = (): void => { if (this.socket !== undefined) socket.send(datagram, rinfo.port, rinfo.address, () => {}) }
    if (this.faults.delayMs > 0) {
      const t = setTimeout(() => { this.timers.delete(t); go() }, this.faults.delayMs)
      this.timers.add(t)
    } else go()
  }

  /** One datagram in. Anything that cannot be decoded is dropped, as a BMC does. */
  receive (msg: Buffer, rinfo: RemoteInfo): void {
    this.counters.datagrams++
    if (this.now() < this.silentUntil) return
    if (this.dropCount > 0) { this.dropCount--; this.counters.dropped++; return }
    if (this.faults.dropRate > 0 && Math.random() < this.faults.dropRate) { this.counters.dropped++; return }
    if (msg.length < 4 || msg[0] !== RMCP_VERSION) return
    try {
      if ((msg[3] & 0x1f) === RMCP_CLASS_ASF) return this.asf(msg, rinfo)
      if (msg.length < 5) return
      if ((msg[4] & 0x0f) === AUTHTYPE_RMCP_PLUS) return this.rmcpPlus(msg, rinfo)
      return this.preSession(msg, rinfo)
    } catch (err) {
      this.log.debug({ err: (err as Error).message, from: `${rinfo.address}:${rinfo.port}` }, 'BMC emulator dropped a datagram')
    }
  }

  /** §13.2.3 ASF presence ping → pong (IANA 4542, no OEM, IPMI supported). */
  private asf (msg: Buffer, rinfo: RemoteInfo): void {
    if (msg.length < 12 || msg.readUInt32BE(4) !== 0x11be || msg[8] !== 0x80) return
    const out = Buffer.alloc(28)
    encodeRmcpHeader(RMCP_CLASS_ASF, out)
    out.writeUInt32BE(0x11be, 4)
    out[8] = 0x40 // presence pong
    out[9] = msg[9]
    out[11] = 16
    out.writeUInt32BE(0x11be, 12) // IANA
    out[20] = 0x81 // supported entities: IPMI, ASF 1.0
    this.send(out, rinfo)
  }

  /** Pre-session requests in an IPMI v1.5 wrapper with authentication type none. */
  private preSession (msg: Buffer, rinfo: RemoteInfo): void {
    const packet = decodeV15Packet(msg)
    if (packet.authType !== 0 || packet.sessionId !== 0) return // IPMI v1.5 sessions are not offered
    const lan = decodeLanRequest(packet.message)
    let answer: Answer
    if (lan.netFn === NETFN.app && lan.cmd === 0x38) answer = this.channelAuthCapabilities(lan.data)
    else if (lan.netFn === NETFN.app && lan.cmd === 0x54) answer = this.channelCipherSuites(lan.data)
    else if (lan.netFn === NETFN.app && (lan.cmd === 0x37 || lan.cmd === 0x08)) answer = { cc: 0, data: this.device.guid }
    else answer = { cc: CC.insufficientPrivilege }
    const reply = encodeLanResponse({ netFn: lan.netFn | 1, rqSeq: lan.rqSeq, cmd: lan.cmd, completionCode: answer.cc, data: answer.data })
    this.send(encodeV15Packet(reply), rinfo)
  }

  /** §22.13: channel 1, IPMI v2.0 extended data, no v1.5 authentication types, non-null user names, RMCP+ only. */
  private channelAuthCapabilities (data: Buffer): Answer {
    if (data.length < 2) return { cc: CC.requestDataLengthInvalid }
    const channel = data[0] & 0x0f
    if (channel !== 0x0e && channel !== 0x01) return { cc: CC.invalidDataField }
    return { cc: 0, data: Uint8Array.of(0x01, 0x80, 0x04, 0x02, 0x00, 0x00, 0x00, 0x00) }
  }

  /** §22.15: the enabled suites' records, 16 bytes per list index. */
  private channelCipherSuites (data: Buffer): Answer {
    const req = decodeGetChannelCipherSuitesRequest(data)
    if (req.channel !== 0x0e && req.channel !== 0x01) return { cc: CC.invalidDataField }
    if (req.payloadType !== PAYLOAD_TYPE.ipmi) return { cc: CC.invalidDataField }
    return { cc: 0, data: encodeGetChannelCipherSuitesChunk(0x01, this.suiteRecords, req.index) }
  }

  private rmcpPlus (msg: Buffer, rinfo: RemoteInfo): void {
    if (msg.length < 16) return
    const sessionId = msg.readUInt32LE(6)
    const payloadType = msg[5] & 0x3f
    if (sessionId === 0) {
      const p = decodeRmcpPlusPacket(msg)
      if (payloadType === PAYLOAD_TYPE.openSessionRequest) return this.openSession(p.payload, rinfo)
      if (payloadType === PAYLOAD_TYPE.rakp1) return this.rakp1(p.payload, rinfo)
      if (payloadType === PAYLOAD_TYPE.rakp3) return this.rakp3(p.payload, rinfo)
      return
    }
    this.sessions.expire()
    const s = this.sessions.get(sessionId)
    if (s === undefined || s.state !== 'active' || s.phantom === true) return
    const p = decodeRmcpPlusPacket(msg, s.keys)
    if (p.payloadType !== PAYLOAD_TYPE.ipmi) return
    // §6.12.13 replay protection: sequence 0 is never valid in a session; accept within the window, once
    const seq = p.sequence
    if (seq === 0 || seq + SEQUENCE_WINDOW <= s.highest || (s.highest !== 0 && seq > s.highest + SEQUENCE_WINDOW)) {
      this.counters.replays++
      return
    }
    const previous = s.answered.get(seq)
    if (previous !== undefined) {
      // a retransmission of a request already answered: the same answer, the command is not run twice
      this.counters.replays++
      this.send(previous, rinfo)
      return
    }
    if (seq > s.highest) s.highest = seq
    s.lastActivity = this.now()
    const lan = decodeLanRequest(p.payload)
    const answer = this.inSession(s, lan.netFn, lan.cmd, lan.data)
    if (logs(this.log, 'debug')) {
      this.log.debug({ session: s.handle, seq, netFn: lan.netFn, cmd: lan.cmd, data: lan.data.toString('hex'), cc: answer.cc }, 'BMC emulator request')
    }
    const reply = encodeLanResponse({ netFn: lan.netFn | 1, rqSeq: lan.rqSeq, cmd: lan.cmd, completionCode: answer.cc, data: answer.data })
    const out = encodeRmcpPlusPacket({ payloadType: PAYLOAD_TYPE.ipmi, sessionId: s.consoleSessionId, sequence: s.outSequence, payload: reply, keys: s.keys, iv: randomBytes(16) })
    s.outSequence = s.outSequence >= 0xffffffff ? 1 : s.outSequence + 1
    s.answered.set(seq, out)
    for (const k of s.answered.keys()) if (k + SEQUENCE_WINDOW <= s.highest) s.answered.delete(k)
    if (lan.netFn === NETFN.app && lan.cmd === 0x3c && answer.cc === 0 && !this.sessions.has(s.bmcSessionId)) {
      this.log.debug({ session: s.bmcSessionId }, 'BMC emulator: session closed')
    }
    this.send(out, rinfo)
  }

  private inSession (s: Session, netFn: number, cmd: number, data: Buffer): Answer {
    if (netFn === NETFN.app) {
      switch (cmd) {
        case 0x38: return this.channelAuthCapabilities(data)
        case 0x54: return this.channelCipherSuites(data)
        case 0x3b: { // Set Session Privilege Level (§22.18)
          if (data.length < 1) return { cc: CC.requestDataLengthInvalid }
          const want = data[0] & 0x0f
          if (want === 0) return { cc: 0, data: Uint8Array.of(s.privilege) }
          if (want < PRIV.user || want > PRIV.administrator) return { cc: 0x80 } // not available
          if (want > s.maxPrivilege) return { cc: 0x81 } // exceeds the user's or the session's limit
          s.privilege = want
          return { cc: 0, data: Uint8Array.of(want) }
        }
        case 0x3c: return this.sessions.closeSession(s, data)
        case 0x3d: return this.sessions.sessionInfo(s, data)
      }
    }
    return this.device.handle(netFn, cmd, data, s.privilege)
  }

  // ---------------------------------------------------------------------------
  // session set-up (§13.17 - §13.23)

  private setupReply (payloadType: number, payload: Buffer, rinfo: RemoteInfo, remember?: { session: Session, request: Buffer }): void {
    const out = encodeRmcpPlusPacket({ payloadType, sessionId: 0, sequence: 0, payload })
    if (remember !== undefined) remember.session.lastSetup = { request: Buffer.from(remember.request), answer: out }
    this.send(out, rinfo)
  }

  /**
   * A retransmitted set-up message (the console's answer was late or lost)
   * gets the answer it had, as a retransmitted in-session request does
   * (§13.17-§13.23 leave it to the BMC; answering it afresh would open a
   * second session or, for RAKP 1, draw a new BMC random number that the
   * console never sees).
   */
  private repeatSetup (s: Session | undefined, request: Buffer, rinfo: RemoteInfo): boolean {
    const last = s?.lastSetup
    if (last === undefined || !last.request.equals(request)) return false
    this.counters.replays++
    this.send(last.answer, rinfo)
    return true
  }

  /** An Open Session Response or RAKP 2 that refuses (§13.18, §13.21): tag, status, reserved, console session id. */
  private setupError (payloadType: number, tag: number, status: number, consoleSessionId: number, rinfo: RemoteInfo): void {
    const out = Buffer.alloc(8)
    out[0] = tag
    out[1] = status
    out.writeUInt32LE(consoleSessionId >>> 0, 4)
    this.setupReply(payloadType, out, rinfo)
  }

  private openSessionError (tag: number, status: number, consoleSessionId: number, rinfo: RemoteInfo): void {
    this.setupError(PAYLOAD_TYPE.openSessionResponse, tag, status, consoleSessionId, rinfo)
  }

  private openSession (q: Buffer, rinfo: RemoteInfo): void {
    if (q.length < 32) return
    const tag = q[0]
    const requested = q[1] & 0x0f
    const consoleSessionId = q.readUInt32LE(4)
    if (this.repeatSetup(this.sessions.openedBy(q, rinfo.address, rinfo.port), q, rinfo)) return
    const auth = q[12] & 0x3f
    const integrity = q[20] & 0x3f
    const confidentiality = q[28] & 0x3f
    // full: a session never activated gives way (session-table.ts); only active ones hold a slot for good
    if (!this.sessions.makeRoom()) {
      this.counters.sessionsRefused++
      return this.openSessionError(tag, RMCP_STATUS.insufficientResources, consoleSessionId, rinfo)
    }
    if (requested > PRIV.administrator) return this.openSessionError(tag, RMCP_STATUS.invalidRole, consoleSessionId, rinfo)
    const suite = cipherSuiteId(auth, integrity, confidentiality)
    if (suite === undefined || !this.suites.includes(suite)) {
      return this.openSessionError(tag, RMCP_STATUS.noCipherSuiteMatch, consoleSessionId, rinfo)
    }
    const maxPrivilege = requested === 0 ? PRIV.administrator : requested
    const session = this.sessions.open({
      consoleSessionId,
      auth,
      integrity,
      confidentiality,
      suite,
      state: 'opened',
      maxPrivilege,
      privilege: PRIV.user,
      userId: 0,
      lastActivity: this.now(),
      address: rinfo.address,
      port: rinfo.port
    })
    this.setupReply(PAYLOAD_TYPE.openSessionResponse, encodeOpenSessionResponse({
      tag, status: 0, privilege: maxPrivilege, consoleSessionId, bmcSessionId: session.bmcSessionId, auth, integrity, confidentiality
    }), rinfo, { session, request: q })
  }

  private rakp2Error (tag: number, status: number, consoleSessionId: number, rinfo: RemoteInfo): void {
    this.setupError(PAYLOAD_TYPE.rakp2, tag, status, consoleSessionId, rinfo)
  }

  private rakp1 (q: Buffer, rinfo: RemoteInfo): void {
    const r = decodeRakp1(q)
    const s = this.sessions.get(r.bmcSessionId)
    if (s?.state === 'rakp2' && this.repeatSetup(s, q, rinfo)) return
    if (s === undefined || s.state === 'active' || s.phantom === true) return this.rakp2Error(r.tag, RMCP_STATUS.invalidSessionId, 0, rinfo)
    s.lastActivity = this.now()
    const role = r.role & 0x0f
    const userIndex = this.users.findIndex((u) => u.name.equals(Buffer.from(r.username)))
    const user = this.users[userIndex]
    const fail = (status: number): void => {
      this.counters.rakpFailures++
      this.sessions.delete(s.bmcSessionId)
      this.rakp2Error(r.tag, status, s.consoleSessionId, rinfo)
    }
    if (role < PRIV.callback || role > PRIV.administrator) return fail(RMCP_STATUS.invalidRole)
    if (user === undefined) return fail(RMCP_STATUS.unauthorizedName)
    if (role > user.privilege) return fail(RMCP_STATUS.unauthorizedRole)
    s.maxPrivilege = Math.min(s.maxPrivilege, role)
    s.privilege = Math.min(PRIV.user, role)
    s.userId = userIndex + 1
    s.kuid = user.kuid
    s.ctx = {
      consoleSessionId: s.consoleSessionId,
      bmcSessionId: s.bmcSessionId,
      consoleRandom: Buffer.from(r.consoleRandom),
      bmcRandom: randomBytes(16),
      bmcGuid: this.device.guid,
      role: r.role,
      username: Buffer.from(r.username)
    }
    s.state = 'rakp2'
    const authCode = s.auth === AUTH_ALGORITHM_CODE.NO_AUTHENTICATION_ALGORITHM ? Buffer.alloc(0) : rakp2AuthCode(user.kuid, s.ctx, s.auth)
    this.setupReply(PAYLOAD_TYPE.rakp2, encodeRakp2({
      tag: r.tag, status: 0, consoleSessionId: s.consoleSessionId, bmcRandom: s.ctx.bmcRandom as Buffer, bmcGuid: this.device.guid, authCode
    }), rinfo, { session: s, request: q })
  }

  private rakp3 (q: Buffer, rinfo: RemoteInfo): void {
    const r = decodeRakp3(q)
    const s = this.sessions.get(r.bmcSessionId)
    const rakp4Error = (status: number, consoleSessionId: number): void => {
      this.setupReply(PAYLOAD_TYPE.rakp4, encodeRakp4({ tag: r.tag, status, consoleSessionId, icv: Buffer.alloc(0) }), rinfo)
    }
    if (s?.state === 'active' && this.repeatSetup(s, q, rinfo)) return
    if (s === undefined || s.state !== 'rakp2' || s.ctx === undefined || s.kuid === undefined) return rakp4Error(RMCP_STATUS.invalidSessionId, 0)
    if (r.status !== 0) {
      // the console gave up (it could not verify RAKP 2: a wrong password on its side)
      this.counters.rakpFailures++
      this.sessions.delete(s.bmcSessionId)
      return
    }
    const none = s.auth === AUTH_ALGORITHM_CODE.NO_AUTHENTICATION_ALGORITHM
    if (!none) {
      const expected = rakp3AuthCode(s.kuid, s.ctx, s.auth)
      const got = Buffer.from(r.authCode)
      if (got.length !== expected.length || !timingSafeEqual(got, expected)) {
        this.counters.rakpFailures++
        this.sessions.delete(s.bmcSessionId)
        return rakp4Error(RMCP_STATUS.invalidIntegrityCheck, s.consoleSessionId)
      }
    }
    const sik = none ? undefined : sessionIntegrityKey(s.kuid, s.ctx, s.auth)
    s.keys = sessionKeys(sik, s.integrity, s.confidentiality, s.auth)
    s.state = 'active'
    s.lastActivity = this.now()
    this.counters.sessionsOpened++
    const icv = sik === undefined ? Buffer.alloc(0) : rakp4Icv(sik, s.ctx, s.auth)
    this.setupReply(PAYLOAD_TYPE.rakp4, encodeRakp4({ tag: r.tag, status: 0, consoleSessionId: s.consoleSessionId, icv }), rinfo, { session: s, request: q })
  }
}

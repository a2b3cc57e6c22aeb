/**
 * An in-memory RMCP+ BMC for unit tests of the session layer: it speaks the
 * real wire format (built from drivers/ipmi/rmcp/) through an injected
 * DatagramTransport, and misbehaves on purpose when told to: a password other
 * than the client's, a bad RAKP 4 ICV, Open Session refusals, a
 * privilege ceiling, lost or corrupted answers, duplicates. No sockets, no
 * ipmi_sim; the interop tests against ipmi_sim live in session.test.ts.
 */
import { randomBytes } from 'node:crypto'
import {
  PAYLOAD_TYPE,
  decodeGetChannelCipherSuitesRequest,
  decodeLanRequest,
  decodeRakp1,
  decodeRakp3,
  decodeRmcpPlusPacket,
  decodeV15Packet,
  encodeCipherSuiteRecords,
  encodeGetChannelCipherSuitesChunk,
  encodeLanResponse,
  encodeOpenSessionResponse,
  encodeRakp2,
  encodeRakp4,
  encodeRmcpPlusPacket,
  encodeV15Packet,
  passwordKey,
  rakp2AuthCode,
  rakp3AuthCode,
  rakp4Icv,
  sessionIntegrityKey,
  sessionKeys,
  type RakpContext,
  type SessionKeys
} from '../../drivers/ipmi/rmcp/index.js'
import type { DatagramTransport, DatagramTransportFactory } from '../../drivers/ipmi/udp-transport.js'

export interface FakeAnswer { cc: number, data?: number[] }

export interface FakeBmcOptions {
  username?: string
  /** The BMC's idea of the user's password. */
  password?: string
  /** Answers in-session requests other than the session commands; default: Get Device ID only. */
  handler?: (netFn: number, cmd: number, data: Buffer) => FakeAnswer
  /** Set Session Privilege Level above this answers 0x81; default 4. */
  maxPrivilege?: number
  /** Status codes for the first Open Session Requests, in order (then 0). */
  openSessionStatus?: number[]
  /** Open Session Response proposes this confidentiality algorithm instead of the requested one. */
  answerConfidentiality?: number
  /** RAKP 4 with a wrong integrity check value. */
  corruptRakp4?: boolean
  /** Decide per in-session request whether its answer is lost. */
  drop?: (netFn: number, cmd: number, nth: number) => boolean
  /** Send every answer twice. */
  duplicate?: boolean
  /** Corrupt the AuthCode of the n-th in-session answer (1-based). */
  corruptAnswer?: number
  /** The suites Get Channel Cipher Suites lists (outside a session); unset: the command is unknown (0xC1). */
  cipherSuites?: number[]
  /** Open Session with other algorithms than these answers status 0x11 (no cipher suite match). */
  onlyAlgorithms?: [number, number, number]
}

interface FakeSession {
  consoleSessionId: number
  bmcSessionId: number
  auth: number
  integrity: number
  confidentiality: number
  privilegeRequested: number
  ctx?: RakpContext
  keys: SessionKeys
  sik?: Buffer
  active: boolean
  privilege: number
  sequence: number
}

interface SeenRequest {
  sessionId: number
  sequence: number
  payloadType: number
  encrypted: boolean
  authenticated: boolean
  netFn?: number
  cmd?: number
  rqSeq?: number
  data?: Buffer
  iv?: Buffer
}

const GUID = Buffer.from('a123456789abcdefa123456789abcdef', 'hex')
const DEVICE_ID = [0x20, 0x01, 0x09, 0x08, 0x02, 0x9f, 0x91, 0x12, 0x00, 0x02, 0x0f]

export class FakeBmc {
  readonly seen: SeenRequest[] = []
  readonly sessions = new Map<number, FakeSession>()
  openSessionRequests = 0
  cipherSuiteRequests = 0
  inSessionRequests = 0
  private answers = 0
  private nextSid = 0x100
  private listener: ((d: Buffer) => void) | undefined
  private readonly kuid: Buffer

  constructor (readonly options: FakeBmcOptions = {}) {
    this.kuid = passwordKey(options.password ?? 'ADMIN')
  }

  get activeSessions (): number {
    let n = 0
    for (const s of this.sessions.values()) if (s.active) n++
    return n
  }

  /** A transport factory for IpmiSession's `transport` option. */
  readonly factory: DatagramTransportFactory = () => {
    const transport: DatagramTransport = {
      send: (d) => { setImmediate(() => this.receive(d)) },
      onMessage: (l) => { this.listener = l },
      close: async () => { this.listener = undefined }
    }
    return transport
  }

  /** Delivers a datagram to the client as if it came from the BMC. */
  inject (d: Buffer): void {
    this.listener?.(d)
  }

  private reply (d: Buffer): void {
    this.listener?.(d)
    if (this.options.duplicate === true) this.listener?.(Buffer.from(d))
  }

  private receive (d: Buffer): void {
    if (d[4] !== 0x06) return this.v15(d)
    const sessionId = d.readUInt32LE(6)
    if (sessionId === 0) return this.setup(d)
    const s = this.sessions.get(sessionId)
    if (s === undefined || !s.active) return
    const p = decodeRmcpPlusPacket(d, s.keys)
    const lan = decodeLanRequest(p.payload)
    this.seen.push({
      sessionId,
      sequence: p.sequence,
      payloadType: p.payloadType,
      encrypted: p.encrypted,
      authenticated: p.authenticated,
      netFn: lan.netFn,
      cmd: lan.cmd,
      rqSeq: lan.rqSeq,
      data: Buffer.from(lan.data),
      iv: p.encrypted ? Buffer.from(d.subarray(16, 32)) : undefined
    })
    this.inSessionRequests++
    let answer: FakeAnswer
    if (lan.netFn === 0x06 && lan.cmd === 0x3b) {
      const want = lan.data[0] & 0x0f
      if (want > (this.options.maxPrivilege ?? 4)) answer = { cc: 0x81 }
      else { s.privilege = want; answer = { cc: 0, data: [want] } }
    } else if (lan.netFn === 0x06 && lan.cmd === 0x3c) {
      answer = lan.data.readUInt32LE(0) === s.bmcSessionId ? { cc: 0 } : { cc: 0x87 }
    } else if (this.options.handler !== undefined) {
      answer = this.options.handler(lan.netFn, lan.cmd, Buffer.from(lan.data))
    } else if (lan.netFn === 0x06 && lan.cmd === 0x01) {
      answer = { cc: 0, data: DEVICE_ID }
    } else {
      answer = { cc: 0xc1 }
    }
    if (this.options.drop?.(lan.netFn, lan.cmd, this.inSessionRequests) === true) return
    const payload = encodeLanResponse({ netFn: lan.netFn | 1, rqSeq: lan.rqSeq, cmd: lan.cmd, completionCode: answer.cc, data: Uint8Array.from(answer.data ?? []) })
    const out = encodeRmcpPlusPacket({ payloadType: PAYLOAD_TYPE.ipmi, sessionId: s.consoleSessionId, sequence: s.sequence++, payload, keys: s.keys, iv: randomBytes(16) })
    this.answers++
    if (this.options.corruptAnswer === this.answers) out[out.length - 1] ^= 0x01
    if (lan.netFn === 0x06 && lan.cmd === 0x3c && answer.cc === 0) s.active = false
    this.reply(out)
  }

  private v15 (d: Buffer): void {
    const msg = decodeLanRequest(decodeV15Packet(d).message)
    if (msg.cmd === 0x54) {
      this.cipherSuiteRequests++
      const suites = this.options.cipherSuites
      const answer = suites === undefined
        ? { completionCode: 0xc1, data: new Uint8Array(0) }
        : { completionCode: 0, data: encodeGetChannelCipherSuitesChunk(1, encodeCipherSuiteRecords(suites), decodeGetChannelCipherSuitesRequest(msg.data).index) }
      this.reply(encodeV15Packet(encodeLanResponse({ netFn: 0x07, rqSeq: msg.rqSeq, cmd: 0x54, ...answer })))
      return
    }
    if (msg.cmd !== 0x38) return
    const data = [0x01, 0x97, 0x04, 0x03, 0x00, 0x00, 0x00, 0x00]
    this.reply(encodeV15Packet(encodeLanResponse({ netFn: 0x07, rqSeq: msg.rqSeq, cmd: 0x38, completionCode: 0, data: Uint8Array.from(data) })))
  }

  private setup (d: Buffer): void {
    const p = decodeRmcpPlusPacket(d)
    this.seen.push({ sessionId: 0, sequence: p.sequence, payloadType: p.payloadType, encrypted: false, authenticated: false })
    const q = p.payload
    if (p.payloadType === PAYLOAD_TYPE.openSessionRequest) {
      const only = this.options.onlyAlgorithms
      const mismatch = only !== undefined && (q[12] !== only[0] || q[20] !== only[1] || q[28] !== only[2])
      const status = this.options.openSessionStatus?.[this.openSessionRequests] ?? (mismatch ? 0x11 : 0)
      this.openSessionRequests++
      const tag = q[0]
      const consoleSessionId = q.readUInt32LE(4)
      if (status !== 0) {
        const err = Buffer.alloc(8)
        err[0] = tag
        err[1] = status
        err.writeUInt32LE(consoleSessionId, 4)
        return this.reply(encodeRmcpPlusPacket({ payloadType: PAYLOAD_TYPE.openSessionResponse, sessionId: 0, sequence: 0, payload: err }))
      }
      const bmcSessionId = this.nextSid += 2
      const s: FakeSession = {
        consoleSessionId,
        bmcSessionId,
        auth: q[12],
        integrity: q[20],
        confidentiality: this.options.answerConfidentiality ?? q[28],
        privilegeRequested: q[1],
        keys: {},
        active: false,
        privilege: 2,
        sequence: 1
      }
      this.sessions.set(bmcSessionId, s)
      return this.reply(encodeRmcpPlusPacket({
        payloadType: PAYLOAD_TYPE.openSessionResponse,
        sessionId: 0,
        sequence: 0,
        payload: encodeOpenSessionResponse({ tag, status: 0, privilege: q[1], consoleSessionId, bmcSessionId, auth: s.auth, integrity: s.integrity, confidentiality: s.confidentiality })
      }))
    }
    if (p.payloadType === PAYLOAD_TYPE.rakp1) {
      const r1 = decodeRakp1(q)
      const s = this.sessions.get(r1.bmcSessionId)
      if (s === undefined) return
      const name = Buffer.from(r1.username).toString('latin1')
      if (name !== (this.options.username ?? 'ADMIN')) {
        const err = Buffer.alloc(8)
        err[0] = r1.tag
        err[1] = 0x0d
        err.writeUInt32LE(s.consoleSessionId, 4)
        this.sessions.delete(s.bmcSessionId)
        return this.reply(encodeRmcpPlusPacket({ payloadType: PAYLOAD_TYPE.rakp2, sessionId: 0, sequence: 0, payload: err }))
      }
      s.ctx = {
        consoleSessionId: s.consoleSessionId,
        bmcSessionId: s.bmcSessionId,
        consoleRandom: Buffer.from(r1.consoleRandom),
        bmcRandom: randomBytes(16),
        bmcGuid: GUID,
        role: r1.role,
        username: Buffer.from(r1.username)
      }
      const authCode = s.auth !== 0 ? rakp2AuthCode(this.kuid, s.ctx, s.auth) : Buffer.alloc(0)
      return this.reply(encodeRmcpPlusPacket({
        payloadType: PAYLOAD_TYPE.rakp2,
        sessionId: 0,
        sequence: 0,
        payload: encodeRakp2({ tag: r1.tag, status: 0, consoleSessionId: s.consoleSessionId, bmcRandom: s.ctx.bmcRandom as Buffer, bmcGuid: GUID, authCode })
      }))
    }
    if (p.payloadType === PAYLOAD_TYPE.rakp3) {
      const r3 = decodeRakp3(q)
      const s = this.sessions.get(r3.bmcSessionId)
      if (s?.ctx === undefined) return
      let status = r3.status
      if (status !== 0) {
        this.sessions.delete(s.bmcSessionId)
        return
      }
      if (s.auth !== 0 && !rakp3AuthCode(this.kuid, s.ctx, s.auth).equals(Buffer.from(r3.authCode))) status = 0x0f
      let icv = Buffer.alloc(0)
      if (s.auth !== 0) {
        s.sik = sessionIntegrityKey(this.kuid, s.ctx, s.auth)
        icv = Buffer.from(rakp4Icv(s.sik, s.ctx, s.auth))
        if (this.options.corruptRakp4 === true) icv[0] ^= 0xff
      }
      s.keys = sessionKeys(s.sik, s.integrity, s.confidentiality, s.auth)
      s.active = status === 0
      if (status !== 0) this.sessions.delete(s.bmcSessionId)
      return this.reply(encodeRmcpPlusPacket({
        payloadType: PAYLOAD_TYPE.rakp4,
        sessionId: 0,
        sequence: 0,
        payload: encodeRakp4({ tag: r3.tag, status, consoleSessionId: s.consoleSessionId, icv })
      }))
    }
  }
}

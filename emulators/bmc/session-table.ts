/**
 * The emulated BMC's session table, apart from the UDP server that fills it
 * (rmcp-server.ts): sessions by BMC session id, their handles, idle expiry,
 * and the session commands that read or change the table (Get Session Info,
 * Close Session). Section numbers are those of the IPMI v2.0 specification.
 *
 * It is kept the way a careful BMC keeps it: a session not yet activated
 * (Open Session or RAKP 2 answered, no RAKP 3) holds its slot only for the
 * set-up time (session.setup_timeout_s), and when the table is full the
 * oldest such session gives way to a new Open Session. Unauthenticated Open
 * Session requests (which anyone who can reach port 623 may send) can
 * therefore never keep a real console out for longer than a set-up time;
 * active sessions are never evicted.
 */
import { randomBytes } from 'node:crypto'
import type { RakpContext, SessionKeys } from '../../drivers/ipmi/rmcp/index.js'
import { CC, PRIV, type Answer } from './ipmi-codes.js'

/** A session still being set up (Open Session or RAKP 2 answered, no RAKP 3 yet) is dropped after this long, unless configured. */
export const SETUP_TIMEOUT_MS = 5000

export interface Session {
  handle: number
  bmcSessionId: number
  consoleSessionId: number
  auth: number
  integrity: number
  confidentiality: number
  suite: number
  state: 'opened' | 'rakp2' | 'active'
  /** Requested maximum privilege (Open Session, then RAKP 1). */
  maxPrivilege: number
  privilege: number
  userId: number
  ctx?: RakpContext
  kuid?: Buffer
  keys: SessionKeys
  lastActivity: number
  address: string
  port: number
  /** Outbound session sequence number. */
  outSequence: number
  /** Highest inbound sequence number, and the answers to the last few (resent for a retransmitted request). */
  highest: number
  answered: Map<number, Buffer>
  /** A phantom session of the "session table full" fault. */
  phantom?: boolean
  /**
   * The last set-up message (Open Session, RAKP 1 or RAKP 3) and its answer:
   * a retransmission of it gets the same answer again instead of being run
   * twice (a second RAKP 2 would carry a new BMC random number, and the
   * console's RAKP 3, made from the first, would then fail its check).
   */
  lastSetup?: { request: Buffer, answer: Buffer }
}

/** What Open Session decides; the table adds the ids, the handle and the counters. */
type NewSession = Pick<Session, 'consoleSessionId' | 'auth' | 'integrity' | 'confidentiality' | 'suite' | 'state' |
'maxPrivilege' | 'privilege' | 'userId' | 'lastActivity' | 'address' | 'port' | 'phantom'>

export class SessionTable {
  private readonly sessions = new Map<number, Session>()
  private nextHandle = 1
  /** Sessions dropped for idleness (or an unfinished set-up). */
  expired = 0
  /** Sessions being set up that gave their slot to a new Open Session. */
  evicted = 0

  constructor (readonly maxSessions: number, private readonly idleMs: number, private readonly now: () => number, private readonly setupMs = SETUP_TIMEOUT_MS) {}

  get (bmcSessionId: number): Session | undefined {
    return this.sessions.get(bmcSessionId)
  }

  /** The session being set up whose Open Session was exactly `request`, from the same console address and port. */
  openedBy (request: Buffer, address: string, port: number): Session | undefined {
    for (const s of this.sessions.values()) {
      if (s.state === 'opened' && s.port === port && s.address === address && s.lastSetup?.request.equals(request) === true) return s
    }
    return undefined
  }

  has (bmcSessionId: number): boolean {
    return this.sessions.has(bmcSessionId)
  }

  delete (bmcSessionId: number): void {
    this.sessions.delete(bmcSessionId)
  }

  /** Every session gone, as in a BMC reboot. */
  clear (): void {
    this.sessions.clear()
  }

  /** Sessions held now (active or being set up), idle ones expired first. */
  get size (): number {
    this.expire()
    return this.sessions.size
  }

  /** True when Open Session must answer "insufficient resources". */
  get full (): boolean {
    return this.size >= this.maxSessions
  }

  /**
   * Room for a new Open Session: when the table is full, the oldest session
   * not yet activated gives way. False when every slot is an active (or
   * phantom) session.
   */
  makeRoom (): boolean {
    if (!this.full) return true
    let oldest: Session | undefined
    for (const s of this.sessions.values()) {
      if (s.state === 'active' || s.phantom === true) continue
      if (oldest === undefined || s.lastActivity < oldest.lastActivity) oldest = s
    }
    if (oldest === undefined) return false
    this.sessions.delete(oldest.bmcSessionId)
    this.evicted++
    return true
  }

  get activeCount (): number {
    this.expire()
    let n = 0
    for (const s of this.sessions.values()) if (s.state === 'active') n++
    return n
  }

  /** The cipher suite of each active session (tests check what a client negotiated). */
  get activeSuites (): number[] {
    this.expire()
    return [...this.sessions.values()].filter((s) => s.state === 'active' && s.phantom !== true).map((s) => s.suite)
  }

  /** A new session under a fresh BMC session id and handle. */
  open (fields: NewSession): Session {
    const session: Session = { ...fields, handle: this.takeHandle(), bmcSessionId: this.newSessionId(), keys: {}, outSequence: 1, highest: 0, answered: new Map() }
    this.sessions.set(session.bmcSessionId, session)
    return session
  }

  /** Fills the table with sessions of other consoles (the "session table full" fault). */
  fillWithPhantoms (): void {
    while (this.size < this.maxSessions) {
      this.open({
        consoleSessionId: 0,
        auth: 1,
        integrity: 1,
        confidentiality: 1,
        suite: 3,
        state: 'active',
        maxPrivilege: PRIV.administrator,
        privilege: PRIV.administrator,
        userId: 1,
        lastActivity: Number.POSITIVE_INFINITY,
        address: '192.0.2.1',
        port: 623,
        phantom: true
      })
    }
  }

  /** Frees the slots that fillWithPhantoms took. */
  freePhantoms (): void {
    for (const [sid, s] of this.sessions) if (s.phantom === true) this.sessions.delete(sid)
  }

  expire (): void {
    const now = this.now()
    for (const [sid, s] of this.sessions) {
      const limit = s.state === 'active' ? this.idleMs : Math.min(this.idleMs, this.setupMs)
      if (now - s.lastActivity > limit) {
        this.sessions.delete(sid)
        this.expired++
      }
    }
  }

  private newSessionId (): number {
    for (;;) {
      const sid = randomBytes(4).readUInt32LE(0)
      if (sid !== 0 && !this.sessions.has(sid)) return sid
    }
  }

  private takeHandle (): number {
    const used = new Set([...this.sessions.values()].map((s) => s.handle))
    for (let i = 0; i < 255; i++) {
      const h = this.nextHandle
      this.nextHandle = this.nextHandle >= 255 ? 1 : this.nextHandle + 1
      if (!used.has(h)) return h
    }
    return 0
  }

  /** Close Session (§22.19), asked by session `s`: session id, or 0 and a handle. */
  closeSession (s: Session, data: Buffer): Answer {
    if (data.length < 4) return { cc: CC.requestDataLengthInvalid }
    const sid = data.readUInt32LE(0)
    const target = sid !== 0 ? this.sessions.get(sid) : [...this.sessions.values()].find((x) => x.handle === data[4])
    if (target === undefined) return { cc: sid !== 0 ? 0x87 : 0x88 }
    if (target !== s && s.privilege < PRIV.administrator) return { cc: CC.insufficientPrivilege }
    this.sessions.delete(target.bmcSessionId)
    return { cc: 0 }
  }

  /** Get Session Info (§22.20): 0 = this session, N = the N-th active one, 0xFE by handle, 0xFF by session id. */
  sessionInfo (s: Session, data: Buffer): Answer {
    if (data.length < 1) return { cc: CC.requestDataLengthInvalid }
    const active = [...this.sessions.values()].filter((x) => x.state === 'active').sort((a, b) => a.handle - b.handle)
    let target: Session | undefined
    const index = data[0]
    if (index === 0x00) target = s
    else if (index === 0xfe) {
      if (data.length < 2) return { cc: CC.requestDataLengthInvalid }
      target = active.find((x) => x.handle === data[1])
    } else if (index === 0xff) {
      if (data.length < 5) return { cc: CC.requestDataLengthInvalid }
      target = this.sessions.get(data.readUInt32LE(1))
    } else {
      if (index > this.maxSessions) return { cc: CC.invalidDataField }
      target = active[index - 1]
    }
    const head = [target?.handle ?? 0, this.maxSessions & 0x3f, active.length & 0x3f]
    if (target === undefined) return { cc: 0, data: Uint8Array.of(...head) }
    const out = Buffer.alloc(18)
    Buffer.from(head).copy(out, 0)
    out[3] = target.userId & 0x3f
    out[4] = target.privilege & 0x0f
    out[5] = 0x10 | 0x01 // IPMI v2.0 / RMCP+, channel 1
    const ip = target.address.replace(/^::ffff:/, '').split('.').map(Number)
    if (ip.length === 4 && ip.every((n) => Number.isInteger(n))) Buffer.from(ip).copy(out, 6)
    // bytes 11-16: the console's MAC address, unknown over UDP: zero
    out.writeUInt16LE(target.port, 16)
    return { cc: 0, data: out }
  }
}

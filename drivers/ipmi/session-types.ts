/**
 * The IPMI session's policy, options, counters and the records of its queue
 * and of the exchange in flight (drivers/ipmi/session.ts), apart to keep that
 * file under the house's 500 lines.
 */
import type { DriverLogger } from '../logger.js'
import type { Clock, Inbound } from './session-login.js'
import type { IpmiPolicy } from './types.js'
import type { DatagramTransportFactory } from './udp-transport.js'

export const DEFAULT_IPMI_POLICY: Readonly<IpmiPolicy> = Object.freeze({
  retransmitMs: 700,
  retries: 2,
  requestTimeoutMs: 3000,
  // ipmi_sim expires an idle session after about 30 s (the spec suggests 60 s)
  keepAliveMs: 20000
})

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

export interface Job {
  netFn: number
  cmd: number
  data: Uint8Array
  deadline: number
  keepAlive: boolean
  resolve: (data: Buffer) => void
  reject: (err: unknown) => void
}

export interface Pending {
  datagram: Buffer
  match: (m: Inbound) => boolean
  retriesLeft: number
  deadline: number
  /** When to send again (or give up): retransmitMs after the last send, at most the deadline. */
  due: number
  resolve: (m: Inbound) => void
  reject: (err: unknown) => void
}

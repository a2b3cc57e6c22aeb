import { BusTimeoutError, OpenDcreError, PacketError } from '../errors.js'
import { FairQueue } from '../queueing/fair-queue.js'
import { logs, silentLogger, type DriverLogger } from '../logger.js'
import type { BusTransport } from '../transport/bus-transport.js'
import { BOARD_ID_BITS, COMMANDS } from './device-types.js'
import { decodePacket, encodePacket, nextSequence, toHex, type Packet } from './packet-codec.js'
import { PacketFramer } from './packet-framer.js'

export interface BusPolicy {
  /** Read timeout: silence this long ends a read (0.25 s in v1.2). */
  timeoutMs: number
  /** `?` retries after a corrupt answer (3 in v1.2: at most 4 packets). */
  retryLimit: number
  /** Pause before a scan is re-sent after a corrupt answer (~150 ms). */
  scanRetryDelayMs: number
  /** Transmissions in all for a scan (one board or all): 3 in v1.2. */
  scanAttempts: number
  /** Scan-all time slice (low byte of the scan-all board id). */
  timeSlice: number
  /** The last two bytes of this host's MAC address, for scan-all. */
  macBytes: [number, number]
  /** A request that waited this long for the bus fails with 'overloaded' (503). */
  queueTimeoutMs: number
  /** Requests that may wait for the bus; more are refused at once with 'overloaded' (503). */
  queueDepth: number
}

const DEFAULT_POLICY: BusPolicy = {
  timeoutMs: 250,
  retryLimit: 3,
  scanRetryDelayMs: 150,
  scanAttempts: 3,
  timeSlice: 75,
  macBytes: [0, 0],
  queueTimeoutMs: 1000,
  queueDepth: 128
}

export interface BusRequest {
  deviceType: number
  boardId: number
  deviceId: number
  data: Buffer
}

/** Transactions that run back to back while the bus is held. */
export interface BusSession {
  transact: (request: BusRequest) => Promise<Packet>
}

interface BusClientOptions {
  policy?: Partial<BusPolicy>
  log?: DriverLogger
  sleep?: (ms: number) => Promise<void>
}

interface BusStats {
  /** Commands sent (scans are not counted here). */
  transactions: number
  /** Commands that got a well-formed answer, retries included. */
  successes: number
  /** When a command or a scan last got a well-formed answer (ms since the epoch). */
  lastSuccessAt: number | null
  retries: number
  timeouts: number
  checksumErrors: number
  /** Answers that failed to decode otherwise (bad header, length or trailer). */
  malformedPackets: number
  queueDepth: number
}

const RETRY_DATA = Buffer.from([COMMANDS.retry])
const SCAN_DATA = Buffer.from([COMMANDS.scan])
/** With no answer at all, a read that keeps receiving noise still ends here. */
const MAX_READ_WAIT_FACTOR = 4

type Waiter = (frame: Buffer | undefined) => void

/**
 * One device bus: one persistent transport, one sequence counter, one
 * transaction at a time (an in-process queue), retries in exactly one place.
 */
export class BusClient {
  readonly policy: BusPolicy
  readonly stats: BusStats = { transactions: 0, successes: 0, lastSuccessAt: null, retries: 0, timeouts: 0, checksumErrors: 0, malformedPackets: 0, queueDepth: 0 }
  /** The sequence number the next packet takes. */
  private sequence = 1
  private readonly framer = new PacketFramer()
  private waiter?: Waiter
  private packetsWritten = 0
  private peerIdle = false
  /** One transaction at a time; clients take turns; bounded in depth and wait. */
  private readonly queue: FairQueue
  private closed = false
  /** The last operation ended cleanly with nothing left over: no OS-level flush needed. */
  private lineClean = false
  private readonly log: DriverLogger
  private readonly sleep: (ms: number) => Promise<void>

  constructor (private readonly transport: BusTransport, options: BusClientOptions = {}) {
    this.policy = { ...DEFAULT_POLICY, ...options.policy }
    this.log = options.log ?? silentLogger
    this.sleep = options.sleep ?? ((ms) => new Promise((resolve) => setTimeout(resolve, ms)))
    this.queue = new FairQueue({ depth: this.policy.queueDepth, waitMs: this.policy.queueTimeoutMs }, 'device bus')
    Object.defineProperty(this.stats, 'queueDepth', { get: () => this.queue.depth, enumerable: true })
    transport.setDataListener((chunk) => this.onData(chunk))
    transport.setIdleListener?.((packets) => this.onIdle(packets))
  }

  /** One command with `?` retries (docs/protocol.md §3.2, §3.3). */
  transact (request: BusRequest): Promise<Packet> {
    return this.exclusive(() => this.runTransaction(request))
  }

  /** Several transactions that no other request may interleave with. */
  session<T> (fn: (session: BusSession) => Promise<T>): Promise<T> {
    return this.exclusive(() => fn({ transact: (request) => this.runTransaction(request) }))
  }

  /** Scan one board: every packet until silence (docs/protocol.md §3.4). */
  scan (boardId: number): Promise<Packet[]> {
    return this.exclusive(async () => await this.scanWithResends(this.packet(boardId), () => {}))
  }

  /** Scan every board on the bus with the time-slice protocol (docs/protocol.md §4.2). */
  scanAll (): Promise<Packet[]> {
    return this.exclusive(async () => {
      const [mac1, mac2] = this.policy.macBytes
      const base = (BOARD_ID_BITS.scanAll | (mac1 << 16) | (mac2 << 8) | (this.policy.timeSlice & 0xff)) >>> 0
      // a collision is re-sent with the shuffle bit set
      const records = await this.scanWithResends(this.packet(base), (packet) => {
        packet.boardId = (base | BOARD_ID_BITS.shuffle) >>> 0
      })
      // persist the result on the boards; no answer is expected
      await this.send(this.packet((BOARD_ID_BITS.scanAll | BOARD_ID_BITS.save) >>> 0))
      return records
    })
  }

  /**
   * Send a scan and collect records until silence. A corrupt record re-sends
   * the same packet (same sequence number) after a pause and a flush, at most
   * scanAttempts transmissions in all; `beforeResend` may adjust the packet.
   */
  private async scanWithResends (packet: Packet, beforeResend: (packet: Packet) => void): Promise<Packet[]> {
    await this.flushInput()
    for (let attempt = 1; ; attempt++) {
      await this.send(packet)
      try {
        return await this.readScan(packet.sequence)
      } catch (err) {
        if (!(err instanceof PacketError)) throw err
        this.countPacketError(err)
        if (attempt >= this.policy.scanAttempts) throw this.scanRetryLimitError(err)
        this.log.debug({ attempt, reason: err.message }, 'scan answer corrupt, re-sending')
        beforeResend(packet)
        await this.sleep(this.policy.scanRetryDelayMs)
        await this.flushInput()
      }
    }
  }

  async close (): Promise<void> {
    if (this.closed) return
    this.closed = true
    this.queue.close(() => new OpenDcreError('unavailable', 'device bus closed'))
    this.waiter?.(undefined)
    await this.transport.close()
  }

  private packet (boardId: number): Packet {
    return { sequence: this.takeSequence(), deviceType: 0xff, boardId, deviceId: 0xffff, data: SCAN_DATA }
  }

  private async runTransaction (request: BusRequest): Promise<Packet> {
    this.stats.transactions++
    await this.flushInput()
    let sequence = this.takeSequence()
    await this.send({ sequence, ...request })
    for (let retries = 0; ;) {
      try {
        const answer = await this.readResponse(sequence, retries > 0)
        this.stats.successes++
        this.stats.lastSuccessAt = Date.now()
        return answer
      } catch (err) {
        if (!(err instanceof PacketError)) throw err
        this.countPacketError(err)
        if (retries >= this.policy.retryLimit) {
          throw new OpenDcreError('retry-limit', `retry limit reached (${err.message})`, { cause: err })
        }
        retries++
        this.stats.retries++
        // the device resends its last answer; the `?` takes a new number, and so does the answer
        sequence = this.takeSequence()
        this.log.debug({ retry: retries, reason: err.message }, 'corrupt answer, asking for a resend')
        await this.send({ ...request, sequence, data: RETRY_DATA })
      }
    }
  }

  /**
   * The answer carrying `sequence`. A packet is decoded (and may fail) before
   * its number is compared; a well-formed answer with another number is a
   * late answer to an earlier request, dropped.
   */
  private async readResponse (sequence: number, onRetry: boolean): Promise<Packet> {
    for (;;) {
      const frame = await this.nextFrame()
      if (frame === undefined) {
        this.stats.timeouts++
        throw new BusTimeoutError(onRetry)
      }
      const packet = this.decode(frame)
      if (packet.sequence === sequence) return packet
      this.log.debug({ sequence: packet.sequence, expected: sequence }, 'dropped answer with unexpected sequence number')
    }
  }

  private async readScan (sequence: number): Promise<Packet[]> {
    const records: Packet[] = []
    for (;;) {
      const frame = await this.nextFrame()
      if (frame === undefined) break
      const packet = this.decode(frame)
      if (packet.sequence === sequence) records.push(packet)
      else this.log.debug({ sequence: packet.sequence }, 'dropped scan record with unexpected sequence number')
    }
    if (records.length === 0) {
      this.stats.timeouts++
      throw new BusTimeoutError(false)
    }
    this.stats.lastSuccessAt = Date.now()
    return records
  }

  private decode (frame: Buffer): Packet {
    if (logs(this.log, 'debug')) this.log.debug({ rx: toHex(frame) }, 'device bus <-')
    return decodePacket(frame)
  }

  private countPacketError (err: PacketError): void {
    if (err.code === 'checksum') this.stats.checksumErrors++
    else this.stats.malformedPackets++
  }

  private scanRetryLimitError (err: PacketError): OpenDcreError {
    return new OpenDcreError('retry-limit', 'Corrupt packets received (failed checksum validation) - Retry limit reached.', { cause: err })
  }

  private takeSequence (): number {
    const sequence = this.sequence
    this.sequence = nextSequence(sequence)
    return sequence
  }

  private async send (packet: Packet): Promise<void> {
    const bytes = encodePacket(packet)
    if (logs(this.log, 'debug')) this.log.debug({ tx: toHex(bytes) }, 'device bus ->')
    this.packetsWritten++
    this.peerIdle = false
    try {
      await this.bounded(this.transport.write(bytes), 'write')
    } catch (err) {
      if (err instanceof OpenDcreError) throw err
      throw new OpenDcreError('unavailable', `device bus unavailable: ${(err as Error).message}`, { cause: err })
    }
  }

  /**
   * Discard stale input before a command, as v1.2 did. Bytes we have received
   * are dropped here; the OS buffer is flushed too unless the last operation
   * ended cleanly with nothing left over (received bytes are read as they
   * arrive, so then there is nothing to flush, and a serial flush costs a
   * round trip through the thread pool).
   */
  private async flushInput (): Promise<void> {
    const leftover = this.framer.pending
    if (leftover > 0) this.log.debug({ bytes: leftover }, 'flushing stale input')
    this.framer.clear()
    const clean = this.lineClean && leftover === 0
    this.lineClean = false
    if (!clean) await this.bounded(this.transport.flush(), 'flush')
  }

  /** A transport that never calls back (a wedged port) must not wedge the bus. */
  private async bounded<T> (operation: Promise<T>, what: string): Promise<T> {
    let timer: NodeJS.Timeout | undefined
    const limit = this.policy.timeoutMs * MAX_READ_WAIT_FACTOR
    const deadline = new Promise<never>((_resolve, reject) => {
      timer = setTimeout(() => reject(new OpenDcreError('unavailable', `device bus unavailable: ${what} did not complete in ${limit} ms`)), limit)
    })
    try {
      return await Promise.race([operation, deadline])
    } finally {
      clearTimeout(timer)
    }
  }

  /** The next frame, or undefined after the read timeout (or when the far end is known idle). */
  private nextFrame (): Promise<Buffer | undefined> {
    const ready = this.framer.next()
    if (ready !== undefined) return Promise.resolve(ready)
    if (this.peerIdle || this.closed) return Promise.resolve(undefined)
    return new Promise((resolve) => {
      const started = Date.now()
      let timer: NodeJS.Timeout
      const arm = (): void => {
        // silence of timeoutMs ends the read; bytes that keep coming extend it, up to a bound
        const left = started + this.policy.timeoutMs * MAX_READ_WAIT_FACTOR - Date.now()
        timer = setTimeout(() => finish(undefined), Math.max(0, Math.min(this.policy.timeoutMs, left)))
      }
      const finish = (frame: Buffer | undefined): void => {
        clearTimeout(timer)
        this.waiter = undefined
        resolve(frame)
      }
      this.waiter = (frame) => {
        if (frame !== undefined || this.peerIdle || this.closed) finish(frame)
        else {
          clearTimeout(timer)
          arm()
        }
      }
      arm()
    })
  }

  private onData (chunk: Buffer): void {
    if (logs(this.log, 'trace')) this.log.trace({ bytes: toHex(chunk) }, 'device bus raw input')
    this.framer.push(chunk)
    this.wake()
  }

  private onIdle (packets: number): void {
    if (packets < this.packetsWritten) return
    this.peerIdle = true
    this.wake()
  }

  private wake (): void {
    const waiter = this.waiter
    if (waiter === undefined) return
    waiter(this.framer.next())
  }

  /** Run `fn` when it is this request's turn on the bus (FairQueue: bounded, clients take turns). */
  private exclusive<T> (fn: () => Promise<T>): Promise<T> {
    if (this.closed) return Promise.reject(new OpenDcreError('unavailable', 'device bus closed'))
    return this.queue.run(async () => {
      if (this.closed) throw new OpenDcreError('unavailable', 'device bus closed')
      const result = await fn()
      this.lineClean = this.framer.pending === 0
      return result
    })
  }
}

/**
 * The two MAC bytes of the scan-all board id, as v1.2 derives them: the last
 * four *decimal* digits of the 48-bit MAC read as two hex bytes
 * (MAC 02:42:ac:11:00:02 = 2485377892354 -> 0x23, 0x54).
 */
export function scanAllMacBytes (mac: string): [number, number] {
  const hex = mac.replace(/[^0-9a-fA-F]/g, '')
  const digits = (hex === '' ? '0' : BigInt(`0x${hex}`).toString(10)).padStart(4, '0')
  const last = digits.slice(-4)
  return [parseInt(last.slice(0, 2), 16), parseInt(last.slice(2), 16)]
}

import type { Duplex } from 'node:stream'
import { OpenDcreError } from '../errors.js'

/** The SIG60's control registers are read and written at this rate (docs/protocol.md §9.3). */
export const MODEM_CONTROL_BAUD = 19200

/**
 * The serial line to the modem as the register procedures use it, opened by
 * the caller at MODEM_CONTROL_BAUD.
 */
export interface ModemSerial {
  /** Resolves once the bytes have left the UART (the procedures time CMD from it). */
  write: (bytes: Buffer) => Promise<void>
  /** Exactly `n` bytes; rejects when they do not come. */
  read: (n: number) => Promise<Buffer>
  /** Optional: discard input received before now. */
  flush?: () => Promise<void>
}

/** What StreamModemSerial needs of an open port; serialport's SerialPortStream (openSerialPort) is one. */
type ModemPort = Duplex & {
  /** Discard the OS's input buffer. */
  flush?: (callback?: (err: Error | null) => void) => void
  /** Wait until the OS has transmitted everything written (tcdrain). */
  drain?: (callback?: (err: Error | null) => void) => void
}

interface StreamModemSerialOptions {
  /** How long read(n) waits for its bytes; default 1000 ms. */
  readTimeoutMs?: number
}

/** A ModemSerial over an open port, with a read timeout. */
export class StreamModemSerial implements ModemSerial {
  private received = Buffer.alloc(0)
  private pending?: { n: number, resolve: (bytes: Buffer) => void, reject: (err: Error) => void, timer: NodeJS.Timeout }
  private failure?: string
  private readonly readTimeoutMs: number

  constructor (private readonly port: ModemPort, options: StreamModemSerialOptions = {}) {
    this.readTimeoutMs = options.readTimeoutMs ?? 1000
    port.on('data', (chunk: Buffer) => {
      this.received = Buffer.concat([this.received, chunk])
      this.deliver()
    })
    port.on('error', (err: Error) => this.fail(err.message))
    port.on('close', () => this.fail('port closed'))
  }

  async write (bytes: Buffer): Promise<void> {
    if (this.failure !== undefined) throw this.unavailable()
    await new Promise<void>((resolve, reject) => {
      this.port.write(bytes, (err) => (err == null ? resolve() : reject(this.unavailable(err.message))))
    })
    const drain = this.port.drain
    if (typeof drain === 'function') {
      await new Promise<void>((resolve, reject) => {
        drain.call(this.port, (err) => (err == null ? resolve() : reject(this.unavailable(err.message))))
      })
    }
  }

  read (n: number): Promise<Buffer> {
    if (this.pending !== undefined) return Promise.reject(new Error('modem serial: a read is already pending'))
    if (this.failure !== undefined) return Promise.reject(this.unavailable())
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending = undefined
        reject(new OpenDcreError('timeout', `modem did not answer within ${this.readTimeoutMs} ms (${this.received.length} of ${n} bytes)`))
      }, this.readTimeoutMs)
      this.pending = { n, resolve, reject, timer }
      this.deliver()
    })
  }

  async flush (): Promise<void> {
    this.received = Buffer.alloc(0)
    const flush = this.port.flush
    if (typeof flush !== 'function') return
    await new Promise<void>((resolve) => flush.call(this.port, () => resolve()))
  }

  async close (): Promise<void> {
    this.fail('port closed')
    if (this.port.destroyed) return
    await new Promise<void>((resolve) => {
      this.port.once('close', () => resolve())
      this.port.destroy()
    })
  }

  private deliver (): void {
    const pending = this.pending
    if (pending === undefined || this.received.length < pending.n) return
    this.pending = undefined
    clearTimeout(pending.timer)
    const bytes = this.received.subarray(0, pending.n)
    this.received = this.received.subarray(pending.n)
    pending.resolve(Buffer.from(bytes))
  }

  private fail (reason: string): void {
    this.failure ??= reason
    const pending = this.pending
    if (pending === undefined) return
    this.pending = undefined
    clearTimeout(pending.timer)
    pending.reject(this.unavailable())
  }

  private unavailable (reason = this.failure): OpenDcreError {
    return new OpenDcreError('unavailable', `modem serial line unavailable: ${reason ?? 'unknown'}`)
  }
}

import type { Duplex } from 'node:stream'
import type { EventEmitter } from 'node:events'

/**
 * What the bus client needs from a byte link: a serial port, a PTY, or the
 * in-memory duplex pair to the emulator. The client never knows which.
 */
export interface BusTransport {
  /** Send one whole packet. */
  write: (bytes: Buffer) => Promise<void>
  /** The one consumer of received bytes. */
  setDataListener: (listener: (chunk: Buffer) => void) => void
  /**
   * Optional: the far end tells us it has consumed and answered the first
   * `packets` packets written, so no more bytes will come for them. Only an
   * in-memory link can know this; a serial line cannot.
   */
  setIdleListener?: (listener: (packets: number) => void) => void
  /** Discard input the OS has buffered but we have not read. */
  flush: () => Promise<void>
  close: () => Promise<void>
}

/** A BusTransport over any Duplex stream (SerialPort is one). */
export class StreamTransport implements BusTransport {
  private listener: (chunk: Buffer) => void = () => {}
  private closed = false

  constructor (
    private readonly stream: Duplex & { flush?: (cb?: (err: Error | null) => void) => void },
    private readonly idleSource?: EventEmitter
  ) {
    stream.on('data', (chunk: Buffer) => this.listener(chunk))
    // errors surface on the next write; never crash the process on one
    stream.on('error', () => {})
  }

  setDataListener (listener: (chunk: Buffer) => void): void {
    this.listener = listener
  }

  setIdleListener (listener: (packets: number) => void): void {
    this.idleSource?.on('idle', listener)
  }

  get supportsIdle (): boolean {
    return this.idleSource !== undefined
  }

  write (bytes: Buffer): Promise<void> {
    return new Promise((resolve, reject) => {
      if (this.closed || this.stream.destroyed) {
        reject(new Error('transport closed'))
        return
      }
      this.stream.write(bytes, (err) => (err == null ? resolve() : reject(err)))
    })
  }

  flush (): Promise<void> {
    const flush = this.stream.flush
    if (typeof flush !== 'function') return Promise.resolve()
    return new Promise((resolve) => flush.call(this.stream, () => resolve()))
  }

  close (): Promise<void> {
    if (this.closed) return Promise.resolve()
    this.closed = true
    return new Promise((resolve) => {
      if (this.stream.destroyed) {
        resolve()
        return
      }
      this.stream.once('close', () => resolve())
      this.stream.destroy()
    })
  }
}

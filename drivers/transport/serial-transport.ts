import { read } from 'node:fs'
import type { Duplex } from 'node:stream'
import { promisify } from 'node:util'
import type { AutoDetectTypes, LinuxBindingInterface } from '@serialport/bindings-cpp'
import type { unixRead as UnixRead } from '@serialport/bindings-cpp/dist/unix-read.js'
import { OpenDcreError } from '../errors.js'
import { silentLogger, type DriverLogger } from '../logger.js'
import type { BusTransport } from './bus-transport.js'

/** What the transport needs of an open serial port (serialport's SerialPortStream, as openSerialPort makes it, is one). */
export type SerialPortLike = Duplex & {
  flush: (callback?: (err: Error | null) => void) => void
}

/** Opens a serial device; rejects when it cannot. Injected, so tests can pass fakes. */
export type PortOpener = (path: string, baudRate: number) => Promise<SerialPortLike>

interface SerialTransportOptions {
  log?: DriverLogger
  /** First reopen delay; doubles up to maxBackoffMs. */
  minBackoffMs?: number
  maxBackoffMs?: number
  /** A write or flush that has not called back by then means the port is lost. */
  operationTimeoutMs?: number
}

/**
 * A serial port opened through serialport's own stream and binding, loaded on
 * first use (the native binding costs memory). On Linux the binding's reads
 * are made to notice a hang-up (see hangUpAwareLinuxBinding).
 */
export const openSerialPort: PortOpener = async (path, baudRate) => {
  const [{ SerialPortStream }, binding] = await Promise.all([import('@serialport/stream'), serialBinding()])
  const port = new SerialPortStream({ binding, path, baudRate, autoOpen: false })
  await new Promise<void>((resolve, reject) => port.open((err) => (err == null ? resolve() : reject(err))))
  return port
}

async function serialBinding (): Promise<AutoDetectTypes> {
  const bindings = await import('@serialport/bindings-cpp')
  if (process.platform !== 'linux') return bindings.autoDetect()
  const { unixRead } = await import('@serialport/bindings-cpp/dist/unix-read.js')
  return hangUpAwareLinuxBinding(bindings.LinuxBinding, unixRead)
}

/**
 * serialport's Linux binding, but a read that returns no bytes is the end of
 * the line, not "try again". On Linux, once the other end of a tty goes (a PTY
 * whose master closed, a USB adapter pulled), the port is hung up: read()
 * returns 0 from then on. serialport's read loop retries a 0 at once, for
 * ever, so a hang-up that lands while a read is in flight (not while it waits
 * in poll(), which reports the hang-up) is never seen: the port stays "open",
 * one libuv thread spins, and closing it waits. A raw, non-blocking tty with
 * nothing to read answers EAGAIN, never 0, so here 0 is reported as the
 * disconnect it is, and the stream closes.
 */
function hangUpAwareLinuxBinding (linux: LinuxBindingInterface, unixRead: typeof UnixRead): LinuxBindingInterface {
  return {
    list: async () => await linux.list(),
    async open (options) {
      const port = await linux.open(options)
      port.read = async (buffer, offset, length) => await unixRead({ binding: port, buffer, offset, length, fsReadAsync: readOrHangUp })
      return port
    }
  }
}

const fsReadAsync = promisify(read)

const readOrHangUp = (async (fd: number, buffer: Buffer, offset: number, length: number, position: number | null) => {
  const result = await fsReadAsync(fd, buffer, offset, length, position)
  if (result.bytesRead === 0) {
    throw Object.assign(new Error('the line hung up (read returned end of file)'), { code: 'ENXIO' })
  }
  return result
}) as typeof fsReadAsync

/**
 * One persistent serial port for a bus. When the device errors or
 * disappears, writes fail at once with "serial device unavailable: <reason>"
 * and the port is reopened in the background with exponential backoff; when
 * the device is back, the bus works again without a restart.
 */
export class SerialTransport implements BusTransport {
  private port?: SerialPortLike
  private reason = 'not open yet'
  private listener: (chunk: Buffer) => void = () => {}
  private closed = false
  private backoffMs: number
  private timer?: NodeJS.Timeout
  private readonly log: DriverLogger
  private readonly minBackoffMs: number
  private readonly maxBackoffMs: number
  private readonly operationTimeoutMs: number

  constructor (
    readonly path: string,
    readonly baudRate: number,
    private readonly opener: PortOpener = openSerialPort,
    options: SerialTransportOptions = {}
  ) {
    this.log = options.log ?? silentLogger
    this.minBackoffMs = options.minBackoffMs ?? 100
    this.maxBackoffMs = options.maxBackoffMs ?? 5000
    this.operationTimeoutMs = options.operationTimeoutMs ?? 500
    this.backoffMs = this.minBackoffMs
  }

  /** Try to open now; on failure keep trying in the background. Resolves either way. */
  async start (): Promise<boolean> {
    return await this.open()
  }

  get isOpen (): boolean {
    return this.port !== undefined
  }

  /** Why the port is not open (when it is not). */
  get unavailableReason (): string | undefined {
    return this.port === undefined ? this.reason : undefined
  }

  setDataListener (listener: (chunk: Buffer) => void): void {
    this.listener = listener
  }

  write (bytes: Buffer): Promise<void> {
    const port = this.port
    if (port === undefined) return Promise.reject(this.unavailable())
    return this.settle(port, 'write', (done) => port.write(bytes, done))
  }

  /** Discard stale input, as v1.2 did before every command. */
  flush (): Promise<void> {
    const port = this.port
    if (port === undefined) return Promise.resolve()
    return this.settle(port, 'flush', (done) => port.flush(done))
  }

  /**
   * A port operation with a deadline: a port whose device went away may never
   * call back; then it is treated as lost (and reopened), not waited on.
   */
  private settle (port: SerialPortLike, what: string, start: (done: (err?: Error | null) => void) => void): Promise<void> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.lost(port, `${what} did not complete in ${this.operationTimeoutMs} ms`)
        reject(this.unavailable())
      }, this.operationTimeoutMs)
      start((err) => {
        clearTimeout(timer)
        if (err == null) {
          resolve()
          return
        }
        this.lost(port, err.message)
        reject(this.unavailable())
      })
    })
  }

  async close (): Promise<void> {
    this.closed = true
    clearTimeout(this.timer)
    const port = this.port
    this.port = undefined
    if (port !== undefined && !port.destroyed) {
      // a port whose device is wedged may never report closed: wait a bounded time
      await new Promise<void>((resolve) => {
        const timer = setTimeout(resolve, this.operationTimeoutMs * 4)
        port.once('close', () => {
          clearTimeout(timer)
          resolve()
        })
        port.destroy()
      })
    }
  }

  private unavailable (): OpenDcreError {
    return new OpenDcreError('unavailable', `serial device unavailable: ${this.reason}`)
  }

  private async open (): Promise<boolean> {
    if (this.closed) return false
    try {
      const port = await this.opener(this.path, this.baudRate)
      if (this.closed) {
        port.destroy()
        return false
      }
      this.port = port
      this.backoffMs = this.minBackoffMs
      port.on('data', (chunk: Buffer) => this.listener(chunk))
      port.on('error', (err: Error) => this.lost(port, err.message))
      port.on('close', () => this.lost(port, 'device closed'))
      this.log.info({ device: this.path, baud: this.baudRate }, 'serial device open')
      return true
    } catch (err) {
      this.reason = `${this.path}: ${(err as Error).message}`
      this.log.warn({ device: this.path, reason: this.reason, retryInMs: this.backoffMs }, 'serial device unavailable')
      this.schedule()
      return false
    }
  }

  /** The port failed: forget it, and reopen later. */
  private lost (port: SerialPortLike, reason: string): void {
    if (this.port !== port) return
    this.port = undefined
    this.reason = `${this.path}: ${reason}`
    this.log.warn({ device: this.path, reason }, 'serial device lost, reopening')
    if (!port.destroyed) port.destroy()
    this.schedule()
  }

  private schedule (): void {
    if (this.closed || this.timer !== undefined) return
    const delay = this.backoffMs
    this.backoffMs = Math.min(this.backoffMs * 2, this.maxBackoffMs)
    this.timer = setTimeout(() => {
      this.timer = undefined
      void this.open()
    }, delay)
    this.timer.unref()
  }
}

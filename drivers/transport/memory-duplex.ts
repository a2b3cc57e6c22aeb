import { Duplex } from 'node:stream'

/**
 * One end of an in-memory duplex pair: what is written to one end is read
 * from the other, asynchronously (next tick), in order — like a wire, so the
 * bus client and the emulator run exactly the code they run on a serial line.
 */
class MemoryDuplexEnd extends Duplex {
  peer?: MemoryDuplexEnd

  override _read (): void {}

  override _write (chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    const peer = this.peer
    if (peer === undefined || peer.destroyed) {
      cb(new Error('memory link closed'))
      return
    }
    const copy = Buffer.from(chunk)
    process.nextTick(() => {
      if (!peer.destroyed) peer.push(copy)
    })
    cb()
  }

  /** Deliver an event to the peer after the bytes already written. */
  sendEvent (name: string, ...args: unknown[]): void {
    const peer = this.peer
    process.nextTick(() => {
      if (peer !== undefined && !peer.destroyed) peer.emit(name, ...args)
    })
  }

  override _destroy (err: Error | null, cb: (err: Error | null) => void): void {
    const peer = this.peer
    this.peer = undefined
    if (peer !== undefined && !peer.destroyed) {
      peer.peer = undefined
      process.nextTick(() => peer.push(null))
    }
    cb(err)
  }
}

export function createDuplexPair (): [MemoryDuplexEnd, MemoryDuplexEnd] {
  const a = new MemoryDuplexEnd()
  const b = new MemoryDuplexEnd()
  a.peer = b
  b.peer = a
  return [a, b]
}

import { Duplex } from 'node:stream'
import t from 'tap'
import { StreamModemSerial } from '../../drivers/hat/modem-serial.js'

/** A port that records writes, drains, and flushes; the test pushes what the modem sends. */
class FakePort extends Duplex {
  readonly events: string[] = []
  failWrite?: Error

  override _read (): void {}

  override _write (chunk: Buffer, _encoding: BufferEncoding, callback: (err?: Error | null) => void): void {
    this.events.push(`write ${chunk.toString('hex')}`)
    callback(this.failWrite ?? null)
  }

  drain (callback?: (err: Error | null) => void): void {
    this.events.push('drain')
    setImmediate(() => callback?.(null))
  }

  flush (callback?: (err: Error | null) => void): void {
    this.events.push('flush')
    callback?.(null)
  }
}

t.test('write resolves after the port has drained', async (t) => {
  const port = new FakePort()
  const serial = new StreamModemSerial(port)
  await serial.write(Buffer.from([0x05, 0x69, 0x15, 0x29]))
  t.same(port.events, ['write 05691529', 'drain'])
  await serial.close()
})

t.test('read gathers bytes across chunks, and keeps the rest for the next read', async (t) => {
  const port = new FakePort()
  const serial = new StreamModemSerial(port)
  const first = serial.read(2)
  port.push(Buffer.from([0x69]))
  port.push(Buffer.from([0x29, 0x7f]))
  t.same([...await first], [0x69, 0x29])
  t.same([...await serial.read(1)], [0x7f])
  await serial.close()
})

t.test('bytes received before a read are delivered to it', async (t) => {
  const port = new FakePort()
  const serial = new StreamModemSerial(port)
  port.push(Buffer.from([0x69]))
  await new Promise((resolve) => setImmediate(resolve))
  t.same([...await serial.read(1)], [0x69])
  await serial.close()
})

t.test('flush discards what was received', async (t) => {
  const port = new FakePort()
  const serial = new StreamModemSerial(port, { readTimeoutMs: 20 })
  port.push(Buffer.from([0xaa, 0xbb]))
  await new Promise((resolve) => setImmediate(resolve))
  await serial.flush()
  t.same(port.events, ['flush'])
  await t.rejects(serial.read(1), { code: 'timeout', message: 'modem did not answer within 20 ms (0 of 1 bytes)' })
  await serial.close()
})

t.test('a silent modem -> timeout; the next read still works', async (t) => {
  const port = new FakePort()
  const serial = new StreamModemSerial(port, { readTimeoutMs: 20 })
  await t.rejects(serial.read(1), { code: 'timeout' })
  const next = serial.read(1)
  port.push(Buffer.from([0x29]))
  t.same([...await next], [0x29])
  await serial.close()
})

t.test('one read at a time', async (t) => {
  const port = new FakePort()
  const serial = new StreamModemSerial(port, { readTimeoutMs: 20 })
  const first = serial.read(1)
  await t.rejects(serial.read(1), /a read is already pending/)
  await t.rejects(first, { code: 'timeout' })
  await serial.close()
})

t.test('a port error fails the pending read and every later call', async (t) => {
  const port = new FakePort()
  const serial = new StreamModemSerial(port)
  const pending = serial.read(1)
  port.destroy(new Error('Input/output error'))
  await t.rejects(pending, { code: 'unavailable', message: 'modem serial line unavailable: Input/output error' })
  await t.rejects(serial.write(Buffer.from([0x0d])), { code: 'unavailable' })
  await t.rejects(serial.read(1), { code: 'unavailable' })
  await serial.close()
})

t.test('a failed write -> unavailable', async (t) => {
  const port = new FakePort()
  port.on('error', () => {})
  port.failWrite = new Error('EIO')
  const serial = new StreamModemSerial(port)
  await t.rejects(serial.write(Buffer.from([0x0d])), { code: 'unavailable', message: /EIO/ })
  await serial.close()
})

t.test('close destroys the port and fails a pending read', async (t) => {
  const port = new FakePort()
  const serial = new StreamModemSerial(port)
  const pending = serial.read(1)
  await serial.close()
  t.ok(port.destroyed)
  await t.rejects(pending, { code: 'unavailable', message: 'modem serial line unavailable: port closed' })
  await serial.close()
})

import { Duplex } from 'node:stream'
import t from 'tap'
import { BusClient } from '../../drivers/device-bus/bus-client.js'
import { OpenDcreError } from '../../drivers/errors.js'
import { SerialTransport, type SerialPortLike } from '../../drivers/transport/serial-transport.js'

/** A fake serial port: records writes; can be told to wedge (never call back) or fail. */
class FakePort extends Duplex {
  writes: Buffer[] = []
  wedged = false
  flushes = 0

  override _read (): void {}
  override _write (chunk: Buffer, _enc: BufferEncoding, cb: (err?: Error | null) => void): void {
    this.writes.push(Buffer.from(chunk))
    if (!this.wedged) cb()
  }

  flush (cb?: (err: Error | null) => void): void {
    this.flushes++
    if (!this.wedged) cb?.(null)
  }
}

function opener (ports: FakePort[], failures: string[] = []): (path: string) => Promise<SerialPortLike> {
  return async (path) => {
    const failure = failures.shift()
    if (failure !== undefined) throw new Error(`${failure} (${path})`)
    const port = new FakePort()
    ports.push(port)
    return port
  }
}

const until = async (check: () => boolean): Promise<void> => {
  for (let i = 0; i < 200 && !check(); i++) await new Promise((resolve) => setTimeout(resolve, 5))
}

t.test('a device that is not there: writes fail at once with the reason; it opens when it appears', async (t) => {
  const ports: FakePort[] = []
  const transport = new SerialTransport('/dev/ttyX', 115200, opener(ports, ['ENOENT', 'ENOENT']), { minBackoffMs: 5 })
  t.teardown(() => transport.close())
  t.equal(await transport.start(), false)
  await t.rejects(transport.write(Buffer.from([1])), { code: 'unavailable', message: 'serial device unavailable: /dev/ttyX: ENOENT (/dev/ttyX)' })
  await until(() => transport.isOpen)
  t.ok(transport.isOpen, 'reopened by itself with backoff')
  await transport.write(Buffer.from([1, 2]))
  t.same(ports[0].writes, [Buffer.from([1, 2])])
})

t.test('a port that errors is dropped and reopened', async (t) => {
  const ports: FakePort[] = []
  const transport = new SerialTransport('/dev/ttyX', 115200, opener(ports), { minBackoffMs: 5 })
  t.teardown(() => transport.close())
  await transport.start()
  ports[0].emit('error', new Error('EIO'))
  t.notOk(transport.isOpen)
  t.equal(transport.unavailableReason, '/dev/ttyX: EIO')
  await until(() => transport.isOpen)
  t.equal(ports.length, 2, 'a new port')
})

t.test('a wedged port (write never calls back) counts as lost: the write fails in bounded time', async (t) => {
  const ports: FakePort[] = []
  const transport = new SerialTransport('/dev/ttyX', 115200, opener(ports), { minBackoffMs: 5, operationTimeoutMs: 30 })
  t.teardown(() => transport.close())
  await transport.start()
  ports[0].wedged = true
  await t.rejects(transport.write(Buffer.from([1])), { message: /serial device unavailable: \/dev\/ttyX: write did not complete in 30 ms/ })
  await until(() => transport.isOpen)
  t.equal(ports.length, 2)
})

t.test('the bus client never waits on a transport that never calls back', async (t) => {
  const wedged = {
    write: async () => await new Promise<void>(() => {}),
    flush: async () => {},
    setDataListener: () => {},
    close: async () => {}
  }
  const client = new BusClient(wedged, { policy: { timeoutMs: 20 } })
  const started = Date.now()
  const err = await client.transact({ deviceType: 0x9c, boardId: 1, deviceId: 1, data: Buffer.from('R') }).catch((e: unknown) => e)
  t.type(err, OpenDcreError)
  t.equal((err as OpenDcreError).code, 'unavailable')
  t.ok(Date.now() - started < 2000, 'bounded')
  const next = await client.transact({ deviceType: 0x9c, boardId: 1, deviceId: 1, data: Buffer.from('R') }).catch((e: unknown) => e)
  t.equal((next as OpenDcreError).code, 'unavailable', 'the queue moves on')
})

t.test('closing a port that never reports closed ends in bounded time', async (t) => {
  class NeverClosing extends FakePort {
    override _destroy (): void {} // the callback never comes, so 'close' is never emitted
  }
  const transport = new SerialTransport('/dev/ttyX', 115200, async () => new NeverClosing(), { operationTimeoutMs: 50 })
  await transport.start()
  const started = Date.now()
  await transport.close()
  const took = Date.now() - started
  t.ok(took >= 150 && took < 3000, `close gave up after about 4 operation timeouts (${took} ms)`)
  t.notOk(transport.isOpen)
})

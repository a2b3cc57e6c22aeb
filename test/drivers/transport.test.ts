import { EventEmitter } from 'node:events'
import { Duplex } from 'node:stream'
import t from 'tap'
import { StreamTransport } from '../../drivers/transport/bus-transport.js'
import { createDuplexPair } from '../../drivers/transport/memory-duplex.js'

/** The in-memory duplex pair and the stream transport (drivers/transport). */

function collect (stream: Duplex): Buffer[] {
  const chunks: Buffer[] = []
  stream.on('data', (c: Buffer) => chunks.push(c))
  return chunks
}

function tick (): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

t.test('bytes written to one end are read from the other, in order, both ways', async (t) => {
  const [a, b] = createDuplexPair()
  t.teardown(() => { a.destroy(); b.destroy() })
  const atB = collect(b)
  const atA = collect(a)
  a.write(Buffer.from([1, 2]))
  a.write(Buffer.from([3]))
  b.write(Buffer.from([9]))
  t.same(atB, [], 'delivered asynchronously, not inside write()')
  await tick()
  t.same(Buffer.concat(atB), Buffer.from([1, 2, 3]))
  t.same(Buffer.concat(atA), Buffer.from([9]))
})

t.test('written bytes are copied', async (t) => {
  const [a, b] = createDuplexPair()
  t.teardown(() => { a.destroy(); b.destroy() })
  const atB = collect(b)
  const chunk = Buffer.from([5, 6, 7])
  a.write(chunk)
  chunk.fill(0)
  await tick()
  t.same(Buffer.concat(atB), Buffer.from([5, 6, 7]))
})

t.test('sendEvent reaches the peer after the bytes already written', async (t) => {
  const [a, b] = createDuplexPair()
  t.teardown(() => { a.destroy(); b.destroy() })
  const order: string[] = []
  b.on('data', (c: Buffer) => order.push(`data ${c.toString('hex')}`))
  b.on('idle', (n: number) => order.push(`idle ${n}`))
  a.write(Buffer.from([0xab]))
  a.sendEvent('idle', 1)
  await tick()
  await tick()
  t.same(order, ['data ab', 'idle 1'])
})

t.test('destroying one end ends the other; writes after that fail', async (t) => {
  const [a, b] = createDuplexPair()
  const ended = new Promise<void>((resolve) => b.once('end', resolve))
  b.resume()
  a.destroy()
  await ended
  t.pass('the peer sees the end of the stream')
  const err = await new Promise<Error | null | undefined>((resolve) => {
    b.on('error', () => {})
    b.write(Buffer.from([1]), (e) => resolve(e))
  })
  t.ok(err instanceof Error, 'a write to a closed link fails')
  b.destroy()
})

t.test('StreamTransport: write resolves, data goes to the one listener', async (t) => {
  const [a, b] = createDuplexPair()
  const transport = new StreamTransport(a)
  const atB = collect(b)
  const got: Buffer[] = []
  transport.setDataListener((c) => got.push(c))
  await transport.write(Buffer.from([1, 2, 3]))
  b.write(Buffer.from([4, 5]))
  await tick()
  t.same(Buffer.concat(atB), Buffer.from([1, 2, 3]))
  t.same(Buffer.concat(got), Buffer.from([4, 5]))
  t.equal(transport.supportsIdle, false)
  await transport.close()
  b.destroy()
})

t.test('StreamTransport: idle events come from the idle source', async (t) => {
  const [a, b] = createDuplexPair()
  const transport = new StreamTransport(a, a)
  t.equal(transport.supportsIdle, true)
  const idles: number[] = []
  transport.setIdleListener((n) => idles.push(n))
  b.sendEvent('idle', 3)
  await tick()
  t.same(idles, [3])
  await transport.close()
  b.destroy()
})

t.test('StreamTransport: without an idle source, setIdleListener is harmless', async (t) => {
  const [a, b] = createDuplexPair()
  const transport = new StreamTransport(a)
  transport.setIdleListener(() => t.fail('no idle without a source'))
  b.sendEvent('idle', 1)
  await tick()
  await transport.close()
  b.destroy()
  t.pass()
})

t.test('StreamTransport: flush calls the stream\'s flush when it has one', async (t) => {
  const [a, b] = createDuplexPair()
  await new StreamTransport(a).flush()
  t.pass('no flush on the stream: resolves')
  let flushed = 0
  const withFlush = Object.assign(b, { flush: (cb?: (err: Error | null) => void) => { flushed++; cb?.(null) } })
  await new StreamTransport(withFlush).flush()
  t.equal(flushed, 1)
  a.destroy()
  b.destroy()
})

t.test('StreamTransport: close is idempotent and later writes reject', async (t) => {
  const [a, b] = createDuplexPair()
  const transport = new StreamTransport(a)
  await transport.close()
  t.ok(a.destroyed)
  await transport.close()
  await t.rejects(transport.write(Buffer.from([1])), /closed/)
  b.destroy()
})

t.test('StreamTransport: a stream error does not crash the process', async (t) => {
  const stream = new Duplex({ read () {}, write (_c, _e, cb) { cb(new Error('EIO')) } })
  const transport = new StreamTransport(stream, new EventEmitter())
  await t.rejects(transport.write(Buffer.from([1])), /EIO/, 'the write fails')
  await transport.close()
})

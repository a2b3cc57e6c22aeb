import t from 'tap'
import { BusClient, type BusPolicy, type BusRequest } from '../../drivers/device-bus/bus-client.js'
import { decodePacket, encodePacket, toHex, type Packet } from '../../drivers/device-bus/packet-codec.js'
import { BusTimeoutError, OpenDcreError, PacketError } from '../../drivers/errors.js'
import type { BusTransport } from '../../drivers/transport/bus-transport.js'

/**
 * BusClient against a fake device that misbehaves on purpose (style.md §9,
 * after modbus-serial's testport): for each packet it receives, a script
 * decides which byte chunks to send back — a correct answer, a corrupt one, a
 * short one, junk, a stale answer with another sequence number, or nothing.
 */

/** What the device sends in answer to one packet: chunks, delivered one by one; [] is silence. */
type Script = (request: Packet, index: number) => Buffer[]

class FakeDevice implements BusTransport {
  /** Every packet received, decoded. */
  readonly sent: Packet[] = []
  /** Every packet received, as bytes. */
  readonly raw: Buffer[] = []
  flushes = 0
  closed = false
  /** Packets written while an answer to an earlier one was still on its way. */
  overlaps = 0
  /** Largest number of write() calls in progress at once. */
  maxConcurrentWrites = 0
  failWrites = false
  setIdleListener?: (listener: (packets: number) => void) => void
  private listener: (chunk: Buffer) => void = () => {}
  private idleListener?: (packets: number) => void
  private undelivered = 0
  private writing = 0

  /**
   * idle: 'auto' (default) signals idle after each packet's answer has been
   * delivered, as the in-memory emulator link does, so reads end without
   * waiting for the read timeout; 'manual' only when the test says so; 'none'
   * has no idle signal at all, like a serial line.
   * sync: deliver the answer inside write(), before the client starts reading.
   */
  constructor (private readonly script: Script, private readonly options: { idle?: 'auto' | 'manual' | 'none', sync?: boolean } = {}) {
    if (options.idle !== 'none') {
      this.setIdleListener = (listener) => { this.idleListener = listener }
    }
  }

  setDataListener (listener: (chunk: Buffer) => void): void {
    this.listener = listener
  }

  async write (bytes: Buffer): Promise<void> {
    if (this.failWrites) throw new Error('port gone')
    if (this.undelivered > 0) this.overlaps++
    this.writing++
    this.maxConcurrentWrites = Math.max(this.maxConcurrentWrites, this.writing)
    this.raw.push(Buffer.from(bytes))
    const request = decodePacket(bytes)
    this.sent.push(request)
    const packets = this.sent.length
    const chunks = this.script(request, packets - 1)
    if (this.options.sync === true) {
      for (const chunk of chunks) this.listener(chunk)
      this.writing--
      return
    }
    this.undelivered += chunks.length
    await tick()
    this.writing--
    // deliver after the write has completed, one chunk per turn of the event loop
    void (async () => {
      for (const chunk of chunks) {
        await tick()
        this.undelivered--
        this.listener(chunk)
      }
      if (this.idleListener !== undefined && (this.options.idle ?? 'auto') === 'auto') {
        await tick()
        this.idleListener(packets)
      }
    })()
  }

  /** Send bytes by hand, outside any script. */
  inject (chunk: Buffer): void {
    this.listener(chunk)
  }

  /** Emit an idle signal by hand. */
  idle (packets: number): void {
    this.idleListener?.(packets)
  }

  async flush (): Promise<void> {
    this.flushes++
  }

  async close (): Promise<void> {
    this.closed = true
  }
}

function tick (): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve))
}

/** A well-formed answer to `request`, as a device sends it (board 0, device 0xFFFF, type 0xFF). */
function answer (request: Packet, data: string, sequence = request.sequence): Buffer {
  return encodePacket({ sequence, deviceType: 0xff, boardId: 0, deviceId: 0xffff, data: Buffer.from(data, 'latin1') })
}

function badChecksum (bytes: Buffer): Buffer {
  const out = Buffer.from(bytes)
  out[out.length - 2] ^= 0x55
  return out
}

function badTrailer (bytes: Buffer): Buffer {
  const out = Buffer.from(bytes)
  out[out.length - 1] = 0x05
  return out
}

/** A scan record: device id and type code, as the boards send them (docs/protocol.md §3.4). */
function record (request: Packet, boardId: number, deviceId: number, type: number, sequence = request.sequence): Buffer {
  return encodePacket({ sequence, deviceType: type, boardId, deviceId, data: Buffer.from([type]) })
}

const READ: BusRequest = { deviceType: 0x9c, boardId: 0x00000001, deviceId: 0x0001, data: Buffer.from('R') }

/**
 * A read timeout far longer than any test: reads end on an answer or on the
 * fake's idle signal, never on a timer, so nothing here depends on the
 * machine's speed. The read timeout itself is tested below with answers that
 * are already buffered when the read starts. Scans never sleep.
 */
const POLICY: Partial<BusPolicy> = { timeoutMs: 10_000, scanRetryDelayMs: 0 }

function client (device: FakeDevice, policy: Partial<BusPolicy> = {}, sleeps: number[] = []): BusClient {
  return new BusClient(device, {
    policy: { ...POLICY, ...policy },
    sleep: async (ms) => { sleeps.push(ms) }
  })
}

async function rejection (p: Promise<unknown>): Promise<unknown> {
  try {
    await p
  } catch (err) {
    return err
  }
  throw new Error('expected a rejection')
}

const sequences = (device: FakeDevice): number[] => device.sent.map((p) => p.sequence)
const datas = (device: FakeDevice): string[] => device.sent.map((p) => p.data.toString('latin1'))

t.test('a correct answer: one packet, golden bytes, sequence 1', async (t) => {
  const device = new FakeDevice((req) => [answer(req, '656')])
  const bus = client(device)
  const res = await bus.transact(READ)
  t.equal(res.data.toString(), '656')
  t.equal(res.sequence, 1)
  t.equal(device.sent.length, 1)
  // docs/protocol.md §1.1/§3.1: read thermistor board 1 device 1, sequence 1
  t.equal(toHex(device.raw[0]), '010a019c000000010001520f04')
  t.ok(device.flushes >= 1, 'input is flushed before the command')
  t.equal(bus.stats.transactions, 1)
  t.equal(bus.stats.retries, 0)
})

t.test('stats: successes and the time of the last one', async (t) => {
  const device = new FakeDevice((req, i) => i === 1 ? [] : [answer(req, '656')])
  const bus = client(device)
  t.equal(bus.stats.successes, 0)
  t.equal(bus.stats.lastSuccessAt, null, 'none yet')
  const started = Date.now()
  await bus.transact(READ)
  const at = bus.stats.lastSuccessAt
  t.ok(at !== null && at >= started && at <= Date.now(), 'set by a good answer')
  await rejection(bus.transact(READ))
  t.equal(bus.stats.transactions, 2)
  t.equal(bus.stats.successes, 1, 'a timeout is no success')
  t.equal(bus.stats.lastSuccessAt, at, 'and leaves the last success as it was')
})

t.test('sequence numbers start at 1 and increase per packet', async (t) => {
  const device = new FakeDevice((req) => [answer(req, `r${req.sequence}`)])
  const bus = client(device)
  for (let i = 1; i <= 5; i++) {
    const res = await bus.transact(READ)
    t.equal(res.data.toString(), `r${i}`, `transaction ${i} gets its own answer`)
  }
  t.same(sequences(device), [1, 2, 3, 4, 5])
})

t.test('the counter wraps 254 -> 0 and never uses 0xFF (docs/protocol.md §1.3)', async (t) => {
  const device = new FakeDevice((req) => [answer(req, 'ok')])
  const bus = client(device)
  for (let i = 0; i < 256; i++) await bus.transact(READ)
  const seqs = sequences(device)
  t.equal(seqs[0], 1)
  t.equal(seqs[253], 254)
  t.equal(seqs[254], 0, 'after 254 comes 0')
  t.equal(seqs[255], 1)
  t.notOk(seqs.includes(0xff), '0xFF is never sent')
})

t.test('a corrupt checksum is retried with `?` and a new sequence number', async (t) => {
  const device = new FakeDevice((req, i) => i === 0 ? [badChecksum(answer(req, '656'))] : [answer(req, '656')])
  const bus = client(device)
  const res = await bus.transact(READ)
  t.equal(res.data.toString(), '656')
  t.equal(res.sequence, 2, 'the answer to the retry carries the retry\'s number')
  t.same(sequences(device), [1, 2])
  t.same(datas(device), ['R', '?'])
  const retry = device.sent[1]
  t.equal(retry.boardId, READ.boardId, 'same board')
  t.equal(retry.deviceId, READ.deviceId, 'same device')
  t.equal(retry.deviceType, READ.deviceType, 'same type')
  t.equal(toHex(retry.data), '3f', 'data is 0x3F')
  t.equal(bus.stats.retries, 1)
  t.equal(bus.stats.checksumErrors, 1)
  await bus.transact(READ)
  t.equal(device.sent[2].sequence, 3, 'the next command takes the next number')
})

t.test('a malformed answer (bad trailer) is retried too', async (t) => {
  const device = new FakeDevice((req, i) => i === 0 ? [badTrailer(answer(req, '656'))] : [answer(req, '28.78')])
  const bus = client(device)
  const res = await bus.transact(READ)
  t.equal(res.data.toString(), '28.78')
  t.same(datas(device), ['R', '?'])
  t.equal(bus.stats.checksumErrors, 0, 'not counted as a checksum error')
  t.equal(bus.stats.malformedPackets, 1, 'counted as malformed')
  t.equal(bus.stats.successes, 1, 'a success after a retry')
})

t.test('corrupt answers every time: 1 + retryLimit packets, then retry-limit', async (t) => {
  const device = new FakeDevice((req) => [badChecksum(answer(req, '656'))])
  const bus = client(device)
  const err = await rejection(bus.transact(READ))
  t.ok(err instanceof OpenDcreError)
  t.equal((err as OpenDcreError).code, 'retry-limit')
  t.ok((err as OpenDcreError).cause instanceof PacketError, 'the cause is the last packet error')
  t.equal(device.sent.length, 4, 'at most 4 packets with retry_limit 3')
  t.same(sequences(device), [1, 2, 3, 4])
  t.same(datas(device), ['R', '?', '?', '?'])
  t.equal(bus.stats.retries, 3)
  t.equal(bus.stats.checksumErrors, 4)
  t.equal(bus.stats.malformedPackets, 0)
  t.equal(bus.stats.successes, 0)
  await bus.transact(READ).catch(() => {})
  t.equal(device.sent[4].sequence, 5, 'every retry took a number')
})

t.test('retryLimit comes from the policy', async (t) => {
  for (const retryLimit of [0, 1, 5]) {
    const device = new FakeDevice((req) => [badTrailer(answer(req, '656'))])
    const bus = client(device, { retryLimit })
    const err = await rejection(bus.transact(READ))
    t.equal((err as OpenDcreError).code, 'retry-limit', `retryLimit ${retryLimit}`)
    t.equal(device.sent.length, 1 + retryLimit, `retryLimit ${retryLimit}: ${1 + retryLimit} packets`)
  }
})

t.test('the third retry may succeed', async (t) => {
  const device = new FakeDevice((req, i) => i < 3 ? [badChecksum(answer(req, 'x'))] : [answer(req, '12345')])
  const bus = client(device)
  const res = await bus.transact(READ)
  t.equal(res.data.toString(), '12345')
  t.equal(device.sent.length, 4)
})

t.test('silence on the first attempt: a timeout at once, no retry', async (t) => {
  const device = new FakeDevice(() => [])
  const bus = client(device)
  const err = await rejection(bus.transact(READ))
  t.ok(err instanceof BusTimeoutError)
  t.equal((err as BusTimeoutError).code, 'timeout')
  t.equal((err as BusTimeoutError).onRetry, false)
  t.equal((err as BusTimeoutError).message, 'No response from bus.')
  t.equal(device.sent.length, 1, 'no `?` after a timeout')
  t.equal(bus.stats.timeouts, 1)
  await bus.transact(READ).catch(() => {})
  t.equal(device.sent[1].sequence, 2)
})

t.test('a short packet then silence is a timeout, not a retry', async (t) => {
  const device = new FakeDevice((req) => [answer(req, '656').subarray(0, 8)])
  const bus = client(device)
  const err = await rejection(bus.transact(READ))
  t.ok(err instanceof BusTimeoutError, 'the trailer never arrives')
  t.equal((err as BusTimeoutError).onRetry, false)
  t.equal(device.sent.length, 1)
})

t.test('a length byte that is too large is a timeout, not a retry', async (t) => {
  const device = new FakeDevice((req) => {
    const bytes = answer(req, '656')
    bytes[1] = 0x40
    return [bytes]
  })
  const bus = client(device)
  const err = await rejection(bus.transact(READ))
  t.ok(err instanceof BusTimeoutError)
  t.equal(device.sent.length, 1)
})

t.test('a timeout on a retry: onRetry is true, no further retry', async (t) => {
  const device = new FakeDevice((req, i) => i === 0 ? [badChecksum(answer(req, '656'))] : [])
  const bus = client(device)
  const err = await rejection(bus.transact(READ))
  t.ok(err instanceof BusTimeoutError)
  t.equal((err as BusTimeoutError).onRetry, true)
  t.equal(device.sent.length, 2)
  t.same(datas(device), ['R', '?'])
})

t.test('a timeout on the second retry: onRetry is true', async (t) => {
  const device = new FakeDevice((req, i) => i < 2 ? [badTrailer(answer(req, '656'))] : [])
  const bus = client(device)
  const err = await rejection(bus.transact(READ))
  t.equal((err as BusTimeoutError).onRetry, true)
  t.equal(device.sent.length, 3)
})

t.test('junk before and after the answer', async (t) => {
  const device = new FakeDevice((req) => [Buffer.concat([
    Buffer.from([0x00, 0xff, 0x7e, 0x04]),
    answer(req, `v${req.sequence}`),
    Buffer.from([11, 12, 13])
  ])])
  const bus = client(device)
  t.equal((await bus.transact(READ)).data.toString(), 'v1')
  t.equal((await bus.transact(READ)).data.toString(), 'v2', 'the junk tail does not spoil the next answer')
  t.equal(device.sent.length, 2, 'no retries')
})

t.test('an answer arriving one byte at a time', async (t) => {
  const device = new FakeDevice((req) => [...answer(req, '28.78')].map((b) => Buffer.from([b])))
  const bus = client(device)
  t.equal((await bus.transact(READ)).data.toString(), '28.78')
  t.equal(device.sent.length, 1)
})

t.test('a stale answer with the wrong sequence number is dropped', async (t) => {
  const device = new FakeDevice((req) => [answer(req, 'stale', 200), answer(req, 'fresh')])
  const bus = client(device)
  const res = await bus.transact(READ)
  t.equal(res.data.toString(), 'fresh')
  t.equal(device.sent.length, 1, 'no retry')
  t.equal(bus.stats.retries, 0)
})

t.test('a stale answer in the same chunk as the right one is dropped', async (t) => {
  const device = new FakeDevice((req) => [Buffer.concat([answer(req, 'stale', (req.sequence + 254) % 255), answer(req, 'fresh')])])
  const bus = client(device)
  t.equal((await bus.transact(READ)).data.toString(), 'fresh')
})

t.test('only a stale answer: a timeout', async (t) => {
  const device = new FakeDevice((req) => [answer(req, 'stale', 99)])
  const bus = client(device)
  const err = await rejection(bus.transact(READ))
  t.ok(err instanceof BusTimeoutError)
  t.equal(device.sent.length, 1)
})

t.test('a corrupt stale answer is still a packet error: it is decoded before its number is compared', async (t) => {
  const device = new FakeDevice((req, i) => i === 0 ? [badChecksum(answer(req, 'stale', 99))] : [answer(req, 'ok')])
  const bus = client(device)
  t.equal((await bus.transact(READ)).data.toString(), 'ok')
  t.same(datas(device), ['R', '?'])
})

t.test('an answer to `?` that carries the first command\'s number is dropped', async (t) => {
  const device = new FakeDevice((req, i) => i === 0 ? [badChecksum(answer(req, '656'))] : [answer(req, '656', 1)])
  const bus = client(device)
  const err = await rejection(bus.transact(READ))
  t.ok(err instanceof BusTimeoutError)
  t.equal((err as BusTimeoutError).onRetry, true)
})

t.test('scan collects records until silence', async (t) => {
  const device = new FakeDevice((req) => [
    record(req, 0x1e, 0x01ff, 0x40),
    record(req, 0x1e, 0x02ff, 0x4e),
    record(req, 0x1e, 0x03ff, 0x9c)
  ])
  const bus = client(device)
  const records = await bus.scan(0x1e)
  t.same(records.map((r) => [r.boardId, r.deviceId, r.data[0]]), [[0x1e, 0x01ff, 0x40], [0x1e, 0x02ff, 0x4e], [0x1e, 0x03ff, 0x9c]])
  t.equal(device.sent.length, 1)
  const dump = device.sent[0]
  t.same([dump.sequence, dump.deviceType, dump.boardId, dump.deviceId, dump.data.toString()], [1, 0xff, 0x1e, 0xffff, 'D'], 'D, type 0xFF, device 0xFFFF')
  t.equal(bus.stats.transactions, 0, 'a scan is not a transaction')
  t.not(bus.stats.lastSuccessAt, null, 'but an answered scan is a sign of life')
})

t.test('scan drops records with another sequence number', async (t) => {
  const device = new FakeDevice((req) => [
    record(req, 0x1e, 0x01ff, 0x40, 77),
    record(req, 0x1e, 0x02ff, 0x4e),
    record(req, 0x1e, 0x03ff, 0x9c, 78)
  ])
  const bus = client(device)
  const records = await bus.scan(0x1e)
  t.same(records.map((r) => r.deviceId), [0x02ff])
})

t.test('scan with silence before the first record: a timeout', async (t) => {
  const device = new FakeDevice(() => [])
  const bus = client(device)
  const err = await rejection(bus.scan(0x1e))
  t.ok(err instanceof BusTimeoutError)
  t.equal((err as BusTimeoutError).onRetry, false)
  t.equal(device.sent.length, 1, 'a scan is not re-sent after silence')
})

t.test('scan re-sends the same packet (same sequence) after a corrupt record', async (t) => {
  const device = new FakeDevice((req, i) => i === 0
    ? [record(req, 0x1e, 0x01ff, 0x40), badChecksum(record(req, 0x1e, 0x02ff, 0x4e))]
    : [record(req, 0x1e, 0x01ff, 0x40), record(req, 0x1e, 0x02ff, 0x4e)])
  const sleeps: number[] = []
  const bus = client(device, { scanRetryDelayMs: 150 }, sleeps)
  const records = await bus.scan(0x1e)
  t.same(records.map((r) => r.deviceId), [0x01ff, 0x02ff], 'only the records of the good answer')
  t.equal(device.sent.length, 2)
  t.equal(toHex(device.raw[1]), toHex(device.raw[0]), 'the very same bytes: same sequence, no `?`')
  t.same(sleeps, [150], 'waits scanRetryDelayMs before the re-send')
  t.ok(device.flushes >= 2, 'flushes before the re-send')
  await bus.transact(READ).catch(() => {})
  t.equal(device.sent[2].sequence, 2, 'the re-send took no number')
})

t.test('scan gives up after policy.scanAttempts transmissions', async (t) => {
  for (const scanAttempts of [1, 3, 4]) {
    const device = new FakeDevice((req) => [badTrailer(record(req, 0x1e, 0x01ff, 0x40))])
    const sleeps: number[] = []
    const bus = client(device, { scanAttempts, scanRetryDelayMs: 5 }, sleeps)
    const err = await rejection(bus.scan(0x1e))
    t.equal((err as OpenDcreError).code, 'retry-limit', `scanAttempts ${scanAttempts}`)
    t.equal((err as OpenDcreError).message, 'Corrupt packets received (failed checksum validation) - Retry limit reached.')
    t.equal(device.sent.length, scanAttempts, `scanAttempts ${scanAttempts}: ${scanAttempts} transmissions`)
    t.ok(device.sent.every((p) => p.sequence === 1 && p.data.toString() === 'D'), 'all the same scan packet')
    t.same(sleeps, new Array(scanAttempts - 1).fill(5))
  }
})

t.test('scanAll: board id 0x80000000 | mac << 8.. | timeSlice, then a save packet', async (t) => {
  const device = new FakeDevice((req) => (req.boardId & 0x10000000) !== 0
    ? []
    : [record(req, 0x01, 0x0001, 0x9c), record(req, 0x03, 0x0002, 0x82)])
  const bus = client(device, { macBytes: [0x23, 0x54], timeSlice: 75 })
  const records = await bus.scanAll()
  t.same(records.map((r) => [r.boardId, r.deviceId]), [[0x01, 0x0001], [0x03, 0x0002]])
  t.equal(device.sent.length, 2)
  t.equal(device.sent[0].boardId, 0x8023544b, '0x80000000 | 0x23 << 16 | 0x54 << 8 | 75')
  t.equal(toHex(device.raw[0]), '010a01ff8023544bffff447c04')
  const save = device.sent[1]
  t.same([save.sequence, save.boardId, save.deviceType, save.deviceId, save.data.toString()], [2, 0x90000000, 0xff, 0xffff, 'D'], 'save packet takes the next number')
  await bus.transact(READ).catch(() => {})
  t.equal(device.sent[2].sequence, 3)
})

t.test('scanAll default policy: time slice 75', async (t) => {
  const device = new FakeDevice((req) => (req.boardId & 0x10000000) !== 0 ? [] : [record(req, 1, 1, 0x9c)])
  const bus = new BusClient(device, { policy: { timeoutMs: 10_000 } })
  await bus.scanAll()
  t.equal(device.sent[0].boardId, (0x80000000 | 75) >>> 0)
})

t.test('scanAll sets the shuffle bit on re-sends, keeps the sequence', async (t) => {
  const device = new FakeDevice((req, i) => {
    if ((req.boardId & 0x10000000) !== 0) return []
    if (i < 2) return [record(req, 0x01, 0x0001, 0x9c), badChecksum(record(req, 0x05, 0x0001, 0x9c))]
    return [record(req, 0x01, 0x0001, 0x9c), record(req, 0x05, 0x0001, 0x9c)]
  })
  const sleeps: number[] = []
  const bus = client(device, { macBytes: [0x23, 0x54], timeSlice: 75, scanRetryDelayMs: 150 }, sleeps)
  const records = await bus.scanAll()
  t.same(records.map((r) => r.boardId), [0x01, 0x05])
  t.same(device.sent.map((p) => p.boardId), [0x8023544b, 0xa023544b, 0xa023544b, 0x90000000])
  t.same(sequences(device), [1, 1, 1, 2])
  t.same(sleeps, [150, 150])
})

t.test('scanAll failure: retry-limit after scanAttempts, no save packet', async (t) => {
  const device = new FakeDevice((req) => [badChecksum(record(req, 0x01, 0x0001, 0x9c))])
  const bus = client(device)
  const err = await rejection(bus.scanAll())
  t.equal((err as OpenDcreError).code, 'retry-limit')
  t.equal(device.sent.length, 3, 'three transmissions in all')
  t.notOk(device.sent.some((p) => p.boardId === 0x90000000), 'no save packet')
  await bus.transact(READ).catch(() => {})
  t.equal(device.sent[3].sequence, 2, 'nothing but the scan took a number')
})

t.test('scanAll silence: a timeout, no save packet', async (t) => {
  const device = new FakeDevice(() => [])
  const bus = client(device)
  const err = await rejection(bus.scanAll())
  t.ok(err instanceof BusTimeoutError)
  t.equal(device.sent.length, 1)
})

t.test('concurrency: 20 parallel transactions are serialised, each gets its own answer', async (t) => {
  const device = new FakeDevice((req) => [answer(req, `dev${req.deviceId}`)])
  const bus = client(device)
  const results = await Promise.all(Array.from({ length: 20 }, (_, i) =>
    bus.transact({ ...READ, deviceId: i + 1 })))
  results.forEach((res, i) => t.equal(res.data.toString(), `dev${i + 1}`, `transaction ${i + 1}`))
  t.equal(device.overlaps, 0, 'never a packet while another answer was outstanding')
  t.equal(device.maxConcurrentWrites, 1)
  t.same(device.sent.map((p) => p.deviceId), Array.from({ length: 20 }, (_, i) => i + 1), 'in the order they were asked')
  t.same(sequences(device), Array.from({ length: 20 }, (_, i) => i + 1))
})

t.test('concurrency with failures: a timeout or retry in one transaction does not disturb the others', async (t) => {
  const device = new FakeDevice((req) => {
    if (req.deviceId === 3) return []
    if (req.deviceId === 5 && req.data.toString() === 'R') return [badChecksum(answer(req, 'x'))]
    return [answer(req, `dev${req.deviceId}`)]
  })
  const bus = client(device)
  const settled = await Promise.allSettled(Array.from({ length: 8 }, (_, i) => bus.transact({ ...READ, deviceId: i + 1 })))
  settled.forEach((s, i) => {
    if (i + 1 === 3) t.equal(s.status, 'rejected', 'device 3 times out')
    else t.equal(s.status === 'fulfilled' ? s.value.data.toString() : 'rejected', `dev${i + 1}`)
  })
  t.equal(device.overlaps, 0)
})

t.test('a session holds the bus for several transactions', async (t) => {
  const device = new FakeDevice((req) => [answer(req, 'W1')])
  const bus = client(device)
  const order: string[] = []
  const session = bus.session(async (s) => {
    await s.transact({ ...READ, deviceId: 10 })
    await tick()
    await tick()
    await s.transact({ ...READ, deviceId: 11 })
    order.push('session done')
  })
  const other = bus.transact({ ...READ, deviceId: 20 }).then(() => order.push('other done'))
  await Promise.all([session, other])
  t.same(device.sent.map((p) => p.deviceId), [10, 11, 20])
  t.same(order, ['session done', 'other done'])
})

t.test('a request that waited too long for the bus fails overloaded and takes no number', async (t) => {
  const device = new FakeDevice((req) => [answer(req, 'ok')])
  const bus = client(device, { queueTimeoutMs: 5 })
  let release: () => void = () => {}
  const gate = new Promise<void>((resolve) => { release = resolve })
  const holder = bus.session(async (s) => {
    await s.transact(READ)
    await gate
  })
  const waiting = rejection(bus.transact(READ))
  setTimeout(release, 50)
  await holder
  const err = await waiting
  t.equal((err as OpenDcreError).code, 'overloaded')
  t.equal(device.sent.length, 1)
  await bus.transact(READ)
  t.same(sequences(device), [1, 2])
})

t.test('an idle signal ends a scan at once', async (t) => {
  const device = new FakeDevice((req) => [record(req, 0x1e, 0x01ff, 0x40), record(req, 0x1e, 0x02ff, 0x4e)], { idle: 'auto' })
  // a read timeout far longer than the bound below: only the idle signal can end the scan in time
  const bus = client(device, { timeoutMs: 30_000 })
  let timer: NodeJS.Timeout | undefined
  const bound = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error('scan did not end on the idle signal')), 10_000)
  })
  try {
    const records = await Promise.race([bus.scan(0x1e), bound])
    t.same(records.map((r) => r.deviceId), [0x01ff, 0x02ff])
  } finally {
    clearTimeout(timer)
  }
})

t.test('an idle signal for earlier packets does not end the read', async (t) => {
  const device = new FakeDevice(() => [], { idle: 'manual' })
  const bus = client(device, { timeoutMs: 30_000 })
  // answered by hand: a stale idle (0 packets), the record, then the idle for this packet
  const scan = bus.scan(0x1e)
  while (device.sent.length === 0) await tick()
  await tick()
  device.idle(0)
  await tick()
  device.inject(record(device.sent[0], 0x1e, 0x01ff, 0x40))
  await tick()
  device.idle(1)
  const records = await scan
  t.same(records.map((r) => r.deviceId), [0x01ff], 'the record after the stale idle is kept')
})

t.test('an idle signal with no answer is a timeout at once', async (t) => {
  const device = new FakeDevice(() => [], { idle: 'auto' })
  const bus = client(device, { timeoutMs: 30_000 })
  let timer: NodeJS.Timeout | undefined
  const bound = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error('read did not end on the idle signal')), 10_000)
  })
  try {
    const err = await rejection(Promise.race([bus.transact(READ), bound]))
    t.ok(err instanceof BusTimeoutError)
  } finally {
    clearTimeout(timer)
  }
})

t.test('a transport write failure is unavailable', async (t) => {
  const device = new FakeDevice((req) => [answer(req, 'ok')])
  device.failWrites = true
  const bus = client(device)
  const err = await rejection(bus.transact(READ))
  t.equal((err as OpenDcreError).code, 'unavailable')
  t.match((err as OpenDcreError).message, /port gone/)
})

t.test('close: the transport is closed and later requests are refused', async (t) => {
  const device = new FakeDevice((req) => [answer(req, 'ok')])
  const bus = client(device)
  await bus.transact(READ)
  await bus.close()
  t.ok(device.closed)
  const err = await rejection(bus.transact(READ))
  t.equal((err as OpenDcreError).code, 'unavailable')
  await bus.close()
  t.equal(device.sent.length, 1)
})

t.test('close during a read ends it', async (t) => {
  const device = new FakeDevice(() => [], { idle: 'none' })
  const bus = client(device, { timeoutMs: 30_000 })
  const pending = rejection(bus.transact(READ))
  while (device.sent.length === 0) await tick()
  await bus.close()
  const err = await pending
  t.ok(err instanceof OpenDcreError, 'the read fails instead of waiting for the timeout')
})

/* Without an idle signal (a serial line), silence of policy.timeoutMs ends a read. */
const SERIAL = { idle: 'none', sync: true } as const
const SHORT: Partial<BusPolicy> = { timeoutMs: 40 }

t.test('serial line: silence on the first attempt is a timeout after timeoutMs', async (t) => {
  const device = new FakeDevice(() => [], SERIAL)
  const bus = client(device, SHORT)
  const err = await rejection(bus.transact(READ))
  t.ok(err instanceof BusTimeoutError)
  t.equal((err as BusTimeoutError).onRetry, false)
  t.equal(device.sent.length, 1)
})

t.test('serial line: a corrupt answer, then silence on the retry', async (t) => {
  const device = new FakeDevice((req, i) => i === 0 ? [badChecksum(answer(req, '656'))] : [], SERIAL)
  const bus = client(device, SHORT)
  const err = await rejection(bus.transact(READ))
  t.ok(err instanceof BusTimeoutError)
  t.equal((err as BusTimeoutError).onRetry, true)
  t.same(datas(device), ['R', '?'])
})

t.test('serial line: a short packet then silence', async (t) => {
  const device = new FakeDevice((req) => [answer(req, '656').subarray(0, 8)], SERIAL)
  const bus = client(device, SHORT)
  const err = await rejection(bus.transact(READ))
  t.ok(err instanceof BusTimeoutError)
  t.equal(device.sent.length, 1)
})

t.test('serial line: a scan ends after timeoutMs of silence', async (t) => {
  const device = new FakeDevice((req) => [record(req, 0x1e, 0x01ff, 0x40), Buffer.from([0x00, 0x33]), record(req, 0x1e, 0x02ff, 0x4e)], SERIAL)
  const bus = client(device, SHORT)
  const records = await bus.scan(0x1e)
  t.same(records.map((r) => r.deviceId), [0x01ff, 0x02ff])
})

t.test('serial line: scan-all, a corrupt answer, the shuffle re-send, the save packet', async (t) => {
  const device = new FakeDevice((req, i) => {
    if ((req.boardId & 0x10000000) !== 0) return []
    return i === 0 ? [badChecksum(record(req, 0x01, 0x0001, 0x9c))] : [record(req, 0x01, 0x0001, 0x9c)]
  }, SERIAL)
  const bus = client(device, { ...SHORT, macBytes: [0x23, 0x54] })
  const records = await bus.scanAll()
  t.equal(records.length, 1)
  t.same(device.sent.map((p) => [p.sequence, p.boardId]), [[1, 0x8023544b], [1, 0xa023544b], [2, 0x90000000]])
})

t.test('serial line: a correct answer does not wait for the timeout', async (t) => {
  const device = new FakeDevice((req) => [answer(req, '656')], SERIAL)
  // a timeout far beyond the test's own limit: the answer must end the read
  const bus = client(device, { timeoutMs: 600_000 })
  t.equal((await bus.transact(READ)).data.toString(), '656')
})

import t from 'tap'
import { decodePacket, encodePacket, toHex } from '../../drivers/device-bus/packet-codec.js'
import { PacketFramer } from '../../drivers/device-bus/packet-framer.js'

/**
 * The framer follows docs/protocol.md §1.4 "Reading a packet from the byte stream":
 * discard bytes until 0x01, read the length byte L, read L bytes, read one
 * trailer byte. Bytes after a frame stay for the next read.
 */

const READ = encodePacket({ sequence: 1, deviceType: 0x9c, boardId: 1, deviceId: 1, data: Buffer.from('R') })
const ANSWER = encodePacket({ sequence: 7, deviceType: 0xff, boardId: 0, deviceId: 0xffff, data: Buffer.from('28.78') })

function drain (framer: PacketFramer): Buffer[] {
  const frames: Buffer[] = []
  for (let f = framer.next(); f !== undefined; f = framer.next()) frames.push(f)
  return frames
}

t.test('a whole frame in one chunk', async (t) => {
  const framer = new PacketFramer()
  t.equal(framer.next(), undefined, 'nothing before any input')
  framer.push(READ)
  const frame = framer.next()
  t.equal(toHex(frame ?? Buffer.alloc(0)), toHex(READ))
  t.equal(framer.next(), undefined, 'nothing after the frame')
  t.equal(framer.pending, 0)
  t.equal(framer.discarded, 0)
})

t.test('noise before the header is discarded and counted', async (t) => {
  const framer = new PacketFramer()
  // no 0x01 in the noise: 0x01 would be taken for a header (the reference does the same)
  framer.push(Buffer.concat([Buffer.from([0x00, 0xff, 0x04, 0x33, 0x7e]), ANSWER]))
  const frames = drain(framer)
  t.equal(frames.length, 1)
  t.equal(toHex(frames[0]), toHex(ANSWER))
  t.equal(framer.discarded, 5)
  t.equal(decodePacket(frames[0]).data.toString(), '28.78')
})

t.test('a frame split across pushes, one byte at a time', async (t) => {
  const framer = new PacketFramer()
  const bytes = Buffer.concat([Buffer.from([0x55, 0xaa]), ANSWER])
  const got: Buffer[] = []
  bytes.forEach((b, i) => {
    framer.push(Buffer.from([b]))
    const frame = framer.next()
    if (frame !== undefined) {
      t.equal(i, bytes.length - 1, 'the frame appears only with its trailer byte')
      got.push(frame)
    }
  })
  t.equal(got.length, 1)
  t.equal(toHex(got[0]), toHex(ANSWER))
  t.equal(framer.discarded, 2)
  t.equal(framer.pending, 0)
})

t.test('a frame split at every possible point', async (t) => {
  for (let cut = 0; cut <= ANSWER.length; cut++) {
    const framer = new PacketFramer()
    framer.push(ANSWER.subarray(0, cut))
    const early = framer.next()
    framer.push(ANSWER.subarray(cut))
    const frame = early ?? framer.next()
    t.equal(early === undefined, cut < ANSWER.length, `cut at ${cut}: no frame before the trailer`)
    t.equal(toHex(frame ?? Buffer.alloc(0)), toHex(ANSWER), `cut at ${cut}`)
  }
})

t.test('two frames in one chunk', async (t) => {
  const framer = new PacketFramer()
  framer.push(Buffer.concat([READ, ANSWER]))
  const frames = drain(framer)
  t.same(frames.map(toHex), [toHex(READ), toHex(ANSWER)])
  t.equal(framer.pending, 0)
})

t.test('bytes after a packet stay for the next read', async (t) => {
  const framer = new PacketFramer()
  // a valid packet followed by junk 11, 12, 13 (reference devicebus-data.json boards 0xCC/0xCD)
  framer.push(Buffer.concat([ANSWER, Buffer.from([11, 12, 13])]))
  t.equal(toHex(framer.next() ?? Buffer.alloc(0)), toHex(ANSWER))
  t.equal(framer.pending, 3, 'the junk tail is kept')
  t.equal(framer.discarded, 0, 'and not yet discarded')
  framer.push(READ)
  t.equal(toHex(framer.next() ?? Buffer.alloc(0)), toHex(READ), 'the tail is junk ahead of the next packet')
  t.equal(framer.discarded, 3)
})

t.test('the start of a second frame after a complete one waits for its rest', async (t) => {
  const framer = new PacketFramer()
  framer.push(Buffer.concat([READ, ANSWER.subarray(0, 6)]))
  t.equal(toHex(framer.next() ?? Buffer.alloc(0)), toHex(READ))
  t.equal(framer.next(), undefined)
  t.equal(framer.pending, 6)
  framer.push(ANSWER.subarray(6))
  t.equal(toHex(framer.next() ?? Buffer.alloc(0)), toHex(ANSWER))
})

t.test('a length byte that is too large needs more bytes', async (t) => {
  const framer = new PacketFramer()
  // length 0xFF: the frame is 258 bytes long; the packet's real 13 bytes do not end it
  const bad = Buffer.from(READ)
  bad[1] = 0xff
  framer.push(bad)
  t.equal(framer.next(), undefined, 'no frame yet')
  t.equal(framer.pending, READ.length, 'the bytes are kept')
  framer.push(Buffer.alloc(0xff + 3 - READ.length - 1, 0x00))
  t.equal(framer.next(), undefined, 'still one byte short')
  framer.push(Buffer.from([0x04, 0x77]))
  const frame = framer.next()
  t.equal(frame?.length, 0xff + 3, 'header + length byte + L bytes + trailer')
  t.equal(framer.pending, 1, 'the byte after it stays')
  t.throws(() => decodePacket(frame ?? Buffer.alloc(0)), { code: 'checksum' }, 'the decoder judges the frame')
})

t.test('a length byte that is too small cuts the frame short', async (t) => {
  const framer = new PacketFramer()
  const bad = Buffer.from(READ)
  bad[1] = 0x05
  framer.push(bad)
  const frame = framer.next()
  t.equal(frame?.length, 8, 'header + length + 5 + trailer')
  t.throws(() => decodePacket(frame ?? Buffer.alloc(0)), { code: 'malformed', message: /too short/ })
  t.equal(framer.pending, READ.length - 8, 'the rest stays buffered')
})

t.test('noise containing 0x01 is taken for a header (as the reference reads)', async (t) => {
  const framer = new PacketFramer()
  // 0x01 then length 0: a 3-byte frame (header, length, "trailer")
  framer.push(Buffer.concat([Buffer.from([0x01, 0x00, 0x99]), ANSWER]))
  const frames = drain(framer)
  t.same(frames.map(toHex), ['010099', toHex(ANSWER)])
  t.throws(() => decodePacket(frames[0]), { code: 'malformed' })
})

t.test('no header at all: everything is discarded', async (t) => {
  const framer = new PacketFramer()
  framer.push(Buffer.from([0x00, 0x02, 0x03, 0x04, 0xff]))
  t.equal(framer.next(), undefined)
  t.equal(framer.pending, 0)
  t.equal(framer.discarded, 5)
  framer.push(Buffer.from([0x10, 0x20]))
  t.equal(framer.next(), undefined)
  t.equal(framer.discarded, 7)
  framer.push(READ)
  t.equal(toHex(framer.next() ?? Buffer.alloc(0)), toHex(READ), 'a later frame is still found')
})

t.test('a lone header byte waits for the length byte', async (t) => {
  const framer = new PacketFramer()
  framer.push(Buffer.from([0x01]))
  t.equal(framer.next(), undefined)
  t.equal(framer.pending, 1)
  framer.push(READ.subarray(1))
  t.equal(toHex(framer.next() ?? Buffer.alloc(0)), toHex(READ))
})

t.test('clear() drops buffered input (serial flush)', async (t) => {
  const framer = new PacketFramer()
  framer.push(ANSWER.subarray(0, 9))
  t.equal(framer.pending, 9)
  framer.clear()
  t.equal(framer.pending, 0)
  framer.push(READ)
  t.equal(toHex(framer.next() ?? Buffer.alloc(0)), toHex(READ), 'the half frame does not merge with the next')
})

t.test('returned frames are copies, not views of later-reused input', async (t) => {
  const framer = new PacketFramer()
  const chunk = Buffer.concat([READ, ANSWER])
  framer.push(chunk)
  const first = framer.next()
  chunk.fill(0)
  t.equal(toHex(first ?? Buffer.alloc(0)), toHex(READ), 'the pushed chunk was copied')
  const second = framer.next()
  t.equal(toHex(second ?? Buffer.alloc(0)), toHex(ANSWER))
})

import t from 'tap'
import {
  checksum,
  decodePacket,
  encodePacket,
  MAX_DATA_LENGTH,
  MIN_PACKET_LENGTH,
  nextSequence,
  toHex,
  type Packet
} from '../../drivers/device-bus/packet-codec.js'
import { OpenDcreError, PacketError } from '../../drivers/errors.js'

/**
 * Golden byte vectors for the device-bus packet (docs/protocol.md §1.1, §1.2). The hex was
 * computed independently of the codec: checksum = two's complement of the low
 * byte of sum(sequence, type, board bytes, device bytes, data).
 */
interface Vector {
  name: string
  hex: string
  expected: Packet
}

function pkt (sequence: number, deviceType: number, boardId: number, deviceId: number, data: string | number[]): Packet {
  return { sequence, deviceType, boardId, deviceId, data: typeof data === 'string' ? Buffer.from(data, 'latin1') : Buffer.from(data) }
}

const vectors: Vector[] = [
  {
    // §3 read, §2 thermistor 0x9C: 1+0x9C+1+1+0x52 = 0xF1 -> checksum 0x0F
    name: '§3 read thermistor board 1 device 1, sequence 1',
    hex: '010a019c000000010001520f04',
    expected: pkt(1, 0x9c, 0x00000001, 0x0001, 'R')
  },
  {
    // §3 version: type 0xFF, device 0xFFFF
    name: '§3 version board 1, sequence 2',
    hex: '010a02ff00000001ffff56aa04',
    expected: pkt(2, 0xff, 0x00000001, 0xffff, 'V')
  },
  {
    name: '§3 power status (P?) board 0x1E device 0x01FF',
    hex: '010b03400000001e01ff503f1004',
    expected: pkt(3, 0x40, 0x0000001e, 0x01ff, 'P?')
  },
  {
    // §4: 0x80000000 | 0x23 << 16 | 0x54 << 8 | 75
    name: '§4 scan-all board id with MAC bytes 0x23 0x54 and time slice 75',
    hex: '010a01ff8023544bffff447c04',
    expected: pkt(1, 0xff, 0x8023544b, 0xffff, 'D')
  },
  {
    // §4 save packet; the reference emulator suite sends it with sequence 89
    name: '§4 scan-all save packet (0x90000000), sequence 89',
    hex: '010a59ff90000000ffff44d604',
    expected: pkt(89, 0xff, 0x90000000, 0xffff, 'D')
  },
  {
    // §1: 12 bytes is the minimum, a packet with no data at all
    name: '§1 empty data: a 12-byte packet, length byte 9, checksum 0',
    hex: '010900000000000000000004',
    expected: pkt(0, 0x00, 0, 0, [])
  },
  {
    // §1: sequence 254 is the highest the counter uses
    name: '§3 led write W1, sequence 254, highest bus board id',
    hex: '010bfe1000ffffffffff57316f04',
    expected: pkt(254, 0x10, 0x00ffffff, 0xffff, 'W1')
  },
  {
    name: '§3 read answer with ASCII data 28.78',
    hex: '010e07ff00000000ffff32382e3738f504',
    expected: pkt(7, 0xff, 0, 0xffff, '28.78')
  },
  {
    // §3 fan write: 0xFF byte, then ASCII rpm
    name: '§3 fan_speed write 0xFF + "4100"',
    hex: '010e0582000000140002ff343130309f04',
    expected: pkt(5, 0x82, 0x14, 0x0002, [0xff, 0x34, 0x31, 0x30, 0x30])
  },
  {
    // reference emulator test data (emulator-data.json board 12345678): the scan record
    // that must be answered to a scan-all carrying sequence 88
    name: '§1 reference raw scan record, sequence 88, checksum 159',
    hex: Buffer.from([1, 12, 88, 64, 0x12, 0x34, 0x56, 0x78, 0xaa, 0x05, 1, 2, 3, 159, 4]).toString('hex'),
    expected: pkt(88, 0x40, 0x12345678, 0xaa05, [1, 2, 3])
  },
  {
    // emulator-data.json board 00000010 retry_firmware_version: version "12345", checksum 254
    name: '§1 reference raw version answer "12345", checksum 0xFE',
    hex: Buffer.from([1, 14, 6, 255, 0, 0, 0, 0, 255, 255, 49, 50, 51, 52, 53, 254, 4]).toString('hex'),
    expected: pkt(6, 0xff, 0, 0xffff, '12345')
  }
]

function plain (p: Packet): Record<string, unknown> {
  return { ...p, data: toHex(p.data) }
}

t.test('encodePacket produces the golden bytes (docs/protocol.md §1.1)', async (t) => {
  for (const v of vectors) {
    t.equal(toHex(encodePacket(v.expected)), v.hex, v.name)
  }
})

t.test('decodePacket parses the golden bytes (docs/protocol.md §1.1)', async (t) => {
  for (const v of vectors) {
    t.same(plain(decodePacket(Buffer.from(v.hex, 'hex'))), plain(v.expected), v.name)
  }
})

t.test('decodePacket accepts a Uint8Array view into a larger buffer', async (t) => {
  const whole = Buffer.from('ffff' + vectors[0].hex + 'eeee', 'hex')
  const view = new Uint8Array(whole.buffer, whole.byteOffset + 2, whole.length - 4)
  t.same(plain(decodePacket(view)), plain(vectors[0].expected))
})

t.test('decoded data is a copy, not a view of the input', async (t) => {
  const bytes = Buffer.from(vectors[7].hex, 'hex')
  const packet = decodePacket(bytes)
  bytes.fill(0)
  t.equal(packet.data.toString('latin1'), '28.78')
})

t.test('checksum: two\'s complement of the low byte of the sum (docs/protocol.md §1.2)', async (t) => {
  const table: Array<{ name: string, hex: string, expected: number }> = [
    { name: 'no bytes', hex: '', expected: 0x00 },
    { name: 'sum 0x100 -> low byte 0', hex: 'ff01', expected: 0x00 },
    { name: 'sum 1', hex: '01', expected: 0xff },
    { name: 'sum 0xF1 (read thermistor 1/1 seq 1)', hex: '019c000000010001' + '52', expected: 0x0f },
    { name: 'sum 0x402 (version "12345" seq 6)', hex: '06ff00000000ffff3132333435', expected: 0xfe },
    { name: 'sum 0x261 (reference scan record seq 88)', hex: '5840123456' + '78aa05010203', expected: 0x9f }
  ]
  for (const row of table) t.equal(checksum(Buffer.from(row.hex, 'hex')), row.expected, row.name)
  // start and end select the summed range
  const packet = Buffer.from(vectors[0].hex, 'hex')
  t.equal(checksum(packet, 2, packet.length - 2), packet[packet.length - 2], 'range 2..n-2 of a packet gives its checksum byte')
})

t.test('the length byte counts sequence to checksum: 9 + len(data)', async (t) => {
  for (const n of [0, 1, 5, 100, MAX_DATA_LENGTH]) {
    const bytes = encodePacket(pkt(1, 0x9c, 1, 1, Buffer.alloc(n, 0x41).toString('latin1')))
    t.equal(bytes.length, MIN_PACKET_LENGTH + n, `${n} data bytes -> ${MIN_PACKET_LENGTH + n} bytes`)
    t.equal(bytes[1], 9 + n, `${n} data bytes -> length byte ${9 + n}`)
    t.equal(bytes[0], 0x01, 'header')
    t.equal(bytes[bytes.length - 1], 0x04, 'trailer')
    t.equal(decodePacket(bytes).data.length, n, 'round trip keeps the data')
  }
})

t.test('encodePacket refuses data that cannot fit the length byte', async (t) => {
  t.equal(MAX_DATA_LENGTH, 246)
  t.throws(() => encodePacket(pkt(1, 0x9c, 1, 1, Buffer.alloc(MAX_DATA_LENGTH + 1).toString('latin1'))), RangeError)
})

t.test('an empty data field is a valid 12-byte packet', async (t) => {
  const bytes = encodePacket(pkt(42, 0x9c, 0x000000b5, 0x01ff, []))
  t.equal(bytes.length, 12)
  const back = decodePacket(bytes)
  t.equal(back.data.length, 0)
  t.equal(back.sequence, 42)
  t.equal(back.boardId, 0xb5)
  t.equal(back.deviceId, 0x01ff)
})

t.test('multi-byte fields are big-endian, board ids above 2^31 included', async (t) => {
  const bytes = encodePacket(pkt(1, 0xff, 0xa0235400, 0xabcd, 'D'))
  t.equal(toHex(bytes.subarray(4, 8)), 'a0235400')
  t.equal(toHex(bytes.subarray(8, 10)), 'abcd')
  t.equal(decodePacket(bytes).boardId, 0xa0235400, 'decoded as an unsigned number')
})

function decodeError (bytes: Buffer): PacketError | undefined {
  try {
    decodePacket(bytes)
  } catch (err) {
    return err as PacketError
  }
  return undefined
}

t.test('decoder rejections (docs/protocol.md §1.5)', async (t) => {
  const good = Buffer.from(vectors[0].hex, 'hex')
  const table: Array<{ name: string, hex: string, code: 'checksum' | 'malformed', message: RegExp }> = [
    { name: 'empty input', hex: '', code: 'malformed', message: /too short/ },
    { name: '11 bytes', hex: good.subarray(0, 11).toString('hex'), code: 'malformed', message: /too short \(11 bytes/ },
    { name: 'bad header 0x02', hex: '02' + vectors[0].hex.slice(2), code: 'malformed', message: /header/ },
    { name: 'length byte one too big', hex: '010b' + vectors[0].hex.slice(4), code: 'malformed', message: /length/ },
    { name: 'length byte one too small', hex: '0109' + vectors[0].hex.slice(4), code: 'malformed', message: /length/ },
    { name: 'extra byte after the trailer', hex: vectors[0].hex + '04', code: 'malformed', message: /length/ },
    { name: 'checksum off by one', hex: vectors[0].hex.slice(0, -4) + '1004', code: 'checksum', message: /checksum/ },
    { name: 'data byte flipped', hex: '010a019c000000010001530f04', code: 'checksum', message: /checksum/ },
    // reference data: emulator-data.json board 00000010 firmware_version (deliberately bad checksum)
    { name: 'reference version answer with checksum 0x02', hex: Buffer.from([1, 14, 6, 255, 0, 0, 0, 0, 255, 255, 49, 50, 51, 52, 53, 2, 4]).toString('hex'), code: 'checksum', message: /checksum/ },
    { name: 'bad trailer 0x05', hex: vectors[0].hex.slice(0, -2) + '05', code: 'malformed', message: /trailer/ }
  ]
  for (const row of table) {
    const err = decodeError(Buffer.from(row.hex, 'hex'))
    t.ok(err instanceof PacketError, `${row.name}: a PacketError`)
    t.ok(err instanceof OpenDcreError, `${row.name}: an OpenDcreError`)
    t.equal(err?.code, row.code, `${row.name}: code ${row.code}`)
    t.match(err?.message, row.message, `${row.name}: message`)
  }
})

t.test('decoder checks in order: length, header, length byte, checksum, trailer', async (t) => {
  // every fault at once, then each fault fixed in turn: the first remaining one is reported
  const good = Buffer.from(vectors[0].hex, 'hex')
  const short = Buffer.from(good.subarray(0, 11))
  short[0] = 0x02
  t.match(decodeError(short), { code: 'malformed', message: /too short/ }, 'short with bad header')

  const allBad = Buffer.from(good)
  allBad[0] = 0x02 // header
  allBad[1] = 0x20 // length
  allBad[11] ^= 0xff // checksum
  allBad[12] = 0x00 // trailer
  t.match(decodeError(allBad), { code: 'malformed', message: /header/ }, 'header first')
  allBad[0] = 0x01
  t.match(decodeError(allBad), { code: 'malformed', message: /length/ }, 'then the length byte')
  allBad[1] = 0x0a
  t.match(decodeError(allBad), { code: 'checksum', message: /checksum/ }, 'then the checksum, before the trailer')
  allBad[11] = good[11]
  t.match(decodeError(allBad), { code: 'malformed', message: /trailer/ }, 'then the trailer')
  allBad[12] = 0x04
  t.same(plain(decodePacket(allBad)), plain(vectors[0].expected), 'and with everything fixed it decodes')
})

t.test('nextSequence: n = (n + 1) % 0xFF, so 0..254 and never 0xFF (docs/protocol.md §1.3)', async (t) => {
  t.equal(nextSequence(0), 1)
  t.equal(nextSequence(1), 2)
  t.equal(nextSequence(88), 89)
  t.equal(nextSequence(253), 254)
  t.equal(nextSequence(254), 0, '254 wraps to 0')
  const seen = new Set<number>()
  let n = 1
  for (let i = 0; i < 255; i++) {
    seen.add(n)
    n = nextSequence(n)
  }
  t.equal(n, 1, 'a full cycle is 255 numbers long')
  t.equal(seen.size, 255)
  t.notOk(seen.has(0xff), '0xFF is never used')
})

t.test('encodePacket keeps only the low byte of sequence and type', async (t) => {
  const bytes = encodePacket(pkt(0x101, 0x19c, 1, 1, 'R'))
  t.equal(bytes[2], 0x01)
  t.equal(bytes[3], 0x9c)
  t.equal(toHex(bytes), vectors[0].hex)
})

import { join } from 'node:path'
import t from 'tap'
import { BusClient, type BusRequest } from '../../drivers/device-bus/bus-client.js'
import { convertThermistor } from '../../drivers/device-bus/conversions.js'
import { decodePacket, encodePacket, toHex, type Packet } from '../../drivers/device-bus/packet-codec.js'
import { loadEmulatorConfig, validateEmulatorConfig } from '../../emulators/device-bus/emulator-config.js'
import { EmulatorDevice, injectError, transformRaw } from '../../emulators/device-bus/emulator-device.js'
import { BusTimeoutError, OpenDcreError, PacketError } from '../../drivers/errors.js'
import { StreamTransport } from '../../drivers/transport/bus-transport.js'
import { createDuplexPair } from '../../drivers/transport/memory-duplex.js'
import { packageRoot } from '../../config/paths.js'

/** EmulatorDevice.handle() driven with encoded packets (docs/protocol.md §7). */

const REFERENCE = join(packageRoot, 'test', 'fixtures', 'opendcre-v1.2-data')

const T = { led: 0x10, power: 0x40, humidity: 0x4e, fan: 0x82, temperature: 0x9a, thermistor: 0x9c, none: 0xff }

function req (sequence: number, deviceType: number, boardId: number, deviceId: number, data: string | number[]): Packet {
  return { sequence, deviceType, boardId, deviceId, data: typeof data === 'string' ? Buffer.from(data, 'latin1') : Buffer.from(data) }
}

const read = (seq: number, type: number, board: number, device: number): Packet => req(seq, type, board, device, 'R')
const retry = (seq: number, type: number, board: number, device: number): Packet => req(seq, type, board, device, '?')
const version = (seq: number, board: number): Packet => req(seq, T.none, board, 0xffff, 'V')
const dump = (seq: number, board: number): Packet => req(seq, T.none, board, 0xffff, 'D')

/** The answers to one request, decoded. */
function ask (device: EmulatorDevice, request: Packet): Packet[] {
  return device.handle(request).map((b) => decodePacket(b))
}

/** The data of the single answer, or undefined when there is none. */
function answerData (device: EmulatorDevice, request: Packet): string | undefined {
  const answers = ask(device, request)
  if (answers.length > 1) throw new Error(`expected at most one answer, got ${answers.length}`)
  return answers[0]?.data.toString('latin1')
}

function hexes (buffers: Buffer[]): string[] {
  return buffers.map((b) => toHex(b))
}

/** A generated answer as the emulator builds it (board 0, device 0xFFFF, type 0xFF). */
function generated (sequence: number, data: string): string {
  return toHex(encodePacket({ sequence, deviceType: 0xff, boardId: 0, deviceId: 0xffff, data: Buffer.from(data, 'latin1') }))
}

/** A generated scan record. */
function scanRecord (sequence: number, boardId: number, deviceId: number, type: number): Buffer {
  return encodePacket({ sequence, deviceType: type, boardId, deviceId, data: Buffer.from([type]) })
}

function basicConfig (): ReturnType<typeof validateEmulatorConfig> {
  return validateEmulatorConfig({
    boards: [
      {
        board_id: '00000001',
        firmware_version: 'OpenDCRE Emulator v1.2.0',
        devices: [
          { device_id: '0001', device_type: 'thermistor', read: { repeatable: true, responses: [656, 646] } },
          { device_id: '0002', device_type: 'fan_speed', read: { repeatable: false, responses: [4100, 4000] } },
          { device_id: '0003', device_type: 'power', power: { repeatable: true, responses: ['0,0,0,0', '64,0,0,0', '2048,0,0,0'] } },
          {
            device_id: '0004',
            device_type: 'led',
            read: { repeatable: true, responses: [1, 0] },
            write: { repeatable: true, responses: ['W1', 'W0'] }
          },
          { device_id: '0005', device_type: 'temperature', read: { repeatable: true, responses: [null, 25.5] } },
          { device_id: '00FF', device_type: 'humidity', read: { repeatable: true, responses: [1486313281] } },
          { device_id: '0007', device_type: 'thermistor', read: { repeatable: true, responses: [[1, 12, 999, 156, 0, 0, 0, 1, 0, 7, 54, 53, 54, 1002, 4]] } },
          {
            device_id: '0008',
            device_type: 'thermistor',
            read: {
              repeatable: true,
              // a corrupt first answer; retries answered from retry_responses in turn
              responses: [[1, 12, 999, 156, 0, 0, 0, 1, 0, 8, 54, 53, 54, 0, 4]],
              retry_responses: [
                [1, 12, 999, 156, 0, 0, 0, 1, 0, 8, 54, 53, 54, 1002, 4],
                [1, 12, 999, 156, 0, 0, 0, 1, 0, 8, 54, 53, 55, 1002, 4]
              ]
            }
          },
          { device_id: '0009', device_type: 'thermistor', read: { repeatable: true, responses: [700], retry_responses: [] } },
          { device_id: '000A', device_type: 'fan_speed', read: { repeatable: true, responses: [12345678901234567890n] } }
        ]
      },
      { board_id: '00000002', firmware_version: 'v2', devices: [] },
      { board_id: '00000003', firmware_version: 'v3' }
    ]
  }, 'inline')
}

t.test('transformRaw: sentinels 999 (sequence) and 1000+k (checksum from index k)', async (t) => {
  const table: Array<{ name: string, raw: number[], sequence: number, hex: string }> = [
    { name: 'devicebus-data.json board 3 scan record', raw: [1, 10, 999, 156, 0, 0, 0, 3, 0, 1, 156, 1002, 4], sequence: 7, hex: '010a079c0000000300019cbd04' },
    { name: 'leading junk, checksum from index 5', raw: [0, 2, 3, 1, 14, 999, 255, 0, 0, 0, 0, 255, 255, 49, 50, 51, 52, 53, 1005, 4], sequence: 5, hex: '000203010e05ff00000000ffff3132333435ff04' },
    { name: 'no sentinels: sent as written (emulator-data.json board 12345678)', raw: [1, 12, 88, 64, 18, 52, 86, 120, 170, 5, 1, 2, 3, 159, 4], sequence: 200, hex: '010c584012345678aa050102039f04' },
    { name: 'checksum of one byte', raw: [5, 1000], sequence: 0, hex: '05fb' },
    { name: 'checksum over replaced sequence bytes', raw: [999, 999, 1000], sequence: 3, hex: '0303fa' },
    { name: 'checksum of nothing', raw: [1000], sequence: 9, hex: '00' },
    { name: 'sequence 0', raw: [999], sequence: 0, hex: '00' },
    { name: 'sequence 254', raw: [999], sequence: 254, hex: 'fe' }
  ]
  for (const row of table) t.equal(toHex(transformRaw(row.raw, row.sequence)), row.hex, row.name)
})

t.test('injectError: +1 mod 255 on every byte but 0x01 and 0x04 (docs/protocol.md §7.5)', async (t) => {
  const table: Array<{ name: string, hex: string, expected: string }> = [
    { name: 'mixed bytes', hex: '010c58feff040040', expected: '010d590001040141' },
    { name: '0xFE wraps to 0', hex: 'fe', expected: '00' },
    { name: '0xFF becomes 1', hex: 'ff', expected: '01' },
    { name: 'header and trailer untouched', hex: '0104', expected: '0104' }
  ]
  for (const row of table) t.equal(toHex(injectError(Buffer.from(row.hex, 'hex'))), row.expected, row.name)
})

t.test('generated read answer: ASCII value, request sequence, board 0, device 0xFFFF, type 0xFF', async (t) => {
  const device = new EmulatorDevice(basicConfig())
  const answers = device.handle(read(17, T.thermistor, 1, 1))
  t.same(hexes(answers), [generated(17, '656')])
  const p = decodePacket(answers[0])
  t.same([p.sequence, p.deviceType, p.boardId, p.deviceId, p.data.toString()], [17, 0xff, 0, 0xffff, '656'])
})

t.test('repeatable responses wrap', async (t) => {
  const device = new EmulatorDevice(basicConfig())
  const got = [1, 2, 3, 4, 5].map((seq) => answerData(device, read(seq, T.thermistor, 1, 1)))
  t.same(got, ['656', '646', '656', '646', '656'])
})

t.test('non-repeatable responses stop answering when exhausted', async (t) => {
  const device = new EmulatorDevice(basicConfig())
  const got = [1, 2, 3, 4].map((seq) => answerData(device, read(seq, T.fan, 1, 2)))
  t.same(got, ['4100', '4000', undefined, undefined])
})

t.test('each device and each action block has its own counter', async (t) => {
  const device = new EmulatorDevice(basicConfig())
  const got = [
    answerData(device, read(1, T.led, 1, 4)),
    answerData(device, read(2, T.thermistor, 1, 1)),
    answerData(device, req(3, T.led, 1, 4, 'W1')),
    answerData(device, read(4, T.led, 1, 4)),
    answerData(device, read(5, T.thermistor, 1, 1)),
    answerData(device, req(6, T.led, 1, 4, 'W0')),
    answerData(device, read(7, T.led, 1, 4))
  ]
  t.same(got, ['1', '656', 'W1', '0', '646', 'W0', '1'])
})

t.test('power: every power command consumes the power list', async (t) => {
  const device = new EmulatorDevice(basicConfig())
  t.equal(answerData(device, req(1, T.power, 1, 3, 'P?')), '0,0,0,0')
  t.equal(answerData(device, req(2, T.power, 1, 3, 'P1')), '64,0,0,0')
  t.equal(answerData(device, req(3, T.power, 1, 3, 'PC')), '2048,0,0,0')
  t.equal(answerData(device, req(4, T.power, 1, 3, 'P0')), '0,0,0,0', 'repeatable: wraps')
  t.same(ask(device, req(5, T.power, 1, 1, 'P?')), [], 'power to a device that is not a power device: no answer')
})

t.test('a null response sends nothing and still takes its turn', async (t) => {
  const device = new EmulatorDevice(basicConfig())
  const got = [1, 2, 3, 4].map((seq) => answerData(device, read(seq, T.temperature, 1, 5)))
  t.same(got, [undefined, '25.5', undefined, '25.5'])
})

t.test('numbers are sent as Python str() makes them, bigints digit for digit', async (t) => {
  const device = new EmulatorDevice(basicConfig())
  t.equal(answerData(device, read(1, T.humidity, 1, 0xff)), '1486313281')
  t.equal(answerData(device, read(2, T.fan, 1, 0x0a)), '12345678901234567890')
})

t.test('raw byte responses: 999 and 1000+k replaced per request', async (t) => {
  const device = new EmulatorDevice(basicConfig())
  t.same(hexes(device.handle(read(10, T.thermistor, 1, 7))), ['010c0a9c000000010007363536b104'])
  const p = ask(device, read(200, T.thermistor, 1, 7))[0]
  t.equal(p.sequence, 200, 'the sequence follows the request')
  t.equal(p.data.toString(), '656')
})

t.test('version: the firmware string', async (t) => {
  const device = new EmulatorDevice(basicConfig())
  t.same(hexes(device.handle(version(9, 1))), [generated(9, 'OpenDCRE Emulator v1.2.0')])
  t.equal(answerData(device, version(10, 2)), 'v2')
})

t.test('scan: one generated record per device, type in the type field and data[0]', async (t) => {
  const device = new EmulatorDevice(basicConfig())
  const records = ask(device, dump(33, 1))
  t.same(records.map((r) => [r.sequence, r.boardId, r.deviceId, r.deviceType, toHex(r.data)]), [
    [33, 1, 0x0001, 0x9c, '9c'],
    [33, 1, 0x0002, 0x82, '82'],
    [33, 1, 0x0003, 0x40, '40'],
    [33, 1, 0x0004, 0x10, '10'],
    [33, 1, 0x0005, 0x9a, '9a'],
    [33, 1, 0x00ff, 0x4e, '4e'],
    [33, 1, 0x0007, 0x9c, '9c'],
    [33, 1, 0x0008, 0x9c, '9c'],
    [33, 1, 0x0009, 0x9c, '9c'],
    [33, 1, 0x000a, 0x82, '82']
  ])
  t.same(device.handle(dump(34, 2)), [], 'a board with an empty device list sends nothing')
  t.same(device.handle(dump(35, 3)), [], 'a board without devices sends nothing')
})

t.test('no answer: unknown board, unknown device, wrong type, save bit, unknown command', async (t) => {
  const device = new EmulatorDevice(basicConfig())
  const silent: Array<[string, Packet]> = [
    ['read on an unknown board', read(1, T.thermistor, 0x99, 1)],
    ['version of an unknown board', version(2, 0x99)],
    ['scan of an unknown board', dump(3, 0x0000000a)],
    ['read of an unknown device', read(4, T.thermistor, 1, 0x0100)],
    ['read with another device type', read(5, T.humidity, 1, 1)],
    ['write to a device without a write block', req(6, T.thermistor, 1, 1, 'W1')],
    ['save packet 0x90000000', dump(7, 0x90000000)],
    ['save bit on a single board', dump(8, 0x10000001)],
    ['unknown command byte', req(9, T.thermistor, 1, 1, 'X')],
    ['empty data', req(10, T.thermistor, 1, 1, [])]
  ]
  for (const [name, p] of silent) t.same(device.handle(p), [], name)
  t.equal(answerData(device, read(11, T.thermistor, 1, 1)), '656', 'silent requests consumed no response')
})

t.test('retry `?` answers from retry_responses with its own wrapping counter', async (t) => {
  const device = new EmulatorDevice(basicConfig())
  const first = device.handle(read(10, T.thermistor, 1, 8))
  t.equal(first.length, 1)
  t.throws(() => decodePacket(first[0]), { code: 'checksum' }, 'the first answer is corrupt')
  const a = ask(device, retry(11, T.thermistor, 1, 8))
  t.same(a.map((p) => [p.sequence, p.data.toString()]), [[11, '656']], 'first retry response, with the retry\'s sequence')
  const b = ask(device, retry(12, T.thermistor, 1, 8))
  t.same(b.map((p) => [p.sequence, p.data.toString()]), [[12, '657']], 'chained retries keep the original command')
  const c = ask(device, retry(13, T.thermistor, 1, 8))
  t.same(c.map((p) => p.data.toString()), ['656'], 'the retry list wraps')
  t.throws(() => decodePacket(device.handle(read(14, T.thermistor, 1, 8))[0]), { code: 'checksum' }, 'retries did not move the normal list')
})

t.test('retry without retry_responses falls back to the normal list', async (t) => {
  const device = new EmulatorDevice(basicConfig())
  t.equal(answerData(device, read(1, T.thermistor, 1, 1)), '656')
  const a = ask(device, retry(2, T.thermistor, 1, 1))
  t.same(a.map((p) => [p.sequence, p.data.toString()]), [[2, '646']], 'the next normal response, with the retry\'s sequence')
  t.equal(answerData(device, read(3, T.thermistor, 1, 1)), '656', 'and it advanced the normal counter')
})

t.test('retry with an empty retry_responses list: no answer', async (t) => {
  const device = new EmulatorDevice(basicConfig())
  t.equal(answerData(device, read(1, T.thermistor, 1, 9)), '700')
  t.same(device.handle(retry(2, T.thermistor, 1, 9)), [])
})

t.test('a `?` with no earlier command: no answer', async (t) => {
  const device = new EmulatorDevice(basicConfig())
  t.same(device.handle(retry(1, T.thermistor, 1, 1)), [])
})

t.test('reference emulator-data.json: raw firmware_version and retry_firmware_version', async (t) => {
  const device = new EmulatorDevice(loadEmulatorConfig(join(REFERENCE, 'emulator-data.json')))
  // board 0x10: fixed sequence 6, bad checksum; the retry answer is good (LineNoiseRetries 003)
  t.same(hexes(device.handle(version(5, 0x10))), [toHex(Buffer.from([1, 14, 6, 255, 0, 0, 0, 0, 255, 255, 49, 50, 51, 52, 53, 2, 4]))], 'sent as written')
  const good = ask(device, retry(6, T.none, 0x10, 0xffff))
  t.same(good.map((p) => [p.sequence, p.data.toString()]), [[6, '12345']])

  // board 0x11: two retry answers in turn, then wrapping
  t.equal(device.handle(version(13, 0x11)).length, 1)
  const r1 = device.handle(retry(14, T.none, 0x11, 0xffff))
  const r2 = device.handle(retry(15, T.none, 0x11, 0xffff))
  const r3 = device.handle(retry(16, T.none, 0x11, 0xffff))
  t.equal(r1[0][15], 246)
  t.equal(r2[0][15], 245)
  t.equal(toHex(r3[0]), toHex(r1[0]), 'wraps')
  t.equal(decodePacket(r2[0]).data.toString(), '12345', 'the second retry answer is the good one')

  // board 0x14: retry_firmware_version is empty: the retry gets no answer
  t.equal(device.handle(version(44, 0x14)).length, 1)
  t.same(device.handle(retry(45, T.none, 0x14, 0xffff)), [])
})

t.test('reference emulator-data.json: raw read and power answers with retry_responses', async (t) => {
  const device = new EmulatorDevice(loadEmulatorConfig(join(REFERENCE, 'emulator-data.json')))
  t.throws(() => decodePacket(device.handle(read(1, T.thermistor, 0x10, 0x01ff))[0]), { code: 'checksum' })
  t.same(ask(device, retry(2, T.thermistor, 0x10, 0x01ff)).map((p) => [p.sequence, p.data.toString()]), [[2, '656']])
  t.throws(() => decodePacket(device.handle(req(3, T.power, 0x10, 0x02ff, 'P?'))[0]), { code: 'checksum' })
  t.same(ask(device, retry(4, T.power, 0x10, 0x02ff)).map((p) => [p.sequence, p.data.toString()]), [[4, '0,0,0,0']])
})

t.test('scan raw_data and retry_raw_data (a scan re-sent with the same sequence)', async (t) => {
  const rec = (n: number): number[] => [1, 10, 999, 156, 0, 0, 0, 0x20, 0, n, 156, 1002, 4]
  const device = new EmulatorDevice(validateEmulatorConfig({
    boards: [{
      board_id: '00000020',
      firmware_version: 'x',
      raw_data: [[rec(1), rec(2)], [rec(3)]],
      retry_raw_data: [rec(9)]
    }]
  }, 'inline'))
  const ids = (packets: Packet[]): number[] => packets.map((p) => p.deviceId)
  const first = ask(device, dump(5, 0x20))
  t.same(ids(first), [1, 2], 'first raw_data answer')
  t.ok(first.every((p) => p.sequence === 5))
  t.same(ids(ask(device, dump(5, 0x20))), [9], 're-sent with the same sequence: retry_raw_data (one raw packet)')
  t.same(ids(ask(device, dump(6, 0x20))), [3], 'a new scan: the next raw_data answer')
  t.same(ids(ask(device, dump(7, 0x20))), [1, 2], 'raw_data wraps')
})

t.test('scan re-sent without retry_raw_data: the generated answer again', async (t) => {
  const device = new EmulatorDevice(basicConfig())
  const a = device.handle(dump(5, 1))
  const b = device.handle(dump(5, 1))
  t.same(hexes(b), hexes(a))
})

function scanAllConfig (scanall?: unknown): ReturnType<typeof validateEmulatorConfig> {
  return validateEmulatorConfig({
    boards: [
      { board_id: '00000001', firmware_version: 'a', devices: [{ device_id: '0001', device_type: 'thermistor' }] },
      { board_id: '00000005', firmware_version: 'b', devices: [{ device_id: '0002', device_type: 'fan_speed' }] },
      { board_id: '0000000A', firmware_version: 'c', devices: [{ device_id: '0003', device_type: 'led' }] }
    ],
    ...(scanall === undefined ? {} : { scanall })
  }, 'inline')
}

const SCAN_ALL = 0x8023544b
const SHUFFLE = 0xa023544b

/** The clean scan-all answer of scanAllConfig, with board `failed` corrupted. */
function scanAllAnswer (sequence: number, failed?: number): string[] {
  return [
    scanRecord(sequence, 0x01, 0x0001, T.thermistor),
    scanRecord(sequence, 0x05, 0x0002, T.fan),
    scanRecord(sequence, 0x0a, 0x0003, T.led)
  ].map((b) => toHex(b.readUInt32BE(4) === failed ? injectError(b) : b))
}

t.test('scan-all without scenarios: every board answers', async (t) => {
  const device = new EmulatorDevice(scanAllConfig())
  t.same(hexes(device.handle(dump(1, SCAN_ALL))), scanAllAnswer(1))
  t.same(hexes(device.handle(dump(2, SCAN_ALL))), scanAllAnswer(2))
  t.same(device.handle(dump(3, 0x90000000)), [], 'the save packet gets no answer')
})

t.test('scan-all scenarios: failed boards and the shuffle-bit progression', async (t) => {
  const device = new EmulatorDevice(scanAllConfig([
    { initial: { result: 'ok' } },
    { initial: { result: 'error', failed_board: '00000001' }, retry: [{ result: 'error', failed_board: '00000005' }, { result: 'ok' }] },
    { initial: { result: 'error', failed_board: '0000000A' }, retry: [{ result: 'error', failed_board: '00000001' }, { result: 'error', failed_board: '00000005' }] }
  ]))
  t.same(hexes(device.handle(dump(1, SCAN_ALL))), scanAllAnswer(1), 'scenario 1: ok')
  t.same(device.handle(dump(2, 0x90000000)), [], 'save packet: no answer, no scenario consumed')

  const initial = device.handle(dump(3, SCAN_ALL))
  t.same(hexes(initial), scanAllAnswer(3, 0x01), 'scenario 2 initial: board 1 corrupted')
  t.throws(() => decodePacket(initial[0]), PacketError, 'the corrupted record fails to decode')
  t.same(hexes(device.handle(dump(3, SHUFFLE))), scanAllAnswer(3, 0x05), 'first shuffle retry: board 5 corrupted')
  t.same(hexes(device.handle(dump(3, SHUFFLE))), scanAllAnswer(3), 'second shuffle retry: ok')
  t.same(device.handle(dump(4, 0x90000000)), [])

  t.same(hexes(device.handle(dump(5, SCAN_ALL))), scanAllAnswer(5, 0x0a), 'scenario 3 initial: board 0x0A corrupted')
  t.same(hexes(device.handle(dump(5, SHUFFLE))), scanAllAnswer(5, 0x01), 'retry 1: board 1')
  t.same(hexes(device.handle(dump(5, SHUFFLE))), scanAllAnswer(5, 0x05), 'retry 2: board 5')

  t.same(hexes(device.handle(dump(6, SCAN_ALL))), scanAllAnswer(6), 'the scenarios wrap to scenario 1')
})

t.test('scan-all: an initial error stays the current scenario until a shuffle retry', async (t) => {
  const device = new EmulatorDevice(scanAllConfig([
    { initial: { result: 'error', failed_board: '00000005' }, retry: [{ result: 'ok' }] },
    { initial: { result: 'ok' } }
  ]))
  t.same(hexes(device.handle(dump(1, SCAN_ALL))), scanAllAnswer(1, 0x05))
  t.same(hexes(device.handle(dump(1, SHUFFLE))), scanAllAnswer(1))
  t.same(hexes(device.handle(dump(2, SCAN_ALL))), scanAllAnswer(2), 'next scenario')
})

t.test('scan-all on reference emulator-data.json: raw_data board with fixed sequence 88', async (t) => {
  const device = new EmulatorDevice(loadEmulatorConfig(join(REFERENCE, 'emulator-data.json')))
  const answers = device.handle(dump(88, 0x80000000 | 75))
  const records = answers.map((b) => decodePacket(b))
  t.ok(records.every((r) => r.sequence === 88))
  const boards = [...new Set(records.map((r) => r.boardId))]
  t.same(boards, [0x01, 0x03, 0x10, 0x11, 0x12, 0x13, 0x14, 0x12345678], 'eight boards, in config order')
  t.ok(answers.some((b) => toHex(b) === '010c584012345678aa050102039f04'), 'the raw record as written')
})

/** The emulator behind an in-memory link, wired as plugins/emulator-bus.ts wires it. */
function link (t: { teardown: (fn: () => unknown) => void }, config: ReturnType<typeof validateEmulatorConfig>, options: { idle: boolean, timeoutMs: number }): BusClient {
  const [clientEnd, deviceEnd] = createDuplexPair()
  const emulator = new EmulatorDevice(config)
  emulator.attach(deviceEnd)
  if (options.idle) emulator.on('idle', (packets: number) => deviceEnd.sendEvent('idle', packets))
  const transport = options.idle ? new StreamTransport(clientEnd, clientEnd) : new StreamTransport(clientEnd)
  const bus = new BusClient(transport, { policy: { timeoutMs: options.timeoutMs, scanRetryDelayMs: 0 } })
  t.teardown(async () => {
    await bus.close()
    deviceEnd.destroy()
  })
  return bus
}

const THERMISTOR: BusRequest = { deviceType: T.thermistor, boardId: 1, deviceId: 1, data: Buffer.from('R') }

t.test('end to end over createDuplexPair: BusClient + StreamTransport reads a thermistor', async (t) => {
  const bus = link(t, basicConfig(), { idle: false, timeoutMs: 40 })
  const a = await bus.transact(THERMISTOR)
  t.equal(a.sequence, 1)
  t.equal(convertThermistor(Number(a.data.toString())), 28.78)
  const b = await bus.transact(THERMISTOR)
  t.equal(b.data.toString(), '646')
  t.equal(b.sequence, 2)
  const err = await bus.transact({ ...THERMISTOR, deviceId: 0x0100 }).then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof BusTimeoutError, 'an unknown device times out')
  const records = await bus.scan(1)
  t.equal(records.length, 10, 'a scan ends on silence')
})

t.test('end to end with the idle signal: scans and timeouts end without waiting', async (t) => {
  // the read timeout is far longer than the bound: only the idle signal ends these reads in time
  const bus = link(t, basicConfig(), { idle: true, timeoutMs: 30_000 })
  let timer: NodeJS.Timeout | undefined
  const bound = new Promise<never>((_resolve, reject) => {
    timer = setTimeout(() => reject(new Error('the idle signal did not end the read')), 10_000)
  })
  try {
    const records = await Promise.race([bus.scan(1), bound])
    t.same(records.map((r) => r.deviceId), [1, 2, 3, 4, 5, 0xff, 7, 8, 9, 0x0a])
    const err = await Promise.race([bus.transact({ ...THERMISTOR, boardId: 0x99 }), bound]).then(() => undefined, (e: unknown) => e)
    t.ok(err instanceof BusTimeoutError, 'an unknown board times out at once')
    t.equal((await Promise.race([bus.transact(THERMISTOR), bound])).data.toString(), '656')
    // board 1 device 8 answers corrupt first, then from retry_responses: one `?`
    const fixed = await Promise.race([bus.transact({ ...THERMISTOR, deviceId: 8 }), bound])
    t.equal(fixed.data.toString(), '656')
    t.equal(bus.stats.retries, 1)
  } finally {
    clearTimeout(timer)
  }
})

t.test('end to end: reference LineNoiseRetries 001 and 010 (fixed sequence numbers)', async (t) => {
  const bus = link(t, loadEmulatorConfig(join(REFERENCE, 'emulator-data.json')), { idle: true, timeoutMs: 250 })
  // seq 1 answered with a corrupt packet carrying seq 2; the `?` (seq 2) gets a good packet with seq 2
  const res = await bus.transact({ deviceType: T.thermistor, boardId: 0x10, deviceId: 0x01ff, data: Buffer.from('R') })
  t.equal(res.sequence, 2)
  t.equal(convertThermistor(Number(res.data.toString())), 28.78)
  t.equal(bus.stats.retries, 1)
  // board 0x13 answers corrupt to the command and all three retries
  const err = await bus.transact({ deviceType: T.thermistor, boardId: 0x13, deviceId: 0x01ff, data: Buffer.from('R') }).then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof OpenDcreError)
  t.equal((err as OpenDcreError).code, 'retry-limit')
})

import t from 'tap'
import { BusClient } from '../../drivers/device-bus/bus-client.js'
import { convertReading, DeviceBus, groupScan } from '../../drivers/device-bus/device-bus.js'
import { decodePacket, encodePacket, type Packet } from '../../drivers/device-bus/packet-codec.js'
import { PacketFramer } from '../../drivers/device-bus/packet-framer.js'
import { validateEmulatorConfig } from '../../emulators/device-bus/emulator-config.js'
import { EmulatorDevice } from '../../emulators/device-bus/emulator-device.js'
import { OpenDcreError } from '../../drivers/errors.js'
import { StreamTransport } from '../../drivers/transport/bus-transport.js'
import { createDuplexPair } from '../../drivers/transport/memory-duplex.js'

/** DeviceBus: commands, conversions and v1.2's error wording over the emulator (docs/protocol.md §3, §5). */

function rec (boardId: number, deviceId: number, type: number, dataType = type): Packet {
  return { sequence: 1, deviceType: type, boardId, deviceId, data: Buffer.from([dataType]) }
}

t.test('groupScan: boards in first-arrival order, type from data[0], lower-case padded hex', async (t) => {
  const boards = groupScan([
    rec(0x1e, 0x01ff, 0x40),
    rec(0x0a, 0x0001, 0x9c),
    rec(0x1e, 0x02ff, 0x4e),
    rec(0x1e, 0x03ff, 0xff, 0x9a), // the type byte says none, data[0] says temperature
    rec(0x0a, 0xabcd, 0x33) // an unknown code
  ])
  t.same(boards, [
    { board_id: '0000001e', devices: [{ device_id: '01ff', device_type: 'power' }, { device_id: '02ff', device_type: 'humidity' }, { device_id: '03ff', device_type: 'temperature' }] },
    { board_id: '0000000a', devices: [{ device_id: '0001', device_type: 'thermistor' }, { device_id: 'abcd', device_type: 'none' }] }
  ])
  t.same(groupScan([{ sequence: 1, deviceType: 0x9c, boardId: 1, deviceId: 1, data: Buffer.alloc(0) }])[0].devices[0].device_type, 'none', 'no data byte: none')
  t.same(groupScan([]), [])
})

t.test('convertReading by device type (docs/protocol.md §5)', async (t) => {
  t.same(convertReading('temperature', '28.5'), { temperature_c: 28.5 })
  t.same(convertReading('thermistor', '656'), { temperature_c: 28.78 })
  t.same(convertReading('humidity', '1486313281'), { humidity: 38.43, temperature_c: 16.24 })
  t.same(convertReading('fan_speed', '4100'), { speed_rpm: 4100 })
  t.same(convertReading('fan_speed', '12345678901234567890'), { speed_rpm: 12345678901234567890n })
  t.same(convertReading('led', '1'), { led_state: 'on' })
  t.same(convertReading('led', '0'), { led_state: 'off' })
  t.same(convertReading('pressure', '123'), { device_raw: 123 })
  t.same(convertReading('current', '-7'), { device_raw: -7 })
})

t.test('convertReading failures keep code conversion and use v1.2 wording', async (t) => {
  t.throws(() => convertReading('thermistor', 'abc'), { code: 'conversion', message: "Error converting device reading (invalid literal for int() with base 10: 'abc')." })
  t.throws(() => convertReading('temperature', 'abc'), { code: 'conversion', message: 'Error converting device reading (could not convert string to float: abc).' })
  t.throws(() => convertReading('thermistor', '65535'), { code: 'conversion', message: 'Error converting fan speed data (Thermistor value > 0xFFFF received.).' })
  t.throws(() => convertReading('led', '2'), { code: 'conversion' })
})

const CONFIG = validateEmulatorConfig({
  boards: [{
    board_id: '00000001',
    firmware_version: 'OpenDCRE Emulator v1.2.0',
    devices: [
      { device_id: '0001', device_type: 'thermistor', read: { repeatable: true, responses: [656] } },
      { device_id: '0002', device_type: 'led', read: { repeatable: true, responses: [1] }, write: { repeatable: true, responses: ['W1', 'W0'] } },
      { device_id: '0003', device_type: 'fan_speed', read: { repeatable: true, responses: [4100] }, write: { repeatable: true, responses: ['W1'] } },
      { device_id: '0004', device_type: 'power', power: { repeatable: true, responses: ['0,0,0,0', '0'] } },
      { device_id: '0005', device_type: 'thermistor', read: { repeatable: true, responses: [[1, 12, 999, 156, 0, 0, 0, 1, 0, 5, 54, 53, 54, 0, 4]] } },
      { device_id: '0006', device_type: 'thermistor', read: { repeatable: true, responses: [[1, 12, 999, 156, 0, 0, 0, 1, 0, 6, 54, 53, 54, 0, 4]], retry_responses: [null] } },
      { device_id: '0007', device_type: 'pressure', read: { repeatable: true, responses: [123] } }
    ]
  }]
}, 'inline')

interface Rig { bus: DeviceBus, client: BusClient, sent: Packet[] }

/** DeviceBus -> BusClient -> in-memory link -> emulator; every packet the emulator receives is recorded. */
function rig (t: { teardown: (fn: () => unknown) => void }): Rig {
  const [clientEnd, deviceEnd] = createDuplexPair()
  const emulator = new EmulatorDevice(CONFIG)
  const sent: Packet[] = []
  const framer = new PacketFramer()
  deviceEnd.on('data', (chunk: Buffer) => {
    framer.push(chunk)
    for (let f = framer.next(); f !== undefined; f = framer.next()) sent.push(decodePacket(f))
  })
  emulator.attach(deviceEnd)
  emulator.on('idle', (packets: number) => deviceEnd.sendEvent('idle', packets))
  // long read timeout: every read here ends on an answer or on the idle signal
  const client = new BusClient(new StreamTransport(clientEnd, clientEnd), { policy: { timeoutMs: 5_000, scanRetryDelayMs: 0 } })
  const bus = new DeviceBus(client)
  t.teardown(async () => {
    await bus.close()
    deviceEnd.destroy()
  })
  return { bus, client, sent }
}

async function failure (p: Promise<unknown>): Promise<OpenDcreError> {
  try {
    await p
  } catch (err) {
    if (err instanceof OpenDcreError) return err
    throw err
  }
  throw new Error('expected a failure')
}

t.test('read, version, scan, location', async (t) => {
  const { bus, sent } = rig(t)
  t.same(await bus.read(1, 1, 'thermistor'), { temperature_c: 28.78 })
  t.same(await bus.read(1, 1, 'THERMISTOR'), { temperature_c: 28.78 }, 'the type name is case-insensitive')
  t.same(await bus.read(1, 7, 'pressure'), { device_raw: 123 })
  t.equal(await bus.version(1), 'OpenDCRE Emulator v1.2.0')
  const boards = await bus.scanBoard(1)
  t.equal(boards.length, 1)
  t.equal(boards[0].board_id, '00000001')
  t.same(boards[0].devices.map((d) => d.device_type), ['thermistor', 'led', 'fan_speed', 'power', 'thermistor', 'thermistor', 'pressure'])
  t.same(sent.map((p) => [p.sequence, p.data.toString('latin1')]), [[1, 'R'], [2, 'R'], [3, 'R'], [4, 'V'], [5, 'D']])
  t.same(await bus.location(1, 0x72df), {
    chassis_location: { depth: 'middle', horiz_pos: 'left', vert_pos: 'bottom', server_node: 'unknown' },
    physical_location: { depth: 'unknown', horizontal: 'unknown', vertical: 'unknown' }
  })
  t.same(await bus.location(1), { physical_location: { depth: 'unknown', horizontal: 'unknown', vertical: 'unknown' } })
  t.equal(sent.length, 5, 'location sends nothing')
})

t.test('a read for an unknown type name goes out as none (0xFF)', async (t) => {
  const { bus, sent } = rig(t)
  const err = await failure(bus.read(1, 1, 'toaster'))
  t.equal(err.code, 'timeout')
  t.equal(sent[0].deviceType, 0xff)
})

t.test('timeouts, worded as v1.2 words them per command', async (t) => {
  const { bus } = rig(t)
  const read = await failure(bus.read(0x99, 1, 'thermistor'))
  t.equal(read.code, 'timeout')
  t.equal(read.message, 'No response from bus on sensor read (No response from bus.).')
  const version = await failure(bus.version(0x99))
  t.equal(version.message, 'No response from bus.')
  const power = await failure(bus.power(0x99, 4, 'status'))
  t.equal(power.message, 'No response from bus on power command (No response from bus.).')
  const scan = await failure(bus.scanBoard(0x99))
  t.equal(scan.message, 'Error scanning board (No response from bus.).')
})

t.test('retry limit and timeout on retry wording', async (t) => {
  const { bus, sent } = rig(t)
  const limit = await failure(bus.read(1, 5, 'thermistor'))
  t.equal(limit.code, 'retry-limit')
  t.equal(limit.message, 'Retry limit reached on sensor read.')
  t.same(sent.map((p) => p.data.toString()), ['R', '?', '?', '?'])
  const onRetry = await failure(bus.read(1, 6, 'thermistor'))
  t.equal(onRetry.code, 'timeout')
  t.equal(onRetry.message, 'No response from bus on sensor read retry (No response from bus.).')
})

t.test('power: P + action code, converted status', async (t) => {
  const { bus, sent } = rig(t)
  const status = await bus.power(1, 4, 'status')
  t.equal(status.power_status, 'on')
  t.equal(status.output_current, -25.70631970260223)
  const err = await failure(bus.power(1, 4, 'cycle'))
  t.equal(err.code, 'conversion')
  t.equal(err.message, 'Error converting PMBUS data (list index out of range).')
  t.same(sent.map((p) => [p.deviceType, p.deviceId, p.data.toString()]), [[0x40, 4, 'P?'], [0x40, 4, 'PC']])
})

t.test('led write: W + 1/0, then a fresh read with the next sequence number', async (t) => {
  const { bus, sent } = rig(t)
  t.same(await bus.led(1, 2, 'on'), { led_state: 'on' })
  t.same(sent.map((p) => [p.sequence, p.deviceType, p.data.toString()]), [[1, 0x10, 'W1'], [2, 0x10, 'R']])
  const err = await failure(bus.led(1, 2, 'off'))
  t.equal(err.code, 'device-error', 'W0 is a failed write')
  t.equal(err.message, 'Error writing to device.')
  t.equal(sent.length, 3, 'no read after a failed write')
  t.equal(sent[2].data.toString(), 'W0')
  t.same(await bus.led(1, 2), { led_state: 'on' }, 'no state: just a read')
  t.equal(sent[3].data.toString(), 'R')
})

t.test('fan write: W, 0xFF, the rpm text as given, then a read', async (t) => {
  const { bus, sent } = rig(t)
  t.same(await bus.fan(1, 3, '00004100'), { speed_rpm: 4100 })
  t.same(sent.map((p) => p.data.toString('hex')), [Buffer.concat([Buffer.from('W'), Buffer.from([0xff]), Buffer.from('00004100')]).toString('hex'), '52'])
  t.equal(sent[0].deviceType, 0x82)
})

t.test('asset and boot target are unsupported on the device bus', async (t) => {
  const { bus, sent } = rig(t)
  t.equal((await failure(bus.asset())).code, 'unsupported')
  t.equal((await failure(bus.bootTarget())).code, 'unsupported')
  t.equal(sent.length, 0)
})

t.test('a led write and a concurrent read do not interleave', async (t) => {
  const { bus, sent } = rig(t)
  const [led, temp] = await Promise.all([bus.led(1, 2, 'on'), bus.read(1, 1, 'thermistor')])
  t.same(led, { led_state: 'on' })
  t.same(temp, { temperature_c: 28.78 })
  t.same(sent.map((p) => [p.deviceId, p.data.toString()]), [[2, 'W1'], [2, 'R'], [1, 'R']])
})

t.test('scanAll over the emulator: save packet follows', async (t) => {
  const { bus, sent, client } = rig(t)
  const boards = await bus.scanAll()
  t.same(boards.map((b) => b.board_id), ['00000001'])
  t.equal(sent.length, 2)
  t.equal(sent[1].boardId, 0x90000000)
  t.equal(client.stats.retries, 0)
  // the scan-all board id with the default policy
  t.equal(encodePacket(sent[0]).readUInt32BE(4), (0x80000000 | 75) >>> 0)
})

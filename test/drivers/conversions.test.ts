import t from 'tap'
import { scanAllMacBytes } from '../../drivers/device-bus/bus-client.js'
import {
  ConversionError,
  convertHumidity,
  convertLedState,
  convertPower,
  convertThermistor,
  parseRawBigInteger,
  parseRawFloat,
  parseRawInteger
} from '../../drivers/device-bus/conversions.js'
import { chassisLocation } from '../../drivers/device-bus/location.js'
import { OpenDcreError } from '../../drivers/errors.js'

/** Expected values computed with the reference formulas in Python (round(x, 2)). */

t.test('thermistor ADC counts -> °C (docs/protocol.md §5.2)', async (t) => {
  const table: Array<{ name: string, adc: number, expected: number }> = [
    { name: 'the documented example', adc: 656, expected: 28.78 },
    { name: 'zero counts', adc: 0, expected: 131.29 },
    { name: 'one count', adc: 1, expected: 131.06 },
    { name: 'segment <= 218', adc: 218, expected: 80.06 },
    { name: 'segment > 218', adc: 219, expected: 79.85 },
    { name: 'segment <= 354', adc: 354, expected: 60.01 },
    { name: 'segment > 354', adc: 355, expected: 60.03 },
    { name: 'segment <= 542', adc: 542, expected: 40.21 },
    { name: 'segment > 542', adc: 543, expected: 39.91 },
    { name: 'segment <= 745', adc: 745, expected: 20.02 },
    { name: 'segment > 745', adc: 746, expected: 20.91 },
    { name: '0x8000', adc: 32768, expected: -4173.97 },
    { name: 'the largest convertible value', adc: 65534, expected: -8466.32 }
  ]
  for (const row of table) t.equal(convertThermistor(row.adc), row.expected, `${row.name}: ${row.adc} -> ${row.expected}`)
})

t.test('thermistor 65535 and above is a range error', async (t) => {
  for (const adc of [65535, 65536, 1e9]) {
    t.throws(() => convertThermistor(adc), { code: 'conversion', kind: 'range', message: 'Thermistor value > 0xFFFF received.' }, `${adc}`)
  }
  let err: unknown
  try { convertThermistor(65535) } catch (e) { err = e }
  t.ok(err instanceof ConversionError)
  t.ok(err instanceof OpenDcreError)
})

t.test('humidity 32-bit word -> humidity % and °C (docs/protocol.md §5.3)', async (t) => {
  const table: Array<{ name: string, raw: number, expected: { humidity: number, temperature_c: number } }> = [
    { name: 'reference reading', raw: 1486313281, expected: { humidity: 38.43, temperature_c: 16.24 } },
    { name: 'zero', raw: 0, expected: { humidity: 0, temperature_c: -40 } },
    { name: 'all ones: the two top bits of the humidity half are masked off', raw: 4294967295, expected: { humidity: 100.01, temperature_c: 125.01 } },
    { name: 'humidity bits only', raw: 0x3fff0000, expected: { humidity: 100.01, temperature_c: -40 } },
    { name: '0x12345678', raw: 0x12345678, expected: { humidity: 28.45, temperature_c: 15.74 } }
  ]
  for (const row of table) t.same(convertHumidity(row.raw), row.expected, `${row.name}: ${row.raw}`)
  const r = convertHumidity(4294967295)
  t.ok(Math.abs(r.humidity - 100) < 0.02, 'all ones is about 100 %')
  t.ok(Math.abs(r.temperature_c - 125) < 0.02, 'all ones is about 125 °C')
})

t.test('humidity outside 32 bits is a range error', async (t) => {
  for (const raw of [-1, 4294967296, 1.5]) {
    t.throws(() => convertHumidity(raw), { code: 'conversion', kind: 'range' }, `${raw}`)
  }
})

t.test('power "0,0,0,0" (docs/protocol.md §5.6)', async (t) => {
  t.same(convertPower('0,0,0,0'), {
    input_power: 0,
    input_voltage: 0,
    output_current: -25.70631970260223,
    over_current: false,
    pmbus_raw: '0,0,0,0',
    power_ok: true,
    power_status: 'on',
    under_voltage: false
  })
  t.equal(convertPower('0,0,0,0').output_current, -25.70631970260223, 'exactly as the reference prints it')
})

t.test('power status bits 6 / 11 / 4 / 3 (reference devicebus-data.json board 0x1E)', async (t) => {
  const table: Array<{ raw: string, power_status: string, power_ok: boolean, over_current: boolean, under_voltage: boolean }> = [
    { raw: '0,0,0,0', power_status: 'on', power_ok: true, over_current: false, under_voltage: false },
    { raw: '64,0,0,0', power_status: 'off', power_ok: true, over_current: false, under_voltage: false },
    { raw: '2048,0,0,0', power_status: 'on', power_ok: false, over_current: false, under_voltage: false },
    { raw: '2056,0,0,0', power_status: 'on', power_ok: false, over_current: false, under_voltage: true },
    { raw: '2064,0,0,0', power_status: 'on', power_ok: false, over_current: true, under_voltage: false },
    { raw: '2072,0,0,0', power_status: 'on', power_ok: false, over_current: true, under_voltage: true },
    { raw: '2136,0,0,0', power_status: 'off', power_ok: false, over_current: true, under_voltage: true }
  ]
  for (const row of table) {
    const { raw, ...expected } = row
    t.match(convertPower(raw), { ...expected, pmbus_raw: raw }, raw)
  }
})

t.test('power PMBus direct format values', async (t) => {
  const p = convertPower('0,6043,19199,1000')
  t.equal(p.input_power, 100, 'power m 6043, R -2')
  t.equal(p.input_voltage, 100, 'voltage m 19199, R -2')
  t.ok(Math.abs(p.output_current - -13.314745972738537) < 1e-12, 'current m 807, b 20745, R -1')
  t.ok(Math.abs(convertPower('0,0,12345,0').input_voltage - 64.30022396999844) < 1e-12)
  t.ok(Math.abs(convertPower('0,100,0,0').input_power - 1.6548072149594573) < 1e-12)
})

t.test('power strings that cannot be converted', async (t) => {
  t.throws(() => convertPower('0'), { code: 'conversion', kind: 'value', message: 'list index out of range' }, 'one field')
  t.throws(() => convertPower('0,0,0'), { code: 'conversion' }, 'three fields')
  t.throws(() => convertPower(''), { code: 'conversion' }, 'empty')
  t.throws(() => convertPower('aaa,0,0,0'), { code: 'conversion', kind: 'value' }, 'not a number')
  t.throws(() => convertPower('0,0,0,1.5'), { code: 'conversion', kind: 'value' }, 'not an integer')
})

t.test('led state 1 -> on, 0 -> off, anything else is an error', async (t) => {
  t.equal(convertLedState(1), 'on')
  t.equal(convertLedState(0), 'off')
  t.throws(() => convertLedState(2), { code: 'conversion', message: 'Invalid raw value returned: (2)' })
  t.throws(() => convertLedState(-1), { code: 'conversion' })
})

t.test('parsing ASCII readings as Python int() and float() do', async (t) => {
  t.equal(parseRawInteger('656'), 656)
  t.equal(parseRawInteger(' 656 '), 656, 'surrounding blanks allowed')
  t.equal(parseRawInteger('-12'), -12)
  t.equal(parseRawInteger('+7'), 7)
  t.throws(() => parseRawInteger('6.5'), { code: 'conversion', kind: 'value', message: "invalid literal for int() with base 10: '6.5'" })
  t.throws(() => parseRawInteger(''), { code: 'conversion', kind: 'value' })
  t.throws(() => parseRawInteger('0x10'), { code: 'conversion', kind: 'value' })
  t.equal(parseRawFloat('28.78'), 28.78)
  t.equal(parseRawFloat('-5'), -5)
  t.equal(parseRawFloat('.5'), 0.5)
  t.equal(parseRawFloat('1e3'), 1000)
  t.throws(() => parseRawFloat('abc'), { code: 'conversion', kind: 'value', message: 'could not convert string to float: abc' })
  const big = parseRawBigInteger('12345678901234567890')
  t.equal(typeof big, 'bigint')
  t.equal(big, 12345678901234567890n, 'integers past 2^53 stay exact')
  t.equal(parseRawBigInteger('4100'), 4100)
  t.equal(typeof parseRawBigInteger('4100'), 'number')
})

t.test('chassis location from a device id (docs/protocol.md §6)', async (t) => {
  const table: Array<{ name: string, id: number, expected: Record<string, unknown> }> = [
    { name: 'the documented example 0x72DF', id: 0x72df, expected: { depth: 'middle', horiz_pos: 'left', vert_pos: 'bottom', server_node: 'unknown' } },
    { name: 'microserver 0x8302', id: 0x8302, expected: { depth: 'unknown', horiz_pos: 'unknown', vert_pos: 'unknown', server_node: 3 } },
    { name: '0x5555: front, left, top', id: 0x5555, expected: { depth: 'front', horiz_pos: 'left', vert_pos: 'top', server_node: 'unknown' } },
    { name: 'microserver 0x9F00: node 31', id: 0x9f00, expected: { depth: 'unknown', horiz_pos: 'unknown', vert_pos: 'unknown', server_node: 31 } },
    { name: 'no bits: unknown everywhere', id: 0x0000, expected: { depth: 'unknown', horiz_pos: 'unknown', vert_pos: 'unknown', server_node: 'unknown' } },
    { name: '0x2A00: rear, right, bottom', id: 0x2a00, expected: { depth: 'rear', horiz_pos: 'right', vert_pos: 'bottom', server_node: 'unknown' } },
    { name: '0x7E00: middle everywhere', id: 0x7e00, expected: { depth: 'middle', horiz_pos: 'middle', vert_pos: 'middle', server_node: 'unknown' } },
    { name: 'microserver 0xFFFF: node 31, position bits ignored', id: 0xffff, expected: { depth: 'unknown', horiz_pos: 'unknown', vert_pos: 'unknown', server_node: 31 } },
    { name: 'microserver 0x8000: node 0', id: 0x8000, expected: { depth: 'unknown', horiz_pos: 'unknown', vert_pos: 'unknown', server_node: 0 } }
  ]
  for (const row of table) t.same(chassisLocation(row.id), row.expected, `${row.name}`)
  t.equal(typeof chassisLocation(0x8302).server_node, 'number', 'server_node is an integer, as v1.2 returns it')
})

t.test('scan-all MAC bytes: last four decimal digits of the MAC read as hex', async (t) => {
  t.same(scanAllMacBytes('02:42:ac:11:00:02'), [0x23, 0x54], '2485377892354 -> "2354"')
  t.same(scanAllMacBytes('02-42-AC-11-00-02'), [0x23, 0x54], 'separators and case do not matter')
  t.same(scanAllMacBytes('00:00:00:00:00:05'), [0x00, 0x05], 'short decimal values are zero-padded')
  t.same(scanAllMacBytes('00:00:00:00:00:00'), [0x00, 0x00])
  t.same(scanAllMacBytes(''), [0x00, 0x00], 'no MAC')
  // 0xffffffffffff = 281474976710655 -> "0655"
  t.same(scanAllMacBytes('ff:ff:ff:ff:ff:ff'), [0x06, 0x55])
})

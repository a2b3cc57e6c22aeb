// Port of OpenDCRE v1.2's `test-devicebus.py` suite (tests/data/devicebus-data.json).
// Classes in the reference order: DeviceReadTestCase, VersionTestCase,
// OldPowerTestCase, ScanTestCase, LineNoiseTestCase, PowerTestCase,
// LocationTestCase, FanSpeedTestCase, ChassisLedTestCase; methods sorted by
// name as unittest.makeSuite runs them. One service instance serves the
// whole suite (emulator response counters carry across cases).
import type { FastifyInstance } from 'fastify'
import type { Test } from 'tap'
import { get } from '../../helper.js'
import { fails, ok, type Json } from '../compat-helper.js'

/** unittest's assertAlmostEqual(actual, expected, places): round(|a - e|, places) == 0. */
function almost (t: Test, actual: unknown, expected: number, places: number, what: string): void {
  if (typeof actual !== 'number') {
    t.fail(`${what}: ${String(actual)} is not a number`)
    return
  }
  t.ok(Math.abs(actual - expected) < 0.5 * 10 ** -places, `${what}: ${actual} ~= ${expected} (${places} places)`)
}

/** The suite's cases in the reference order, against one service on devicebus-data.json. */
export async function devicebusSuite (t: Test, app: FastifyInstance): Promise<void> {
  // ---------------------------------------------------------------- DeviceReadTestCase
  // (tests/test_device_read.py)

  await t.test('DeviceReadTestCase 001: read zero', async (t) => {
    let body = await ok(t, app, '/read/thermistor/00000014/01FF')
    t.equal(body.temperature_c, 131.29)

    body = await ok(t, app, '/read/humidity/00000014/02FF')
    t.equal(body.temperature_c, -40)
    t.equal(body.humidity, 0)

    await fails(t, app, '/read/none/00000014/03FF')
  })

  await t.test('DeviceReadTestCase 002: read mid', async (t) => {
    let body = await ok(t, app, '/read/thermistor/00000014/04FF')
    t.equal(body.temperature_c, -4173.97)

    body = await ok(t, app, '/read/humidity/00000014/05FF')
    almost(t, body.temperature_c, 125, 1, 'temperature_c')
    t.equal(body.humidity, 0)

    body = await ok(t, app, '/read/humidity/00000014/05FF')
    t.equal(body.temperature_c, -40)
    almost(t, body.humidity, 100, 1, 'humidity')

    await fails(t, app, '/read/none/00000014/06FF')
  })

  await t.test('DeviceReadTestCase 003: read 8 byte max', async (t) => {
    await fails(t, app, '/read/thermistor/00000014/07FF')

    let body = await ok(t, app, '/read/thermistor/00000014/08FF')
    almost(t, body.temperature_c, -8466.32, 1, 'temperature_c')

    body = await ok(t, app, '/read/humidity/00000014/09FF')
    almost(t, body.temperature_c, 125, 1, 'temperature_c')
    almost(t, body.humidity, 100, 1, 'humidity')

    await fails(t, app, '/read/none/00000014/0AFF')
  })

  await t.test('DeviceReadTestCase 004: weird data', async (t) => {
    await fails(t, app, '/read/thermistor/00000014/0BFF')
    await fails(t, app, '/read/humidity/00000014/0CFF')
  })

  await t.test('DeviceReadTestCase 005: bad data (bad bytes, trailer, checksum)', async (t) => {
    await fails(t, app, '/read/thermistor/00000014/0DFF')
    await fails(t, app, '/read/thermistor/00000014/0EFF')
    await fails(t, app, '/read/thermistor/00000014/0FFF')
  })

  await t.test('DeviceReadTestCase 006_board_id_representation: board id forms', async (t) => {
    for (const board of ['14', '014', '00014', '000014', '00000014']) {
      const body = await ok(t, app, `/read/thermistor/${board}/04FF`)
      t.equal(body.temperature_c, -4173.97, `board ${board}`)
    }
  })

  await t.test('DeviceReadTestCase 006_no_data: timeout', async (t) => {
    await fails(t, app, '/read/none/00000014/10FF')
  })

  await t.test('DeviceReadTestCase 007: device id forms', async (t) => {
    for (const device of ['4FF', '04FF', '00004FF']) {
      const body = await ok(t, app, `/read/thermistor/00000014/${device}`)
      t.equal(body.temperature_c, -4173.97, `device ${device}`)
    }
  })

  await t.test('DeviceReadTestCase 008: invalid board ids', async (t) => {
    for (const ids of [
      'FFFFFFFF/1FF',
      'FFFFFFFFFFFFFFFF/1FF',
      '20000000/00001FF',
      '10000000/00001FF',
      '-10000000/00001FF',
      '-10000000/-00001FF',
      '10000000/-00001FF'
    ]) {
      await fails(t, app, `/read/thermistor/${ids}`)
    }
  })

  await t.test('DeviceReadTestCase 009: temperature valid (30.03)', async (t) => {
    const body = await ok(t, app, '/read/temperature/00000015/0001')
    t.equal(body.temperature_c, 30.03)
  })

  await t.test('DeviceReadTestCase 010: temperature invalid ("invalid")', async (t) => {
    await fails(t, app, '/read/temperature/00000015/0002')
  })

  await t.test('DeviceReadTestCase 011: temperature float string valid', async (t) => {
    const body = await ok(t, app, '/read/temperature/00000015/0003')
    t.equal(body.temperature_c, 30.03)
  })

  await t.test('DeviceReadTestCase 012: temperature int string valid', async (t) => {
    const body = await ok(t, app, '/read/temperature/00000015/0004')
    t.equal(body.temperature_c, 30)
  })

  await t.test('DeviceReadTestCase 013: temperature int valid', async (t) => {
    const body = await ok(t, app, '/read/temperature/00000015/0005')
    t.equal(body.temperature_c, 30)
  })

  // ---------------------------------------------------------------- VersionTestCase
  // (tests/test_version.py)

  await t.test('VersionTestCase 001: simple version', async (t) => {
    const body = await ok(t, app, '/version/0000000A')
    t.equal(body.firmware_version, 'Version Response 1')
  })

  await t.test('VersionTestCase 002: very long version (length byte 255)', async (t) => {
    await fails(t, app, '/version/0000000B')
  })

  await t.test('VersionTestCase 003: empty version', async (t) => {
    const body = await ok(t, app, '/version/0000000C')
    t.equal(body.firmware_version, '')
  })

  await t.test('VersionTestCase 004: many board versions', async (t) => {
    for (let x = 0; x < 5; x++) {
      const board = (x + 13).toString(16).padStart(8, '0')
      const body = await ok(t, app, `/version/${board}`)
      t.equal(body.firmware_version, `Version 0x0${x + 1}`, `board ${board}`)
    }
  })

  await t.test('VersionTestCase 005: long data', async (t) => {
    const body = await ok(t, app, '/version/00000012')
    t.equal(body.firmware_version, '0123456789'.repeat(10))
  })

  await t.test('VersionTestCase 006: bad data (trailer, checksum)', async (t) => {
    await fails(t, app, '/version/000000B5')
    await fails(t, app, '/version/000000BF')
  })

  await t.test('VersionTestCase 007: no data (timeout)', async (t) => {
    await fails(t, app, '/version/0000C800')
  })

  await t.test('VersionTestCase 008: bad url /version/', async (t) => {
    await fails(t, app, '/version/', 404)
  })

  await t.test('VersionTestCase 009: board id forms', async (t) => {
    for (const board of ['A', '00A', '00000A', '000000000A', '00000000000000000A']) {
      const body = await ok(t, app, `/version/${board}`)
      t.equal(body.firmware_version, 'Version Response 1', `board ${board}`)
    }
  })

  await t.test('VersionTestCase 010: invalid board id -1', async (t) => {
    await fails(t, app, '/version/-1')
  })

  // ---------------------------------------------------------------- OldPowerTestCase
  // (tests/test_power_old.py) deprecated /power/<action>/<board>/<device>

  interface PowerState {
    pmbus_raw: string
    power_status: string
    power_ok: boolean
    over_current: boolean
    under_voltage: boolean
  }

  /** The emulator's six-step power status cycle for 0000001E/01FF. */
  const POWER_CYCLE: PowerState[] = [
    { pmbus_raw: '0,0,0,0', power_status: 'on', power_ok: true, over_current: false, under_voltage: false },
    { pmbus_raw: '64,0,0,0', power_status: 'off', power_ok: true, over_current: false, under_voltage: false },
    { pmbus_raw: '2048,0,0,0', power_status: 'on', power_ok: false, over_current: false, under_voltage: false },
    { pmbus_raw: '2056,0,0,0', power_status: 'on', power_ok: false, over_current: false, under_voltage: true },
    { pmbus_raw: '2064,0,0,0', power_status: 'on', power_ok: false, over_current: true, under_voltage: false },
    { pmbus_raw: '2072,0,0,0', power_status: 'on', power_ok: false, over_current: true, under_voltage: true }
  ]

  function checkPower (t: Test, body: Json, expected: PowerState): void {
    const what = `pmbus_raw ${expected.pmbus_raw}`
    t.equal(body.pmbus_raw, expected.pmbus_raw, `${what}: pmbus_raw`)
    t.equal(body.power_status, expected.power_status, `${what}: power_status`)
    t.equal(body.power_ok, expected.power_ok, `${what}: power_ok`)
    t.equal(body.over_current, expected.over_current, `${what}: over_current`)
    t.equal(body.under_voltage, expected.under_voltage, `${what}: under_voltage`)
  }

  await t.test('OldPowerTestCase 001: get power status (six-step cycle)', async (t) => {
    for (const expected of POWER_CYCLE) {
      checkPower(t, await ok(t, app, '/power/status/0000001E/01FF'), expected)
    }
  })

  await t.test('OldPowerTestCase 002: power on', async (t) => {
    await ok(t, app, '/power/on/0000001E/01FF')
  })

  await t.test('OldPowerTestCase 003: power cycle', async (t) => {
    await ok(t, app, '/power/cycle/0000001E/01FF')
  })

  await t.test('OldPowerTestCase 004: power off', async (t) => {
    await ok(t, app, '/power/off/0000001E/01FF')
  })

  await t.test('OldPowerTestCase 005: valid device, invalid type', async (t) => {
    await fails(t, app, '/power/status/0000001E/02FF')
  })

  await t.test('OldPowerTestCase 006: invalid device', async (t) => {
    await fails(t, app, '/power/status/0000001E/03FF')
  })

  await t.test('OldPowerTestCase 007: invalid command', async (t) => {
    await fails(t, app, '/power/invalid/0000001E/01FF')
    await fails(t, app, '/power/cyle/0000001E/01FF')
    await fails(t, app, '/power/xxx/0000001E/01FF')
  })

  await t.test('OldPowerTestCase 008: no power data', async (t) => {
    await fails(t, app, '/power/status/0000001E/03FF')
    await fails(t, app, '/power/status/0000001E/04FF')
  })

  await t.test('OldPowerTestCase 010: weird data', async (t) => {
    await fails(t, app, '/power/status/0000001E/05FF')
    await fails(t, app, '/power/status/0000001E/06FF')
  })

  await t.test('OldPowerTestCase 011: board id forms', async (t) => {
    for (const board of ['1E', '001E', '00001E', '0000000001E']) {
      await ok(t, app, `/power/status/${board}/01FF`)
    }
  })

  await t.test('OldPowerTestCase 012: device id forms', async (t) => {
    for (const device of ['1FF', '01FF', '00001FF']) {
      await ok(t, app, `/power/status/0000001E/${device}`)
    }
  })

  await t.test('OldPowerTestCase 013: invalid board ids', async (t) => {
    for (const ids of ['FFFFFFFF/1FF', 'FFFFFFFFFFFFFFFF/1FF', '20000000/00001FF', '10000000/00001FF']) {
      await fails(t, app, `/power/status/${ids}`)
    }
  })

  // ---------------------------------------------------------------- ScanTestCase
  // (tests/test_scan.py)

  await t.test('ScanTestCase 001: many boards (not enabled in firmware)', async (t) => {
    await fails(t, app, '/scan/000000FF')
  })

  await t.test('ScanTestCase 002: one board', async (t) => {
    const body = await ok(t, app, '/scan/00000000')
    t.equal(body.boards?.length, 1, '1 board')
  })

  await t.test('ScanTestCase 003: no boards', async (t) => {
    await fails(t, app, '/scan/000000D2')
  })

  await t.test('ScanTestCase 004: one board, no devices', async (t) => {
    await fails(t, app, '/scan/00000001')
  })

  await t.test('ScanTestCase 005: many devices', async (t) => {
    await fails(t, app, '/scan/00000002')
  })

  await t.test('ScanTestCase 006: many requests', async (t) => {
    for (let x = 0; x < 5; x++) {
      const body = await ok(t, app, '/scan/00000000')
      t.equal(body.boards?.length, 1, `request ${x + 1}: 1 board`)
    }
  })

  await t.test('ScanTestCase 007: extraneous data', async (t) => {
    await ok(t, app, '/scan/00000003')
  })

  await t.test('ScanTestCase 008: invalid data (trailer, checksum)', async (t) => {
    await fails(t, app, '/scan/000000B4')
    await fails(t, app, '/scan/000000BE')
  })

  await t.test('ScanTestCase 009: no data (timeout)', async (t) => {
    await fails(t, app, '/scan/0000C800')
  })

  await t.test('ScanTestCase 010: bad url /scan/', async (t) => {
    await fails(t, app, '/scan/', 404)
  })

  await t.test('ScanTestCase 011: scan all with malformed board data', async (t) => {
    await fails(t, app, '/scan')
  })

  await t.test('ScanTestCase 012: board id forms', async (t) => {
    for (const board of ['3', '03', '003', '0003', '00003', '000003', '0000003', '00000003', '000000003', '0000000003']) {
      const body = await ok(t, app, `/scan/${board}`)
      t.equal(body.boards?.[0]?.devices?.length, 1, `board ${board}: 1 device`)
    }
  })

  await t.test('ScanTestCase 013: invalid board ids', async (t) => {
    for (const board of ['FFFFFFFF', 'FFFFFFFFFFFFFFFF', '20000000', '10000000', '-10000000']) {
      await fails(t, app, `/scan/${board}`)
    }
  })

  // ---------------------------------------------------------------- LineNoiseTestCase
  // (tests/test_line_noise.py)

  function checkJunkScan (t: Test, body: Json): void {
    t.equal(body.boards?.[0]?.board_id, '00000002', 'board_id')
    t.equal(body.boards?.[0]?.devices?.[0]?.device_id, '01ff', 'device_id')
    t.equal(body.boards?.[0]?.devices?.[0]?.device_type, 'thermistor', 'device_type')
  }

  await t.test('LineNoiseTestCase 000: junk head scan', async (t) => {
    checkJunkScan(t, await ok(t, app, '/scan/000000c8'))
  })

  await t.test('LineNoiseTestCase 001: junk head version', async (t) => {
    const body = await ok(t, app, '/version/000000c9')
    t.equal(body.firmware_version, '12345')
  })

  await t.test('LineNoiseTestCase 002: junk head read', async (t) => {
    const body = await ok(t, app, '/read/thermistor/000000c9/01ff')
    t.equal(body.temperature_c, 28.78)
  })

  await t.test('LineNoiseTestCase 003: junk head, too short, scan', async (t) => {
    await fails(t, app, '/scan/000000ca')
  })

  await t.test('LineNoiseTestCase 004: junk head, too short, version', async (t) => {
    await fails(t, app, '/version/000000cb')
  })

  await t.test('LineNoiseTestCase 005: junk head, too short, read', async (t) => {
    await fails(t, app, '/read/thermistor/000000cb/01ff')
  })

  await t.test('LineNoiseTestCase 006: junk head, valid long packet, scan', async (t) => {
    checkJunkScan(t, await ok(t, app, '/scan/000000cc'))
  })

  await t.test('LineNoiseTestCase 007: junk head, valid long packet, version', async (t) => {
    const body = await ok(t, app, '/version/000000cd')
    t.equal(body.firmware_version, '12345')
  })

  await t.test('LineNoiseTestCase 008: junk head, valid long packet, read', async (t) => {
    const body = await ok(t, app, '/read/thermistor/000000cd/01ff')
    t.equal(body.temperature_c, 28.78)
  })

  await t.test('LineNoiseTestCase 009: junk head, invalid long packet, scan', async (t) => {
    await fails(t, app, '/scan/000000ce')
  })

  await t.test('LineNoiseTestCase 010: junk head, invalid long packet, version', async (t) => {
    await fails(t, app, '/version/000000cf')
  })

  await t.test('LineNoiseTestCase 011: junk head, invalid long packet, read', async (t) => {
    await fails(t, app, '/read/thermistor/000000cf/01ff')
  })

  await t.test('LineNoiseTestCase 012: junk only (no header), scan', async (t) => {
    await fails(t, app, '/scan/000000d0')
  })

  await t.test('LineNoiseTestCase 013: junk only (no header), version', async (t) => {
    await fails(t, app, '/version/000000d1')
  })

  await t.test('LineNoiseTestCase 014: junk only (no header), read (reference asserts nothing)', async (t) => {
    const res = await get(app, '/read/thermistor/000000d1/01ff')
    t.ok([200, 500].includes(res.statusCode), `GET /read/thermistor/000000d1/01ff -> 200 or 500 (got ${res.statusCode})`)
  })

  // ---------------------------------------------------------------- PowerTestCase
  // (tests/test_power.py) /power/<board>/<device>[/<action>]

  await t.test('PowerTestCase 001: get power status (six-step cycle)', async (t) => {
    // the emulator's cycle is shared with OldPowerTestCase: step until "0,0,0,0", at most 8 tries
    let body = await ok(t, app, '/power/0000001E/01FF')
    let i = 0
    while (body.pmbus_raw !== '0,0,0,0') {
      body = await ok(t, app, '/power/0000001E/01FF')
      i += 1
      t.ok(i < 8, `reached "0,0,0,0" within 8 tries (try ${i})`)
      if (i >= 8) break
    }
    checkPower(t, body, POWER_CYCLE[0])
    for (const expected of POWER_CYCLE.slice(1)) {
      checkPower(t, await ok(t, app, '/power/0000001E/01FF'), expected)
    }
  })

  await t.test('PowerTestCase 002: power on', async (t) => {
    await ok(t, app, '/power/0000001E/01FF/on')
  })

  await t.test('PowerTestCase 003: power cycle', async (t) => {
    await ok(t, app, '/power/0000001E/01FF/cycle')
  })

  await t.test('PowerTestCase 004: power off', async (t) => {
    await ok(t, app, '/power/0000001E/01FF/off')
  })

  await t.test('PowerTestCase 005: valid device, invalid type', async (t) => {
    await fails(t, app, '/power/0000001E/02FF')
  })

  await t.test('PowerTestCase 006: invalid device', async (t) => {
    await fails(t, app, '/power/0000001E/03FF')
  })

  await t.test('PowerTestCase 007: invalid command', async (t) => {
    await fails(t, app, '/power/0000001E/01FF/invalid')
    await fails(t, app, '/power/0000001E/01FF/cyle')
    await fails(t, app, '/power/0000001E/01FF/xxx')
  })

  await t.test('PowerTestCase 008: no power data', async (t) => {
    await fails(t, app, '/power/0000001E/03FF')
    await fails(t, app, '/power/0000001E/04FF')
  })

  await t.test('PowerTestCase 010: weird data', async (t) => {
    await fails(t, app, '/power/0000001E/05FF')
    await fails(t, app, '/power/0000001E/06FF')
  })

  await t.test('PowerTestCase 011: board id forms', async (t) => {
    for (const board of ['1E', '001E', '00001E', '0000000001E']) {
      await ok(t, app, `/power/${board}/01FF`)
    }
  })

  await t.test('PowerTestCase 012: device id forms', async (t) => {
    for (const device of ['1FF', '01FF', '00001FF']) {
      await ok(t, app, `/power/0000001E/${device}`)
    }
  })

  await t.test('PowerTestCase 013: invalid board ids', async (t) => {
    for (const ids of [
      'FFFFFFFF/1FF',
      'FFFFFFFFFFFFFFFF/1FF',
      '20000000/00001FF',
      '10000000/00001FF',
      'x/10000000/00001FF',
      '-10000000/00001FF'
    ]) {
      await fails(t, app, `/power/${ids}`)
    }
  })

  // ---------------------------------------------------------------- LocationTestCase
  // (tests/test_location.py)

  function checkPhysicalUnknown (t: Test, body: Json): void {
    t.equal(body.physical_location?.horizontal, 'unknown', 'physical_location.horizontal')
    t.equal(body.physical_location?.vertical, 'unknown', 'physical_location.vertical')
    t.equal(body.physical_location?.depth, 'unknown', 'physical_location.depth')
  }

  await t.test('LocationTestCase 001: valid board location', async (t) => {
    const body = await ok(t, app, '/location/00000000')
    checkPhysicalUnknown(t, body)
    t.notOk('chassis_location' in body, 'no chassis_location key')
  })

  await t.test('LocationTestCase 002: valid board and device location', async (t) => {
    const cases: Array<{ device: string, horiz: string, vert: string, depth: string, node?: string | number }> = [
      { device: '0000', horiz: 'unknown', vert: 'unknown', depth: 'unknown' },
      { device: '72DF', horiz: 'left', vert: 'bottom', depth: 'middle', node: 'unknown' },
      { device: '8302', horiz: 'unknown', vert: 'unknown', depth: 'unknown', node: 3 },
      { device: '5555', horiz: 'left', vert: 'top', depth: 'front', node: 'unknown' },
      { device: '9F00', horiz: 'unknown', vert: 'unknown', depth: 'unknown', node: 31 }
    ]
    for (const c of cases) {
      const body = await ok(t, app, `/location/00000000/${c.device}`)
      checkPhysicalUnknown(t, body)
      t.equal(body.chassis_location?.horiz_pos, c.horiz, `${c.device}: horiz_pos`)
      t.equal(body.chassis_location?.vert_pos, c.vert, `${c.device}: vert_pos`)
      t.equal(body.chassis_location?.depth, c.depth, `${c.device}: depth`)
      if (c.node !== undefined) {
        t.equal(body.chassis_location?.server_node, c.node, `${c.device}: server_node`)
      }
    }
  })

  await t.test('LocationTestCase 003: invalid board location', async (t) => {
    for (const board of ['80000000', '8000000000', 'hot_dog', 'AAAAAAAA', '-1']) {
      await fails(t, app, `/location/${board}`)
    }
  })

  await t.test('LocationTestCase 004: valid board, invalid device location', async (t) => {
    for (const device of ['beer', 'F00DF00D', '012345', '-01']) {
      await fails(t, app, `/location/00000000/${device}`)
    }
  })

  // ---------------------------------------------------------------- FanSpeedTestCase
  // (tests/test_fan.py)

  await t.test('FanSpeedTestCase 001: read ok', async (t) => {
    let body = await ok(t, app, '/read/fan_speed/00000028/0001')
    t.equal(body.speed_rpm, 4100)
    body = await ok(t, app, '/fan/00000028/0001')
    t.equal(body.speed_rpm, 4100)
  })

  await t.test('FanSpeedTestCase 002: read string', async (t) => {
    await fails(t, app, '/read/fan_speed/00000028/0002')
    await fails(t, app, '/fan/00000028/0002')
  })

  await t.test('FanSpeedTestCase 003: read empty', async (t) => {
    await fails(t, app, '/read/fan_speed/00000028/0003')
    await fails(t, app, '/fan/00000028/0003')
  })

  await t.test('FanSpeedTestCase 004: long value (12345678901234567890 exactly)', async (t) => {
    for (const path of ['/read/fan_speed/00000028/0004', '/fan/00000028/0004']) {
      const res = await get(app, path)
      t.equal(res.statusCode, 200, `GET ${path} -> 200`)
      // JSON.parse would round the big integer: check the raw text
      t.match(res.body.replace(/\s+/g, ''), /"speed_rpm":12345678901234567890[,}]/, `${path}: speed_rpm is exactly 12345678901234567890`)
    }
  })

  await t.test('FanSpeedTestCase 005: negative number', async (t) => {
    let body = await ok(t, app, '/read/fan_speed/00000028/0005')
    t.equal(body.speed_rpm, -12345)
    body = await ok(t, app, '/fan/00000028/0005')
    t.equal(body.speed_rpm, -12345)
  })

  await t.test('FanSpeedTestCase 006: device id forms', async (t) => {
    let body = await ok(t, app, '/read/fan_speed/00000028/000000001')
    t.equal(body.speed_rpm, 4100)
    body = await ok(t, app, '/fan/00000028/000000001')
    t.equal(body.speed_rpm, 4100)
  })

  await t.test('FanSpeedTestCase 007: invalid board ids', async (t) => {
    const ids = ['FFFFFFFF/1FF', 'FFFFFFFFFFFFFFFF/1FF', '20000000/00001FF', '10000000/00001FF']
    for (const id of ids) await fails(t, app, `/read/fan_speed/${id}`)
    for (const id of ids) await fails(t, app, `/fan/${id}`)
  })

  await t.test('FanSpeedTestCase 008: write ok', async (t) => {
    await ok(t, app, '/fan/00000028/0001/4100')
  })

  await t.test('FanSpeedTestCase 009: write long numbers', async (t) => {
    await ok(t, app, '/fan/00000028/0001/00000000004100')
    await fails(t, app, '/fan/00000028/0001/12345678901234567890')
  })

  await t.test('FanSpeedTestCase 010: write negative number', async (t) => {
    await fails(t, app, '/fan/00000028/0001/-4100')
  })

  await t.test('FanSpeedTestCase 011: write string', async (t) => {
    await fails(t, app, '/fan/00000028/0001/faster')
  })

  await t.test('FanSpeedTestCase 012_write_bad_board: write to a bad board', async (t) => {
    await fails(t, app, '/fan/00000029/0001/4100')
    await fails(t, app, '/fan/-00000029/0001/4100')
  })

  await t.test('FanSpeedTestCase 012_write_with_bad_response: W0 answer', async (t) => {
    await fails(t, app, '/fan/00000028/0002/4100')
  })

  await t.test('FanSpeedTestCase 013: write to a bad device', async (t) => {
    await fails(t, app, '/fan/00000028/00FF/4100')
    await fails(t, app, '/fan/00000028/-00FF/4100')
  })

  // ---------------------------------------------------------------- ChassisLedTestCase
  // (tests/test_led.py)

  await t.test('ChassisLedTestCase 001: read on', async (t) => {
    let body = await ok(t, app, '/read/led/00000030/0001')
    t.equal(body.led_state, 'on')
    body = await ok(t, app, '/led/00000030/0001')
    t.equal(body.led_state, 'on')
  })

  await t.test('ChassisLedTestCase 002: read off', async (t) => {
    let body = await ok(t, app, '/read/led/00000030/0002')
    t.equal(body.led_state, 'off')
    body = await ok(t, app, '/led/00000030/0002')
    t.equal(body.led_state, 'off')
  })

  await t.test('ChassisLedTestCase 003: read invalid (empty, 2, 3, "A")', async (t) => {
    for (let i = 0; i < 4; i++) await fails(t, app, '/led/00000030/0003')
    for (let i = 0; i < 4; i++) await fails(t, app, '/read/led/00000030/0003')
  })

  await t.test('ChassisLedTestCase 004: device id forms', async (t) => {
    let body = await ok(t, app, '/read/led/00000030/000000001')
    t.equal(body.led_state, 'on')
    body = await ok(t, app, '/led/00000030/000000001')
    t.equal(body.led_state, 'on')
  })

  await t.test('ChassisLedTestCase 005: invalid board ids', async (t) => {
    const ids = ['FFFFFFFF/1FF', 'FFFFFFFFFFFFFFFF/1FF', '20000000/00001FF', '10000000/00001FF']
    for (const id of ids) await fails(t, app, `/read/led/${id}`)
    for (const id of ids) await fails(t, app, `/led/${id}`)
    await fails(t, app, '/led/-10000000/00001FF')
  })

  await t.test('ChassisLedTestCase 006: write ok', async (t) => {
    await ok(t, app, '/led/00000030/0001/on')
    await ok(t, app, '/led/00000030/0001/off')
  })

  await t.test('ChassisLedTestCase 007: write not ok (W0)', async (t) => {
    await fails(t, app, '/led/00000030/0002/on')
    await fails(t, app, '/led/00000030/0002/off')
  })

  await t.test('ChassisLedTestCase 009: write invalid state', async (t) => {
    await fails(t, app, '/led/00000030/0001/blinky')
    await fails(t, app, '/led/00000030/0001/1')
  })

  await t.test('ChassisLedTestCase 012: write with bad responses (W2, W3, 1, 0, 2)', async (t) => {
    for (let i = 0; i < 5; i++) await fails(t, app, '/led/00000030/0003/on')
  })
}

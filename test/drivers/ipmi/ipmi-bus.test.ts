import t from 'tap'
import { IpmiBus, type BmcOperations, type BridgeBmc, type BridgeChassisStatus } from '../../../drivers/ipmi/ipmi-bus.js'
import { IpmiError, type BmcTarget } from '../../../drivers/ipmi/types.js'
import { OpenDcreError } from '../../../drivers/errors.js'

/** The bridge's logic over fake BMCs; the real BMC path is test/ipmi/. */

const target = (host: string): BmcTarget => ({
  host, port: 623, username: 'ADMIN', password: 'pw', auth: 'RAKP_HMAC_SHA1', integrity: 'HMAC_SHA1_96', confidentiality: 'AES_CBC_128'
})

interface FakeState { power: 'on' | 'off', identify: 'on' | 'off', boot: 'no_override' | 'pxe' | 'hdd', calls: string[] }

function fakeBmc (host: string, overrides: Partial<BmcOperations> = {}): BridgeBmc & { state: FakeState } {
  const state: FakeState = { power: 'off', identify: 'off', boot: 'no_override', calls: [] }
  const ops: BmcOperations = {
    sensors: async () => [
      { number: 1, name: 'CPU Temp', kind: 'temperature' },
      { number: 2, name: 'FAN 1', kind: 'fan_speed' },
      { number: 3, name: 'PSU volts', kind: 'other' }
    ],
    readSensor: async (n) => { state.calls.push(`read ${n}`); return n === 1 ? 48 : 4000 },
    chassisStatus: async (): Promise<BridgeChassisStatus> => ({ power: state.power, powerFault: false, identify: state.identify }),
    chassisControl: async (a) => { state.calls.push(`power ${a}`); state.power = a === 'off' ? 'off' : 'on' },
    identify: async (s) => { state.calls.push(`identify ${s}`); state.identify = s },
    bootTarget: async () => state.boot,
    setBootTarget: async (b) => { state.boot = b },
    fru: async () => ({ board_info: { manufacturer: 'Vapor IO', part_number: '0001', product_name: 'BRD1', serial_number: 'S1234567' } }),
    ...overrides
  }
  return { target: target(host), ops, close: async () => {}, state }
}

const dead: Partial<BmcOperations> = {
  sensors: async () => { throw new IpmiError('timeout', 'no answer from BMC 10.0.0.9:623 within 3000 ms') },
  chassisStatus: async () => { throw new IpmiError('timeout', 'no answer from BMC 10.0.0.9:623 within 3000 ms') }
}

async function rejection (p: Promise<unknown>): Promise<OpenDcreError> {
  try {
    await p
  } catch (err) {
    if (err instanceof OpenDcreError) return err
    throw err
  }
  throw new Error('expected a rejection')
}

t.test('boards are 0x40000001.. in file order; scan lists power, system, then temperature and fan sensors', async (t) => {
  const bus = new IpmiBus([fakeBmc('10.0.0.1'), fakeBmc('10.0.0.2')])
  const boards = await bus.scanAll()
  t.same(boards.map((b) => b.board_id), ['40000001', '40000002'])
  t.same(boards[0].devices, [
    { device_id: '0100', device_type: 'power' },
    { device_id: '0200', device_type: 'system' },
    { device_id: '0001', device_type: 'temperature', device_info: 'CPU Temp' },
    { device_id: '0002', device_type: 'fan_speed', device_info: 'FAN 1' }
  ])
  t.same(await bus.scanBoard(0x40000002), [boards[1]])
})

t.test('unknown IPMI boards answer as v1.2 did', async (t) => {
  const bus = new IpmiBus([fakeBmc('10.0.0.1')])
  for (const board of [0x40000000, 0x40000002, 0x41000001, 0xffffffff]) {
    const err = await rejection(bus.version(board))
    t.equal(err.message, 'BMC with board_num was not found.', board.toString(16))
  }
  t.equal(await bus.version(0x40000001), 'OpenDCRE IPMI Bridge v2.0')
})

t.test('a dead BMC still shows in scan-all with its fixed devices; scanning it alone fails', async (t) => {
  const bus = new IpmiBus([fakeBmc('10.0.0.1'), fakeBmc('10.0.0.9', dead)])
  const boards = await bus.scanAll()
  t.equal(boards[0].devices.length, 4)
  t.same(boards[1], { board_id: '40000002', devices: [{ device_id: '0100', device_type: 'power' }, { device_id: '0200', device_type: 'system' }] })
  const err = await rejection(bus.scanBoard(0x40000002))
  t.equal(err.code, 'timeout')
  t.match(err.message, /^Error scanning board no answer from BMC 10\.0\.0\.9:623/)
})

t.test('scan-all asks at most scanConcurrency BMCs at once; those not reached in the budget are listed by the next scan-all', async (t) => {
  let inFlight = 0
  let most = 0
  const bmcs = Array.from({ length: 40 }, (_, i) => fakeBmc(`10.0.1.${i}`, {
    sensors: async () => {
      inFlight++
      most = Math.max(most, inFlight)
      await new Promise((resolve) => setTimeout(resolve, 20))
      inFlight--
      return [{ number: 1, name: 'CPU Temp', kind: 'temperature' }]
    }
  }))
  const bus = new IpmiBus(bmcs, { scanBudgetMs: 50, scanConcurrency: 4 })
  const first = await bus.scanAll()
  const scanned = first.filter((b) => b.devices.length === 3).length
  t.ok(scanned >= 4 && scanned < 40, `${scanned} of 40 BMCs scanned within the budget, 4 at a time`)
  t.equal(first.length, 40, 'every BMC is listed')
  // the scans still waiting went on, four at a time
  await new Promise((resolve) => setTimeout(resolve, 10 * 20 + 150))
  t.equal(most, 4, 'never more than 4 BMCs asked at once')
  const second = await bus.scanAll()
  t.equal(second.filter((b) => b.devices.length === 3).length, 40, 'the next scan-all lists every BMC with its sensors')
})

t.test('scan-all waits for a slow BMC only up to its budget, then lists it as it last answered', async (t) => {
  let hang = false
  const slow = fakeBmc('10.0.0.2', {
    sensors: async () => {
      if (hang) return await new Promise(() => {})
      return [{ number: 7, name: 'Inlet', kind: 'temperature' }]
    }
  })
  const bus = new IpmiBus([fakeBmc('10.0.0.1'), slow], { scanBudgetMs: 50 })
  const first = await bus.scanAll()
  t.equal(first[1].devices.length, 3, 'the slow BMC answered the first time')
  hang = true
  const started = Date.now()
  const second = await bus.scanAll()
  const ms = Date.now() - started
  t.ok(ms < 3000, `scan-all answered in ${ms} ms although a BMC hangs (budget 50 ms)`)
  t.same(second[1], first[1], 'the hanging BMC is listed as it last answered')
  t.equal(second[0].devices.length, 4, 'the live BMC is scanned as usual')
  const never = new IpmiBus([fakeBmc('10.0.0.3', { sensors: async () => await new Promise(() => {}) })], { scanBudgetMs: 20 })
  t.same((await never.scanAll())[0].devices.map((d) => d.device_id), ['0100', '0200'], 'never answered: power and system only')
})

t.test('reads: temperature and fan_speed by sensor number; anything else is refused', async (t) => {
  const bmc = fakeBmc('10.0.0.1')
  const bus = new IpmiBus([bmc])
  t.same(await bus.read(0x40000001, 1, 'temperature'), { temperature_c: 48 })
  t.same(await bus.read(0x40000001, 2, 'FAN_SPEED'), { speed_rpm: 4000 })
  t.same(await bus.fan(0x40000001, 2), { speed_rpm: 4000 })
  t.match((await rejection(bus.read(0x40000001, 1, 'fan_speed'))).message, /^Error reading IPMI sensor: no fan_speed sensor 0001/)
  t.match((await rejection(bus.read(0x40000001, 9, 'temperature'))).message, /no temperature sensor 0009/)
  t.match((await rejection(bus.read(0x40000001, 1, 'humidity'))).message, /humidity is not an IPMI sensor type/)
  t.equal((await rejection(bus.fan(0x40000001, 2, '3000'))).message, 'Setting of fan speed for this device is not permitted.')
  t.same(bmc.state.calls, ['read 1', 'read 2', 'read 2'], 'refused requests never reach the BMC')
})

t.test('power: control then status, with v1.2 fixed fields', async (t) => {
  const bmc = fakeBmc('10.0.0.1')
  const bus = new IpmiBus([bmc])
  const on = await bus.power(0x40000001, 0x100, 'on')
  t.same(on, { input_power: 0, input_voltage: 0, output_current: 0, over_current: false, pmbus_raw: '0,0,0,0', power_ok: true, power_status: 'on', under_voltage: false })
  t.equal((await bus.power(0x40000001, 0x100, 'status')).power_status, 'on')
  t.equal((await bus.power(0x40000001, 0x100, 'off')).power_status, 'off')
  t.same(bmc.state.calls, ['power on', 'power off'])
})

t.test('led is chassis identify; boot target get and set; asset adds bmc_ip; location is unknown', async (t) => {
  const bmc = fakeBmc('10.0.0.1')
  const bus = new IpmiBus([bmc])
  t.same(await bus.led(0x40000001, 0x200), { led_color: 'unknown', led_state: 'off' })
  t.same(await bus.led(0x40000001, 0x200, 'on'), { led_color: 'unknown', led_state: 'on' })
  t.same(await bus.bootTarget(0x40000001, 0x200, 'pxe'), { target: 'pxe' })
  t.same(await bus.bootTarget(0x40000001, 0x200), { target: 'pxe' })
  const asset = await bus.asset(0x40000001, 0x200)
  t.equal(asset.bmc_ip, '10.0.0.1')
  t.equal(asset.board_info?.product_name, 'BRD1')
  t.same(await bus.location(0x40000001), { physical_location: { depth: 'unknown', horizontal: 'unknown', vertical: 'unknown' } })
  t.same(await bus.location(0x40000001, 0x100), {
    chassis_location: { depth: 'unknown', horiz_pos: 'unknown', server_node: 'unknown', vert_pos: 'unknown' },
    physical_location: { depth: 'unknown', horizontal: 'unknown', vertical: 'unknown' }
  })
})

t.test('BMC errors keep v1.2 wording and their kind', async (t) => {
  const bus = new IpmiBus([fakeBmc('10.0.0.9', dead)])
  const err = await rejection(bus.power(0x40000001, 0x100, 'status'))
  t.equal(err.code, 'timeout')
  t.equal(err.message, 'Error returned from BMC in controlling power via IPMI (no answer from BMC 10.0.0.9:623 within 3000 ms).')
  const auth = new IpmiBus([fakeBmc('10.0.0.8', { chassisStatus: async () => { throw new IpmiError('auth', 'authentication failed for BMC 10.0.0.8:623') } })])
  const authErr = await rejection(auth.led(0x40000001, 0x200))
  t.equal(authErr.code, 'auth', 'the failure keeps its own code')
  t.match(authErr.message, /authentication failed/)
})

t.test('a slow BMC does not delay another', async (t) => {
  let release = (): void => {}
  const slow = fakeBmc('10.0.0.2', { chassisStatus: async () => await new Promise((resolve) => { release = () => resolve({ power: 'on', powerFault: false, identify: 'off' }) }) })
  const bus = new IpmiBus([fakeBmc('10.0.0.1'), slow])
  const pending = bus.power(0x40000002, 0x100, 'status')
  const fast = await bus.power(0x40000001, 0x100, 'status')
  t.equal(fast.power_status, 'off', 'BMC 1 answered while BMC 2 was still busy')
  release()
  t.equal((await pending).power_status, 'on')
})

t.test('events: decoded SEL entries in the API shape; a BMC connection without events -> unsupported', async (t) => {
  const bus = new IpmiBus([
    fakeBmc('10.0.0.1', {
      events: async () => [
        { recordId: 0x12, recordType: 2, time: new Date(Date.UTC(2026, 10, 25, 12)), generatorId: 0x20, sensorType: 1, sensorTypeName: 'Temperature', sensorNumber: 1, eventType: 1, asserted: true, event: 'Upper Critical going high', severity: 'critical', sensorName: 'CPU Temp', ownSensor: true, reading: 91, threshold: 85 },
        { recordId: 0x13, recordType: 0xe0, event: 'OEM record 0xe0', severity: 'info' }
      ]
    }),
    fakeBmc('10.0.0.2'),
    fakeBmc('10.0.0.3', { events: async () => { throw new IpmiError('timeout', 'no answer from BMC 10.0.0.3:623 within 3000 ms') } })
  ])
  t.same(await bus.events(0x40000001), [
    { record_id: '0012', time: '2026-11-25T12:00:00.000Z', event: 'Upper Critical going high', severity: 'critical', sensor: 'CPU Temp', device_id: '0001', sensor_type: 'Temperature', direction: 'asserted', reading: 91, threshold: 85 },
    { record_id: '0013', time: null, event: 'OEM record 0xe0', severity: 'info' }
  ])
  const unsupported = await rejection(bus.events(0x40000002))
  t.equal(unsupported.code, 'unsupported')
  t.match(unsupported.message, /unsupported/)
  const timeout = await rejection(bus.events(0x40000003))
  t.equal(timeout.code, 'timeout')
  t.match(timeout.message, /^Error reading the event log via IPMI \(no answer/)
})

t.test('voltage, current and power sensors are devices and read into their own fields; power input_power from DCMI', async (t) => {
  const bmc = fakeBmc('10.0.0.1', {
    sensors: async () => [
      { number: 0x20, name: '12V', kind: 'voltage' },
      { number: 0x21, name: 'PSU Curr', kind: 'current' },
      { number: 0x22, name: 'PSU Power', kind: 'power' },
      { number: 0x23, name: 'PSU state', kind: 'other' }
    ],
    readSensor: async (n) => ({ 0x20: 12.1, 0x21: 7.5, 0x22: 250 } as Record<number, number>)[n],
    powerReading: async () => 312
  })
  const bus = new IpmiBus([bmc, fakeBmc('10.0.0.2')])
  t.same((await bus.scanBoard(0x40000001))[0].devices.slice(2), [
    { device_id: '0020', device_type: 'voltage', device_info: '12V' },
    { device_id: '0021', device_type: 'current', device_info: 'PSU Curr' },
    { device_id: '0022', device_type: 'power', device_info: 'PSU Power' }
  ])
  t.same(await bus.read(0x40000001, 0x20, 'voltage'), { voltage_v: 12.1 })
  t.same(await bus.read(0x40000001, 0x21, 'CURRENT'), { current_a: 7.5 })
  t.same(await bus.read(0x40000001, 0x22, 'power'), { power_w: 250 })
  t.match((await rejection(bus.read(0x40000001, 0x22, 'current'))).message, /no current sensor 0022/)
  t.equal((await bus.power(0x40000001, 0x100, 'status')).input_power, 312, 'DCMI watts')
  t.equal((await bus.power(0x40000002, 0x100, 'status')).input_power, 0, 'no DCMI: 0 as v1.2')
  const flaky = new IpmiBus([fakeBmc('10.0.0.3', { powerReading: async () => { throw new IpmiError('timeout', 'no answer') } })])
  const status = await bus.power(0x40000001, 0x100, 'on')
  t.equal(status.power_status, 'on')
  t.same(await flaky.power(0x40000001, 0x100, 'status'), { input_power: 0, input_voltage: 0, output_current: 0, over_current: false, pmbus_raw: '0,0,0,0', power_ok: true, power_status: 'off', under_voltage: false },
    'a failed DCMI reading does not fail the power command: input_power 0')
})

t.test('sensorKind: v1.2 types by sensor type; threshold sensors by unit; discrete sensors stay off the board', async (t) => {
  const { sensorKind } = await import('../../../drivers/ipmi/bridge-connection.js')
  const rec = (sensorType: number, eventReadingType: number, baseUnit: number, analogFormat: 'unsigned' | 'none' = 'unsigned'): Parameters<typeof sensorKind>[0] => ({
    kind: 'full',
    recordId: 1,
    sdrVersion: 0x51,
    ownerId: 0x20,
    ownerLun: 0,
    channel: 0,
    sensorNumber: 1,
    entityId: 3,
    entityInstance: 1,
    logicalEntity: false,
    sensorType,
    eventReadingType,
    analogFormat,
    rateUnit: 0,
    modifierUnitUse: 0,
    percentage: false,
    baseUnit,
    modifierUnit: 0,
    unit: '',
    factors: null,
    name: 'x'
  })
  const table: Array<[string, Parameters<typeof sensorKind>[0], string]> = [
    ['temperature (0x01)', rec(0x01, 0x01, 1), 'temperature'],
    ['fan (0x04) in RPM', rec(0x04, 0x01, 18), 'fan_speed'],
    ['voltage (0x02) in Volts', rec(0x02, 0x01, 4), 'voltage'],
    ['current (0x03) in Amps', rec(0x03, 0x01, 5), 'current'],
    ['"Current" (0x03) in Watts, as some BMCs file power', rec(0x03, 0x01, 6), 'power'],
    ['Power Supply (0x08) in Watts', rec(0x08, 0x01, 6), 'power'],
    ['Other units (0x0b) in Watts', rec(0x0b, 0x01, 6), 'power'],
    ['Power Supply status (sensor-specific 0x6f)', rec(0x08, 0x6f, 0), 'other'],
    ['a voltage state sensor (discrete 0x05)', rec(0x02, 0x05, 4), 'other'],
    ['threshold without an analog reading', rec(0x02, 0x01, 4, 'none'), 'other'],
    ['Other units in CFM', rec(0x0b, 0x01, 17), 'other']
  ]
  for (const [name, r, kind] of table) t.equal(sensorKind(r), kind, name)
})

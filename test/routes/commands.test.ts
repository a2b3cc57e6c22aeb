import t from 'tap'
import { build, get } from '../helper.js'

/**
 * Every v1.2 command on the default config (emulator-configs/simple.json):
 * bodies as the API reference shows them, values as the emulator's response
 * lists dictate.
 */
t.test('every command on simple.json', async (t) => {
  const app = await build(t)

  t.test('GET /test', async (t) => {
    const res = await get(app, '/test')
    t.equal(res.statusCode, 200)
    t.match(res.headers['content-type'], /application\/json/)
    t.equal(res.body, '{"status":"ok"}')
  })

  t.test('GET /scan lists both boards in config order, ids lower-case and zero-padded', async (t) => {
    const res = await get(app, '/scan')
    t.equal(res.statusCode, 200)
    const { boards } = res.json()
    t.same(boards.map((b: { board_id: string }) => b.board_id), ['00000001', '00000002'])
    t.same(boards[0].devices, [
      { device_id: '0001', device_type: 'thermistor' },
      { device_id: '0002', device_type: 'fan_speed' },
      { device_id: '0004', device_type: 'system' },
      { device_id: '0005', device_type: 'led' },
      { device_id: '0009', device_type: 'thermistor' },
      { device_id: '2000', device_type: 'temperature' },
      { device_id: '4000', device_type: 'temperature' },
      { device_id: '000d', device_type: 'power' }
    ])
    t.equal(boards[1].devices.length, 17)
  })

  t.test('GET /scan/:board_id accepts any hex form of the id', async (t) => {
    for (const id of ['00000002', '2', '0x2', '0X00000002', '000000000002']) {
      const res = await get(app, `/scan/${id}`)
      t.equal(res.statusCode, 200, id)
      t.equal(res.json().boards.length, 1)
      t.equal(res.json().boards[0].board_id, '00000002')
    }
  })

  t.test('GET /version/:board_id', async (t) => {
    const res = await get(app, '/version/00000001')
    t.equal(res.statusCode, 200)
    t.same(res.json(), {
      api_version: '1.2',
      firmware_version: 'OpenDCRE Emulator v1.2.0 - Standalone Server',
      opendcre_version: '1.2.0'
    })
  })

  t.test('GET /read/thermistor walks the response list and wraps', async (t) => {
    const expected = [28.78, 29.77, 30.75, 31.84, 32.82]
    for (const value of expected) {
      const res = await get(app, '/read/thermistor/00000001/0001')
      t.equal(res.statusCode, 200)
      t.same(res.json(), { temperature_c: value })
    }
  })

  t.test('GET /read/temperature returns the value as sent', async (t) => {
    const res = await get(app, '/read/temperature/00000001/2000')
    t.same(res.json(), { temperature_c: 28.78 })
  })

  t.test('GET /read/fan_speed and /read/led', async (t) => {
    t.same((await get(app, '/read/fan_speed/00000001/0002')).json(), { speed_rpm: 4100 })
    t.same((await get(app, '/read/led/00000001/0005')).json(), { led_state: 'on' })
    t.same((await get(app, '/read/led/00000001/0005')).json(), { led_state: 'off' })
  })

  t.test('GET /power in all its forms answers the power status', async (t) => {
    const status = {
      input_power: 0,
      input_voltage: 0,
      output_current: -25.70631970260223,
      over_current: false,
      pmbus_raw: '0,0,0,0',
      power_ok: true,
      power_status: 'on',
      under_voltage: false
    }
    for (const path of ['/power/00000001/000d', '/power/00000001/000d/status', '/power/00000001/000d/on',
      '/power/00000001/000d/off', '/power/00000001/000d/cycle', '/power/on/00000001/000d',
      '/power/status/00000001/000d', '/power/power/00000001/000d/status', '/power/00000001/000D/ON']) {
      const res = await get(app, path)
      t.equal(res.statusCode, 200, path)
      t.same(res.json(), status, path)
    }
  })

  t.test('GET /location', async (t) => {
    const unknown = { depth: 'unknown', horizontal: 'unknown', vertical: 'unknown' }
    t.same((await get(app, '/location/00000001')).json(), { physical_location: unknown })
    t.same((await get(app, '/location/00000001/72df')).json(), {
      chassis_location: { depth: 'middle', horiz_pos: 'left', server_node: 'unknown', vert_pos: 'bottom' },
      physical_location: unknown
    })
    t.same((await get(app, '/location/00000002/8302')).json().chassis_location.server_node, 3)
  })

  t.test('GET /led reads; /led/on|off writes, checks W1 and returns the read-back', async (t) => {
    // led 0005 reads alternate 1, 0; the read list continues across commands
    const before = (await get(app, '/led/00000002/0005')).json().led_state
    t.equal(before, 'on')
    const res = await get(app, '/led/00000002/0005/on')
    t.equal(res.statusCode, 200)
    t.same(res.json(), { led_state: 'off' }, 'the emulator does not change state; the read-back is the next read')
    t.same((await get(app, '/led/00000002/0005/off')).json(), { led_state: 'on' })
  })

  t.test('GET /fan reads; /fan/:rpm writes, checks W1 and returns the read-back', async (t) => {
    t.same((await get(app, '/fan/00000002/0002')).json(), { speed_rpm: 4100 })
    t.same((await get(app, '/fan/00000002/0002/4000')).json(), { speed_rpm: 4100 })
    t.same((await get(app, '/fan/00000002/0002/0')).json(), { speed_rpm: 4000 })
    t.same((await get(app, '/fan/00000002/0002/10000')).json(), { speed_rpm: 4000 })
  })

  t.test('asset and boot_target on bus boards answer 500 "not supported", as v1.2 does', async (t) => {
    const asset = await get(app, '/asset/00000001/0004')
    t.equal(asset.statusCode, 500)
    t.same(asset.json(), { message: 'Asset information via PLC not supported yet.' })
    for (const path of ['/boot_target/00000001/0004', '/boot_target/00000001/0004/pxe']) {
      const res = await get(app, path)
      t.equal(res.statusCode, 500)
      t.same(res.json(), { message: 'Boot target operation via PLC not supported yet.' })
    }
  })

  t.test('GET /plc_config answers 500 on hardware other than the HAT, as v1.2 does', async (t) => {
    const res = await get(app, '/plc_config')
    t.equal(res.statusCode, 500)
    t.same(res.json(), { message: 'Unsupported hardware type in use. Unable to retrieve modem configuration.' })
  })

  t.test('every answer carries helmet headers, and no Access-Control-Allow-Origin unless configured', async (t) => {
    const res = await app.inject({ url: '/opendcre/1.2/test', headers: { origin: 'https://elsewhere.example' } })
    t.notOk('access-control-allow-origin' in res.headers)
    t.equal(res.headers['x-content-type-options'], 'nosniff')
  })
})

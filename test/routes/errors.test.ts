import t from 'tap'
import { build, busTransactions, fixture, get } from '../helper.js'

/**
 * Every failed command answers 500 with {"message"} saying what failed (v1.2's
 * words); an unknown route answers 404. No stack trace ever reaches a body.
 */
t.test('error paths', async (t) => {
  const app = await build(t, { emulator: fixture('routes/errors.json') })

  const fails = async (path: string, message: string | RegExp): Promise<void> => {
    const res = await get(app, path)
    t.equal(res.statusCode, 500, `${path} -> 500`)
    t.match(res.headers['content-type'], /application\/json/)
    const body = res.json()
    t.same(Object.keys(body), ['message'], `${path}: only a message`)
    t.match(body.message, message, `${path}: message`)
    t.notMatch(res.body, /\bat .+\.(ts|js):\d+/, `${path}: no stack trace`)
  }

  t.test('malformed and out-of-range ids', async () => {
    await fails('/read/thermistor/hot_dog/0001', "Error converting board_num to integer (invalid literal for int() with base 16: 'hot_dog').")
    await fails('/read/thermistor/00000001/beer', "Error converting device_num to integer (invalid literal for int() with base 16: 'beer').")
    await fails('/read/thermistor/-1/0001', /board_num/)
    await fails('/read/thermistor/00000001/-0001', /device_num/)
    await fails('/read/thermistor/80000000/0001', /out of range/)
    await fails('/read/thermistor/01000000/0001', /out of range/)
    await fails('/read/thermistor/20000000/0001', /out of range/)
    await fails('/read/thermistor/100000000/0001', /out of range/)
    await fails('/read/thermistor/00000001/10000', /Device number must be <= 0xFFFF/)
    await fails('/location/00000001/F00DF00D', /Device number must be <= 0xFFFF/)
    await fails('/version/AAAAAAAA', /out of range/)
    await fails('/scan/8000000000', /out of range/)
  })

  t.test('IPMI boards answer "BMC with board_num was not found" until the bridge exists', async () => {
    await fails('/version/40000001', 'BMC with board_num was not found.')
    await fails('/scan/40000001', /was not found/)
    await fails('/read/temperature/40000001/0001', /was not found/)
  })

  t.test('unknown board or device: no answer on the bus -> timeout', async () => {
    await fails('/version/00000099', 'No response from bus.')
    await fails('/scan/00000099', 'Error scanning board (No response from bus.).')
    await fails('/read/thermistor/00000099/0001', 'No response from bus on sensor read (No response from bus.).')
    await fails('/read/thermistor/00000001/00ff', /No response from bus on sensor read/)
    await fails('/power/00000099/0001', 'No response from bus on power command (No response from bus.).')
  })

  t.test('a read of the wrong type for the device gets no answer', async () => {
    await fails('/read/temperature/00000001/0001', /No response from bus on sensor read/)
    await fails('/read/none/00000001/0001', /No response/)
    await fails('/read/bogus/00000001/0001', /No response/)
  })

  t.test('corrupt answers: retried, then the retry limit', async () => {
    await fails('/read/thermistor/00000001/0004', 'Retry limit reached on sensor read.')
    const res = await get(app, '/read/thermistor/00000001/0005')
    t.equal(res.statusCode, 200, 'a corrupt answer then a good one on retry')
    t.same(res.json(), { temperature_c: 28.78 })
  })

  t.test('non-repeatable list: null = no answer, exhaustion = no answer', async () => {
    t.same((await get(app, '/read/thermistor/00000001/0006')).json(), { temperature_c: 28.78 })
    await fails('/read/thermistor/00000001/0006', /No response/)
    t.same((await get(app, '/read/thermistor/00000001/0006')).json(), { temperature_c: 29.77 })
    await fails('/read/thermistor/00000001/0006', /No response/)
  })

  t.test('conversion errors', async () => {
    await fails('/read/thermistor/00000001/0002', "Error converting device reading (invalid literal for int() with base 10: 'not a number').")
    await fails('/read/thermistor/00000001/0003', 'Error converting fan speed data (Thermistor value > 0xFFFF received.).')
    await fails('/read/led/00000001/0008', /Invalid raw value returned: \(7\)/)
    await fails('/led/00000001/0008', /Invalid raw value returned/)
    await fails('/power/00000001/0009', /Error converting PMBUS data/)
  })

  t.test('writes answered W0 fail', async () => {
    await fails('/led/00000001/0007/on', 'Error writing to device.')
    await fails('/led/00000001/0007/off', 'Error writing to device.')
  })

  t.test('invalid actions and values', async () => {
    await fails('/power/00000001/0009/reboot', 'Invalid power action specified.')
    await fails('/power/reboot/00000001/0009', /board_num/)
    await fails('/led/00000001/0007/blink', 'Invalid LED state provided for LED control.')
    await fails('/led/00000001/0007/ON', 'Invalid LED state provided for LED control.')
    await fails('/led/00000001/0007/on/red', 'LED color setting is not supported yet.')
    await fails('/fan/00000001/000a/10001', 'Error converting fan_speed to integer (Fan speed out of acceptable range.).')
    await fails('/fan/00000001/000a/-1', /out of acceptable range/)
    await fails('/fan/00000001/000a/fast', "Error converting fan_speed to integer (invalid literal for int() with base 10: 'fast').")
    await fails('/fan/00000001/000a/1e3', /invalid literal/)
    await fails('/boot_target/00000001/000d/floppy', 'Invalid boot target specified.')
  })

  t.test('other device types come back raw', async (t) => {
    t.same((await get(app, '/read/pressure/00000001/000b')).json(), { device_raw: 1013 })
    t.same((await get(app, '/read/humidity/00000001/000c')).json(), { humidity: 38.43, temperature_c: 16.24 })
  })

  t.test('overlong URLs are refused with 414 JSON before any command runs, without echoing them', async (t) => {
    const before = busTransactions(app)
    let res = await get(app, `/read/thermistor/${'0'.repeat(300)}1/0001`)
    t.equal(res.statusCode, 414)
    t.same(res.json(), { message: 'a URL parameter is longer than 200 characters' })
    res = await get(app, `/read/thermistor/00000001/0001?${'x'.repeat(1100)}`)
    t.equal(res.statusCode, 414)
    t.same(res.json(), { message: 'URL longer than 1024 characters' })
    t.equal(busTransactions(app), before, 'the bus was not touched')
  })

  t.test('unknown routes answer 404 JSON', async (t) => {
    for (const path of ['/nope', '/version/', '/scan/', '/read/thermistor/1', '/led/1/2/3/4/5']) {
      const res = await get(app, path)
      t.equal(res.statusCode, 404, path)
      t.same(res.json(), { message: '404: Not Found' })
    }
    for (const path of ['/dashboard/nope.js', '/dashboard/vendor/nope.js', '/dashboard/../package.json']) {
      const res = await app.inject({ method: 'GET', url: path })
      t.equal(res.statusCode, 404, `${path}: not a dashboard file`)
    }
  })

  t.test('a failed request does not poison the next one', async (t) => {
    await fails('/read/thermistor/00000001/0004', /Retry limit/)
    await fails('/version/00000099', /No response/)
    const res = await get(app, '/read/thermistor/00000001/0001')
    t.equal(res.statusCode, 200)
    t.same(res.json(), { temperature_c: 28.78 })
  })

  t.test('validation failures take no sequence number: the bus is untouched', async (t) => {
    const before = busTransactions(app)
    await fails('/read/thermistor/hot_dog/0001', /board_num/)
    await fails('/led/00000001/0007/blink', /Invalid LED state/)
    await fails('/fan/00000001/000a/99999', /out of acceptable range/)
    t.equal(busTransactions(app), before)
  })
})

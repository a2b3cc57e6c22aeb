import t from 'tap'
import { build, fixture, get } from '../helper.js'

/**
 * Without the in-memory idle hint the client behaves as on a serial line:
 * silence ends a read after the read timeout. Requests still end in bounded
 * time, and a timed-out request never poisons the next one.
 */
t.test('serial-line timing (no idle hints)', async (t) => {
  const timeoutMs = 100
  const retryLimit = 3
  const app = await build(t, {
    emulator: fixture('routes/errors.json'),
    emulatorIdleHints: false,
    busPolicy: { timeoutMs }
  })
  const bound = timeoutMs * (retryLimit + 1) + 1000

  t.test('a scan ends after the read timeout and returns every record', async (t) => {
    const started = Date.now()
    const res = await get(app, '/scan/00000001')
    const elapsed = Date.now() - started
    t.equal(res.statusCode, 200)
    t.equal(res.json().boards[0].devices.length, 13)
    t.ok(elapsed >= timeoutMs * 0.9, `waited out the silence (${elapsed} ms)`)
    t.ok(elapsed < bound, `bounded (${elapsed} ms < ${bound} ms)`)
  })

  t.test('no answer: 500 after about one read timeout, then the next request works', async (t) => {
    const started = Date.now()
    const res = await get(app, '/read/thermistor/00000001/00ff')
    const elapsed = Date.now() - started
    t.equal(res.statusCode, 500)
    t.ok(elapsed >= timeoutMs * 0.9, `timed out (${elapsed} ms)`)
    t.ok(elapsed < bound, `bounded (${elapsed} ms < ${bound} ms)`)
    const next = await get(app, '/read/thermistor/00000001/0001')
    t.equal(next.statusCode, 200)
    t.same(next.json(), { temperature_c: 28.78 })
  })

  t.test('corrupt answers up to the retry limit end in bounded time', async (t) => {
    const started = Date.now()
    const res = await get(app, '/read/thermistor/00000001/0004')
    const elapsed = Date.now() - started
    t.equal(res.statusCode, 500)
    t.equal(res.json().message, 'Retry limit reached on sensor read.')
    t.ok(elapsed < bound, `bounded (${elapsed} ms < ${bound} ms)`)
  })

  t.test('parallel requests to a dead device and a live one all end, each with its own answer', async (t) => {
    const paths = ['/read/thermistor/00000001/00ff', '/read/thermistor/00000001/0001', '/version/00000099', '/version/00000001']
    const results = await Promise.all(paths.map(async (p) => await get(app, p)))
    t.same(results.map((r) => r.statusCode), [500, 200, 500, 200])
    t.same(results[1].json(), { temperature_c: 28.78 })
    t.equal(results[3].json().firmware_version, 'Errors Board')
  })
})

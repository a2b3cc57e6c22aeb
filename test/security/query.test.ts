import t from 'tap'
import { build, get } from '../helper.js'

t.test('max_age: only a finite, non-negative decimal within 0..86400; anything else 400 {"message"}', async (t) => {
  const app = await build(t)
  const bad = ['-1e309', '1e309', '0x10', '0X10', ' ', '', '%20', '+1', '-1', '-0', '1e3', 'Infinity', 'NaN', 'abc', '1,5', '86400.5', '86401', '99999999999999999999', '0b1', '0o7', '1_000', '%EF%BC%91', 'x'.repeat(40)]
  for (const value of bad) {
    const res = await get(app, `/read/thermistor/00000001/0001?max_age=${value}`)
    t.equal(res.statusCode, 400, `max_age=${value}`)
    t.match(res.json(), { message: /max_age/ }, `max_age=${value}: says which parameter`)
    t.notMatch(res.body, /\n\s+at /, 'no stack')
  }
  const twice = await get(app, '/read/thermistor/00000001/0001?max_age=1&max_age=2')
  t.equal(twice.statusCode, 400, 'given twice')
  for (const value of ['0', '0.5', '.5', '5.', '60', '86400', '007']) {
    const res = await get(app, `/read/thermistor/00000001/0001?max_age=${value}`)
    t.equal(res.statusCode, 200, `max_age=${value}`)
    t.match(res.json(), { temperature_c: Number })
    t.ok(res.headers.age !== undefined, 'with its Age')
  }
})

import t from 'tap'
import { build, get } from './helper.js'

t.test('GET /test answers ok on the default emulator config', async (t) => {
  const app = await build(t)
  const res = await get(app, '/test')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { status: 'ok' })
})

import t from 'tap'
import { build, get } from './helper.js'

t.test('per-client rate limiting, when configured: 429 JSON past the limit', async (t) => {
  const app = await build(t, { rateLimit: 5 })
  for (let i = 0; i < 5; i++) t.equal((await get(app, '/test')).statusCode, 200)
  const res = await get(app, '/test')
  t.equal(res.statusCode, 429)
  t.match(res.json(), { message: /Rate limit exceeded/ })
  t.ok(Number(res.headers['retry-after']) > 0, 'Retry-After says when')
  const other = await app.inject({ method: 'GET', url: '/opendcre/1.2/test', remoteAddress: '127.0.0.2' })
  t.equal(other.statusCode, 200, 'another client is not limited')
})

t.test('no limit by default', async (t) => {
  const app = await build(t)
  const statuses = await Promise.all(Array.from({ length: 200 }, async () => (await get(app, '/test')).statusCode))
  t.ok(statuses.every((s) => s === 200))
})

t.test('Access-Control-Allow-Origin: * by default, configurable, or none', async (t) => {
  t.equal((await get(await build(t), '/test')).headers['access-control-allow-origin'], '*')
  t.equal((await get(await build(t, { corsOrigin: 'https://ops.example' }), '/test')).headers['access-control-allow-origin'], 'https://ops.example')
  t.notOk('access-control-allow-origin' in (await get(await build(t, { corsOrigin: '' }), '/test')).headers)
})

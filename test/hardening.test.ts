import { mkdtempSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { addUser } from '../auth/users-file.js'
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

t.test('no Access-Control-Allow-Origin by default; a configured origin is echoed, others get none', async (t) => {
  const withOrigin = async (app: Awaited<ReturnType<typeof build>>, origin: string): Promise<Record<string, unknown>> =>
    (await app.inject({ url: '/opendcre/1.2/test', headers: { origin } })).headers
  t.notOk('access-control-allow-origin' in await withOrigin(await build(t), 'https://ops.example'), 'default: none')
  const named = await build(t, { corsOrigin: 'https://ops.example' })
  t.match(await withOrigin(named, 'https://ops.example'), { 'access-control-allow-origin': 'https://ops.example', 'access-control-allow-credentials': 'true', vary: 'Origin' })
  t.notOk('access-control-allow-origin' in await withOrigin(named, 'https://evil.example'), 'another origin: none')
  t.notOk('access-control-allow-origin' in await withOrigin(await build(t, { corsOrigin: '' }), 'https://ops.example'))
  const any = await withOrigin(await build(t, { corsOrigin: '*' }), 'https://evil.example')
  t.equal(any['access-control-allow-origin'], '*', "'*' lets any page read ...")
  t.notOk('access-control-allow-credentials' in any, '... never with credentials')
})

t.test('CORS preflight: answered before authentication, for the configured origin', async (t) => {
  const preflight = { method: 'OPTIONS' as const, url: '/opendcre/1.2/power/on/00000001/000d', headers: { origin: 'https://ops.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' } }
  t.equal((await (await build(t)).inject(preflight)).statusCode, 404, 'no CORS configured (the default): no preflight answer')
  const open = await (await build(t, { corsOrigin: '*' })).inject(preflight)
  t.equal(open.statusCode, 204)
  t.equal(open.headers['access-control-allow-origin'], '*')
  t.equal(open.headers['access-control-allow-methods'], 'GET, POST')
  t.match(open.headers['access-control-allow-headers'], /Authorization/)
  t.notOk('access-control-allow-credentials' in open.headers, 'no credentials with a wildcard origin')

  const dir = mkdtempSync(join(tmpdir(), 'opendcre-cors-'))
  await addUser(join(dir, 'users.json'), 'otto', 'operator', 'cors-Secret-1')
  const secured = await build(t, { usersFile: join(dir, 'users.json'), corsOrigin: 'https://ops.example' })
  const res = await secured.inject(preflight)
  t.equal(res.statusCode, 204, 'a preflight carries no credentials and is not refused')
  t.equal(res.headers['access-control-allow-origin'], 'https://ops.example')
  t.equal(res.headers['access-control-allow-credentials'], 'true')
  t.equal(res.headers.vary, 'Origin')
  t.equal(res.body, '')
  const plain = await secured.inject({ method: 'OPTIONS', url: '/opendcre/1.2/power/on/00000001/000d' })
  t.equal(plain.statusCode, 401, 'an OPTIONS that is not a preflight still needs credentials')
  const change = await secured.inject({ method: 'GET', url: '/opendcre/1.2/power/on/00000001/000d', headers: { origin: 'https://ops.example' } })
  t.equal(change.statusCode, 401, 'and the request itself does')

  const none = await (await build(t, { corsOrigin: '' })).inject(preflight)
  t.equal(none.statusCode, 404, 'no CORS configured: no preflight answer')
})

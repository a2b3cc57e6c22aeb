import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { basic, userAdd } from '../auth/users.js'
import { build, PREFIX } from '../helper.js'

/** The dashboard's files and GET /whoami, through app.inject; the browser tests are in browser.test.ts. */
const dir = mkdtempSync(join(tmpdir(), 'opendcre-dashboard-routes-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

t.test('the page, its files and its libraries, from the package', async (t) => {
  const app = await build(t)
  let res = await app.inject({ method: 'GET', url: '/' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], 'text/html')
  t.match(res.body, '<meta name="opendcre-api" content="/opendcre/1.2">', 'the page learns where the API is')
  t.match(res.headers['content-security-policy'], "script-src 'self'", 'the page runs only its own scripts')
  t.match(res.headers['content-security-policy'], "connect-src 'self'", 'and talks only to this service')
  t.equal(res.headers['x-frame-options'], 'DENY')
  t.equal((await app.inject({ method: 'GET', url: '/dashboard/' })).body, res.body, '/dashboard/ is the page too')

  res = await app.inject({ method: 'GET', url: '/dashboard/app.js' })
  t.equal(res.statusCode, 200)
  t.match(res.headers['content-type'], /javascript/)
  for (const [file, type] of [['uPlot.iife.min.js', /javascript/], ['uPlot.min.css', /css/], ['eventsource-parser.js', /javascript/]] as const) {
    res = await app.inject({ method: 'GET', url: `/dashboard/vendor/${file}` })
    t.equal(res.statusCode, 200, file)
    t.match(res.headers['content-type'], type)
  }
  for (const path of ['/dashboard/vendor/index.js', '/dashboard/vendor/__proto__', '/dashboard/%2e%2e/package.json']) {
    t.equal((await app.inject({ method: 'GET', url: path })).statusCode, 404, path)
  }
})

t.test('GET /whoami with authentication off: anyone, as an operator', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'GET', url: `${PREFIX}/whoami` })
  t.equal(res.statusCode, 200)
  t.same(res.json(), { identity: null, role: 'operator' })
})

t.test('with a users file: the page loads without credentials, the API and /whoami need them', async (t) => {
  const users = join(dir, 'users.json')
  t.equal((await userAdd(users, 'vic', 'viewer', 'view-pass\n')).code, 0)
  t.equal((await userAdd(users, 'olga', 'operator', 'op-pass\n')).code, 0)
  const app = await build(t, { usersFile: users })
  for (const path of ['/', '/dashboard/app.js', '/dashboard/vendor/uPlot.iife.min.js']) {
    t.equal((await app.inject({ method: 'GET', url: path })).statusCode, 200, `${path} without credentials`)
  }
  for (const path of ['/scan', '/whoami', '/stream', '/history/00000001/0001']) {
    t.equal((await app.inject({ method: 'GET', url: `${PREFIX}${path}` })).statusCode, 401, `${path} needs credentials`)
  }
  let res = await app.inject({ method: 'GET', url: `${PREFIX}/whoami`, headers: basic('vic', 'view-pass') })
  t.same(res.json(), { identity: 'vic', role: 'viewer' })
  res = await app.inject({ method: 'GET', url: `${PREFIX}/whoami`, headers: basic('olga', 'op-pass') })
  t.same(res.json(), { identity: 'olga', role: 'operator' })
  res = await app.inject({ method: 'GET', url: `${PREFIX}/whoami`, headers: basic('olga', 'wrong') })
  t.equal(res.statusCode, 401)
})

import t, { type Test } from 'tap'
import Fastify, { type FastifyInstance, type RouteOptions } from 'fastify'
import app from '../../app.js'
import { declarationIn } from '../../plugins/route-config.js'
import { READS, STATE_CHANGES } from '../auth/role-matrix.js'
import { build, busTransactions, get, PREFIX } from '../helper.js'
import { COMMAND_ROUTES, expectedChange, paramsOf } from './command-routes.js'

/**
 * Every route declares what it is (config: { command, changesState }): the
 * role check, the audit log, HEAD and the metrics read nothing else. These
 * tests walk every route the app registers, so the next route cannot come
 * without a declaration, and check the declarations against the tests' own
 * statement of which requests change state (command-routes.ts).
 */

/** A route's methods (a route may take several). */
function methodsOf (route: RouteOptions): string[] {
  return Array.isArray(route.method) ? route.method.map(String) : [String(route.method)]
}

/** The app as production registers it, with every route it adds collected. */
async function walk (t: Test, extra?: (fastify: FastifyInstance) => void): Promise<{ fastify: FastifyInstance, routes: RouteOptions[] }> {
  const fastify = Fastify({ logger: false })
  t.teardown(() => fastify.close())
  const routes: RouteOptions[] = []
  fastify.addHook('onRoute', (route) => { routes.push(route) })
  await fastify.register(app, {})
  extra?.(fastify)
  return { fastify, routes }
}

t.test('every registered route declares its command and whether it changes state', async (t) => {
  const { fastify, routes } = await walk(t)
  await fastify.ready()
  t.ok(routes.length > 40, `${routes.length} routes registered`)
  for (const route of routes) {
    const declaration = declarationIn(route.config)
    t.ok(declaration, `${String(route.method)} ${route.url} declares itself`)
  }
  const urls = new Set(routes.flatMap((r) => methodsOf(r).map((m) => `${m} ${r.url}`)))
  for (const route of COMMAND_ROUTES) {
    for (const method of ['GET', 'POST', 'HEAD']) t.ok(urls.has(`${method} ${PREFIX}${route}`), `${method} ${route} was walked`)
  }
  for (const other of ['GET /metrics', `GET ${PREFIX}/health`, `GET ${PREFIX}/openapi.json`, `GET ${PREFIX}/docs/`]) t.ok(urls.has(other), `${other} was walked`)
  const commands = (url: string): string[] => routes.filter((r) => r.url === url).map((r) => declarationIn(r.config)?.command ?? '')
  t.same(new Set(commands(`${PREFIX}/docs/`)), new Set(['docs']), "swagger-ui's routes are declared read-only by the hook around it")
  t.same(new Set(commands('/metrics')), new Set(['metrics']))
  t.equal(routes.find((r) => r.url === `${PREFIX}/health`)?.config?.open, true, 'health declares itself open')
  // open: health, and the dashboard's page and files (every API call the page makes needs credentials)
  t.same(routes.filter((r) => r.config?.open === true).map((r) => r.url).sort(),
    [`${PREFIX}/health`, `${PREFIX}/health`, '/', '/', '/dashboard/*', '/dashboard/*', '/dashboard/vendor/:file', '/dashboard/vendor/:file'].sort(),
    'and nothing else does (GET and HEAD)')
  t.ok(routes.filter((r) => r.config?.open === true).every((r) => ['health', 'dashboard'].includes(declarationIn(r.config)?.command ?? '')), 'the open routes are health and the dashboard')
})

t.test('a route without a declaration keeps the app from starting', async (t) => {
  const { fastify } = await walk(t, (f) => {
    void f.register(async (child) => {
      child.get(`${PREFIX}/new_command`, async () => ({ ok: true }))
    })
  })
  await t.rejects(async () => { await fastify.ready() }, /routes without a declaration \(config: \{ command, changesState \}\): GET \/opendcre\/1\.2\/new_command, HEAD \/opendcre\/1\.2\/new_command/)
})

t.test('a half declaration (a command, no changesState) is no declaration', async (t) => {
  const { fastify } = await walk(t, (f) => {
    f.post(`${PREFIX}/half`, { config: { command: 'half' } }, async () => ({ ok: true }))
  })
  await t.rejects(async () => { await fastify.ready() }, /routes without a declaration .*POST \/opendcre\/1\.2\/half/)
})

t.test("the declarations agree with the tests' own list of state changes, in every URL form and case", async (t) => {
  const { fastify, routes } = await walk(t)
  await fastify.ready()
  const paths = [
    ...STATE_CHANGES.map((c) => c.path),
    ...READS.map((r) => r.path),
    '/power/00000001/000d/ON', '/power/00000001/000d/Status', '/power/STATUS/00000001/000d', '/power/Cycle/00000001/000d',
    '/power/00000001/000d/blink', '/power/power/00000001/000d/STATUS', '/led/00000002/0005/blink', '/fan/00000002/0002/fast'
  ]
  for (const path of paths) {
    const found = paramsOf(path)
    if (found === undefined) {
      t.fail(`${path}: no command route`)
      continue
    }
    const expected = expectedChange(found.route, found.params)
    for (const method of ['GET', 'POST', 'HEAD']) {
      const route = routes.find((r) => methodsOf(r).includes(method) && r.url === `${PREFIX}${found.route}`)
      const declaration = declarationIn(route?.config)
      if (declaration === undefined) {
        t.fail(`${method} ${found.route}: no declaration`)
        continue
      }
      t.equal(declaration.changesState(found.params), expected !== undefined, `${method} ${path}: ${expected === undefined ? 'a read' : 'a state change'}`)
      if (expected !== undefined) {
        const target = declaration.target?.(found.params)
        t.same(target === undefined ? undefined : { command: `${declaration.command} ${target.action}`, board: target.board, device: target.device }, expected, `${method} ${path}: the audit line's command and target`)
      }
    }
  }
})

t.test('HEAD answers 405 where the request changes state, and runs nothing', async (t) => {
  const app = await build(t)
  const before = (await get(app, '/power/00000001/000d')).json()
  const transactions = busTransactions(app)
  for (const { path } of STATE_CHANGES) {
    const res = await app.inject({ method: 'HEAD', url: `${PREFIX}${path}` })
    t.equal(res.statusCode, 405, `HEAD ${path}: 405`)
    t.equal(res.headers.allow, 'GET, POST', `HEAD ${path}: Allow: GET, POST`)
    t.match(res.headers['content-type'], /^application\/json/, `HEAD ${path}: the API's JSON form (a HEAD answer has no body)`)
    t.equal(res.body, '')
  }
  t.equal(busTransactions(app), transactions, 'nothing reached the bus')
  t.same((await get(app, '/power/00000001/000d')).json(), before, 'the power state is as it was')
  // the same URL with GET still does what it says
  const get405 = await app.inject({ method: 'GET', url: `${PREFIX}/power/00000001/000d/off` })
  t.equal(get405.statusCode, 200, 'GET on the same URL is the command')
})

t.test('HEAD on a read answers as GET does, without the body', async (t) => {
  const app = await build(t)
  for (const { path, status } of READS) {
    const head = await app.inject({ method: 'HEAD', url: `${PREFIX}${path}` })
    const getAnswer = await app.inject({ method: 'GET', url: `${PREFIX}${path}` })
    t.equal(head.statusCode, status, `HEAD ${path}: ${status}`)
    t.equal(getAnswer.statusCode, status, `GET ${path}: ${status}`)
    t.equal(head.body, '', `HEAD ${path}: no body`)
  }
  const health = await app.inject({ method: 'HEAD', url: `${PREFIX}/health` })
  t.equal(health.statusCode, 200, 'HEAD /health')
})

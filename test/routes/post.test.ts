import t from 'tap'
import type { InjectOptions } from 'fastify'
import { build, PREFIX } from '../helper.js'
import { COMMAND_ROUTES, routeOf } from './command-routes.js'

/**
 * Every v1.2 command answers POST on its path exactly as GET: same status,
 * content type and body, for successes and failures alike. The emulator's
 * response lists walk with each request, so the same sequence runs with GET
 * on one fresh service and with POST on another, and the answers are compared
 * pairwise. The POSTs cycle through the bodies clients send: none (curl -X
 * POST), JSON, an empty JSON body, an empty form (curl -d ''), text, bad JSON.
 */
const SEQUENCE: Array<{ path: string, status: number }> = [
  { path: '/test', status: 200 },
  { path: '/scan', status: 200 },
  { path: '/scan/00000001', status: 200 },
  { path: '/scan/0x2', status: 200 },
  { path: '/version/00000001', status: 200 },
  { path: '/read/thermistor/00000001/0001', status: 200 },
  { path: '/read/thermistor/00000001/0001', status: 200 },
  { path: '/read/temperature/00000001/2000', status: 200 },
  { path: '/read/fan_speed/00000001/0002', status: 200 },
  { path: '/read/led/00000001/0005', status: 200 },
  { path: '/power/00000001/000d', status: 200 },
  { path: '/power/00000001/000d/status', status: 200 },
  { path: '/power/00000001/000d/on', status: 200 },
  { path: '/power/00000001/000d/off', status: 200 },
  { path: '/power/00000001/000d/cycle', status: 200 },
  { path: '/power/on/00000001/000d', status: 200 }, // the deprecated order
  { path: '/power/status/00000001/000d', status: 200 },
  { path: '/power/power/00000001/000d/status', status: 200 },
  { path: '/location/00000001', status: 200 },
  { path: '/location/00000001/72df', status: 200 },
  { path: '/location/00000002/8302', status: 200 },
  { path: '/led/00000002/0005', status: 200 },
  { path: '/led/00000002/0005/on', status: 200 },
  { path: '/led/00000002/0005/off', status: 200 },
  { path: '/fan/00000002/0002', status: 200 },
  { path: '/fan/00000002/0002/4000', status: 200 },
  { path: '/fan/00000002/0002/0', status: 200 },
  { path: '/asset/00000001/0004', status: 500 },
  { path: '/boot_target/00000001/0004', status: 500 },
  { path: '/boot_target/00000001/0004/pxe', status: 500 },
  { path: '/boot_target/00000001/000d/floppy', status: 500 },
  { path: '/plc_config', status: 500 },
  { path: '/led/00000002/0005/blink', status: 500 },
  { path: '/led/00000002/0005/on/red', status: 500 },
  { path: '/fan/00000002/0002/10001', status: 500 },
  { path: '/fan/00000002/0002/fast', status: 500 },
  { path: '/power/00000001/000d/reboot', status: 500 },
  { path: '/power/reboot/00000001/000d', status: 500 },
  { path: '/read/thermistor/hot_dog/0001', status: 500 },
  { path: '/read/thermistor/00000001/10000', status: 500 },
  { path: '/read/temperature/00000001/0001', status: 500 }, // wrong type: no answer on the bus
  { path: '/version/00000099', status: 500 },
  { path: '/version/40000001', status: 500 },
  { path: '/read/thermistor/00000001/0001', status: 200 }, // a failure does not poison the next request
  { path: '/version/', status: 404 },
  { path: '/nope', status: 404 }
]

type Body = Pick<InjectOptions, 'headers' | 'payload'>

const BODIES: Array<{ name: string, body: Body }> = [
  { name: 'no body', body: {} },
  { name: 'a JSON body', body: { headers: { 'content-type': 'application/json' }, payload: '{"board_id":"ignored"}' } },
  { name: 'an empty JSON body', body: { headers: { 'content-type': 'application/json' }, payload: '' } },
  { name: 'an empty form', body: { headers: { 'content-type': 'application/x-www-form-urlencoded' }, payload: '' } },
  { name: 'text', body: { headers: { 'content-type': 'text/plain' }, payload: 'on' } },
  { name: 'malformed JSON', body: { headers: { 'content-type': 'application/json' }, payload: '{"not json' } }
]

t.test('the sequence covers every command route', async (t) => {
  const covered = new Set(SEQUENCE.map(({ path }) => routeOf(path)))
  for (const route of COMMAND_ROUTES) t.ok(covered.has(route), route)
})

t.test('every command answers POST exactly as GET, on two fresh services', async (t) => {
  const viaGet = await build(t)
  const viaPost = await build(t)
  for (const [i, { path, status }] of SEQUENCE.entries()) {
    const { name, body } = BODIES[i % BODIES.length]
    const got = await viaGet.inject({ method: 'GET', url: `${PREFIX}${path}` })
    const posted = await viaPost.inject({ method: 'POST', url: `${PREFIX}${path}`, ...body })
    t.equal(got.statusCode, status, `GET ${path}`)
    t.equal(posted.statusCode, got.statusCode, `POST ${path} (${name}): status`)
    t.equal(posted.headers['content-type'], got.headers['content-type'], `POST ${path} (${name}): content type`)
    t.equal(posted.body, got.body, `POST ${path} (${name}): body`)
  }
})

t.test('every command route is registered for GET, HEAD and POST', async (t) => {
  const app = await build(t)
  for (const route of COMMAND_ROUTES) {
    for (const method of ['GET', 'HEAD', 'POST'] as const) {
      t.ok(app.hasRoute({ method, url: `${PREFIX}${route}` }), `${method} ${route}`)
    }
    t.notOk(app.hasRoute({ method: 'PUT', url: `${PREFIX}${route}` }), `no PUT ${route}`)
  }
})

t.test('whatever the body, a POST answers as GET (commands without bus traffic)', async (t) => {
  const app = await build(t)
  for (const path of ['/test', '/location/00000001/72df', '/plc_config']) {
    const got = await app.inject({ method: 'GET', url: `${PREFIX}${path}` })
    for (const { name, body } of BODIES) {
      const posted = await app.inject({ method: 'POST', url: `${PREFIX}${path}`, ...body })
      t.equal(posted.statusCode, got.statusCode, `${path}, ${name}: status`)
      t.equal(posted.body, got.body, `${path}, ${name}: body`)
    }
  }
})

t.test('a POST body past the server limit is refused with 413 {message}', async (t) => {
  const app = await build(t)
  const res = await app.inject({ method: 'POST', url: `${PREFIX}/test`, headers: { 'content-type': 'application/json' }, payload: `"${'x'.repeat(70 * 1024)}"` })
  t.equal(res.statusCode, 413)
  t.same(Object.keys(res.json()), ['message'])
})

t.test('other methods stay unknown: 404 JSON', async (t) => {
  const app = await build(t)
  for (const method of ['PUT', 'DELETE', 'PATCH'] as const) {
    const res = await app.inject({ method, url: `${PREFIX}/test` })
    t.equal(res.statusCode, 404, method)
    t.same(res.json(), { message: '404: Not Found' })
  }
})

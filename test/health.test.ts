import t from 'tap'
import type { FastifyInstance, LightMyRequestResponse } from 'fastify'
import { build, busTransactions, fixture, get } from './helper.js'
import { PtyRig } from './serial/pty.js'

/**
 * GET /health: 200 'ok' when every configured backend is up, 503 'degraded'
 * when one is down. It reads the service's state and never touches the bus.
 */

async function health (app: FastifyInstance): Promise<LightMyRequestResponse> {
  return await get(app, '/health')
}

/** Health until it answers `status` (the serial transport notices a hang-up on its own, soon after). */
async function healthUntil (app: FastifyInstance, status: number, timeoutMs = 10_000): Promise<LightMyRequestResponse> {
  const until = Date.now() + timeoutMs
  let res = await health(app)
  while (res.statusCode !== status && Date.now() < until) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    res = await health(app)
  }
  return res
}

t.test('on the emulator: 200 ok, and asking never touches the bus', async (t) => {
  const app = await build(t, { emulator: fixture('routes/errors.json') })
  const first = await health(app)
  t.equal(first.statusCode, 200)
  t.match(first.headers['content-type'], /application\/json/)
  t.same(first.json(), {
    backends: { device_bus: { kind: 'emulator', last_success: null, open: true, transactions: 0 } },
    status: 'ok'
  })
  await health(app)
  t.equal(busTransactions(app), 0, 'health sent nothing on the bus')

  const started = Date.now()
  t.equal((await get(app, '/read/thermistor/00000001/0001')).statusCode, 200)
  t.equal((await get(app, '/read/thermistor/00000099/0001')).statusCode, 500, 'a failed command does not make the bus down')
  const after = await health(app)
  t.equal(after.statusCode, 200)
  const bus = after.json().backends.device_bus
  t.equal(bus.transactions, 2)
  t.match(bus.last_success, /^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$/)
  const at = Date.parse(bus.last_success)
  t.ok(at >= started - 1 && at <= Date.now(), 'last success: the good read')
})

t.test('a serial device that is absent: the service starts, health answers 503 with the reason', async (t) => {
  const app = await build(t, { serial: '/nonexistent/tty' })
  const res = await health(app)
  t.equal(res.statusCode, 503)
  const body = res.json()
  t.equal(body.status, 'degraded')
  t.match(body.backends.device_bus, { kind: 'serial', device: '/nonexistent/tty', open: false, last_success: null, transactions: 0 })
  t.match(body.backends.device_bus.reason, /^\/nonexistent\/tty: /)
  t.equal((await get(app, '/test')).statusCode, 200, "v1.2's /test still says the endpoint is up")
  const metrics = await app.inject({ method: 'GET', url: '/metrics' })
  t.match(metrics.body, /^opendcre_device_bus_up\{bus="\/nonexistent\/tty"\} 0$/m)
})

t.test('over a real PTY: 200 while the line is there, 503 once it is gone, 200 again when it is back', async (t) => {
  const rig = new PtyRig(t, fixture('routes/errors.json'))
  await rig.startLink()
  await rig.startEmulator()
  const app = await build(t, { serial: rig.servicePath })

  const up = await health(app)
  t.equal(up.statusCode, 200)
  t.same(up.json(), {
    backends: { device_bus: { device: rig.servicePath, kind: 'serial', last_success: null, open: true, transactions: 0 } },
    status: 'ok'
  })
  t.equal((await get(app, '/read/thermistor/00000001/0001')).statusCode, 200)
  const lastSuccess = (await health(app)).json().backends.device_bus.last_success
  t.type(lastSuccess, 'string')

  await rig.stopEmulator()
  await rig.stopLink()
  const down = await healthUntil(app, 503)
  t.equal(down.statusCode, 503, 'the hang-up is noticed without a request on the bus')
  const bus = down.json().backends.device_bus
  t.equal(down.json().status, 'degraded')
  t.equal(bus.open, false)
  t.match(bus.reason, rig.servicePath)
  t.equal(bus.last_success, lastSuccess, 'the last success is kept')
  t.equal(bus.transactions, 1, 'health sent nothing on the bus')

  await rig.startLink()
  const back = await healthUntil(app, 200)
  t.equal(back.statusCode, 200, 'reopened by itself')
  t.equal(back.json().backends.device_bus.open, true)
})

import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import type { FastifyInstance } from 'fastify'
import { basic, userAdd } from '../auth/users.js'
import { build, PREFIX } from '../helper.js'

/**
 * POST /power (bulk) and /tasks on the default setup's two embedded BMC
 * emulators (stateful: boards 40000001 and 40000002, power device 0100) and
 * the device-bus emulator (simple.json: boards 00000001 and 00000002, power
 * device 000d, which answers "on" whatever it is told).
 */
const dir = mkdtempSync(join(tmpdir(), 'opendcre-bulk-routes-'))
t.teardown(() => rmSync(dir, { recursive: true, force: true }))

const post = async (app: FastifyInstance, payload: unknown, headers: Record<string, string> = {}): Promise<{ status: number, body: any, headers: Record<string, unknown> }> => {
  const res = await app.inject({ method: 'POST', url: `${PREFIX}/power`, payload: payload as any, headers })
  return { status: res.statusCode, body: res.json(), headers: res.headers }
}

async function finished (app: FastifyInstance, id: string, headers: Record<string, string> = {}): Promise<any> {
  const deadline = Date.now() + 20_000
  for (;;) {
    const task = (await app.inject({ method: 'GET', url: `${PREFIX}/tasks/${id}`, headers })).json()
    if (task.state !== 'running') return task
    if (Date.now() > deadline) throw new Error(`task ${id} still running`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
}

t.test('a bulk power-off then on: 202 at once, each board confirmed, the singles agree', async (t) => {
  const app = await build(t, { embeddedBmcs: true })
  const off = await post(app, { boards: ['40000001', '40000002'], action: 'off', max_concurrent: 1, confirm_interval_ms: 10 })
  t.equal(off.status, 202)
  t.match(off.body, { task_id: /^[0-9a-f-]{36}$/ })
  t.equal(off.headers.location, `tasks/${String(off.body.task_id)}`)
  const task = await finished(app, off.body.task_id)
  t.match(task, { task_id: off.body.task_id, action: 'off', state: 'done', total: 2, confirmed: 2, failed: 0, max_switching: 1 })
  t.same(task.boards.map((b: any) => [b.board_id, b.state, b.power_status]), [['40000001', 'confirmed', 'off'], ['40000002', 'confirmed', 'off']])
  const single = await app.inject({ method: 'GET', url: `${PREFIX}/power/40000001/0100` })
  t.equal(single.json().power_status, 'off', 'the board really is off')

  const on = await post(app, { boards: 'all', backend: 'ipmi', action: 'on', confirm_interval_ms: 10 })
  const done = await finished(app, on.body.task_id)
  t.match(done, { state: 'done', total: 2, confirmed: 2, skipped: 0 })
  const again = await finished(app, (await post(app, { boards: 'all', backend: 'ipmi', action: 'on' })).body.task_id)
  t.match(again, { confirmed: 2, skipped: 2 }, 'a repeat switches nothing')
  t.same(again.boards.map((b: any) => b.message), ['already on', 'already on'])

  const list = (await app.inject({ method: 'GET', url: `${PREFIX}/tasks` })).json()
  t.equal(list.tasks.length, 3)
  t.notOk('boards' in list.tasks[0], 'the list leaves the boards out')
})

t.test('a board whose read-back never shows the state fails with the reason, never counted done', async (t) => {
  const app = await build(t)
  // the device-bus emulator answers "on" whatever it is told
  const task = await finished(app, (await post(app, { boards: ['1'], action: 'off', confirm_reads: 2, confirm_interval_ms: 10, retries: 1 })).body.task_id)
  t.match(task, { state: 'done', confirmed: 0, failed: 1 })
  t.same(task.boards[0], { board_id: '00000001', state: 'failed', message: 'still on after 2 read-backs (2 switches sent)', power_status: 'on', attempts: 2 })
})

t.test('bad bodies and unknown tasks: a clear 400 or 404 {"message"}', async (t) => {
  const app = await build(t, { embeddedBmcs: true })
  const cases: Array<[unknown, Record<string, string>, RegExp]> = [
    [undefined, {}, /a JSON body is needed/],
    ['{not json', { 'content-type': 'application/json' }, /not valid JSON/],
    [{ boards: 'all' }, {}, /must have required property 'action'/],
    [{ boards: 'all', action: 'explode' }, {}, /invalid action: must be on, off, cycle or status/],
    [{ boards: [], action: 'on' }, {}, /invalid boards: must be "all" or a list/],
    [{ boards: ['zz'], action: 'on' }, {}, /invalid boards/],
    [{ boards: 'all', action: 'on', max_concurrent: 0 }, {}, /invalid max_concurrent/],
    [{ boards: 'all', action: 'on', max_concurent: 5 }, {}, /unknown field max_concurent: the body takes boards, backend, action, max_concurrent/],
    [{ boards: ['40000009'], action: 'on' }, {}, /board 40000009: no such board on the ipmi backend/],
    [{ boards: ['1'], backend: 'ipmi', action: 'on' }, {}, /board 1 is not a ipmi board/],
    [{ boards: 'all', backend: 'redfish', action: 'on' }, {}, /no redfish backend is configured/]
  ]
  for (const [payload, headers, message] of cases) {
    const res = await app.inject({ method: 'POST', url: `${PREFIX}/power`, ...(payload === undefined ? {} : { payload: payload as any }), headers })
    t.equal(res.statusCode, 400, `${JSON.stringify(payload)}: 400`)
    t.match(res.json(), { message }, res.body)
  }
  const missing = await app.inject({ method: 'GET', url: `${PREFIX}/tasks/nope` })
  t.equal(missing.statusCode, 404)
  t.match(missing.json(), { message: /no such task/ })
  t.equal((await app.inject({ method: 'DELETE', url: `${PREFIX}/tasks/nope` })).statusCode, 404)
})

t.test('Idempotency-Key: the same request answers the same task; another request with the key is refused', async (t) => {
  const app = await build(t, { embeddedBmcs: true })
  const key = { 'idempotency-key': 'rack-7-after-maintenance' }
  const first = await post(app, { boards: 'all', action: 'status' }, key)
  const second = await post(app, { boards: 'all', action: 'status' }, key)
  t.equal(first.status, 202)
  t.equal(second.status, 202)
  t.equal(second.body.task_id, first.body.task_id)
  t.equal(second.headers['idempotent-replayed'], 'true')
  const other = await post(app, { boards: 'all', action: 'off' }, key)
  t.equal(other.status, 409)
  t.match(other.body, { message: /different request/ })
  t.equal((await app.inject({ method: 'GET', url: `${PREFIX}/tasks` })).json().tasks.length, 1, 'one task, not three')
  const unkeyed = await post(app, { boards: 'all', action: 'status' })
  t.not(unkeyed.body.task_id, first.body.task_id, 'without a key each request is a task')
})

t.test('dry_run answers the plan and switches nothing', async (t) => {
  const app = await build(t, { embeddedBmcs: true })
  await finished(app, (await post(app, { boards: ['40000001'], action: 'off', confirm_interval_ms: 10 })).body.task_id)
  const plan = await post(app, { boards: 'all', backend: 'ipmi', action: 'on', max_concurrent: 1, interval_ms: 500, estimated_switch_ms: 2000, dry_run: true })
  t.equal(plan.status, 200)
  t.match(plan.body, {
    dry_run: true,
    action: 'on',
    total: 2,
    to_switch: 1,
    plan: [{ board_id: '40000001', start_ms: 0 }],
    skipped: [{ board_id: '40000002', power_status: 'on' }],
    failed: [],
    estimated_duration_ms: 2000
  })
  t.equal((await app.inject({ method: 'GET', url: `${PREFIX}/power/40000001/0100` })).json().power_status, 'off', 'still off')
  t.equal((await app.inject({ method: 'GET', url: `${PREFIX}/tasks` })).json().tasks.length, 1, 'a dry run keeps no task')
})

t.test('DELETE cancels: no new switch starts', async (t) => {
  const app = await build(t, { embeddedBmcs: true })
  // one at a time, a long interval between starts: the second board waits
  const started = await post(app, { boards: 'all', backend: 'ipmi', action: 'off', max_concurrent: 1, interval_ms: 60_000, confirm_interval_ms: 10 })
  await new Promise((resolve) => setTimeout(resolve, 300))
  const cancel = await app.inject({ method: 'DELETE', url: `${PREFIX}/tasks/${String(started.body.task_id)}` })
  t.equal(cancel.statusCode, 200)
  const task = await finished(app, started.body.task_id)
  t.match(task, { state: 'cancelled', confirmed: 1, cancelled: 1 })
  t.equal(task.boards[1].state, 'cancelled')
  t.equal((await app.inject({ method: 'GET', url: `${PREFIX}/power/40000002/0100` })).json().power_status, 'on', 'the second board was never switched')
})

t.test('operators only; each switch audited with the task id; the stream shows the progress', async (t) => {
  const users = join(dir, 'users.json')
  t.equal((await userAdd(users, 'vic', 'viewer', 'view-pass\n')).code, 0)
  t.equal((await userAdd(users, 'olga', 'operator', 'op-pass\n')).code, 0)
  const auditLog = join(dir, 'audit.log')
  const app = await build(t, { usersFile: users, auditLog, embeddedBmcs: true })
  const viewer = basic('vic', 'view-pass')
  const operator = basic('olga', 'op-pass')
  t.equal((await post(app, { boards: 'all', action: 'status' })).status, 401)
  const refused = await post(app, { boards: 'all', action: 'status' }, viewer)
  t.equal(refused.status, 403, 'a viewer may not start a bulk task')
  t.match(refused.body, { message: /viewer role cannot change state/ })

  await app.listen({ host: '127.0.0.1', port: 0 })
  const address = app.server.address() as { port: number }
  const controller = new AbortController()
  t.teardown(() => controller.abort())
  const stream = await fetch(`http://127.0.0.1:${address.port}${PREFIX}/stream?board_id=ffffffff`, { headers: operator, signal: controller.signal })
  const reader = stream.body!.getReader()

  const started = await post(app, { boards: 'all', backend: 'ipmi', action: 'off', confirm_interval_ms: 10 }, operator)
  t.equal(started.status, 202)
  const taskId = started.body.task_id as string
  t.equal((await app.inject({ method: 'GET', url: `${PREFIX}/tasks/${taskId}`, headers: viewer })).statusCode, 200, 'a viewer may follow it')
  t.equal((await app.inject({ method: 'DELETE', url: `${PREFIX}/tasks/${taskId}`, headers: viewer })).statusCode, 403, 'but not cancel it')
  await finished(app, taskId, operator)

  // task events reach every client, whatever its board filter
  let text = ''
  const decoder = new TextDecoder()
  const deadline = Date.now() + 10_000
  while (!/"state":"done"/.test(text) && Date.now() < deadline) {
    const { value, done } = await reader.read()
    if (done) break
    text += decoder.decode(value)
  }
  const events = text.split('\n\n').filter((e) => e.startsWith('event: task')).map((e) => JSON.parse(e.slice(e.indexOf('data: ') + 6)))
  t.ok(events.length >= 5, `the stream showed the task's progress (${events.length} task events)`)
  t.ok(events.every((e) => e.task_id === taskId))
  t.ok(events.some((e) => e.board?.state === 'switching'), 'a board switching')
  t.match(events.at(-1), { state: 'done', total: 2, confirmed: 2, failed: 0 })
  controller.abort()
  await app.close()

  const lines = readFileSync(auditLog, 'utf8').trim().split('\n').map((l) => JSON.parse(l))
  t.match(lines.find((l) => l.identity === 'vic'), { command: 'power bulk', status: 403, result: 'failed' }, 'the refused request is audited')
  t.match(lines.find((l) => l.identity === 'olga' && l.method === 'POST'), { command: 'power bulk', status: 202, result: 'ok' })
  const switches = lines.filter((l) => l.task_id === taskId)
  t.same(switches.map((l) => [l.identity, l.command, l.board, l.device, l.result]), [['olga', 'power off', '40000001', '0100', 'ok'], ['olga', 'power off', '40000002', '0100', 'ok']])
})

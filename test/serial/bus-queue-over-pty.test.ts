// No client can monopolise the device bus, on a real serial line (socat PTY
// pair, the standalone emulator process on the far end): hundreds of
// concurrent reads of a device that never answers, from several loopback
// addresses, beside a healthy client on its own address, with the shipped
// read timeout (250 ms) and queue depth (128) and a 2000 ms queue wait (the
// default is 1000 ms; longer keeps the queue full while 400 connections
// arrive on a loaded machine).
import { request } from 'node:http'
import t from 'tap'
import { DEFAULT_LIMITS } from '../../plugins/config.js'
import { busMetric, PREFIX } from '../helper.js'
import { buildOverPty } from './pty.js'

interface Answer { status: number, ms: number, body: { message?: string, temperature_c?: number }, retryAfter?: string }

function get (base: string, path: string, localAddress: string): Promise<Answer> {
  const started = performance.now()
  return new Promise((resolve, reject) => {
    const req = request(`${base}${PREFIX}${path}`, { localAddress, agent: false }, (res) => {
      let text = ''
      res.on('data', (d) => { text += String(d) })
      res.on('end', () => resolve({ status: res.statusCode ?? 0, ms: performance.now() - started, body: JSON.parse(text), retryAfter: res.headers['retry-after'] }))
    })
    req.setTimeout(20_000, () => req.destroy(new Error('no answer in 20 s')))
    req.on('error', reject)
    req.end()
  })
}

const WAIT_MS = 2000
const { app } = await buildOverPty(t, 'emulator-configs/simple.json', { limits: { busQueueWaitMs: WAIT_MS } })
await app.listen({ host: '127.0.0.1', port: 0 })
const address = app.server.address()
if (address === null || typeof address === 'string') throw new Error('no port')
const base = `http://127.0.0.1:${address.port}`

const DEAD = '/read/thermistor/00000001/00ff'
const HEALTHY = '/read/thermistor/00000001/0001'
const ATTACKERS = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5']
const PER_ATTACKER = 100
/** What the documentation promises a command on the bus takes at most: the read timeout for each of 1 + retry_limit packets, a flush. */
const COMMAND_BOUND_MS = 250 * 4 + 250

await t.test('400 concurrent reads of a dead device beside a healthy client', async (t) => {
  t.equal((await get(base, HEALTHY, '127.0.0.9')).status, 200, 'the line works')

  let done = 0
  const flood = ATTACKERS.flatMap((a) => Array.from({ length: PER_ATTACKER }, async () => {
    const answer = await get(base, DEAD, a)
    done++
    return answer
  }))
  // once the flood has arrived (most of what is beyond the depth refused), one more request is refused at once
  const arrivedBy = Date.now() + 10_000
  while (done < 400 - DEFAULT_LIMITS.busQueueDepth - 40 && Date.now() < arrivedBy) await new Promise((resolve) => setTimeout(resolve, 2))
  t.equal(busMetric(app, 'opendcre_device_bus_queue_depth'), DEFAULT_LIMITS.busQueueDepth, 'the flood fills the queue')
  const beyond = await get(base, DEAD, '127.0.0.2')
  t.equal(beyond.status, 503)
  t.match(beyond.body.message, `device bus busy: more than ${DEFAULT_LIMITS.busQueueDepth} requests waiting`)
  t.equal(beyond.retryAfter, '2')
  t.ok(beyond.ms < 500, `a request beyond the depth is refused at once (${beyond.ms.toFixed(0)} ms)`)
  // the healthy client reads one at a time while the flood waits
  const healthy: Answer[] = []
  for (let i = 0; i < 5; i++) healthy.push(await get(base, HEALTHY, '127.0.0.9'))
  const answers = await Promise.all(flood)

  t.ok(healthy.every((a) => a.status === 200 && a.body.temperature_c !== undefined), 'every healthy read answered with a reading')
  const worstHealthy = Math.max(...healthy.map((a) => a.ms))
  // a healthy read waits for at most the dead read on the line and its own
  t.ok(worstHealthy < 2 * COMMAND_BOUND_MS, `healthy reads took at most ${worstHealthy.toFixed(0)} ms (${healthy.map((a) => a.ms.toFixed(0)).join(', ')})`)

  const full = answers.filter((a) => a.status === 503 && /more than \d+ requests waiting/.test(a.body.message ?? ''))
  const waited = answers.filter((a) => a.status === 503 && /waited more than/.test(a.body.message ?? ''))
  const timedOut = answers.filter((a) => a.status === 500 && /No response from bus/.test(a.body.message ?? ''))
  t.equal(full.length + waited.length + timedOut.length, answers.length, 'every flood request answered: 503 refused, 503 waited too long, or 500 no response')
  // (less a few that found room as dead reads ran or waits expired while the 400 arrived)
  t.ok(full.length > 0 && waited.length > 0, 'some refused because the queue was full, some because they waited too long')
  t.ok([...full, ...waited].every((a) => a.retryAfter === '2'), 'every 503 says Retry-After (the wait, in seconds)')
  t.same(Object.keys(full[0].body), ['message'])
  const slowest = Math.max(...answers.map((a) => a.ms))
  t.ok(slowest < WAIT_MS + COMMAND_BOUND_MS + 1000, `every flood request answered within the queue wait plus one command: slowest ${slowest.toFixed(0)} ms`)
  t.comment(`flood: ${full.length} refused at once, ${waited.length} waited ${WAIT_MS} ms and were refused, ${timedOut.length} reached the dead device; slowest ${slowest.toFixed(0)} ms`)

  t.equal(busMetric(app, 'opendcre_device_bus_queue_depth'), 0, 'the queue empties')
  t.equal((await get(base, HEALTHY, '127.0.0.2')).status, 200, 'the flooding address is served again afterwards')
})

await t.test('one address cannot starve another: two floods share the bus turn by turn', async (t) => {
  // one address sends 6 dead reads at once, another one: the other's goes next
  const a = Array.from({ length: 6 }, async () => await get(base, DEAD, '127.0.0.2'))
  await new Promise((resolve) => setTimeout(resolve, 20))
  const b = await get(base, DEAD, '127.0.0.3')
  await Promise.all(a)
  t.equal(b.status, 500, 'the other address reached the device')
  t.ok(b.ms < 2 * COMMAND_BOUND_MS, `its one request waited for the one read on the line, not the first address's six (${b.ms.toFixed(0)} ms)`)
})

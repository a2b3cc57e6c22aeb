// No client can monopolise the device bus, on a real serial line (socat PTY
// pair, the standalone emulator process on the far end): hundreds of
// concurrent reads of a device that never answers, from several loopback
// addresses, beside a healthy client on its own address, with the shipped
// read timeout (250 ms) and queue depth (128) and a 3000 ms queue wait (the
// default is 1000 ms; longer keeps the queue full while 400 connections
// arrive on a loaded machine). Times are the service's own (its log's
// responseTime), which a loaded machine's slow connection set-up does not
// inflate.
import { request } from 'node:http'
import { Writable } from 'node:stream'
import t from 'tap'
import { pino } from 'pino'
import { DEFAULT_LIMITS } from '../../config/service-config.js'
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

const WAIT_MS = 3000
/** The service's log lines: each request's access line (URL, time it took the service) and refusals. */
const logLines: Array<{ reqId?: string, msg?: string, url?: string, ms?: number, reason?: string }> = []
const sink = new Writable({
  write (chunk, _encoding, done) {
    for (const line of String(chunk).split('\n')) if (line !== '') logLines.push(JSON.parse(line))
    done()
  }
})
const { app } = await buildOverPty(t, 'emulator-configs/simple.json', { limits: { busQueueWaitMs: WAIT_MS }, loggerInstance: pino({ level: 'info' }, sink) })

/** The service's answer times (ms) for requests whose URL `matches` (refused for a reason matching `reason`, if given), in the order they were answered. */
function serviceTimes (matches: (url: string) => boolean, reason?: RegExp): number[] {
  const reasons = new Map<string, string>()
  const times: number[] = []
  for (const line of logLines) {
    if (line.reqId === undefined) continue
    if (line.msg === 'refused: overloaded' && line.reason !== undefined) reasons.set(line.reqId, line.reason)
    if (line.msg === 'request' && line.url !== undefined && matches(line.url.slice(PREFIX.length)) &&
      (reason === undefined || reason.test(reasons.get(line.reqId) ?? ''))) times.push(line.ms ?? NaN)
  }
  return times
}

await app.listen({ host: '127.0.0.1', port: 0 })
const address = app.server.address()
if (address === null || typeof address === 'string') throw new Error('no port')
const base = `http://127.0.0.1:${address.port}`

/**
 * Reads of devices that are not there (the emulator stays silent): each a
 * different device, so that no two share one bus transaction (identical
 * concurrent reads are coalesced into one).
 */
const dead = (i: number): string => `/read/thermistor/00000001/${(0x0100 + i).toString(16).padStart(4, '0')}`
const isDead = (url: string): boolean => /^\/read\/thermistor\/00000001\/0[12][0-9a-f]{2}$/.test(url)
const HEALTHY = '/read/thermistor/00000001/0001'
const ATTACKERS = ['127.0.0.2', '127.0.0.3', '127.0.0.4', '127.0.0.5']
const PER_ATTACKER = 100
/** What the documentation promises a command on the bus takes at most: the read timeout for each of 1 + retry_limit packets, a flush. */
const COMMAND_BOUND_MS = 250 * 4 + 250

await t.test('400 concurrent reads of a dead device beside a healthy client', async (t) => {
  t.equal((await get(base, HEALTHY, '127.0.0.9')).status, 200, 'the line works')

  let done = 0
  const flood = ATTACKERS.flatMap((a, n) => Array.from({ length: PER_ATTACKER }, async (_, i) => {
    const answer = await get(base, dead(n * PER_ATTACKER + i), a)
    done++
    return answer
  }))
  // the flood has arrived and fills the queue
  const arrivedBy = Date.now() + 10_000
  while (done < 400 - DEFAULT_LIMITS.busQueueDepth - 40 && Date.now() < arrivedBy) await new Promise((resolve) => setTimeout(resolve, 2))
  t.equal(busMetric(app, 'opendcre_device_bus_queue_depth'), DEFAULT_LIMITS.busQueueDepth, 'the flood fills the queue')
  // the healthy client reads one at a time while the flood waits
  const healthy: Answer[] = []
  for (let i = 0; i < 5; i++) healthy.push(await get(base, `${HEALTHY}?during`, '127.0.0.9'))
  const answers = await Promise.all(flood)

  t.ok(healthy.every((a) => a.status === 200 && a.body.temperature_c !== undefined), 'every healthy read answered with a reading')
  const healthyMs = serviceTimes((url) => url === `${HEALTHY}?during`)
  // a healthy read waits for at most the dead read on the line, then its own
  t.ok(Math.max(...healthyMs) < 2 * COMMAND_BOUND_MS, `healthy reads took ${healthyMs.map((ms) => ms.toFixed(0)).join(', ')} ms in the service (${healthy.map((a) => a.ms.toFixed(0)).join(', ')} ms at the client)`)

  const full = answers.filter((a) => a.status === 503 && /more than \d+ requests waiting$/.test(a.body.message ?? ''))
  const gaveWay = answers.filter((a) => a.status === 503 && /more than \d+ requests waiting; this one gave its place to another client's$/.test(a.body.message ?? ''))
  const waited = answers.filter((a) => a.status === 503 && /waited more than/.test(a.body.message ?? ''))
  const timedOut = answers.filter((a) => a.status === 500 && /No response from bus/.test(a.body.message ?? ''))
  t.equal(full.length + gaveWay.length + waited.length + timedOut.length, answers.length, 'every flood request answered: 503 refused, 503 gave way to another client, 503 waited too long, or 500 no response')
  t.ok(gaveWay.length >= healthy.length - 1, `${gaveWay.length} gave their place to requests of clients with fewer waiting (the healthy client's among them)`)
  // (less a few that found room as dead reads ran or waits expired while the 400 arrived)
  t.ok(full.length > 0 && waited.length > 0, 'some refused because the queue was full, some because they waited too long')
  t.ok([...full, ...gaveWay, ...waited].every((a) => a.retryAfter === '3'), 'every 503 says Retry-After (the wait, in seconds)')
  // in the service, a refusal for a full queue took no time
  const refusedAtOnce = serviceTimes(isDead, /requests waiting$/)
  t.equal(refusedAtOnce.length, full.length, 'every refusal for a full queue ...')
  t.ok(Math.max(...refusedAtOnce) < 500, `... was answered at once (at most ${Math.max(...refusedAtOnce).toFixed(1)} ms in the service, median ${refusedAtOnce.sort((a, b) => a - b)[refusedAtOnce.length >> 1].toFixed(1)} ms)`)
  t.same(Object.keys(full[0].body), ['message'])
  const slowest = Math.max(...serviceTimes(isDead))
  t.ok(slowest < WAIT_MS + COMMAND_BOUND_MS + 500, `every flood request answered within the queue wait plus one command: slowest ${slowest.toFixed(0)} ms`)
  t.comment(`flood: ${full.length} refused at once, ${gaveWay.length} gave way to another client, ${waited.length} waited ${WAIT_MS} ms and were refused, ${timedOut.length} reached the dead device; slowest ${slowest.toFixed(0)} ms`)

  t.equal(busMetric(app, 'opendcre_device_bus_queue_depth'), 0, 'the queue empties')
  t.equal((await get(base, HEALTHY, '127.0.0.2')).status, 200, 'the flooding address is served again afterwards')
})

await t.test('one address cannot starve another: two floods share the bus turn by turn', async (t) => {
  // one address sends 6 dead reads at once, another one: the other's goes next
  const a = Array.from({ length: 6 }, async (_, i) => await get(base, dead(i), '127.0.0.2'))
  await new Promise((resolve) => setTimeout(resolve, 20))
  const b = await get(base, dead(6), '127.0.0.3')
  await Promise.all(a)
  t.equal(b.status, 500, 'the other address reached the device')
  t.ok(b.ms < 2 * COMMAND_BOUND_MS, `its one request waited for the one read on the line, not the first address's six (${b.ms.toFixed(0)} ms)`)
})

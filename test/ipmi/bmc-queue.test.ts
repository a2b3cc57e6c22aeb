import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { build, fixture, PREFIX } from '../helper.js'
import { startSim } from './sim.js'

/**
 * The IPMI bridge's per-BMC queue against real peers: a live ipmi_sim BMC and
 * a dead one (its port silent). A flood of requests for the dead BMC is
 * bounded by its own queue (503 with Retry-After beyond the depth or the
 * wait) and never delays the live BMC; another client address still gets a
 * turn at the dead one.
 */

t.test('a flood for a dead BMC: refused beyond its queue, the live BMC unaffected', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'opendcre-bmc-queue-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const live = await startSim(t, { name: 'queue-live', emu: fixture('ipmi/bmc-a.emu'), password: 'Queue-live-Pw1' })
  const dead = await startSim(t, { name: 'queue-dead', emu: fixture('ipmi/bmc-b.emu') })
  await dead.stop()
  const entry = (port: number, password: string): Record<string, unknown> => ({
    bmc_ip: '127.0.0.1', bmc_port: port, username: 'ADMIN', password, auth_type: 'RAKP_HMAC_SHA1', integrity_type: 'HMAC_SHA1_96', encryption_type: 'AES_CBC_128'
  })
  const bmcConfig = join(dir, 'bmc_config.json')
  writeFileSync(bmcConfig, JSON.stringify({ timeout_ms: 500, bmcs: [entry(live.port, 'Queue-live-Pw1'), entry(dead.port, 'Queue-dead-Pw2')] }))
  // no poller (configured BMCs are polled by default): the dead BMC's queue holds only this test's requests
  const app = await build(t, { bmcConfig, limits: { bmcQueueDepth: 4, bmcQueueWaitMs: 1200 }, poll: false })

  const status = async (board: string, remoteAddress: string): Promise<{ status: number, ms: number, body: { message?: string }, retryAfter?: string }> => {
    const started = performance.now()
    const res = await app.inject({ method: 'GET', url: `${PREFIX}/power/${board}/0100/status`, remoteAddress })
    return { status: res.statusCode, ms: performance.now() - started, body: res.json(), retryAfter: res.headers['retry-after'] as string | undefined }
  }
  t.equal((await status('40000001', '127.0.0.3')).status, 200, 'the live BMC answers')

  const flood = Array.from({ length: 40 }, async () => await status('40000002', '127.0.0.2'))
  await new Promise((resolve) => setTimeout(resolve, 50))
  const other = status('40000002', '127.0.0.4')
  const liveDuring = await status('40000001', '127.0.0.3')
  const answers = await Promise.all(flood)
  const otherAnswer = await other

  t.equal(liveDuring.status, 200, 'the live BMC answers during the flood')
  t.ok(liveDuring.ms < 2500, `without waiting for the dead one (${liveDuring.ms.toFixed(0)} ms)`)
  const full = answers.filter((a) => a.status === 503 && /BMC 127\.0\.0\.1:\d+ busy: more than 4 requests waiting$/.test(a.body.message ?? ''))
  const gaveWay = answers.filter((a) => a.status === 503 && /busy: more than 4 requests waiting; this one gave its place to another client's$/.test(a.body.message ?? ''))
  const waited = answers.filter((a) => a.status === 503 && /busy: waited more than 1200 ms/.test(a.body.message ?? ''))
  const failed = answers.filter((a) => a.status === 500)
  t.equal(full.length + gaveWay.length + waited.length + failed.length, answers.length, 'every flood request: 503 (queue full, gave way, or waited too long) or 500 (no answer from the BMC)')
  t.ok(full.length >= 40 - 4 - 1 - 1, `${full.length} refused at once because the queue was full`)
  t.equal(gaveWay.length, 1, "one gave its place to the other address's request")
  t.ok(Math.max(...full.map((a) => a.ms)) < 500, 'at once')
  t.ok([...full, ...gaveWay, ...waited].every((a) => a.retryAfter === '2'), 'with Retry-After')
  t.ok(failed.length >= 1, `${failed.length} reached the dead BMC and timed out`)
  t.ok(Math.max(...answers.map((a) => a.ms)) < 1200 + 500 + 1000, 'every request within the queue wait plus one operation')
  t.equal(otherAnswer.status, 500, 'another address got its turn at the dead BMC (and its timeout), ahead of the flood')
  t.notMatch(JSON.stringify(answers), /Queue-(live|dead)-Pw/, 'no password in any answer')
})

/**
 * The session layer against an in-memory BMC that misbehaves on purpose
 * (test/ipmi/fake-bmc.ts): what ipmi_sim cannot be made to do.
 */
import t from 'tap'
import { IpmiSession, type Clock, type IpmiSessionOptions } from '../../../drivers/ipmi/session.js'
import type { DatagramTransportFactory } from '../../../drivers/ipmi/udp-transport.js'
import { BmcSessionsFullError, IpmiError, type BmcTarget } from '../../../drivers/ipmi/types.js'
import { encodeLanResponse, encodeV15Packet } from '../../../drivers/ipmi/rmcp/index.js'
import { FakeBmc, type FakeBmcOptions } from '../../ipmi/fake-bmc.js'

const CS3: BmcTarget = {
  host: 'fake-bmc',
  port: 623,
  username: 'ADMIN',
  password: 'ADMIN',
  auth: 'RAKP_HMAC_SHA1',
  integrity: 'HMAC_SHA1_96',
  confidentiality: 'AES_CBC_128'
}

function setup (t: { teardown: (fn: () => unknown) => void }, bmc: FakeBmcOptions = {}, target: Partial<BmcTarget> = {}, options: IpmiSessionOptions = {}): { fake: FakeBmc, s: IpmiSession } {
  const fake = new FakeBmc(bmc)
  const s = new IpmiSession({ ...CS3, ...target }, { transport: fake.factory, policy: { retransmitMs: 200, retries: 2, requestTimeoutMs: 2000 }, ...options })
  t.teardown(() => s.close())
  return { fake, s }
}

async function failure (p: Promise<unknown>): Promise<IpmiError> {
  const err = await p.then(() => undefined, (e: unknown) => e)
  if (!(err instanceof IpmiError)) throw new Error(`expected an IpmiError, got ${String(err)}`)
  return err
}

t.test('a BMC with another password: RAKP 2 auth code mismatch -> auth, and the BMC is told (RAKP 3 error)', async (t) => {
  const { fake, s } = setup(t, { password: 'other' })
  const err = await failure(s.request(6, 1))
  t.equal(err.kind, 'auth')
  t.match(err.message, /RAKP 2 key exchange auth code mismatch/)
  t.notMatch(err.message, /ADMIN"?\)?$/)
  await new Promise((resolve) => setImmediate(resolve))
  t.equal(fake.sessions.size, 0, 'the half-open session was dropped on the BMC')
  t.equal(s.counters.authFailures, 1)
})

t.test('a bad RAKP 4 integrity check value -> auth', async (t) => {
  const { s } = setup(t, { corruptRakp4: true })
  const err = await failure(s.request(6, 1))
  t.equal(err.kind, 'auth')
  t.match(err.message, /RAKP 4 integrity check value mismatch/)
})

t.test('an unknown user -> auth (unauthorized name)', async (t) => {
  const { s } = setup(t, {}, { username: 'mallory' })
  const err = await failure(s.request(6, 1))
  t.equal(err.kind, 'auth')
  t.match(err.message, /unauthorized name/)
  t.match(err.message, /mallory/)
})

t.test('Open Session refusals: role too high -> lower role; insufficient resources -> back off; algorithms -> session', async (t) => {
  const { fake, s } = setup(t, { openSessionStatus: [0x01, 0x01, 0x0a] })
  t.ok((await s.request(6, 1)).length > 0)
  t.equal(fake.openSessionRequests, 4)
  const session = [...fake.sessions.values()][0]
  t.equal(session.privilegeRequested, 3, 'asked for operator after administrator was refused')

  const { s: s2 } = setup(t, { openSessionStatus: [0x11] })
  const err = await failure(s2.request(6, 1))
  t.equal(err.kind, 'session')
  t.match(err.message, /no cipher suite match/)

  const { s: s3 } = setup(t, { answerConfidentiality: 0 })
  const err3 = await failure(s3.request(6, 1))
  t.equal(err3.kind, 'session')
  t.match(err3.message, /other algorithms/)
})

t.test('a session table that stays full: BmcSessionsFullError within the bound, then no Open Session for a while', async (t) => {
  const { fake, s } = setup(t, { openSessionStatus: Array.from({ length: 100 }, () => 0x01) }, {}, { policy: { retransmitMs: 200, retries: 2, requestTimeoutMs: 400 } })
  const err = await failure(s.request(6, 1))
  t.ok(err instanceof BmcSessionsFullError, err.message)
  t.equal(err.kind, 'session')
  t.match(err.message, /BMC fake-bmc:623 has no free session \(its session table is full: Open Session status 0x01, insufficient resources\)/)
  const asked = fake.openSessionRequests
  t.ok(asked >= 2, `backed off and asked again within the bound (${asked} Open Sessions)`)
  const again = await failure(s.request(6, 1))
  t.ok(again instanceof BmcSessionsFullError)
  t.equal(fake.openSessionRequests, asked, 'the next request adds no Open Session')
})

t.test('Set Session Privilege Level: a privilege ceiling is accepted, the session settles lower', async (t) => {
  const { fake, s } = setup(t, { maxPrivilege: 3 })
  t.ok((await s.request(6, 1)).length > 0)
  t.equal([...fake.sessions.values()][0].privilege, 3)
  const privs = fake.seen.filter((r) => r.cmd === 0x3b).map((r) => r.data?.[0])
  t.same(privs, [4, 3], 'administrator first, then operator')
})

t.test('a lost answer is retransmitted identically; the late duplicate is stale', async (t) => {
  const { fake, s } = setup(t, { drop: (netFn, cmd, nth) => netFn === 6 && cmd === 1 && nth === 2, duplicate: true })
  t.ok((await s.request(6, 1)).length > 0)
  t.equal(s.counters.retransmits, 1)
  const tries = fake.seen.filter((r) => r.cmd === 1)
  t.equal(tries.length, 2)
  t.equal(tries[0].sequence, tries[1].sequence, 'same session sequence number')
  t.equal(tries[0].rqSeq, tries[1].rqSeq, 'same rqSeq')
  t.same(tries[0].iv, tries[1].iv, 'the identical datagram')
  t.ok((await s.request(6, 1)).length > 0)
  t.ok(s.counters.replays >= 2, 'duplicates (same BMC sequence number) counted as replays')
  t.equal(s.counters.garbage, 0)
})

t.test('an answer with a bad AuthCode is ignored (garbage) and the request retransmitted', async (t) => {
  const { s } = setup(t, { corruptAnswer: 2 }) // 1: Set Session Privilege Level, 2: the first request
  t.ok((await s.request(6, 1)).length > 0)
  t.equal(s.counters.garbage, 1)
  t.equal(s.counters.retransmits, 1)
})

t.test('sequence numbers: +1 per datagram from 1, rqSeq 6-bit, a fresh IV per encrypted datagram', async (t) => {
  const { fake, s } = setup(t)
  for (let i = 0; i < 70; i++) await s.request(6, 1)
  const inSession = fake.seen.filter((r) => r.sessionId !== 0)
  t.same(inSession.map((r) => r.sequence), inSession.map((_, i) => i + 1))
  t.ok(inSession.every((r) => r.encrypted && r.authenticated))
  t.ok(inSession.every((r) => (r.rqSeq ?? -1) >= 0 && (r.rqSeq ?? 64) < 64))
  t.equal(new Set(inSession.map((r) => r.iv?.toString('hex'))).size, inSession.length, 'no IV reused')
  const setupSeqs = fake.seen.filter((r) => r.sessionId === 0).map((r) => r.sequence)
  t.ok(setupSeqs.every((n) => n === 0), 'session set-up messages carry sequence 0')
})

t.test('no answer in an established session: drop, log in again once, retry', async (t) => {
  let lost = 0
  const { fake, s } = setup(t, { handler: () => ({ cc: 0 }), drop: (netFn, cmd) => netFn === 0 && cmd === 1 && lost++ < 3 }, {}, { policy: { retransmitMs: 150, retries: 2, requestTimeoutMs: 3000 } })
  await s.request(6, 1)
  const r = await s.request(0, 1)
  t.equal(r.length, 0, 'the retry after re-login was answered')
  t.equal(s.counters.relogins, 1)
  t.equal(s.counters.sessionsEstablished, 2)
  t.equal(fake.activeSessions, 1, 'the old session was closed before logging in again')

  // every answer lost: one re-login only, then timeout
  const { s: s2 } = setup(t, { handler: () => ({ cc: 0 }), drop: (netFn) => netFn === 0 }, {}, { policy: { retransmitMs: 150, retries: 1, requestTimeoutMs: 3000 } })
  await s2.request(6, 1)
  const err = await failure(s2.request(0, 1))
  t.equal(err.kind, 'timeout')
  t.equal(s2.counters.relogins, 1)
  t.equal(s2.counters.timeouts, 1)
})

t.test('close(): Close Session with the BMC session id, queued requests fail with closed', async (t) => {
  const { fake, s } = setup(t)
  await s.request(6, 1)
  t.equal(fake.activeSessions, 1)
  const queued = [s.request(6, 1), s.request(6, 1), s.request(6, 1)]
  const closing = s.close()
  const results = await Promise.allSettled(queued)
  await closing
  t.equal(results[0].status, 'fulfilled', 'the request in flight finishes')
  t.ok(results.slice(1).every((r) => r.status === 'rejected' && r.reason instanceof IpmiError && r.reason.kind === 'closed'), 'the queued ones fail with closed')
  t.equal(fake.activeSessions, 0, 'the BMC closed the session')
  t.equal(s.state, 'idle')
  t.equal((await failure(s.request(6, 1))).kind, 'closed')
  await s.close() // twice is fine
})

t.test('keep-alive on an idle session; none while busy', async (t) => {
  const { fake, s } = setup(t, {}, {}, { policy: { keepAliveMs: 80, retransmitMs: 200, retries: 2, requestTimeoutMs: 2000 } })
  await s.request(6, 1)
  const before = fake.inSessionRequests
  await new Promise((resolve) => setTimeout(resolve, 300))
  t.ok(s.counters.keepAlives >= 2, `${s.counters.keepAlives} keep-alives`)
  t.equal(fake.inSessionRequests - before, s.counters.keepAlives, 'each one a request on the BMC')
  t.equal(s.counters.requests, 1, 'keep-alives are not counted as requests')
  await s.close()
  const after = fake.inSessionRequests
  await new Promise((resolve) => setTimeout(resolve, 200))
  t.equal(fake.inSessionRequests, after, 'no keep-alive after close')
})

t.test('logs at trace level never carry the password', async (t) => {
  const lines: string[] = []
  const log = {
    trace: (o: unknown, m?: string) => { lines.push(JSON.stringify(o) + String(m)) },
    debug: (o: unknown, m?: string) => { lines.push(JSON.stringify(o) + String(m)) },
    info: (o: unknown, m?: string) => { lines.push(JSON.stringify(o) + String(m)) },
    warn: (o: unknown, m?: string) => { lines.push(JSON.stringify(o) + String(m)) },
    error: (o: unknown, m?: string) => { lines.push(JSON.stringify(o) + String(m)) },
    child: () => log,
    isLevelEnabled: () => true
  }
  const secret = 'hunter2-secret'
  const hexSecret = Buffer.from(secret).toString('hex')
  for (const confidentiality of ['AES_CBC_128', 'NO_ENCRYPTION_ALGORITHM'] as const) {
    const { s } = setup(t, { password: secret }, { password: secret, confidentiality, integrity: 'HMAC_SHA1_96' }, { log })
    await s.request(6, 1)
    await s.close()
    const { s: bad } = setup(t, { password: 'other' }, { password: secret }, { log })
    await failure(bad.request(6, 1))
  }
  t.ok(lines.some((l) => l.includes('ipmi tx')), 'frames were logged')
  t.notOk(lines.some((l) => l.includes(secret) || l.includes(hexSecret)), 'no password in any line, plain or hex')
})

t.test('an unauthenticated IPMI v1.5 answer cannot stand in for an in-session answer', async (t) => {
  let fake: FakeBmc | undefined
  let first = true
  const made = setup(t, {
    handler: () => ({ cc: 0, data: [0x01] }),
    drop: (netFn, cmd) => {
      if (netFn !== 0 || cmd !== 1 || !first) return false
      first = false
      const rqSeq = fake?.seen[fake.seen.length - 1].rqSeq ?? 0
      // a spoofed answer with the right rqSeq and cmd, but outside the session (authtype none)
      setImmediate(() => fake?.inject(encodeV15Packet(encodeLanResponse({ netFn: 0x01, rqSeq, cmd: 0x01, completionCode: 0, data: Uint8Array.of(0xde, 0xad) }))))
      return true
    }
  })
  fake = made.fake
  const s = made.s
  await s.request(6, 1)
  t.same([...await s.request(0, 1)], [0x01], 'the authentic answer, after a retransmission')
  t.equal(s.counters.stale, 1, 'the spoof was ignored')
  t.equal(s.counters.retransmits, 1)
})

/** A clock the test moves by hand: the timing rules checked without sleeping. */
class ManualClock implements Clock {
  private t = 0
  private timers: Array<{ at: number, fn: () => void, id: number }> = []
  private ids = 0
  now (): number { return this.t }
  setTimeout (fn: () => void, ms: number): unknown {
    const id = ++this.ids
    this.timers.push({ at: this.t + ms, fn, id })
    return id
  }

  clearTimeout (handle: unknown): void { this.timers = this.timers.filter((x) => x.id !== handle) }
  get pending (): number { return this.timers.length }
  /** Moves time forward, firing due timers in order. */
  async advance (ms: number): Promise<void> {
    const until = this.t + ms
    for (;;) {
      this.timers.sort((a, b) => a.at - b.at)
      const next = this.timers[0]
      if (next === undefined || next.at > until) break
      this.timers.shift()
      this.t = next.at
      next.fn()
      await new Promise((resolve) => setImmediate(resolve))
    }
    this.t = until
    await new Promise((resolve) => setImmediate(resolve))
  }
}

t.test('retransmission and the overall bound, on a manual clock', async (t) => {
  const clock = new ManualClock()
  const sent: Buffer[] = []
  const silent: DatagramTransportFactory = () => ({ send: (d) => { sent.push(d) }, onMessage: () => {}, close: async () => {} })
  const s = new IpmiSession(CS3, { transport: silent, clock, policy: { retransmitMs: 500, retries: 3, requestTimeoutMs: 1800 } })
  let outcome: unknown
  void s.request(6, 1).then(() => { outcome = 'answered' }, (e: unknown) => { outcome = e })
  await clock.advance(0)
  t.equal(sent.length, 1, 'sent at once')
  t.equal(clock.pending, 1, 'one timer for the request in flight')
  await clock.advance(499)
  t.equal(sent.length, 1, 'nothing more before retransmitMs')
  await clock.advance(1)
  t.equal(sent.length, 2, 'retransmitted at 500 ms')
  t.same(sent[1], sent[0], 'the identical datagram')
  await clock.advance(1000)
  t.equal(sent.length, 4, 'again at 1000 and 1500 ms')
  t.equal(outcome, undefined, 'still waiting at 1500 ms')
  await clock.advance(299)
  t.equal(outcome, undefined, 'still waiting at 1799 ms')
  await clock.advance(1)
  t.ok(outcome instanceof IpmiError && outcome.kind === 'timeout', 'timeout exactly at the 1800 ms bound, although a retry was left')
  t.equal(sent.length, 4)
  t.equal(clock.pending, 0, 'no timer left behind')
  t.equal(s.counters.retransmits, 3)
  await s.close()
})

t.test('each request is retransmitted retransmitMs after it went out, whatever came before it (one timer a session, re-armed)', async (t) => {
  const clock = new ManualClock()
  // Get Self Test Results (app 0x04) goes unanswered; everything else is answered
  const fake = new FakeBmc({ drop: (netFn, cmd) => netFn === 0x06 && cmd === 0x04 })
  const s = new IpmiSession(CS3, { transport: fake.factory, clock, policy: { retransmitMs: 500, retries: 3, requestTimeoutMs: 5000, keepAliveMs: 1e9 } })
  t.teardown(() => s.close())
  const settle = async (): Promise<void> => { for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve)) }
  const login = s.request(6, 1)
  await clock.advance(0)
  for (let i = 0; i < 20 && s.state !== 'up'; i++) await new Promise((resolve) => setImmediate(resolve))
  await login
  await clock.advance(300)
  t.ok((await s.request(6, 1)).length > 0, 'answered at 300 ms')
  await clock.advance(100)
  const selfTests = (): number => fake.seen.filter((r) => r.netFn === 0x06 && r.cmd === 0x04).length
  // set by the request's settling (a field: the loop below waits on it)
  const settled: { outcome?: unknown } = {}
  void s.request(6, 4).then(() => { settled.outcome = 'answered' }, (e: unknown) => { settled.outcome = e })
  await settle()
  t.equal(selfTests(), 1, 'sent at 400 ms')
  await clock.advance(499)
  await settle()
  t.equal(selfTests(), 1, 'not again at 899 ms (the timer armed by the log-in fired at 500 ms and waited on)')
  await clock.advance(1)
  await settle()
  t.equal(selfTests(), 2, 'again at 900 ms: 500 ms after it went out')
  await clock.advance(500)
  await settle()
  t.equal(selfTests(), 3, 'and at 1400 ms')
  t.equal(settled.outcome, undefined, 'still waiting')
  t.equal(s.counters.retransmits, 2)
  t.equal(new Set(fake.seen.filter((r) => r.cmd === 0x04).map((r) => r.rqSeq)).size, 1, 'the identical request each time')
  for (let i = 0; i < 40 && settled.outcome === undefined; i++) {
    await clock.advance(250)
    await settle()
  }
  t.ok(settled.outcome instanceof IpmiError && settled.outcome.kind === 'timeout', 'a timeout within the request bound in the end')
  t.ok(clock.now() <= 400 + 5000 + 250, 'no later than the bound')
})

t.test('keep-alive timing on a manual clock: an idle session is never idle longer than keepAliveMs', async (t) => {
  const clock = new ManualClock()
  const fake = new FakeBmc()
  const s = new IpmiSession(CS3, { transport: fake.factory, clock, policy: { keepAliveMs: 20000 } })
  t.teardown(() => s.close())
  const login = s.request(6, 1)
  await clock.advance(0)
  for (let i = 0; i < 20 && s.state !== 'up'; i++) await new Promise((resolve) => setImmediate(resolve))
  await login
  const getDeviceIds = (): number => fake.seen.filter((r) => r.cmd === 1).length
  const before = getDeviceIds()
  await clock.advance(14999)
  t.equal(getDeviceIds(), before, 'nothing before 15 s idle')
  await clock.advance(1)
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve))
  t.equal(getDeviceIds(), before + 1, 'a keep-alive at 15 s idle (checked every 5 s)')
  await clock.advance(20000)
  for (let i = 0; i < 10; i++) await new Promise((resolve) => setImmediate(resolve))
  t.equal(getDeviceIds(), before + 2, 'and one per 15-20 s after')
  t.equal(s.counters.keepAlives, 2)
})

// ---------------------------------------------------------------------------
// cipher suite 17 and choosing a suite from what the BMC lists (§22.15)

const CS17: Partial<BmcTarget> = { auth: 'RAKP_HMAC_SHA256', integrity: 'HMAC_SHA256_128', confidentiality: 'AES_CBC_128' }
const NEGOTIATE: Partial<BmcTarget> = { auth: undefined, integrity: undefined, confidentiality: undefined }

t.test('suite 17: RAKP-HMAC-SHA256 log-in, HMAC-SHA256-128 and AES-CBC-128 in session', async (t) => {
  const { fake, s } = setup(t, { onlyAlgorithms: [3, 4, 1] }, CS17)
  t.equal(s.cipherSuite, 17)
  const id = await s.request(6, 1)
  t.equal(id[2], 0x09, 'Get Device ID answered through the suite-17 session')
  const session = [...fake.sessions.values()][0]
  t.same([session.auth, session.integrity, session.confidentiality], [3, 4, 1], 'Open Session proposed 3/4/1')
  t.equal(session.keys.integrityKey?.length, 32, 'K1 from HMAC-SHA256')
  const inSession = fake.seen.filter((r) => r.sessionId !== 0)
  t.ok(inSession.length >= 2 && inSession.every((r) => r.encrypted && r.authenticated), 'every in-session request encrypted and authenticated')
  t.equal(fake.cipherSuiteRequests, 0, 'named algorithms: the BMC is not asked')
})

t.test('suite 17 with another password on the BMC: the SHA-256 RAKP 2 auth code does not match', async (t) => {
  const { s } = setup(t, { password: 'other', onlyAlgorithms: [3, 4, 1] }, CS17)
  const err = await failure(s.request(6, 1))
  t.equal(err.kind, 'auth')
  t.match(err.message, /RAKP 2 key exchange auth code mismatch/)
})

t.test('suite 17 with a corrupted RAKP 4 ICV -> auth', async (t) => {
  const { s } = setup(t, { corruptRakp4: true }, CS17)
  t.match((await failure(s.request(6, 1))).message, /RAKP 4 integrity check value mismatch/)
})

t.test('no algorithms named: the strongest suite the BMC lists (17, then 3, 2, 1, 0)', async (t) => {
  const cases: Array<[number[], number, [number, number, number]]> = [
    [[0, 1, 2, 3, 17], 17, [3, 4, 1]],
    [[0, 1, 2, 3], 3, [1, 1, 1]],
    [[1, 2], 2, [1, 1, 0]],
    [[0, 1], 1, [1, 0, 0]],
    [[0], 0, [0, 0, 0]]
  ]
  for (const [offered, chosen, algorithms] of cases) {
    const { fake, s } = setup(t, { cipherSuites: offered, onlyAlgorithms: algorithms }, NEGOTIATE)
    t.equal(s.cipherSuite, undefined, 'not known before the first log-in')
    t.ok((await s.request(6, 1)).length > 0, `offers ${offered.join(',')}: logged in`)
    t.equal(s.cipherSuite, chosen, `offers ${offered.join(',')}: suite ${chosen}`)
    const session = [...fake.sessions.values()][0]
    t.same([session.auth, session.integrity, session.confidentiality], algorithms)
    t.equal(fake.cipherSuiteRequests, offered.length * 5 >= 16 ? 2 : 1, 'one Get Channel Cipher Suites per 16 bytes of records, until a short answer')
  }
})

t.test('negotiation: asked once per log-in that needs it, kept while the session lives', async (t) => {
  const { fake, s } = setup(t, { cipherSuites: [3, 17], onlyAlgorithms: [3, 4, 1] }, NEGOTIATE)
  await s.request(6, 1)
  await s.request(6, 1)
  t.equal(fake.cipherSuiteRequests, 1)
  t.equal(fake.openSessionRequests, 1)
})

t.test('negotiation: a BMC without Get Channel Cipher Suites is offered suite 3', async (t) => {
  const { fake, s } = setup(t, { onlyAlgorithms: [1, 1, 1] }, NEGOTIATE)
  t.ok((await s.request(6, 1)).length > 0)
  t.equal(s.cipherSuite, 3)
  t.equal(fake.cipherSuiteRequests, 1)
})

t.test('negotiation: a BMC listing only suites the bridge does not speak -> session error naming them', async (t) => {
  const { s } = setup(t, { cipherSuites: [] }, NEGOTIATE)
  const err = await failure(s.request(6, 1))
  t.equal(err.kind, 'session')
  t.match(err.message, /offers no cipher suite the bridge speaks/)
})

t.test('a target naming some algorithms but not all is refused', async (t) => {
  let caught: unknown
  try { new IpmiSession({ ...CS3, confidentiality: undefined }) } catch (err) { caught = err } // eslint-disable-line no-new
  t.ok(caught instanceof IpmiError && caught.kind === 'session' && /all three algorithms or none/.test(caught.message))
})

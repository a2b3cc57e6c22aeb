/**
 * The RMCP+ session layer against a real BMC: OpenIPMI's ipmi_sim on loopback
 * (test/ipmi/sim.ts), compared with ipmitool where both can ask the same thing.
 */
import t from 'tap'
import { createSocket, type Socket } from 'node:dgram'
import { IpmiSession, type IpmiSessionOptions } from '../../../drivers/ipmi/session.js'
import { UdpTransport, type DatagramTransport, type DatagramTransportFactory } from '../../../drivers/ipmi/udp-transport.js'
import { BmcSessionsFullError, IpmiCompletionError, IpmiError, type AuthAlgorithm, type BmcTarget, type ConfidentialityAlgorithm, type IntegrityAlgorithm } from '../../../drivers/ipmi/types.js'
import { encodeRmcpPlusPacket } from '../../../drivers/ipmi/rmcp/index.js'
import { freeUdpPort, ipmitool, startSim, type Sim } from '../../ipmi/sim.js'

const GET_DEVICE_ID = [0x06, 0x01] as const
const GET_SESSION_INFO = 0x3d

function target (sim: Pick<Sim, 'host' | 'port' | 'user' | 'password'>, cipher: [AuthAlgorithm, IntegrityAlgorithm, ConfidentialityAlgorithm] = CS3, over: Partial<BmcTarget> = {}): BmcTarget {
  return { host: sim.host, port: sim.port, username: sim.user, password: sim.password, auth: cipher[0], integrity: cipher[1], confidentiality: cipher[2], ...over }
}

const CS0: [AuthAlgorithm, IntegrityAlgorithm, ConfidentialityAlgorithm] = ['NO_AUTHENTICATION_ALGORITHM', 'NO_INTEGRITY_ALGORITHM', 'NO_ENCRYPTION_ALGORITHM']
const CS1: [AuthAlgorithm, IntegrityAlgorithm, ConfidentialityAlgorithm] = ['RAKP_HMAC_SHA1', 'NO_INTEGRITY_ALGORITHM', 'NO_ENCRYPTION_ALGORITHM']
const CS2: [AuthAlgorithm, IntegrityAlgorithm, ConfidentialityAlgorithm] = ['RAKP_HMAC_SHA1', 'HMAC_SHA1_96', 'NO_ENCRYPTION_ALGORITHM']
const CS3: [AuthAlgorithm, IntegrityAlgorithm, ConfidentialityAlgorithm] = ['RAKP_HMAC_SHA1', 'HMAC_SHA1_96', 'AES_CBC_128']

/** A UDP transport that lets the test see every datagram and the local port. */
class TapTransport implements DatagramTransport {
  readonly udp: UdpTransport
  readonly sent: Buffer[] = []
  readonly received: Buffer[] = []
  outstanding = 0
  maxOutstanding = 0
  private listener: (d: Buffer) => void = () => {}

  constructor (host: string, port: number) {
    this.udp = new UdpTransport(host, port)
    this.udp.onMessage((d) => {
      this.received.push(d)
      if (d[4] === 0x06 && (d[5] & 0x3f) === 0 && this.outstanding > 0) this.outstanding--
      this.listener(d)
    })
  }

  send (d: Buffer): void {
    const retransmission = this.sent.length > 0 && this.sent[this.sent.length - 1].equals(d)
    this.sent.push(d)
    // in-session IPMI requests (payload type 0 with a session id): count the ones awaiting an answer
    if (!retransmission && d[4] === 0x06 && (d[5] & 0x3f) === 0 && d.readUInt32LE(6) !== 0) {
      this.outstanding++
      this.maxOutstanding = Math.max(this.maxOutstanding, this.outstanding)
    }
    this.udp.send(d)
  }

  onMessage (l: (d: Buffer) => void): void { this.listener = l }
  close (): Promise<void> { return this.udp.close() }
}

function tapped (): { factory: DatagramTransportFactory, transports: TapTransport[] } {
  const transports: TapTransport[] = []
  return {
    transports,
    factory: (host, port) => {
      const tr = new TapTransport(host, port)
      transports.push(tr)
      return tr
    }
  }
}

function session (t: { teardown: (fn: () => unknown) => void }, tgt: BmcTarget, options: IpmiSessionOptions = {}): IpmiSession {
  const s = new IpmiSession(tgt, options)
  t.teardown(() => s.close())
  return s
}

/** A BMC that never answers: a bound UDP socket that swallows everything. */
async function silentBmc (t: { teardown: (fn: () => unknown) => void }): Promise<{ host: string, port: number, received: () => number }> {
  const s: Socket = createSocket('udp4')
  let n = 0
  s.on('message', () => { n++ })
  await new Promise<void>((resolve) => s.bind(0, '127.0.0.1', () => resolve()))
  t.teardown(() => new Promise<void>((resolve) => s.close(() => resolve())))
  return { host: '127.0.0.1', port: s.address().port, received: () => n }
}

/** §20.1 Get Device ID response, in ipmitool's `mc info` terms. */
function deviceInfo (d: Buffer): Record<string, string> {
  return {
    'Device ID': String(d[0]),
    'Device Revision': String(d[1] & 0x0f),
    'Firmware Revision': `${d[2] & 0x7f}.${d[3].toString(16).padStart(2, '0')}`,
    'IPMI Version': `${d[4] & 0x0f}.${d[4] >> 4}`,
    'Manufacturer ID': String(d[6] | (d[7] << 8) | ((d[8] & 0x0f) << 16)),
    'Product ID': String(d[9] | (d[10] << 8))
  }
}

function parseMcInfo (stdout: string): Record<string, string> {
  const out: Record<string, string> = {}
  for (const line of stdout.split('\n')) {
    const m = /^([A-Za-z ]+?)\s+:\s+(\S+)/.exec(line)
    if (m !== null) out[m[1]] = m[2]
  }
  return out
}

/** Active sessions on the BMC, from §22.20 Get Session Info (byte 3 of the answer). */
async function activeSessions (s: IpmiSession): Promise<number> {
  const info = await s.request(0x06, GET_SESSION_INFO, Uint8Array.of(0x00))
  return info[2] & 0x3f
}

t.test('every valid cipher combination logs in and reads Get Device ID as ipmitool does', async (t) => {
  const sim = await startSim(t, { name: 'ciphers' })
  const suites = [
    { cs: 0, cipher: CS0, bits: 0x00 },
    { cs: 1, cipher: CS1, bits: 0x00 },
    { cs: 2, cipher: CS2, bits: 0x40 },
    { cs: 3, cipher: CS3, bits: 0xc0 }
  ]
  for (const { cs, cipher, bits } of suites) {
    const expected = parseMcInfo(await ipmitool(sim, ['mc', 'info'], { cipher: cs }))
    t.ok(expected['Firmware Revision'] !== undefined, `ipmitool -C ${cs} printed mc info`)
    const { factory, transports } = tapped()
    const s = session(t, target(sim, cipher), { transport: factory })
    t.equal(s.state, 'idle', 'no session before the first request')
    const data = await s.request(...GET_DEVICE_ID)
    const ours = deviceInfo(data)
    for (const key of Object.keys(ours)) t.equal(ours[key], expected[key], `-C ${cs} ${cipher.join('/')}: ${key}`)
    t.equal(s.state, 'up')
    t.equal(s.counters.sessionsEstablished, 1)
    const inSession = transports[0].sent.filter((d) => d[4] === 0x06 && (d[5] & 0x3f) === 0)
    t.ok(inSession.length >= 2, 'privilege and Get Device ID went in the session')
    t.ok(inSession.every((d) => (d[5] & 0xc0) === bits), `-C ${cs}: every in-session datagram has encrypted/authenticated bits 0x${bits.toString(16)}`)
    if (cs === 3) {
      const plain = Buffer.from('2018c881', 'hex')
      t.ok(inSession.every((d) => !d.includes(plain)), '-C 3: the IPMI message is not visible on the wire')
    }
    await s.close()
    t.equal(s.state, 'idle')
  }
})

t.test('no algorithms configured: the bridge asks ipmi_sim for its cipher suites and takes 3, the strongest it speaks of those listed', async (t) => {
  const sim = await startSim(t, { name: 'negotiate' })
  const listed = await ipmitool(sim, ['channel', 'getciphers', 'ipmi'])
  t.match(listed, /^3\s+N\/A\s+hmac_sha1\s+hmac_sha1_96\s+aes_cbc_128/m, 'ipmitool sees suite 3 listed')
  t.notMatch(listed, /^17\s/m, 'and no suite 17 (ipmi_sim has no SHA-256)')
  const { factory, transports } = tapped()
  const s = session(t, { host: sim.host, port: sim.port, username: sim.user, password: sim.password }, { transport: factory })
  const expected = parseMcInfo(await ipmitool(sim, ['mc', 'info']))
  const ours = deviceInfo(await s.request(...GET_DEVICE_ID))
  t.equal(ours['Firmware Revision'], expected['Firmware Revision'])
  t.equal(s.cipherSuite, 3)
  const asked = transports[0].sent.filter((d) => d[4] === 0x00 && d.includes(Buffer.from([0x18, 0xc8, 0x81]))) // v1.5, App netFn to the BMC
  t.ok(asked.some((d) => d[19] === 0x54), 'Get Channel Cipher Suites went out before the session')
  const inSession = transports[0].sent.filter((d) => d[4] === 0x06 && (d[5] & 0x3f) === 0)
  t.ok(inSession.length >= 2 && inSession.every((d) => (d[5] & 0xc0) === 0xc0), 'then encrypted and authenticated, as suite 3 is')
})

t.test('suite 17 named for ipmi_sim, which has no SHA-256: refused with a session error, not a hang', async (t) => {
  const sim = await startSim(t, { name: 'no17' })
  const s = session(t, target(sim, ['RAKP_HMAC_SHA256', 'HMAC_SHA256_128', 'AES_CBC_128']))
  const err = await s.request(...GET_DEVICE_ID).then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof IpmiError && err.kind === 'session', String(err))
  t.match(String(err), /refused Open Session/)
})

t.test('configuration that cannot be a valid cipher suite is refused up front', async (t) => {
  const tgt = { host: '127.0.0.1', port: 9, username: 'u', password: 'p' }
  const kindOf = (fn: () => unknown): string => {
    try { fn() } catch (err) { return err instanceof IpmiError ? err.kind : 'other' }
    return 'none'
  }
  t.equal(kindOf(() => new IpmiSession({ ...tgt, auth: 'NO_AUTHENTICATION_ALGORITHM', integrity: 'HMAC_SHA1_96', confidentiality: 'NO_ENCRYPTION_ALGORITHM' })), 'session')
  t.equal(kindOf(() => new IpmiSession({ ...tgt, auth: 'RAKP_HMAC_SHA1', integrity: 'NO_INTEGRITY_ALGORITHM', confidentiality: 'AES_CBC_128' })), 'session')
  t.equal(kindOf(() => new IpmiSession({ ...tgt, password: 'x'.repeat(21), auth: 'RAKP_HMAC_SHA1', integrity: 'HMAC_SHA1_96', confidentiality: 'AES_CBC_128' })), 'auth')
})

t.test('a wrong password or an unknown user fails fast with kind auth, and the password is never in the message', async (t) => {
  const sim = await startSim(t, { name: 'auth' })
  const secret = 'Sup3rS3cretPw'
  for (const cipher of [CS1, CS2, CS3]) {
    const s = session(t, target(sim, cipher, { password: secret }))
    const started = performance.now()
    const err = await s.request(...GET_DEVICE_ID).catch((e: unknown) => e)
    const took = performance.now() - started
    t.ok(err instanceof IpmiError && err.kind === 'auth', `${cipher[2]}: kind auth`)
    t.match((err as Error).message, /authentication failed for BMC 127\.0\.0\.1:\d+/)
    t.notMatch((err as Error).message, secret, 'no password in the message')
    t.ok(took < 2000, `answered in ${took.toFixed(0)} ms, without waiting for a timeout`)
    t.equal(s.counters.authFailures, 1)
    t.equal(s.state, 'down')
  }
  const unknown = session(t, target(sim, CS3, { username: 'nobody' }))
  const err = await unknown.request(...GET_DEVICE_ID).catch((e: unknown) => e)
  t.ok(err instanceof IpmiError && err.kind === 'auth', 'unknown user: kind auth')
  t.match((err as Error).message, /unauthorized name/)
  // the BMC is not left with half-open sessions: a good login still works and is alone
  const good = session(t, target(sim))
  t.equal(await activeSessions(good), 1, 'only the good session is active on the BMC')
})

t.test('a BMC that does not answer: timeout within the bound', async (t) => {
  const dead = await silentBmc(t)
  const s = session(t, target({ ...dead, user: 'ADMIN', password: 'ADMIN' }), { policy: { retransmitMs: 200, retries: 2, requestTimeoutMs: 1000 } })
  const started = performance.now()
  const err = await s.request(...GET_DEVICE_ID).catch((e: unknown) => e)
  const took = performance.now() - started
  t.ok(err instanceof IpmiError && err.kind === 'timeout', 'kind timeout')
  t.ok(took >= 550 && took < 2000, `failed after ${took.toFixed(0)} ms (3 attempts of 200 ms, bound 1000 ms)`)
  t.equal(dead.received(), 3, 'one datagram and two retransmissions')
  t.equal(s.counters.timeouts, 1)
  t.equal(s.counters.retransmits, 2)
  t.equal(s.state, 'down')

  // a closed port (nothing bound): the same, never an unhandled socket error
  const port = await freeUdpPort()
  const s2 = session(t, target({ host: '127.0.0.1', port, user: 'ADMIN', password: 'ADMIN' }), { policy: { retransmitMs: 100, requestTimeoutMs: 400 } })
  const e2 = await s2.request(...GET_DEVICE_ID).catch((e: unknown) => e)
  t.ok(e2 instanceof IpmiError && e2.kind === 'timeout')

  // the overall bound wins over the attempts: 5 retries of 300 ms, bound 700 ms
  const s3 = session(t, target({ ...dead, user: 'ADMIN', password: 'ADMIN' }), { policy: { retransmitMs: 300, retries: 5, requestTimeoutMs: 700 } })
  const t3 = performance.now()
  const e3 = await s3.request(...GET_DEVICE_ID).catch((e: unknown) => e)
  const took3 = performance.now() - t3
  t.ok(e3 instanceof IpmiError && e3.kind === 'timeout')
  t.ok(took3 >= 650 && took3 < 1500, `bounded at ${took3.toFixed(0)} ms, not after the six attempts' 1,800`)
})

t.test('ipmi_sim killed and restarted mid-session: the next request logs in again and succeeds', async (t) => {
  const sim = await startSim(t, { name: 'restart' })
  const s = session(t, target(sim), { policy: { retransmitMs: 200, retries: 1, requestTimeoutMs: 3000 } })
  const before = await s.request(...GET_DEVICE_ID)
  const firstPid = sim.pid
  await sim.restart()
  t.not(sim.pid, firstPid, 'a new ipmi_sim process')
  const after = await s.request(...GET_DEVICE_ID)
  t.same(after, before, 'same answer from the new BMC process')
  t.equal(s.counters.relogins, 1)
  t.equal(s.counters.sessionsEstablished, 2)
  t.equal(s.counters.timeouts, 0)
  t.equal(s.state, 'up')

  // BMC down for longer than the bound: timeout, state down; back: works again
  await sim.stop()
  const err = await s.request(...GET_DEVICE_ID).catch((e: unknown) => e)
  t.ok(err instanceof IpmiError && err.kind === 'timeout')
  t.equal(s.state, 'down')
  await sim.start()
  t.same(await s.request(...GET_DEVICE_ID), before)
  t.equal(s.state, 'up')
})

/**
 * A UDP relay in front of a BMC: the session talks to the relay's port, which
 * forwards both ways, so the test can send datagrams that come from the
 * address the session's socket is connected to (`fromBmc`).
 */
async function relayTo (t: { teardown: (fn: () => unknown) => void }, bmc: { host: string, port: number }): Promise<{ host: string, port: number, fromBmc: (d: Buffer) => void }> {
  const front: Socket = createSocket('udp4')
  const back: Socket = createSocket('udp4')
  let client: { port: number, address: string } | undefined
  front.on('message', (d, from) => {
    client = { port: from.port, address: from.address }
    back.send(d, bmc.port, bmc.host)
  })
  back.on('message', (d) => { if (client !== undefined) front.send(d, client.port, client.address) })
  await new Promise<void>((resolve) => front.bind(0, '127.0.0.1', () => resolve()))
  await new Promise<void>((resolve) => back.bind(0, '127.0.0.1', () => resolve()))
  t.teardown(() => Promise.all([front, back].map((s) => new Promise<void>((resolve) => s.close(() => resolve())))))
  return {
    host: '127.0.0.1',
    port: front.address().port,
    fromBmc: (d) => { if (client !== undefined) front.send(d, client.port, client.address) }
  }
}

t.test('garbage datagrams from the BMC\'s address are ignored and counted; from anywhere else they never arrive', async (t) => {
  const sim = await startSim(t, { name: 'garbage' })
  const relay = await relayTo(t, sim)
  const { factory, transports } = tapped()
  const s = session(t, target({ ...sim, host: relay.host, port: relay.port }), { transport: factory })
  const expected = await s.request(...GET_DEVICE_ID)
  const tr = transports[0]
  const port = await tr.udp.localPort()
  const lastAnswer = tr.received[tr.received.length - 1]
  const flipped = Buffer.from(lastAnswer)
  flipped[flipped.length - 1] ^= 0xff
  const otherSession = Buffer.from(lastAnswer)
  otherSession.writeUInt32LE((otherSession.readUInt32LE(6) ^ 0x5a5a) >>> 0, 6)
  const junk = [
    Buffer.alloc(0),
    Buffer.from([0x06]),
    Buffer.from('hello, BMC'),
    Buffer.alloc(200, 0xff),
    Buffer.from('0600ff0700000000000000000010811c6320', 'hex'), // v1.5, truncated message
    encodeRmcpPlusPacket({ payloadType: 0x13, sessionId: 0, sequence: 0, payload: Buffer.alloc(3) }), // RAKP2 stub outside login
    flipped, // bad AuthCode
    otherSession, // someone else's session id
    lastAnswer.subarray(0, lastAnswer.length - 5) // truncated
  ]
  // from another address: the socket is connected to the BMC's, so the kernel drops them
  const stray = createSocket('udp4')
  t.teardown(() => stray.close())
  const receivedBefore = tr.received.length
  for (const j of [...junk, lastAnswer]) stray.send(j, port, '127.0.0.1')
  await new Promise((resolve) => setTimeout(resolve, 100))
  t.equal(tr.received.length, receivedBefore, 'nothing from another address reaches the session')
  t.same(s.counters, { ...s.counters, garbage: 0, stale: 0, replays: 0 }, 'and nothing is counted')

  // from the BMC's address, while a request is in flight and while idle
  const inFlight = s.request(...GET_DEVICE_ID)
  for (const j of junk) relay.fromBmc(j)
  t.same(await inFlight, expected)
  await new Promise((resolve) => setTimeout(resolve, 50))
  relay.fromBmc(lastAnswer) // an authentic answer, replayed
  await new Promise((resolve) => setTimeout(resolve, 50))
  t.equal(s.counters.garbage, junk.length - 1, 'every undecodable datagram counted as garbage (the RAKP2 stub counts as stale)')
  t.equal(s.counters.stale, 1, 'the stray RAKP2 is stale')
  t.equal(s.counters.replays, 1, 'the replayed answer is refused by the sequence window')
  for (let i = 0; i < 5; i++) t.same(await s.request(...GET_DEVICE_ID), expected)
  t.equal(s.counters.sessionsEstablished, 1, 'the session survived')
})

t.test('after no answer in its session, the next log-in goes out on a new socket (the BMC\'s address looked up again)', async (t) => {
  const sim = await startSim(t, { name: 'renew' })
  const { factory, transports } = tapped()
  const s = session(t, target(sim), { transport: factory, policy: { retransmitMs: 200, retries: 1, requestTimeoutMs: 3000 } })
  const before = await s.request(...GET_DEVICE_ID)
  const firstPort = await transports[0].udp.localPort()
  await sim.restart()
  t.same(await s.request(...GET_DEVICE_ID), before, 'answered by the restarted BMC after one re-login')
  t.equal(s.counters.relogins, 1)
  t.equal(transports.length, 2, 'a second transport for the re-login')
  t.not(await transports[1].udp.localPort(), firstPort, 'on another local port')
  const sentOnFirst = transports[0].sent.length
  t.same(await s.request(...GET_DEVICE_ID), before)
  t.equal(transports[0].sent.length, sentOnFirst, 'the first socket is not used again')
})

t.test('after a log-in that got no answer, the next one goes out on a new socket', async (t) => {
  const dead = await silentBmc(t)
  const { factory, transports } = tapped()
  const s = session(t, target({ ...dead, user: 'ADMIN', password: 'ADMIN' }), { transport: factory, policy: { retransmitMs: 100, retries: 1, requestTimeoutMs: 300 } })
  for (let attempt = 1; attempt <= 2; attempt++) {
    const err = await s.request(...GET_DEVICE_ID).catch((e: unknown) => e)
    t.ok(err instanceof IpmiError && err.kind === 'timeout', `log-in ${attempt} times out`)
    t.equal(transports.length, attempt, `log-in ${attempt} on socket ${attempt}: one socket per log-in that got no answer`)
    t.ok(transports[transports.length - 1].sent.length > 0, `log-in ${attempt} went out`)
  }
  t.ok(dead.received() >= transports[0].sent.length + transports[1].sent.length, 'both sockets reached the BMC')
})

t.test('many sequential requests reuse one session; keep-alive on idle', async (t) => {
  const sim = await startSim(t, { name: 'reuse' })
  const s = session(t, target(sim), { policy: { keepAliveMs: 300 } })
  const first = await s.request(...GET_DEVICE_ID)
  for (let i = 0; i < 300; i++) {
    const d = await s.request(...GET_DEVICE_ID)
    if (!d.equals(first)) t.fail(`answer ${i} differs`)
  }
  t.equal(s.counters.sessionsEstablished, 1)
  t.equal(s.counters.requests, 301)
  t.equal(await activeSessions(s), 1, 'the BMC sees one session')
  await new Promise((resolve) => setTimeout(resolve, 800))
  t.ok(s.counters.keepAlives >= 1, `kept alive while idle (${s.counters.keepAlives})`)
  t.equal(s.counters.sessionsEstablished, 1)
  t.same(await s.request(...GET_DEVICE_ID), first)
})

t.test('completion codes reject with IpmiCompletionError and keep the session', async (t) => {
  const sim = await startSim(t, { name: 'cc' })
  const s = session(t, target(sim))
  const err = await s.request(0x2c, 0x00).catch((e: unknown) => e) // group extension netFn: not supported
  t.ok(err instanceof IpmiCompletionError, 'IpmiCompletionError')
  t.equal((err as IpmiCompletionError).netFn, 0x2c)
  t.not((err as IpmiCompletionError).completionCode, 0)
  t.equal(s.counters.completionErrors, 1)
  t.equal(s.counters.errors, 0)
  t.ok((await s.request(...GET_DEVICE_ID)).length >= 11)
  t.equal(s.counters.sessionsEstablished, 1)
})

t.test('close() closes the session on the BMC: 70 open/close cycles against a 63-session BMC', async (t) => {
  const sim = await startSim(t, { name: 'cycles' })
  for (let i = 0; i < 70; i++) {
    const s = new IpmiSession(target(sim, i % 2 === 0 ? CS3 : CS0), { policy: { requestTimeoutMs: 1000 } })
    await s.request(...GET_DEVICE_ID)
    await s.close()
    const err = await s.request(...GET_DEVICE_ID).catch((e: unknown) => e)
    if (!(err instanceof IpmiError && err.kind === 'closed')) t.fail(`cycle ${i}: request after close should fail with kind closed`)
  }
  const checker = session(t, target(sim))
  t.equal(await activeSessions(checker), 1, 'no session left behind')
  t.match(await ipmitool(sim, ['mc', 'info']), /Firmware Revision/, 'ipmitool still gets a session')
})

t.test('a BMC out of sessions: back off and retry within the bound', async (t) => {
  const sim = await startSim(t, { name: 'full' })
  const fillers: IpmiSession[] = []
  t.teardown(async () => { for (const f of fillers) await f.close() })
  for (let i = 0; i < 63; i++) {
    const f = new IpmiSession(target(sim, CS0))
    fillers.push(f)
    await f.request(...GET_DEVICE_ID)
  }
  const s = session(t, target(sim), { policy: { requestTimeoutMs: 3000 } })
  const started = performance.now()
  const pending = s.request(...GET_DEVICE_ID)
  setTimeout(() => { void fillers.shift()?.close() }, 400)
  t.ok((await pending).length >= 11, 'answered once a session was free')
  const took = performance.now() - started
  t.ok(took >= 380 && took < 3000, `after ${took.toFixed(0)} ms`)
  t.equal(s.counters.sessionsEstablished, 1)

  // never freed: fails with kind session inside the bound
  const s2 = session(t, target(sim), { policy: { requestTimeoutMs: 600 } })
  const t2 = performance.now()
  const err = await s2.request(...GET_DEVICE_ID).catch((e: unknown) => e)
  t.ok(err instanceof IpmiError && err.kind === 'session', 'kind session')
  t.match((err as Error).message, /no free session/)
  t.ok(err instanceof BmcSessionsFullError, 'reported as a full session table')
  t.ok(performance.now() - t2 < 900)
  // then the bridge backs off: the next request fails at once, adding no Open Session to the full table
  const t3 = performance.now()
  const again = await s2.request(...GET_DEVICE_ID).catch((e: unknown) => e)
  t.ok(again instanceof BmcSessionsFullError, 'again, at once')
  t.match((again as Error).message, /session table is full.*not asked again for 2 s/)
  t.ok(performance.now() - t3 < 50, `within ${(performance.now() - t3).toFixed(0)} ms`)
})

t.test('two BMCs in parallel: a dead one does not delay the other', async (t) => {
  const sim = await startSim(t, { name: 'alive' })
  const dead = await silentBmc(t)
  const slow = session(t, target({ ...dead, user: 'ADMIN', password: 'ADMIN' }), { policy: { retransmitMs: 500, requestTimeoutMs: 1500 } })
  const fast = session(t, target(sim))
  const started = performance.now()
  const slowResult = slow.request(...GET_DEVICE_ID).catch((e: unknown) => e)
  let fastDone = 0
  for (let i = 0; i < 50; i++) {
    await fast.request(...GET_DEVICE_ID)
    fastDone = performance.now() - started
  }
  t.ok(fastDone < 1000, `50 requests to the live BMC done in ${fastDone.toFixed(0)} ms while the other hangs`)
  const err = await slowResult
  t.ok(err instanceof IpmiError && err.kind === 'timeout', 'the dead BMC times out')
  t.ok(performance.now() - started >= 1400)
})

t.test('concurrent requests to one BMC are serialised and all answered', async (t) => {
  const sim = await startSim(t, { name: 'concurrent' })
  const { factory, transports } = tapped()
  const s = session(t, target(sim), { transport: factory })
  const answers = await Promise.all(Array.from({ length: 60 }, async (_, i) =>
    i % 3 === 2 ? await s.request(0x06, GET_SESSION_INFO, Uint8Array.of(0)) : await s.request(...GET_DEVICE_ID)))
  t.equal(answers.length, 60)
  const ids = answers.filter((_, i) => i % 3 !== 2)
  t.ok(ids.every((a) => a.equals(ids[0])), 'every Get Device ID answer is the same')
  t.ok(answers.filter((_, i) => i % 3 === 2).every((a) => a.length >= 3), 'every Get Session Info answer arrived where it was asked')
  t.equal(transports[0].maxOutstanding, 1, 'never more than one request on the wire')
  t.equal(s.counters.sessionsEstablished, 1, 'one login for all of them')
})

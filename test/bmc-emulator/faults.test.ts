/**
 * The emulator behaves like a BMC under stress, and its faults are scriptable:
 * session table limits, idle expiry, wrong passwords, privilege checks, the
 * replay window, lost and late datagrams, a reboot, an SDR repository change
 * and a threshold crossing, each observed by a real client (ipmitool) or by
 * the bridge's own connection.
 */
import { createSocket } from 'node:dgram'
import t from 'tap'
import { connectBmc } from '../../drivers/ipmi/bridge-connection.js'
import {
  PAYLOAD_TYPE, decodeAsfPong, decodeLanResponse, encodeAsfPing, decodeOpenSessionResponse, decodeRakp2, decodeRakp4, decodeRmcpPlusPacket,
  encodeLanRequest, encodeOpenSessionRequest, encodeRakp1, encodeRakp3, encodeRmcpPlusPacket
} from '../../drivers/ipmi/rmcp/index.js'
import { cells, ipmitool, startBmc, steadyConfig } from './emulator-kit.js'

const suite3 = { auth: 'RAKP_HMAC_SHA1', integrity: 'HMAC_SHA1_96', confidentiality: 'AES_CBC_128' } as const

t.test('a full session table answers Open Session with "insufficient resources"', async (t) => {
  const bmc = await startBmc(t, steadyConfig((c) => { c.session = { max_sessions: 2 } }))
  const a = connectBmc({ target: { host: '127.0.0.1', port: bmc.port, username: 'ADMIN', password: 'ADMIN', ...suite3 }, bootValidBit: 'honour' })
  const b = connectBmc({ target: { host: '127.0.0.1', port: bmc.port, username: 'ADMIN', password: 'ADMIN', ...suite3 }, bootValidBit: 'honour' })
  t.teardown(async () => { await a.close(); await b.close() })
  await a.ops.chassisStatus()
  await b.ops.chassisStatus()
  t.equal(bmc.sessionCount, 2)
  const refused = await ipmitool(bmc.port, 3, ['mc', 'info'])
  t.not(refused.code, 0, 'a third console is refused')
  t.match(refused.stderr, /insufficient resources/i)
  t.ok(bmc.counters.sessionsRefused >= 1)
  await a.close()
  t.equal((await ipmitool(bmc.port, 3, ['mc', 'info'])).code, 0, 'a freed slot is usable again')

  // the fault: the table filled by other consoles, then freed
  bmc.faults.fillSessionTable()
  const full = await ipmitool(bmc.port, 17, ['chassis', 'power', 'status'])
  t.match(full.stderr, /insufficient resources/i)
  bmc.faults.freeSessionTable()
  t.match((await ipmitool(bmc.port, 17, ['chassis', 'power', 'status'])).stdout, /Chassis Power is on/)
})

t.test('idle sessions expire; the bridge logs in again', async (t) => {
  let now = 1_700_000_000_000
  const bmc = await startBmc(t, steadyConfig((c) => { c.session = { idle_timeout_s: 20 } }), { now: () => now })
  const conn = connectBmc({ target: { host: '127.0.0.1', port: bmc.port, username: 'ADMIN', password: 'ADMIN', ...suite3 }, bootValidBit: 'honour' })
  t.teardown(async () => await conn.close())
  await conn.ops.chassisStatus()
  t.equal(bmc.sessionCount, 1)
  now += 21_000
  t.equal(bmc.sessionCount, 0, 'expired after 20 idle seconds')
  t.equal(bmc.counters.expired, 1)
  t.equal((await conn.ops.chassisStatus()).power, 'on', 'the next request logs in again')
  t.equal(conn.status().counters.relogins, 1)
  t.equal(bmc.sessionCount, 1, 'one session, not two')
  // a console that gave up half way (wrong password: it never sends RAKP 3) holds a slot for 5 s only
  t.not((await ipmitool(bmc.port, 3, ['mc', 'info'], 'ADMIN', 'wrong')).code, 0)
  t.equal(bmc.sessionCount, 2, 'the half-open session holds a slot')
  now += 5001
  t.equal(bmc.sessionCount, 1, 'dropped after 5 s; the idle limit is for active sessions')
})

t.test('ASF presence ping is answered with a pong', async (t) => {
  const bmc = await startBmc(t)
  const socket = createSocket('udp4')
  t.teardown(() => socket.close())
  const pong = await new Promise<Buffer>((resolve) => {
    socket.once('message', resolve)
    socket.send(encodeAsfPing(0x42), bmc.port, '127.0.0.1')
  })
  t.same(decodeAsfPong(pong), { tag: 0x42 })
  t.equal(pong[20] & 0x80, 0x80, 'supported entities: IPMI')
})

t.test('a wrong password or an unknown user fails RAKP; privileges are enforced', async (t) => {
  const bmc = await startBmc(t)
  // -v: ipmitool says why the session failed
  const wrong = await ipmitool(bmc.port, 3, ['mc', 'info'], 'ADMIN', 'nimda', ['-v'])
  t.not(wrong.code, 0)
  t.match(wrong.stderr, /RAKP 2 HMAC is invalid/, 'suite 3: the BMC proved a different password')
  const wrong17 = await ipmitool(bmc.port, 17, ['mc', 'info'], 'ADMIN', 'nimda', ['-v'])
  t.not(wrong17.code, 0)
  t.match(wrong17.stderr, /RAKP 2 HMAC is invalid/, 'suite 17 too')
  const nobody = await ipmitool(bmc.port, 3, ['mc', 'info'], 'nobody', 'x', ['-v'])
  t.match(nobody.stderr, /RAKP 2 message indicates an error : unauthorized name/)
  t.ok(bmc.counters.rakpFailures >= 1)
  t.equal(bmc.activeSessionCount, 0, 'failed log-ins never make an active session')

  // 'monitor' is a user-level account: administrator is refused at RAKP, user level may read but not switch power
  const tooHigh = await ipmitool(bmc.port, 3, ['chassis', 'power', 'status'], 'monitor', 'monitor-pass', ['-v'])
  t.not(tooHigh.code, 0, 'administrator privilege refused to a user-level account')
  t.match(tooHigh.stderr, /RAKP 2 message indicates an error : unauthorized role/)
  const reader = await ipmitool(bmc.port, 3, ['chassis', 'power', 'status'], 'monitor', 'monitor-pass', ['-L', 'USER'])
  t.match(reader.stdout, /Chassis Power is on/)
  const off = await ipmitool(bmc.port, 3, ['chassis', 'power', 'off'], 'monitor', 'monitor-pass', ['-L', 'USER'])
  t.match(off.stderr, /Insufficient privilege level/)
  t.equal(bmc.device.power, 'on', 'the power did not change')
  const operator = await ipmitool(bmc.port, 17, ['chassis', 'power', 'off'], 'operator', 'operator-pass', ['-L', 'OPERATOR'])
  t.equal(operator.code, 0)
  t.equal(bmc.device.power, 'off', 'an operator may switch power')
})

t.test('lost and late datagrams: the clients retransmit and get the answer', async (t) => {
  const bmc = await startBmc(t)
  bmc.faults.dropNext(1)
  const r = await ipmitool(bmc.port, 3, ['chassis', 'power', 'status'])
  t.match(r.stdout, /Chassis Power is on/)
  t.equal(bmc.counters.dropped, 1)
  bmc.faults.delayMs = 300
  const started = Date.now()
  const conn = connectBmc({ target: { host: '127.0.0.1', port: bmc.port, username: 'ADMIN', password: 'ADMIN', ...suite3 }, bootValidBit: 'honour', timeoutMs: 10_000 })
  t.teardown(async () => await conn.close())
  t.equal((await conn.ops.chassisStatus()).power, 'on')
  t.ok(Date.now() - started >= 300 * 4, 'session set-up and the request each waited 300 ms')
})

t.test('a reboot: silence, every session lost, then the bridge recovers without leaking sessions', async (t) => {
  const bmc = await startBmc(t)
  const conn = connectBmc({ target: { host: '127.0.0.1', port: bmc.port, username: 'ADMIN', password: 'ADMIN', ...suite3 }, bootValidBit: 'honour', timeoutMs: 1000 })
  t.teardown(async () => await conn.close())
  await conn.ops.chassisStatus()
  bmc.faults.reboot()
  t.equal(bmc.sessionCount, 0, 'sessions lost')
  await t.rejects(conn.ops.chassisStatus(), /./, 'no answer while it reboots')
  bmc.faults.resume()
  t.equal((await conn.ops.chassisStatus()).power, 'on', 'answers again after the reboot')
  t.equal(bmc.sessionCount, 1, 'one session: none leaked')
  t.ok(conn.status().counters.sessionsEstablished >= 2)
})

t.test('an SDR repository change and a threshold crossing are seen by ipmitool; the crossing is in the SEL', async (t) => {
  const bmc = await startBmc(t)
  const sensors = bmc.device.sensorConfigs.filter((s) => s.name !== 'FAN2')
  bmc.device.replaceSensors([...sensors, { number: 67, name: 'FAN3', kind: 'fan', m: 100, value: 7000, thresholds: { lcr: 500 } }])
  const elist = (await ipmitool(bmc.port, 17, ['sdr', 'elist'])).stdout
  t.notMatch(elist, /FAN2/)
  t.match(elist, /FAN3\s+\| 43h \| ok\s+\|[^|]+\| 7000 RPM/)

  const before = bmc.device.selCount
  const value = bmc.device.crossThreshold(1, 'ucr')
  t.equal(value, 96)
  const row = cells((await ipmitool(bmc.port, 17, ['sdr', 'get', 'CPU1 Temp'])).stdout.split('\n').find((l) => l.includes('Sensor Reading')) ?? '')
  t.match(row.join(' '), /96 \(\+\/- 0\) degrees C/)
  t.equal(bmc.device.selCount, before + 2, 'two SEL events: upper non-critical and upper critical, both crossed going high')
  const sel = (await ipmitool(bmc.port, 17, ['sel', 'list'])).stdout.trim().split('\n')
  t.match(sel[sel.length - 1], /Temperature #0x01 \| Upper Critical going high \| Asserted/)
  const status = (await ipmitool(bmc.port, 17, ['sdr', 'elist'])).stdout.split('\n').find((l) => l.startsWith('CPU1 Temp')) ?? ''
  t.match(status, /\| ucr \|/, 'sdr elist shows the sensor upper critical')
})

t.test('the replay window: a repeated sequence number is answered once, out-of-window ones are dropped', async (t) => {
  const bmc = await startBmc(t, steadyConfig((c) => { c.cipher_suites = [0] }))
  const socket = createSocket('udp4')
  t.teardown(() => socket.close())
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()))
  const exchange = async (packet: Buffer, waitMs = 500): Promise<Buffer | undefined> => await new Promise((resolve) => {
    const timer = setTimeout(() => { socket.off('message', on); resolve(undefined) }, waitMs)
    const on = (msg: Buffer): void => { clearTimeout(timer); socket.off('message', on); resolve(msg) }
    socket.on('message', on)
    socket.send(packet, bmc.port, '127.0.0.1')
  })
  // suite 0 (RAKP-none): Open Session, RAKP 1 and 3 without auth codes
  const open = decodeOpenSessionResponse(decodeRmcpPlusPacket((await exchange(encodeRmcpPlusPacket({
    payloadType: PAYLOAD_TYPE.openSessionRequest,
    sessionId: 0,
    sequence: 0,
    payload: encodeOpenSessionRequest({ tag: 1, privilege: 4, consoleSessionId: 0x1234, auth: 0, integrity: 0, confidentiality: 0 })
  })))!).payload)
  t.equal(open.status, 0)
  const sid = open.bmcSessionId!
  const rakp2 = decodeRakp2(decodeRmcpPlusPacket((await exchange(encodeRmcpPlusPacket({
    payloadType: PAYLOAD_TYPE.rakp1,
    sessionId: 0,
    sequence: 0,
    payload: encodeRakp1({ tag: 2, bmcSessionId: sid, consoleRandom: Buffer.alloc(16, 7), role: 0x14, username: Buffer.from('ADMIN') })
  })))!).payload)
  t.equal(rakp2.status, 0)
  const rakp4 = decodeRakp4(decodeRmcpPlusPacket((await exchange(encodeRmcpPlusPacket({
    payloadType: PAYLOAD_TYPE.rakp3, sessionId: 0, sequence: 0, payload: encodeRakp3({ tag: 3, status: 0, bmcSessionId: sid, authCode: Buffer.alloc(0) })
  })))!).payload)
  t.equal(rakp4.status, 0)
  // Reserve SEL (storage 0x42) hands out a new reservation id each time it runs
  const reserve = (sequence: number, rqSeq: number): Buffer => encodeRmcpPlusPacket({
    payloadType: PAYLOAD_TYPE.ipmi, sessionId: sid, sequence, payload: encodeLanRequest({ netFn: 0x0a, cmd: 0x42, rqSeq })
  })
  const reservation = (msg: Buffer | undefined): number | undefined => msg === undefined ? undefined : decodeLanResponse(decodeRmcpPlusPacket(msg).payload).data.readUInt16LE(0)
  const first = reservation(await exchange(reserve(5, 1)))
  t.ok(first !== undefined)
  t.equal(reservation(await exchange(reserve(5, 1))), first, 'a retransmission gets the same answer: the command ran once')
  t.equal(reservation(await exchange(reserve(6, 2))), first! + 1, 'the next sequence number runs it again')
  t.equal(await exchange(reserve(6 + 17, 3), 300), undefined, 'beyond the window above: dropped')
  t.equal(await exchange(reserve(0, 4), 300), undefined, 'sequence 0: dropped')
  t.ok(bmc.counters.replays >= 3)
})

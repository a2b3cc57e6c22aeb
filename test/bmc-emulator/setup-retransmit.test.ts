/**
 * A retransmitted session set-up message gets the answer it had, as a
 * retransmitted in-session request does. Under load a console's answer is
 * late, the console retransmits; an emulator that ran RAKP 1 again drew a
 * new BMC random number, so the RAKP 3 the console made from the first
 * RAKP 2 failed its integrity check ("RAKP 4: invalid integrity check
 * value", the failures bench:bulk saw at 5,000 BMCs). Checked with raw
 * datagrams (RAKP-HMAC-SHA1, IPMI v2.0 §13.17-§13.23) and with the bridge's
 * own client retransmitting because every answer is late; ipmitool and
 * FreeIPMI log in as before (ipmitool.test.ts, freeipmi.test.ts, faults.test.ts).
 */
import { createSocket } from 'node:dgram'
import t from 'tap'
import { connectBmc } from '../../drivers/ipmi/bridge-connection.js'
import {
  PAYLOAD_TYPE, decodeOpenSessionResponse, decodeRakp2, decodeRakp4, decodeRmcpPlusPacket, encodeOpenSessionRequest, encodeRakp1, encodeRakp3,
  encodeRmcpPlusPacket, passwordKey, rakp2AuthCode, rakp3AuthCode, rakp4Icv, sessionIntegrityKey, type RakpContext
} from '../../drivers/ipmi/rmcp/index.js'
import { startBmc } from './emulator-kit.js'

const suite3 = { auth: 'RAKP_HMAC_SHA1', integrity: 'HMAC_SHA1_96', confidentiality: 'AES_CBC_128' } as const

t.test('Open Session, RAKP 1 and RAKP 3 sent twice: the same answers, one session, RAKP 4 verifies', async (t) => {
  const bmc = await startBmc(t)
  const socket = createSocket('udp4')
  t.teardown(() => socket.close())
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()))
  const exchange = async (packet: Buffer): Promise<Buffer> => await new Promise((resolve, reject) => {
    const timer = setTimeout(() => { socket.off('message', on); reject(new Error('no answer')) }, 2000)
    const on = (msg: Buffer): void => { clearTimeout(timer); socket.off('message', on); resolve(msg) }
    socket.on('message', on)
    socket.send(packet, bmc.port, '127.0.0.1')
  })
  const setup = (payloadType: number, payload: Buffer): Buffer => encodeRmcpPlusPacket({ payloadType, sessionId: 0, sequence: 0, payload })
  const payloadOf = (msg: Buffer): Buffer => decodeRmcpPlusPacket(msg).payload

  const open = setup(PAYLOAD_TYPE.openSessionRequest, encodeOpenSessionRequest({ tag: 1, privilege: 4, consoleSessionId: 0xa1b2c3d4, auth: 1, integrity: 1, confidentiality: 1 }))
  const first = decodeOpenSessionResponse(payloadOf(await exchange(open)))
  const again = decodeOpenSessionResponse(payloadOf(await exchange(open)))
  t.equal(first.status, 0)
  t.equal(again.bmcSessionId, first.bmcSessionId, 'a repeated Open Session gets the same session')
  t.equal(bmc.sessionCount, 1, 'not a second half-open one')
  const sid = first.bmcSessionId as number

  const consoleRandom = Buffer.alloc(16, 0x5a)
  const rakp1 = setup(PAYLOAD_TYPE.rakp1, encodeRakp1({ tag: 2, bmcSessionId: sid, consoleRandom, role: 0x14, username: Buffer.from('ADMIN') }))
  const rakp2 = decodeRakp2(payloadOf(await exchange(rakp1)))
  const rakp2Again = decodeRakp2(payloadOf(await exchange(rakp1)))
  t.equal(rakp2.status, 0)
  t.same(rakp2Again.bmcRandom, rakp2.bmcRandom, 'a repeated RAKP 1 gets the same BMC random number')
  const kuid = passwordKey('ADMIN')
  const ctx: RakpContext = { consoleSessionId: 0xa1b2c3d4, bmcSessionId: sid, consoleRandom, bmcRandom: rakp2.bmcRandom as Buffer, bmcGuid: rakp2.bmcGuid as Buffer, role: 0x14, username: Buffer.from('ADMIN') }
  t.same(rakp2.authCode, rakp2AuthCode(kuid, ctx, 1), 'RAKP 2 verifies')

  // RAKP 3 made from the first RAKP 2, as a console that took the first answer does
  const rakp3 = setup(PAYLOAD_TYPE.rakp3, encodeRakp3({ tag: 3, status: 0, bmcSessionId: sid, authCode: rakp3AuthCode(kuid, ctx, 1) }))
  const rakp4 = decodeRakp4(payloadOf(await exchange(rakp3)))
  t.equal(rakp4.status, 0, 'RAKP 3 passes the check')
  t.same(rakp4.icv, rakp4Icv(sessionIntegrityKey(kuid, ctx, 1), ctx, 1), 'RAKP 4 verifies')
  const rakp4Again = decodeRakp4(payloadOf(await exchange(rakp3)))
  t.equal(rakp4Again.status, 0, 'a repeated RAKP 3 (its RAKP 4 lost) gets RAKP 4 again, not "invalid session id"')
  t.same(rakp4Again.icv, rakp4.icv)
  t.equal(bmc.activeSessionCount, 1)
  t.equal(bmc.counters.rakpFailures, 0)
  t.equal(bmc.counters.sessionsOpened, 1)
})

t.test('every answer late: the bridge retransmits each set-up step and logs in at the first try', async (t) => {
  const bmc = await startBmc(t)
  bmc.faults.delayMs = 250
  const conn = connectBmc({ target: { host: '127.0.0.1', port: bmc.port, username: 'ADMIN', password: 'ADMIN', ...suite3 }, bootValidBit: 'honour' }, { policy: { retransmitMs: 150, retries: 3, requestTimeoutMs: 10_000 } })
  t.teardown(async () => await conn.close())
  t.equal((await conn.ops.chassisStatus()).power, 'on')
  t.equal(bmc.counters.rakpFailures, 0, 'no RAKP 3 failed its check')
  t.equal(bmc.counters.sessionsOpened, 1)
  t.equal(bmc.sessionCount, 1, 'one session: the repeated Open Session opened none')
  t.equal(conn.status().counters.sessionsEstablished, 1)
  t.ok(bmc.counters.replays >= 3, `the repeats were answered from what was sent (${bmc.counters.replays})`)
})

t.test('a BMC that runs a repeated RAKP 1 afresh: the bridge sees RAKP 4 refuse and logs in again from Open Session', async (t) => {
  const bmc = await startBmc(t)
  // between the bridge and the BMC: the first RAKP 1 is delivered twice, the second time with
  // another message tag so that the BMC runs it again (a new BMC random number), and the
  // BMC's answer to that second one is dropped: as a BMC that re-runs a retransmission does
  const proxy = createSocket('udp4')
  const upstream = createSocket('udp4')
  t.teardown(() => { proxy.close(); upstream.close() })
  await new Promise<void>((resolve) => proxy.bind(0, '127.0.0.1', () => resolve()))
  await new Promise<void>((resolve) => upstream.bind(0, '127.0.0.1', () => resolve()))
  let client: { port: number } | undefined
  let tricked = false
  let dropTag: number | undefined
  proxy.on('message', (msg, rinfo) => {
    client = { port: rinfo.port }
    upstream.send(msg, bmc.port, '127.0.0.1')
    const isRakp1 = msg.length > 16 && msg[4] === 0x06 && (msg[5] & 0x3f) === PAYLOAD_TYPE.rakp1
    if (isRakp1 && !tricked) {
      tricked = true
      const again = Buffer.from(msg)
      again[16] = (again[16] + 0x80) & 0xff // the message tag: the first payload byte after the 16-byte header
      dropTag = again[16]
      setTimeout(() => upstream.send(again, bmc.port, '127.0.0.1'), 50)
    }
  })
  upstream.on('message', (msg) => {
    if ((msg[5] & 0x3f) === PAYLOAD_TYPE.rakp2 && msg[16] === dropTag) return
    if (client !== undefined) proxy.send(msg, client.port, '127.0.0.1')
  })
  const conn = connectBmc({ target: { host: '127.0.0.1', port: proxy.address().port, username: 'ADMIN', password: 'ADMIN', ...suite3 }, bootValidBit: 'honour' },
    { policy: { retransmitMs: 700, requestTimeoutMs: 10_000 } })
  t.teardown(async () => await conn.close())
  // the RAKP 3 must go out after the BMC ran the second RAKP 1: let the first RAKP 2 wait too
  bmc.faults.delayMs = 150
  t.equal((await conn.ops.chassisStatus()).power, 'on', 'logged in at the second try')
  t.ok(tricked)
  t.equal(bmc.counters.rakpFailures, 1, 'the first RAKP 3 was refused by the BMC')
  t.equal(conn.status().counters.sessionsEstablished, 1)
  t.equal(bmc.activeSessionCount, 1, 'one session, none left behind')
})

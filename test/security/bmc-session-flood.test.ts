/**
 * The BMC emulator as a careful BMC: an unauthenticated flood of Open Session
 * requests (no RAKP ever follows) cannot lock ipmitool out for long.
 */
import { createSocket } from 'node:dgram'
import t from 'tap'
import { encodeOpenSessionRequest } from '../../drivers/ipmi/rmcp/session-setup.js'
import { encodeRmcpPlusPacket, PAYLOAD_TYPE } from '../../drivers/ipmi/rmcp/session-wrapper.js'
import { ipmitool, startBmc, steadyConfig } from '../bmc-emulator/emulator-kit.js'

/** Sends `count` Open Session requests (suite 3) from one socket; resolves with how many were answered, by status. */
async function flood (port: number, count: number): Promise<Map<number, number>> {
  const socket = createSocket('udp4')
  const statuses = new Map<number, number>()
  socket.on('message', (msg) => {
    // RMCP+ header (16 bytes) then the Open Session Response: tag, status
    const status = msg[17]
    statuses.set(status, (statuses.get(status) ?? 0) + 1)
  })
  await new Promise<void>((resolve) => socket.bind(0, '127.0.0.1', () => resolve()))
  for (let i = 0; i < count; i++) {
    const payload = encodeOpenSessionRequest({ tag: i & 0xff, privilege: 4, consoleSessionId: 0x1000 + i, auth: 1, integrity: 1, confidentiality: 1 })
    socket.send(encodeRmcpPlusPacket({ payloadType: PAYLOAD_TYPE.openSessionRequest, sessionId: 0, sequence: 0, payload }), port, '127.0.0.1')
    if (i % 16 === 15) await new Promise((resolve) => setTimeout(resolve, 1))
  }
  await new Promise((resolve) => setTimeout(resolve, 300))
  socket.close()
  return statuses
}

t.test('a flood of Open Session requests fills the table, yet ipmitool gets in, and the flood\'s sessions expire in seconds', async (t) => {
  const bmc = await startBmc(t, steadyConfig((c) => { c.session = { max_sessions: 8, setup_timeout_s: 2 } }))
  const statuses = await flood(bmc.port, 200)
  t.ok((statuses.get(0) ?? 0) >= 8, `the flood opened sessions (${statuses.get(0) ?? 0})`)
  t.equal(bmc.activeSessionCount, 0, 'none of them active')
  t.equal(bmc.sessionCount, 8, 'the table is full of sessions never activated')
  // the first try, at once: a session never activated gives way to a new Open Session
  const r = await ipmitool(bmc.port, 3, ['mc', 'info'])
  t.equal(r.code, 0, `ipmitool gets in at once, the table full (${r.stderr.trim()})`)
  t.match(r.stdout, /Device ID\s+: 32/)
  t.ok(bmc.counters.evicted >= 1, 'by evicting a set-up session')

  // a second flood, then nobody: the set-up sessions are gone within setup_timeout_s
  await flood(bmc.port, 50)
  const started = Date.now()
  while (bmc.sessionCount > 0 && Date.now() - started < 10_000) await new Promise((resolve) => setTimeout(resolve, 100))
  const waited = Date.now() - started
  t.equal(bmc.sessionCount, 0, 'every flood session expired')
  t.ok(waited <= 3000, `within setup_timeout_s (2 s): ${waited} ms`)
})

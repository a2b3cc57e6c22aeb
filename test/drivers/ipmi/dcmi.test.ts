/**
 * DCMI Get Power Reading (DCMI v1.5 §6.6.1): the codec on byte vectors, when
 * BmcCommands asks it, and the power command's input_power through the API
 * with an RMCP+ fake BMC (test/ipmi/fake-bmc.ts) that speaks DCMI. ipmi_sim has
 * no DCMI: test/ipmi/bridge-sensors-events.test.ts checks input_power 0 there.
 */
import { mkdtempSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { BmcCommands } from '../../../drivers/ipmi/bmc.js'
import { connectBmc } from '../../../drivers/ipmi/bridge-connection.js'
import { packGetPowerReadingRequest, packGetPowerReadingResponse, unpackGetPowerReadingResponse } from '../../../drivers/ipmi/commands/index.js'
import { IpmiCompletionError, IpmiError, NETFN, type IpmiRequester } from '../../../drivers/ipmi/types.js'
import { FakeBmc } from '../../ipmi/fake-bmc.js'
import { build, get } from '../../helper.js'

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex')

t.test('DCMI v1.5 §6.6.1 Get Power Reading: request and response', async (t) => {
  t.equal(Buffer.from(packGetPowerReadingRequest()).toString('hex'), 'dc010000', 'group extension 0xDC, mode 1 (system power statistics)')
  // as ipmitool prints it: current 312 W, minimum 120, maximum 450, average 300, period 1000 ms, active
  const answer = hex('dc 3801 7800 c201 2c01 00812469 e8030000 40')
  t.same(unpackGetPowerReadingResponse(answer), {
    currentWatts: 312, minimumWatts: 120, maximumWatts: 450, averageWatts: 300, timestamp: 0x69248100, periodMs: 1000, active: true
  })
  t.same(packGetPowerReadingResponse(unpackGetPowerReadingResponse(answer)), answer, 'the encoder BMCs use writes the same bytes')
  t.equal(unpackGetPowerReadingResponse(hex('dc 3801 7800 c201 2c01 00812469 e8030000 00')).active, false, 'state bit 6 clear: not measuring')
  t.throws(() => unpackGetPowerReadingResponse(hex('dc 3801')), IpmiError, 'short answer')
  t.throws(() => unpackGetPowerReadingResponse(hex('dd 3801 7800 c201 2c01 00812469 e8030000 40')), /group extension/, 'not DCMI')
})

function requester (answers: Array<Buffer | number>): IpmiRequester & { asked: number } {
  const r = {
    asked: 0,
    request: async (netFn: number, cmd: number): Promise<Buffer> => {
      if (netFn !== NETFN.groupExtension || cmd !== 0x02) throw new Error('unexpected request')
      const a = answers[Math.min(r.asked++, answers.length - 1)]
      if (typeof a === 'number') throw new IpmiCompletionError(netFn, cmd, a, `cc 0x${a.toString(16)}`)
      return a
    }
  }
  return r
}

t.test('BmcCommands.powerReading: DCMI or not, asked once on a BMC without it', async (t) => {
  const reading = hex('dc 3801 7800 c201 2c01 00812469 e8030000 40')
  const dcmi = new BmcCommands(requester([reading]))
  t.equal((await dcmi.powerReading())?.currentWatts, 312)
  t.equal(dcmi.dcmiSupport, 'yes')

  const none = requester([0xc1])
  const noDcmi = new BmcCommands(none)
  t.equal(await noDcmi.powerReading(), undefined)
  t.equal(await noDcmi.powerReading(), undefined)
  t.equal(none.asked, 1, 'invalid command: not asked again')
  t.equal(noDcmi.dcmiSupport, 'no')

  const flaky = requester([reading, 0xd5, reading])
  const cmds = new BmcCommands(flaky)
  t.equal((await cmds.powerReading())?.currentWatts, 312)
  t.equal(await cmds.powerReading(), undefined, 'a BMC that answered before: a refusal this time is no reading this time')
  t.equal((await cmds.powerReading())?.currentWatts, 312, 'and it is asked again')

  t.equal(await new BmcCommands(requester([hex('dc 3801 7800 c201 2c01 00812469 e8030000 00')])).powerReading(), undefined, 'measurement not active: no reading')
  let silentAsked = 0
  const silent: IpmiRequester = { request: async () => { silentAsked++; throw new IpmiError('timeout', 'no answer') } }
  const dropsDcmi = new BmcCommands(silent)
  t.equal(await dropsDcmi.powerReading(), undefined, 'no answer to the first ask: no DCMI')
  t.equal(await dropsDcmi.powerReading(), undefined)
  t.equal(silentAsked, 1, 'a BMC that drops DCMI requests is asked once')
  let fails = false
  const later: IpmiRequester = { request: async () => { if (fails) throw new IpmiError('timeout', 'no answer'); return reading } }
  const laterCmds = new BmcCommands(later)
  t.equal((await laterCmds.powerReading())?.currentWatts, 312)
  fails = true
  const err = await laterCmds.powerReading().then(() => undefined, (e: unknown) => e)
  t.ok(err instanceof IpmiError && err.kind === 'timeout', 'a BMC with DCMI that stops answering: the error is passed on (the bus reports input_power 0)')
})

t.test('the power command: input_power from DCMI over a real RMCP+ session (suite 17) to a fake BMC', async (t) => {
  let watts = 312
  const fake = new FakeBmc({
    handler: (netFn, cmd, data) => {
      if (netFn === 0x00 && cmd === 0x01) return { cc: 0, data: [0x01, 0x00, 0x00] } // Get Chassis Status: on, no fault
      if (netFn === 0x2c && cmd === 0x02 && data[0] === 0xdc) {
        return { cc: 0, data: [...packGetPowerReadingResponse({ currentWatts: watts, minimumWatts: 100, maximumWatts: 500, averageWatts: 300, timestamp: 0, periodMs: 1000, active: true })] }
      }
      return { cc: 0xc1 }
    }
  })
  const dir = mkdtempSync(join(tmpdir(), 'dcmi-'))
  const file = join(dir, 'bmc_config.json')
  writeFileSync(file, JSON.stringify({ bmcs: [{ bmc_ip: 'fake-bmc', username: 'ADMIN', password: 'ADMIN', cipher_suite: 17 }] }))
  const app = await build(t, { bmcConfig: file, ipmiConnect: (entry) => connectBmc(entry, { transport: fake.factory }) })
  const res = await get(app, '/power/status/40000001/0100')
  t.equal(res.statusCode, 200)
  t.same(res.json(), { input_power: 312, input_voltage: 0, output_current: 0, over_current: false, pmbus_raw: '0,0,0,0', power_ok: true, power_status: 'on', under_voltage: false })
  watts = 287
  t.equal((await get(app, '/power/status/40000001/0100')).json().input_power, 287, 'a fresh reading per request')
  const session = [...fake.sessions.values()][0]
  t.same([session.auth, session.integrity, session.confidentiality], [3, 4, 1], 'over cipher suite 17')
})

t.test('a BMC that silently drops DCMI requests: the first power command still answers (input_power 0), later ones do not ask', async (t) => {
  const fake = new FakeBmc({
    handler: (netFn, cmd) => (netFn === 0x00 && cmd === 0x01 ? { cc: 0, data: [0x01, 0x00, 0x00] } : { cc: 0xc1 }),
    drop: (netFn) => netFn === 0x2c
  })
  const dir = mkdtempSync(join(tmpdir(), 'dcmi-'))
  const file = join(dir, 'bmc_config.json')
  writeFileSync(file, JSON.stringify({ timeout_ms: 1500, bmcs: [{ bmc_ip: 'fake-bmc', username: 'ADMIN', password: 'ADMIN', cipher_suite: 17 }] }))
  const app = await build(t, { bmcConfig: file, ipmiConnect: (entry) => connectBmc(entry, { transport: fake.factory }) })
  const first = await get(app, '/power/status/40000001/0100')
  t.equal(first.statusCode, 200)
  t.same([first.json().power_status, first.json().input_power], ['on', 0])
  const dcmiAsked = fake.seen.filter((r) => r.netFn === 0x2c).length
  const started = Date.now()
  const second = await get(app, '/power/status/40000001/0100')
  t.same([second.statusCode, second.json().input_power], [200, 0])
  t.ok(Date.now() - started < 1000, 'no wait for DCMI the second time')
  t.equal(fake.seen.filter((r) => r.netFn === 0x2c).length, dcmiAsked, 'not asked again')
})

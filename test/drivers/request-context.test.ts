import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import type { BridgeConnection } from '../../plugins/ipmi-bus.js'
import type { BmcConfigEntry } from '../../drivers/ipmi/bmc-config.js'
import { build, PREFIX } from '../helper.js'
import { callerScope, currentClient, onBehalfOfCaller, runAs } from '../../drivers/queueing/request-context.js'
import { IpmiBus, type BmcOperations, type BridgeBmc } from '../../drivers/ipmi/ipmi-bus.js'
import type { BmcTarget } from '../../drivers/ipmi/types.js'

/**
 * Who a backend call is made for (the fair queues' lines): the caller's
 * name is seen by everything queued on its behalf, before and after awaits,
 * and never leaks to other work.
 */

const tick = async (): Promise<void> => await new Promise((resolve) => setImmediate(resolve))

/** BMC operations that note which client each was called for, then answer after a turn of the event loop. */
function recordingOps (seen: string[]): BmcOperations {
  const op = <T>(name: string, value: T) => async (): Promise<T> => {
    seen.push(`${name} ${currentClient()}`)
    await tick()
    return value
  }
  return {
    sensors: op('sensors', [{ number: 1, name: 'CPU Temp', kind: 'temperature' as const }]),
    readSensor: op('readSensor', 48),
    chassisStatus: op('chassisStatus', { power: 'on' as const, powerFault: false, identify: 'off' as const }),
    chassisControl: op('chassisControl', undefined),
    identify: op('identify', undefined),
    bootTarget: op('bootTarget', 'pxe' as const),
    setBootTarget: op('setBootTarget', undefined),
    fru: op('fru', {}),
    powerReading: op('powerReading', 120)
  }
}

t.test('runAs names the caller while it runs, and only then', async (t) => {
  t.equal(currentClient(), 'internal', 'outside any request')
  const seen = runAs('10.0.0.1', () => currentClient())
  t.equal(seen, '10.0.0.1')
  t.equal(currentClient(), 'internal', 'restored afterwards')
  t.equal(runAs('10.0.0.1', () => runAs('10.0.0.2', () => currentClient())), '10.0.0.2', 'the innermost caller')
  t.throws(() => runAs('10.0.0.3', () => { throw new Error('boom') }))
  t.equal(currentClient(), 'internal', 'restored after a throw')
  const afterAwait = await runAs('10.0.0.4', async () => { await tick(); return currentClient() })
  t.equal(afterAwait, 'internal', 'a bare await loses the caller: backends take it along explicitly')
})

t.test('callerScope and onBehalfOfCaller carry the caller across awaits', async (t) => {
  const resumed = await runAs('10.0.0.5', async () => {
    const resume = callerScope()
    await tick()
    return resume(() => currentClient())
  })
  t.equal(resumed, '10.0.0.5')
  const ops = { who: async () => currentClient(), label: 'kept' }
  const both = await runAs('10.0.0.6', async () => {
    const mine = onBehalfOfCaller(ops)
    const first = await mine.who()
    await tick()
    return [first, await mine.who(), mine.label]
  })
  t.same(both, ['10.0.0.6', '10.0.0.6', 'kept'])
  t.equal(onBehalfOfCaller(ops), ops, 'outside a request: the operations themselves, nothing allocated')
})

t.test('every BMC operation of one request is queued as that request\'s client, after awaits too', async (t) => {
  const seen: string[] = []
  const ops = recordingOps(seen)
  const target: BmcTarget = { host: '10.9.9.9', port: 623, username: 'u', password: 'p', auth: 'RAKP_HMAC_SHA1', integrity: 'HMAC_SHA1_96', confidentiality: 'AES_CBC_128' }
  const bmc: BridgeBmc = { target, ops, close: async () => {} }
  const bus = new IpmiBus([bmc, { ...bmc, target: { ...target, host: '10.9.9.8' } }])
  await runAs('192.0.2.1', async () => await bus.read(0x40000001, 1, 'temperature'))
  await runAs('192.0.2.2', async () => await bus.power(0x40000001, 0x100, 'on'))
  await runAs('192.0.2.3', async () => await bus.led(0x40000001, 0x100, 'on'))
  await runAs('192.0.2.4', async () => await bus.bootTarget(0x40000001, 0x100, 'pxe'))
  await runAs('192.0.2.5', async () => await bus.scanAll())
  await bus.read(0x40000001, 1, 'temperature')
  t.same(seen, [
    'sensors 192.0.2.1', 'readSensor 192.0.2.1',
    'chassisControl 192.0.2.2', 'chassisStatus 192.0.2.2', 'powerReading 192.0.2.2',
    'identify 192.0.2.3', 'chassisStatus 192.0.2.3',
    'setBootTarget 192.0.2.4', 'bootTarget 192.0.2.4',
    'sensors 192.0.2.5', 'sensors 192.0.2.5',
    'sensors internal', 'readSensor internal'
  ])
})

t.test('through HTTP: each request\'s BMC operations are queued under its client address, scans too', async (t) => {
  const dir = mkdtempSync(join(tmpdir(), 'opendcre-caller-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  const bmcConfig = join(dir, 'bmc_config.json')
  const entry = { bmc_ip: '127.0.0.1', username: 'ADMIN', password: 'Caller-pw-1', auth_type: 'RAKP_HMAC_SHA1', integrity_type: 'HMAC_SHA1_96', encryption_type: 'AES_CBC_128' }
  writeFileSync(bmcConfig, JSON.stringify({ bmcs: [{ ...entry, bmc_port: 7101 }, { ...entry, bmc_port: 7102 }] }))
  const seen: string[] = []
  const connect = ({ target }: BmcConfigEntry): BridgeConnection => ({
    target,
    close: async () => {},
    status: () => ({ state: 'up', lastSuccessAt: null, counters: { requests: 0, sessionsEstablished: 0, relogins: 0, timeouts: 0, errors: 0, garbage: 0 } }),
    ops: recordingOps(seen)
  })
  // no poller (configured BMCs are polled by default): the queue sees only this test's requests
  const app = await build(t, { bmcConfig, ipmiConnect: connect, poll: false })
  const inject = async (url: string, remoteAddress: string): Promise<number> =>
    (await app.inject({ method: 'GET', url: `${PREFIX}${url}`, remoteAddress })).statusCode
  seen.length = 0
  t.equal(await inject('/read/temperature/40000001/0001', '127.0.0.21'), 200)
  t.equal(await inject('/power/40000002/0100/on', '127.0.0.22'), 200)
  t.equal(await inject('/scan', '127.0.0.23'), 200)
  t.same(seen, [
    'sensors 127.0.0.21', 'readSensor 127.0.0.21',
    'chassisControl 127.0.0.22', 'chassisStatus 127.0.0.22', 'powerReading 127.0.0.22',
    'sensors 127.0.0.23', 'sensors 127.0.0.23'
  ], 'the device bus is scanned first; then each BMC, as the scanning client')
})

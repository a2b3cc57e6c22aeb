import t from 'tap'
import { BmcCommands } from '../../../drivers/ipmi/bmc.js'
import { CMD } from '../../../drivers/ipmi/commands/index.js'
import { IpmiCompletionError, NETFN, type IpmiRequester } from '../../../drivers/ipmi/types.js'
import { IpmiSession } from '../../../drivers/ipmi/session.js'
import { startSim as startRigSim } from '../../ipmi/sim.js'
import { FakeBmc, FIXTURES, fruPrintFields, ipmitoolRows, loadRecorded, recordedFru, recordedReadings, recordedSdrs, startSim, type Sim } from './ipmi-test-kit.js'

/**
 * BmcCommands over a fake BMC built from the ipmi_sim recordings (it logs every
 * request and misbehaves on purpose), then against ipmi_sim itself with each
 * request sent by `ipmitool raw` (independent of the RMCP+ session layer).
 */

const rec = await loadRecorded()
const A = rec.bmcs['bmc-a']
const B = rec.bmcs['bmc-b']

function fakeA (): FakeBmc {
  return new FakeBmc({ sdrs: recordedSdrs(A), readings: recordedReadings(A), fru: recordedFru(A) })
}

const expectedA = { 0x01: 48.5, 0x02: 37.6, 0x03: 25, 0x10: 4800, 0x11: 5400, 0x20: 12 }
/** bmc-a.emu as ipmi_sim runs it now: current and power sensors were added after the recording. */
const expectedALive = { ...expectedA, 0x21: 7.5, 0x22: 250 }
const expectedB = { 0x30: -10, 0x31: 42.25, 0x32: 33, 0x33: -7, 0x40: 6000, 0x41: 4900, 0x42: null }
const assetA = {
  board_info: { manufacturer: 'Vapor IO', part_number: '0001', product_name: 'Example Board', serial_number: 'S1234567' },
  chassis_info: { chassis_type: 'rack mount chassis', part_number: 'P1234567', serial_number: '12-34567' },
  product_info: { asset_tag: 'A1234567', manufacturer: 'Vapor IO', part_number: 'P1234567', product_name: 'Example Product', serial_number: 'S1234567', version: 'v1.2.0' }
}
const assetB = {
  board_info: { manufacturer: 'Acme Servers Inc.', part_number: 'MB-X11-R2', product_name: 'X11 Mainboard', serial_number: '4711.0815' },
  chassis_info: { chassis_type: 'main server chassis', part_number: 'CH-9000', serial_number: 'CSN-0B-77' },
  product_info: { asset_tag: '', manufacturer: 'Acme Servers Inc.', part_number: 'AC2U-N', product_name: 'Acme 2U Node', serial_number: 'PSN 000123', version: '3.1' }
}

t.test('sensors and readings (fake BMC from the recordings)', async t => {
  for (const [bmc, expected] of [[A, expectedA], [B, expectedB]] as const) {
    const fake = new FakeBmc({ sdrs: recordedSdrs(bmc), readings: recordedReadings(bmc) })
    const cmds = new BmcCommands(fake)
    const sensors = await cmds.sensors()
    t.same(sensors.map(s => s.sensorNumber), Object.keys(expected).map(Number), `${bmc.emu}: sensor records only, in repository order`)
    for (const [n, value] of Object.entries(expected)) {
      const r = await cmds.readSensor(Number(n))
      t.equal(r.value, value, `${bmc.emu} sensor 0x${Number(n).toString(16)} ${r.name}: ${String(value)} ${r.unit}`)
      t.equal(r.available, value !== null)
    }
    await t.rejects(cmds.readSensor(0x99), { name: 'IpmiError', message: /no SDR for sensor 0x99/ })
  }
  const remote = fakeA()
  remote.sdrs[0][5] = 0x2c // CPU1 Temp owned by another controller
  remote.sdrs[1][6] = 0x01 // CPU2 Temp on LUN 1
  const remoteCmds = new BmcCommands(remote)
  await t.rejects(remoteCmds.readSensor(0x01), { name: 'IpmiError', message: /sensor 0x01 belongs to controller 0x2c LUN 0: bridged requests are not supported/ })
  await t.rejects(remoteCmds.readSensor(0x02), { name: 'IpmiError', message: /LUN 1/ })
  t.equal(remote.count(NETFN.sensorEvent, CMD.getSensorReading), 0, 'no reading asked of the wrong sensor')
  t.equal((await new BmcCommands(remote, { bmcAddress: 0x2c }).readSensor(0x01)).value, 48.5, 'bmcAddress option')
})

t.test('the SDR cache: re-read only when Get SDR Repository Info changes', async t => {
  const fake = fakeA()
  const cmds = new BmcCommands(fake)
  const getSdr = (): number => fake.count(NETFN.storage, CMD.getSdr)
  await cmds.sensors()
  const firstRead = getSdr()
  t.equal(firstRead, 6 * 3 + 2, '6 sensor records: a header and two chunks each; the locator record: a header and one')
  await cmds.readSensor(0x01)
  await cmds.sensors()
  t.equal(getSdr(), firstRead, 'cached: only Get SDR Repository Info asked')
  t.equal(fake.count(NETFN.storage, CMD.getSdrRepositoryInfo), 3)

  fake.addTimestamp++
  await cmds.sensors()
  t.equal(getSdr(), 2 * firstRead, 'addition timestamp changed: read again')
  fake.eraseTimestamp = 0x2000
  await cmds.sensors()
  t.equal(getSdr(), 3 * firstRead, 'erase timestamp changed: read again')

  // A repository whose timestamps never move but whose record count does.
  fake.sdrs.splice(1, 1)
  fake.renumber()
  const after = await cmds.sensors()
  t.notOk(after.some(s => s.sensorNumber === 0x02), 'a removed sensor disappears (record count changed)')

  const again = fakeA()
  const shared = new BmcCommands(again)
  const [x, y] = await Promise.all([shared.sensors(), shared.sensors()])
  t.equal(x, y, 'concurrent callers share one read')
  t.equal(again.count(NETFN.storage, CMD.getSdr), firstRead)

  cmds.invalidateSensors()
  const before = getSdr()
  await cmds.sensors()
  t.ok(getSdr() > before, 'invalidateSensors() forces a read')
})

t.test('sdrRecheckMs: the cache is trusted for a while without asking Get SDR Repository Info', async t => {
  const fake = fakeA()
  let now = 1000
  const cmds = new BmcCommands(fake, { sdrRecheckMs: 5000, now: () => now })
  const info = (): number => fake.count(NETFN.storage, CMD.getSdrRepositoryInfo)
  await cmds.sensors()
  t.equal(info(), 1)
  await cmds.readSensor(0x01)
  await cmds.readSensor(0x10)
  t.equal(info(), 1, 'within the interval: no repository check, one request per reading')
  t.equal(fake.count(NETFN.sensorEvent, CMD.getSensorReading), 2)
  now += 5000
  fake.addTimestamp++
  const getSdr = fake.count(NETFN.storage, CMD.getSdr)
  await cmds.sensors()
  t.equal(info(), 2, 'after the interval: asked again')
  t.ok(fake.count(NETFN.storage, CMD.getSdr) > getSdr, 'and the changed repository is read again')
})

t.test('misbehaving BMC: cancelled reservation, too-big chunks, short answers', async t => {
  const cancel = fakeA()
  cancel.cancelReservationAfter = 4
  const cmds = new BmcCommands(cancel)
  t.equal((await cmds.sensors()).length, 6, 'reservation cancelled mid-record: the record is read again')
  t.equal(cancel.count(NETFN.storage, CMD.reserveSdrRepository), 2)
  t.ok(cancel.requests.some(r => r.cmd === CMD.getSdr && r.data.startsWith('0300')), 'continued under the new reservation (3: the fake cancelled 2)')

  const small = fakeA()
  small.maxSdrRead = 16
  small.maxFruRead = 16
  const smallCmds = new BmcCommands(small, { sdrChunk: 64, fruChunk: 64 })
  await smallCmds.sensors()
  const refusals = small.requests.filter(r => r.cmd === CMD.getSdr && parseInt(r.data.slice(10), 16) > 16).length
  t.ok(refusals > 0 && refusals <= 3, `the chunk was shrunk after ${refusals} refusal(s)`)
  small.addTimestamp++
  const beforeSecond = small.requests.length
  await smallCmds.sensors()
  t.notOk(small.requests.slice(beforeSecond).some(r => r.cmd === CMD.getSdr && parseInt(r.data.slice(10), 16) > 16), 'the learnt chunk size is kept by the instance')
  t.same(await smallCmds.fru(), assetA, 'FRU read in shrunk chunks')

  const short = fakeA()
  short.shortFru = 5
  short.shortSdr = 3
  const shortCmds = new BmcCommands(short)
  t.equal((await shortCmds.sensors()).length, 6, 'short Get SDR answers')
  t.same(await shortCmds.fru(), assetA, 'short Read FRU Data answers')

  const truncated = fakeA()
  truncated.override.set(`${NETFN.chassis}/${CMD.getChassisStatus}`, Buffer.of(0x01))
  await t.rejects(new BmcCommands(truncated).chassisStatus(), { name: 'IpmiError', kind: 'protocol', message: /Get Chassis Status: response of 1 byte/ })
  truncated.override.set(`${NETFN.sensorEvent}/${CMD.getSensorReading}`, Buffer.of(0x30))
  await t.rejects(new BmcCommands(truncated).readSensor(0x01), { name: 'IpmiError', kind: 'protocol' })

  const corrupt = fakeA()
  corrupt.sdrs[1] = Buffer.from(corrupt.sdrs[1].subarray(0, 25))
  corrupt.sdrs[1][4] = 20 // a full sensor record of 20 body bytes cannot hold its fixed fields
  await t.rejects(new BmcCommands(corrupt).sensors(), { name: 'SdrFormatError', message: /SDR 0x0002: a full sensor record needs 43 body bytes, has 20/ }, 'a corrupt record: a clear error, not a crash')
  const cut = fakeA()
  cut.sdrs[1] = cut.sdrs[1].subarray(0, 30) // the header still says 0x34 body bytes
  await t.rejects(new BmcCommands(cut).sensors(), { name: 'IpmiCompletionError', completionCode: 0xc9 }, 'a BMC that cannot serve what its header claims: its completion code')
})

t.test('FRU: bad checksums', async t => {
  const fake = fakeA()
  fake.fru[8 + 32 + 4] ^= 0x01 // a byte inside the board area (chassis area is 32 bytes from offset 8)
  const cmds = new BmcCommands(fake)
  const inv = await cmds.fruInventory()
  t.same(inv.errors, [{ area: 'board', message: 'FRU board info area: bad checksum' }])
  t.same(await cmds.fru(), { chassis_info: assetA.chassis_info, product_info: assetA.product_info }, 'the other areas are still returned')

  const dead = fakeA()
  dead.fru[7] ^= 0xff
  await t.rejects(new BmcCommands(dead).fru(), { name: 'FruFormatError', message: /no readable inventory area \(FRU common header: bad checksum\)/ })
  const reads = dead.count(NETFN.storage, CMD.readFruData)
  t.equal(reads, 1, 'nothing read past a bad header')

  const fresh = fakeA()
  t.same(await new BmcCommands(fresh).fru(), assetA)
  t.equal(fresh.count(NETFN.storage, CMD.readFruData), 1 + (1 + 1) + (1 + 2) + (1 + 3), 'header; per area its first 2 bytes, then the rest (30, 62, 78 bytes) in 32-byte chunks')
})

t.test('chassis: power, identify, status', async t => {
  const fake = fakeA()
  const cmds = new BmcCommands(fake)
  t.match(await cmds.deviceId(), { deviceId: 0x20, firmwareVersion: '2.15', ipmiVersion: '2.0' })
  t.match(await cmds.chassisStatus(), { power: 'on', powerOk: true, identify: 'unknown', identifyState: 'unsupported' })
  await cmds.chassisControl('off')
  t.match(await cmds.chassisStatus(), { power: 'off' })
  await cmds.chassisControl('on')
  await cmds.chassisControl('cycle')
  t.same(fake.requests.filter(r => r.cmd === CMD.chassisControl && r.netFn === NETFN.chassis).map(r => r.data), ['00', '01', '02'], '§28.3 codes 0, 1, 2')

  fake.chassisMisc = 0x60
  t.match(await cmds.chassisStatus(), { identify: 'on', identifyState: 'indefinite' })
  fake.chassisMisc = 0x50
  t.match(await cmds.chassisStatus(), { identify: 'on', identifyState: 'temporary' })
  fake.chassisMisc = 0x40
  t.match(await cmds.chassisStatus(), { identify: 'off', identifyState: 'off' })
  fake.override.set(`${NETFN.chassis}/${CMD.getChassisStatus}`, Buffer.of(0x09, 0x00, 0x00))
  t.match(await cmds.chassisStatus(), { power: 'on', powerOk: false }, 'main power fault: not ok')

  await cmds.identify('on')
  t.equal(fake.identify, '0001', 'on: force on indefinitely')
  await cmds.identify('off')
  t.equal(fake.identify, '00', 'off: interval 0')
  t.ok(cmds.identifyUsesForce)

  const old = fakeA()
  old.supportsIdentifyForce = false
  const oldCmds = new BmcCommands(old)
  await oldCmds.identify('on')
  t.equal(old.identify, 'ff', 'a BMC refusing byte 2: the longest interval instead')
  t.notOk(oldCmds.identifyUsesForce)
  await oldCmds.identify('on')
  t.equal(old.requests.filter(r => r.cmd === CMD.chassisIdentify && r.netFn === NETFN.chassis).length, 3, 'force not tried again')

  const broken = fakeA()
  broken.override.set(`${NETFN.chassis}/${CMD.chassisIdentify}`, new IpmiCompletionError(NETFN.chassis, CMD.chassisIdentify, 0xff, 'x'))
  await t.rejects(new BmcCommands(broken).identify('on'), { name: 'IpmiCompletionError', completionCode: 0xff }, 'other failures are not papered over')
})

t.test('boot target: ipmitool\'s set sequence, the valid bit', async t => {
  const bootRequests = (f: FakeBmc): string[] => f.requests.filter(r => r.netFn === NETFN.chassis && r.cmd === CMD.setSystemBootOptions).map(r => r.data)

  const sim = fakeA() // set-in-progress unsupported, as ipmi_sim
  const cmds = new BmcCommands(sim)
  await cmds.setBootTarget('pxe')
  t.same(bootRequests(sim), ['0001', '040101', '058004000000'], 'set-in-progress refused: carry on without it')
  t.equal(await cmds.bootTarget(), 'pxe')
  await cmds.setBootTarget('hdd')
  t.same(bootRequests(sim).slice(3), ['040101', '058008000000'], 'and never try set-in-progress again')
  t.equal(await cmds.bootTarget(), 'hdd')
  await cmds.setBootTarget('no_override')
  t.equal(await cmds.bootTarget(), 'no_override')

  const full = fakeA()
  full.supportsSetInProgress = true
  await new BmcCommands(full, { bootPersistent: true }).setBootTarget('pxe')
  t.same(bootRequests(full), ['0001', '040101', '05c004000000', '0002', '0000'], 'in progress, ack, flags (persistent), commit write, complete')
  t.equal(full.setInProgress, 0)

  const failing = fakeA()
  failing.supportsSetInProgress = true
  failing.override.set(`${NETFN.chassis}/${CMD.setSystemBootOptions}`, Buffer.alloc(0)) // set-in-progress ok ...
  const failingCmds = new BmcCommands(failing)
  const orig = failing.request.bind(failing)
  failing.request = async (netFn, cmd, data) => {
    if (netFn === NETFN.chassis && cmd === CMD.setSystemBootOptions && data?.[0] === 5) throw new IpmiCompletionError(netFn, cmd, 0xd5, 'x')
    return await orig(netFn, cmd, data)
  }
  await t.rejects(failingCmds.setBootTarget('pxe'), { name: 'IpmiCompletionError', completionCode: 0xd5 })
  t.same(bootRequests(failing).slice(-1), ['0000'], 'a failed write still ends with set-complete')

  const dropsValid = fakeA()
  await new BmcCommands(dropsValid).setBootTarget('pxe')
  dropsValid.bootValidByte = 0x00 // as ipmi_sim: the selector is kept, the valid bit is not
  t.equal(await new BmcCommands(dropsValid).bootTarget(), 'no_override', 'honour (default): flags not valid = no override')
  t.equal(await new BmcCommands(dropsValid, { bootValidBit: 'ignore' }).bootTarget(), 'pxe', 'ignore: the selector as stored')

  const cdrom = fakeA()
  cdrom.bootValidByte = 0x80
  cdrom.bootSelector = 0x5
  await t.rejects(new BmcCommands(cdrom).bootTarget(), { name: 'IpmiError', message: /boot device override is cdrom/ })
  await t.rejects(new BmcCommands(cdrom).setBootTarget('floppy' as 'pxe'), RangeError)
})

// ---------------------------------------------------------------------------
// Live: ipmi_sim with bmc-a.emu and bmc-b.emu, requests sent by `ipmitool raw`.

/** Counts requests and can run a hook before each one. */
class Spy implements IpmiRequester {
  readonly log: Array<{ netFn: number, cmd: number }> = []
  before: ((netFn: number, cmd: number) => Promise<void>) | undefined
  constructor (private readonly inner: IpmiRequester) {}
  async request (netFn: number, cmd: number, data?: Uint8Array): Promise<Buffer> {
    this.log.push({ netFn, cmd })
    if (this.before !== undefined) await this.before(netFn, cmd)
    return await this.inner.request(netFn, cmd, data)
  }

  count (netFn: number, cmd: number): number {
    return this.log.filter(r => r.netFn === netFn && r.cmd === cmd).length
  }
}

t.test('live ipmi_sim: bmc-a', async t => {
  const sim: Sim = await startSim(t, 'bmc-a.emu')
  const spy = new Spy(sim.requester)
  const cmds = new BmcCommands(spy, { bootValidBit: 'ignore' })

  const sensors = await cmds.sensors()
  const elist = ipmitoolRows(await sim.ipmitool(['sdr', 'elist']))
  t.same(sensors.map(s => s.name), [...elist.keys()], 'the same sensors as ipmitool sdr elist')
  const reading = ipmitoolRows(await sim.ipmitool(['sensor', 'reading', ...sensors.map(s => s.name)]))
  for (const s of sensors) {
    const r = await cmds.readSensor(s.sensorNumber)
    t.equal(r.value, expectedALive[s.sensorNumber as keyof typeof expectedALive], `${s.name}: ${String(r.value)} ${r.unit}`)
    if (s.kind === 'full') t.equal(r.value, Number(reading.get(s.name)?.[0]), `${s.name} equals ipmitool sensor reading`)
  }

  t.same(await cmds.fru(), assetA)
  const printed = fruPrintFields(await sim.ipmitool(['fru', 'print', '0']))
  t.equal(printed.get('Product Asset Tag'), assetA.product_info.asset_tag)

  // The cache against the real repository: a Clear SDR Repository "get status" (0xaa)
  // moves ipmi_sim's erase timestamp without erasing anything.
  const before = spy.count(NETFN.storage, CMD.getSdr)
  await cmds.sensors()
  t.equal(spy.count(NETFN.storage, CMD.getSdr), before, 'cached')
  await sim.ipmitool(['raw', '0x0a', '0x27', '0x00', '0x00', '0x43', '0x4c', '0x52', '0xaa'])
  t.equal((await cmds.sensors()).length, 8)
  t.equal(spy.count(NETFN.storage, CMD.getSdr), 2 * before, 'erase timestamp moved: read again')

  // Another client reserves the repository while we read it.
  const other = new BmcCommands(spy)
  let gets = 0
  spy.before = async (netFn, cmd) => {
    if (netFn === NETFN.storage && cmd === CMD.getSdr && ++gets === 5) await sim.ipmitool(['raw', '0x0a', '0x22'])
  }
  const reservesBefore = spy.count(NETFN.storage, CMD.reserveSdrRepository)
  t.same((await other.sensors()).map(s => s.name), sensors.map(s => s.name), 'whole repository despite the cancelled reservation')
  t.equal(spy.count(NETFN.storage, CMD.reserveSdrRepository) - reservesBefore, 2, 'reserved again after 0xc5')
  spy.before = undefined

  const big = new Spy(sim.requester)
  const bigCmds = new BmcCommands(big, { sdrChunk: 64, fruChunk: 64 })
  t.equal((await bigCmds.sensors()).length, 8, 'chunk shrunk after ipmi_sim\'s 0xca')
  t.same(await bigCmds.fru(), assetA, 'chunk shrunk after ipmi_sim\'s 0xc8')
})

t.test('live ipmi_sim: bmc-b, chassis and boot', async t => {
  const sim: Sim = await startSim(t, 'bmc-b.emu')
  const cmds = new BmcCommands(sim.requester, { bootValidBit: 'ignore' })

  for (const [n, value] of Object.entries(expectedB)) t.equal((await cmds.readSensor(Number(n))).value, value, `sensor 0x${Number(n).toString(16)}: ${String(value)}`)
  t.same(await cmds.fru(), assetB)
  t.match(await cmds.deviceId(), { deviceId: 0x21, firmwareVersion: '3.40', manufacturerId: 0x1291, productId: 0x0b02 })

  t.match(await cmds.chassisStatus(), { power: 'on', identify: 'unknown' })
  await cmds.chassisControl('off')
  t.match(await cmds.chassisStatus(), { power: 'off' })
  t.match(await sim.ipmitool(['chassis', 'power', 'status']), /Chassis Power is off/)
  await cmds.chassisControl('on')
  t.match(await cmds.chassisStatus(), { power: 'on' })
  await cmds.chassisControl('cycle')
  t.match(await cmds.chassisStatus(), { power: 'off' }, 'cycle: off first')
  await new Promise(resolve => setTimeout(resolve, 1500))
  t.match(await cmds.chassisStatus(), { power: 'on' }, 'then on again (ipmi_sim waits 1 s)')

  await cmds.identify('on')
  t.equal(await sim.identifyFile(), '0 1', 'ipmi_sim passed interval 0, force 1 to chassis_control')
  t.ok(cmds.identifyUsesForce, 'ipmi_sim takes the force byte (and answers with stray bytes, ignored)')
  await cmds.identify('off')
  t.equal(await sim.identifyFile(), '0 0')
  t.match(await cmds.chassisStatus(), { identify: 'unknown' }, 'ipmi_sim never reports the identify state')

  for (const [target, shown] of [['pxe', 'Force PXE'], ['hdd', 'Force Boot from default Hard-Drive'], ['no_override', 'No override']] as const) {
    await cmds.setBootTarget(target)
    t.equal(await cmds.bootTarget(), target, `${target} read back (valid bit ignored)`)
    t.match(await sim.ipmitool(['chassis', 'bootparam', 'get', '5']), new RegExp(`Boot Device Selector : ${shown}`), `ipmitool sees ${shown}`)
  }
  await cmds.setBootTarget('pxe')
  t.equal(await new BmcCommands(sim.requester).bootTarget(), 'no_override', 'honouring the valid bit, which ipmi_sim never keeps')
})

t.test('live ipmi_sim over the project\'s RMCP+ session (drivers/ipmi/session.ts)', async t => {
  for (const suite of ['cs3', 'cs0'] as const) {
    const sim = await startRigSim(t, { emu: `${FIXTURES}/bmc-a.emu` })
    const session = new IpmiSession(suite === 'cs3'
      ? { host: sim.host, port: sim.port, username: sim.user, password: sim.password, auth: 'RAKP_HMAC_SHA1', integrity: 'HMAC_SHA1_96', confidentiality: 'AES_CBC_128' }
      : { host: sim.host, port: sim.port, username: sim.user, password: sim.password, auth: 'NO_AUTHENTICATION_ALGORITHM', integrity: 'NO_INTEGRITY_ALGORITHM', confidentiality: 'NO_ENCRYPTION_ALGORITHM' })
    t.teardown(async () => await session.close())
    const cmds = new BmcCommands(session)
    const sensors = await cmds.sensors()
    t.equal(sensors.length, 8, `${suite}: SDR repository read over the session`)
    for (const s of sensors) t.equal((await cmds.readSensor(s.sensorNumber)).value, expectedALive[s.sensorNumber as keyof typeof expectedALive], `${suite} ${s.name}`)
    t.same(await cmds.fru(), assetA, `${suite}: FRU`)
    await cmds.identify('on')
    await cmds.setBootTarget('pxe')
    t.match(await cmds.bootFlags(), { deviceSelector: 1 }, `${suite}: boot flags written`)
    t.match(await cmds.chassisStatus(), { power: 'on', identify: 'unknown' })
  }
})

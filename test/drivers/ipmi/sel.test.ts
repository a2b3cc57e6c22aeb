/**
 * The System Event Log: record decoding (IPMI v2.0 §32.1, tables 42-2 and
 * 42-3) on byte vectors, the reader (§31.2, §31.4, §31.5) over a scripted
 * requester that misbehaves, then against ipmi_sim's SEL with every request
 * sent by `ipmitool raw` and the result compared with `ipmitool sel list`.
 */
import t from 'tap'
import { BmcCommands } from '../../../drivers/ipmi/bmc.js'
import { packGetSelEntryRequest, readSel, unpackGetSelInfoResponse, SEL_CMD } from '../../../drivers/ipmi/commands/index.js'
import { decodeSelRecord, PackedSelRecords, sensorTypeName } from '../../../drivers/ipmi/sel.js'
import { IpmiCompletionError, IpmiError, NETFN, type IpmiRequester } from '../../../drivers/ipmi/types.js'
import { startSim } from './ipmi-test-kit.js'

const hex = (s: string): Buffer => Buffer.from(s.replace(/\s+/g, ''), 'hex')

t.test('§32.1 system event records and §32.2/3 OEM records', async (t) => {
  const vectors = [
    {
      name: 'threshold, asserted, trigger reading and threshold in data 2/3',
      // id 0x0001, type 02, time 0x6924_8100 (2025-11-24T16:00:00Z), generator 0x0020, EvM 04,
      // Temperature (01) sensor 01, dir/type 01, data 59 a0 96
      hex: '0100 02 00812469 2000 04 01 01 01 59a096',
      expected: {
        recordId: 1,
        recordType: 2,
        time: '2025-11-24T16:00:00.000Z',
        generatorId: 0x20,
        sensorType: 1,
        sensorTypeName: 'Temperature',
        sensorNumber: 1,
        eventType: 1,
        asserted: true,
        event: 'Upper Critical going high',
        severity: 'critical',
        triggerReadingRaw: 0xa0,
        triggerThresholdRaw: 0x96
      }
    },
    {
      name: 'the same deasserted: the fault ended',
      hex: '0200 02 108f2469 2000 04 01 01 81 59 8c96',
      expected: { recordId: 2, asserted: false, event: 'Upper Critical going high', severity: 'ok', triggerReadingRaw: 0x8c }
    },
    {
      name: 'sensor-specific (0x6f) Power Supply offset 3, no trigger data',
      hex: '0300 02 209d2469 2000 04 08 30 6f 03ffff',
      expected: { sensorTypeName: 'Power Supply', sensorNumber: 0x30, eventType: 0x6f, event: 'Power Supply AC lost', severity: 'critical', triggerReadingRaw: undefined }
    },
    {
      name: 'pre-init timestamp (at most 0x20000000): no time',
      hex: '0400 02 10000000 2000 04 02 20 01 00ffff',
      expected: { time: undefined, sensorTypeName: 'Voltage', event: 'Lower Non-critical going low', severity: 'warning' }
    },
    {
      name: 'unspecified timestamp 0xffffffff: no time; generic severity type 0x07 offset 2',
      hex: '0500 02 ffffffff 2000 04 15 40 07 02ffff',
      expected: { time: undefined, sensorTypeName: 'Module / Board', event: 'Transition to Critical from less severe', severity: 'critical' }
    },
    {
      name: 'Session Audit (0x2a) is information',
      hex: '0600 02 00812469 4100 04 2a 50 6f 00ffff',
      expected: { generatorId: 0x41, sensorTypeName: 'Session Audit', event: 'Session Activated', severity: 'info' }
    },
    {
      name: 'OEM timestamped record (0xc1)',
      hex: '0700 c1 00812469 0000000000000000 0000',
      expected: { recordId: 7, recordType: 0xc1, time: '2025-11-24T16:00:00.000Z', event: 'OEM record 0xc1', severity: 'info', sensorNumber: undefined }
    },
    {
      name: 'OEM non-timestamped record (0xe0): no time',
      hex: '0800 e0 0102030405060708090a0b0c0d',
      expected: { recordType: 0xe0, time: undefined, event: 'OEM record 0xe0' }
    }
  ]
  for (const v of vectors) {
    const e = decodeSelRecord(hex(v.hex))
    const got: Record<string, unknown> = { ...e, time: e.time?.toISOString() }
    for (const [k, want] of Object.entries(v.expected)) t.same(got[k], want, `${v.name}: ${k}`)
  }
  t.throws(() => decodeSelRecord(hex('0100 02 00')), IpmiError, 'a short record')
  t.equal(sensorTypeName(0xc3), 'OEM 0xc3')
  t.equal(sensorTypeName(0x7f), 'Unknown 0x7f')
  t.same(unpackGetSelInfoResponse(hex('51 0400 403e 00812469 ffffffff 0a')), {
    version: 0x51, entries: 4, freeBytes: 0x3e40, addTimestamp: 0x69248100, eraseTimestamp: 0xffffffff, overflow: false, deleteSupported: true, reserveSupported: true
  }, '§31.2 Get SEL Info')
  t.equal(Buffer.from(packGetSelEntryRequest(0x1234, 0x0002)).toString('hex'), '3412020000ff', '§31.5: reservation, record id, offset 0, read all')
})

/** A SEL of `records` behind a requester; `cancelOnce` answers the n-th Get SEL Entry with 0xc5. */
function scripted (records: Buffer[], opts: { cancelOnce?: number, reserve?: boolean, loop?: boolean, emptyNotPresent?: boolean } = {}): IpmiRequester & { log: string[] } {
  const log: string[] = []
  let gets = 0
  let reservation = 0
  return {
    log,
    request: async (netFn, cmd, data = new Uint8Array(0)) => {
      if (netFn !== NETFN.storage) throw new IpmiCompletionError(netFn, cmd, 0xc1, 'invalid command')
      if (cmd === SEL_CMD.getSelInfo) {
        log.push('info')
        const count = opts.emptyNotPresent === true ? 1 : records.length
        return hex(`51 ${count.toString(16).padStart(2, '0')}00 0010 ffffffff ffffffff ${opts.reserve === false ? '08' : '0a'}`)
      }
      if (cmd === SEL_CMD.reserveSel) {
        reservation++
        log.push(`reserve ${reservation}`)
        return Buffer.from([reservation, 0])
      }
      if (cmd === SEL_CMD.getSelEntry) {
        gets++
        const res = data[0] | (data[1] << 8)
        const id = data[2] | (data[3] << 8)
        log.push(`get ${id} r${res}`)
        if (gets === opts.cancelOnce) throw new IpmiCompletionError(netFn, cmd, 0xc5, 'reservation cancelled')
        if (opts.reserve !== false && res !== reservation) throw new IpmiCompletionError(netFn, cmd, 0xc5, 'reservation cancelled')
        const i = records.findIndex((r) => r.readUInt16LE(0) === id) // record id 0 = first
        const at = id === 0 ? 0 : i
        if (at < 0 || records.length === 0) throw new IpmiCompletionError(netFn, cmd, 0xcb, 'not present')
        const next = opts.loop === true ? records[0].readUInt16LE(0) : at + 1 < records.length ? records[at + 1].readUInt16LE(0) : 0xffff
        return Buffer.concat([Buffer.from([next & 0xff, next >> 8]), records[at]])
      }
      throw new IpmiCompletionError(netFn, cmd, 0xc1, 'invalid command')
    }
  }
}

const r1 = hex('0100 02 00812469 2000 04 01 01 01 59a096')
const r2 = hex('0200 02 108f2469 2000 04 01 01 81 598c96')
const r3 = hex('0300 02 209d2469 2000 04 08 30 6f 03ffff')

t.test('readSel: walks from record 0 to 0xffff under a reservation', async (t) => {
  const req = scripted([r1, r2, r3])
  const got = await readSel(req)
  t.same(got.map((r) => r.readUInt16LE(0)), [1, 2, 3])
  t.same(req.log, ['info', 'reserve 1', 'get 0 r1', 'get 2 r1', 'get 3 r1'])
})

t.test('readSel: a cancelled reservation (0xc5) starts again under a new one', async (t) => {
  const req = scripted([r1, r2, r3], { cancelOnce: 2 })
  t.same((await readSel(req)).map((r) => r.readUInt16LE(0)), [1, 2, 3])
  t.same(req.log.filter((l) => l.startsWith('reserve')), ['reserve 1', 'reserve 2'])
})

t.test('readSel: no reservation support -> reservation id 0; an empty log is no request at all', async (t) => {
  const req = scripted([r1], { reserve: false })
  t.equal((await readSel(req)).length, 1)
  t.same(req.log, ['info', 'get 0 r0'])
  const empty = scripted([])
  t.same(await readSel(empty), [])
  t.same(empty.log, ['info'], 'Get SEL Info says 0 entries: nothing else asked')
  t.same(await readSel(scripted([], { emptyNotPresent: true })), [], 'a count that says 1 but record 0 is "not present": empty')
})

t.test('readSel: a log whose next id points back is refused, not walked forever', async (t) => {
  await t.rejects(readSel(scripted([r1, r2], { loop: true })), /loops/)
})

t.test('BmcCommands.selRecords: an unchanged log (Get SEL Info) is not read again; a new entry is', async (t) => {
  const records = [r1, r2]
  const req = scripted(records)
  const cmds = new BmcCommands(req)
  t.equal((await cmds.selRecords()).length, 2)
  const first = req.log.length
  t.equal((await cmds.selRecords()).length, 2)
  t.same(req.log.slice(first), ['info'], 'one request for an unchanged log')
  records.push(r3)
  t.same((await cmds.selRecords()).map((r) => r.readUInt16LE(0)), [1, 2, 3], 'a new entry: read again')
})

t.test('BmcCommands.selRecords: the kept records are one packed copy of their own, not slices of the shared 8 KB pool', async (t) => {
  const records = [r1, r2, r3]
  const cmds = new BmcCommands(scripted(records))
  const read = await cmds.selRecords()
  t.same(read, records, 'the same bytes')
  const again = await cmds.selRecords()
  t.same(again, records, 'given back from the cache')
  t.equal(again[0].buffer, again[2].buffer, 'one buffer for the log')
  t.equal(again[0].buffer.byteLength, 3 * 16, '16 bytes a record, nothing else kept alive')
  t.same(again.map((r) => r.byteOffset - again[0].byteOffset), [0, 16, 32], 'each record at its offset')
})

t.test('PackedSelRecords: records of another length are refused', async (t) => {
  t.throws(() => new PackedSelRecords([Buffer.alloc(15)]), /15 byte/)
  t.equal(new PackedSelRecords([]).length, 0)
})

t.test('live ipmi_sim bmc-a: the SEL read by `ipmitool raw` requests matches `ipmitool sel list`', async (t) => {
  const sim = await startSim(t, 'bmc-a.emu')
  const records = await readSel(sim.requester)
  const list = (await sim.ipmitool(['sel', 'list'])).trim().split('\n').map((l) => l.split('|').map((c) => c.trim()))
  t.equal(records.length, list.length, `${list.length} entries`)
  t.ok(records.length >= 4)
  for (const [i, r] of records.entries()) {
    const e = decodeSelRecord(r)
    const [id, date, , sensor, event, direction] = list[i]
    t.equal(e.recordId, parseInt(id, 16), `entry ${i}: record id`)
    t.equal(`${e.sensorTypeName ?? ''} #0x${(e.sensorNumber ?? 0).toString(16).padStart(2, '0')}`, sensor, `entry ${i}: sensor`)
    t.equal(e.event, event, `entry ${i}: event`)
    t.equal(e.asserted === true ? 'Asserted' : 'Deasserted', direction, `entry ${i}: direction`)
    t.equal(e.time === undefined, date === 'Pre-Init', `entry ${i}: ipmi_sim stamps with its uptime, so no wall-clock time`)
  }
})

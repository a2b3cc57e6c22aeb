import t from 'tap'
import {
  CMD,
  decodeBootFlags,
  encodeBootFlags,
  packChassisControlRequest,
  packChassisIdentifyRequest,
  packGetFruInventoryAreaInfoRequest,
  packGetSdrRequest,
  packGetSensorReadingRequest,
  packGetSystemBootOptionsRequest,
  packReadFruDataRequest,
  packSetSystemBootOptionsRequest,
  readFruData,
  readSdrRecord,
  readSdrRepository,
  unpackBootFlagsResponse,
  unpackGetChassisStatusResponse,
  unpackGetDeviceIdResponse,
  unpackGetFruInventoryAreaInfoResponse,
  unpackGetSdrRepositoryInfoResponse,
  unpackGetSdrResponse,
  unpackGetSensorReadingResponse,
  unpackReadFruDataResponse,
  unpackReserveSdrRepositoryResponse
} from '../../../drivers/ipmi/commands/index.js'
import { IpmiCompletionError, IpmiError, NETFN } from '../../../drivers/ipmi/types.js'
import { exchange, FakeBmc, loadRecorded, noted, recordedFru, recordedSdrs, responseOf } from './ipmi-test-kit.js'

/**
 * Golden byte vectors for every Pack/Unpack pair, citing the IPMI v2.0 section.
 * "recorded" vectors are ipmi_sim's answers to the command lines stored in
 * test/fixtures/ipmi/recorded-commands.json (`ipmitool ... raw <netfn> <cmd> <data>`).
 */

const hex = (b: Uint8Array): string => Buffer.from(b).toString('hex')
const buf = (h: string): Buffer => Buffer.from(h.replace(/ /g, ''), 'hex')

t.test('request packing', async t => {
  const vectors: Array<{ name: string, packed: Uint8Array, hex: string }> = [
    { name: '§28.3 power down', packed: packChassisControlRequest(0), hex: '00' },
    { name: '§28.3 power up', packed: packChassisControlRequest(1), hex: '01' },
    { name: '§28.3 power cycle', packed: packChassisControlRequest(2), hex: '02' },
    { name: '§28.5 identify, BMC default interval (no data)', packed: packChassisIdentifyRequest(), hex: '' },
    { name: '§28.5 identify off: interval 0', packed: packChassisIdentifyRequest(0), hex: '00' },
    { name: '§28.5 identify 15 s', packed: packChassisIdentifyRequest(15), hex: '0f' },
    { name: '§28.5 identify force on (byte 2 bit 0)', packed: packChassisIdentifyRequest(0, true), hex: '0001' },
    { name: '§28.13 get boot flags (param 5, set 0, block 0)', packed: packGetSystemBootOptionsRequest(5), hex: '050000' },
    { name: '§28.12 set-in-progress: set in progress', packed: packSetSystemBootOptionsRequest(0, Uint8Array.of(1)), hex: '0001' },
    { name: '§28.12 boot info acknowledge, clear BIOS POST ack', packed: packSetSystemBootOptionsRequest(4, Uint8Array.of(1, 1)), hex: '040101' },
    { name: 'table 28-14 force PXE, next boot (ipmitool bootdev pxe)', packed: packSetSystemBootOptionsRequest(5, encodeBootFlags(1)), hex: '058004000000' },
    { name: 'table 28-14 force HDD, persistent', packed: packSetSystemBootOptionsRequest(5, encodeBootFlags(2, { persistent: true })), hex: '05c008000000' },
    { name: 'table 28-14 no override, EFI', packed: packSetSystemBootOptionsRequest(5, encodeBootFlags(0, { efi: true })), hex: '05a000000000' },
    { name: '§33.12 get SDR header: reservation 0x0102, record 0x0003', packed: packGetSdrRequest(0x0102, 0x0003, 0, 5), hex: '020103000005' },
    { name: '§33.12 get SDR chunk at offset 37', packed: packGetSdrRequest(0x0002, 0x0001, 37, 16), hex: '020001002510' },
    { name: '§33.12 first record, whole', packed: packGetSdrRequest(0, 0, 0, 0xff), hex: '0000000000ff' },
    { name: '§35.14 sensor 0x42', packed: packGetSensorReadingRequest(0x42), hex: '42' },
    { name: '§34.1 FRU device 0', packed: packGetFruInventoryAreaInfoRequest(0), hex: '00' },
    { name: '§34.2 FRU 0, offset 0x01e0, 32 bytes', packed: packReadFruDataRequest(0, 0x01e0, 32), hex: '00e00120' }
  ]
  for (const v of vectors) t.equal(hex(v.packed), v.hex, v.name)
  t.throws(() => packChassisIdentifyRequest(256), RangeError)
  t.throws(() => encodeBootFlags(16), RangeError)
})

t.test('recorded requests are what the packers build', async t => {
  const rec = await loadRecorded()
  const a = rec.bmcs['bmc-a']
  t.equal(noted(a, 'boot flags: valid, force PXE').request, hex(packSetSystemBootOptionsRequest(5, encodeBootFlags(1))))
  t.equal(noted(a, 'identify force on').request, hex(packChassisIdentifyRequest(0, true)))
  t.equal(exchange(a, NETFN.chassis, CMD.getSystemBootOptions).request, hex(packGetSystemBootOptionsRequest(5)))
  t.match(exchange(a, NETFN.storage, CMD.getSdr).command, / raw 0x0a 0x23 0x01 0x00 0x00 0x00 0x00 0x05$/)
})

t.test('§20.1 Get Device ID', async t => {
  const rec = await loadRecorded()
  t.same(unpackGetDeviceIdResponse(responseOf(exchange(rec.bmcs['bmc-a'], NETFN.app, CMD.getDeviceId))), {
    deviceId: 0x20,
    deviceRevision: 1,
    providesDeviceSdrs: false,
    deviceAvailable: true,
    firmwareMajor: 2,
    firmwareMinor: 15,
    firmwareVersion: '2.15',
    ipmiVersion: '2.0',
    additionalDeviceSupport: 0x9f,
    manufacturerId: 0x1291,
    productId: 0x0a01,
    auxFirmwareRevision: buf('00000000')
  }, 'recorded: bmc-a.emu mc_add 0x20 0x20 no-device-sdrs 0x01 0x02 0x15 0x9f 0x1291 0x0a01')
  const v = unpackGetDeviceIdResponse(buf('20 81 85 09 51 2f 57 01 00 02 00'))
  t.match(v, { deviceId: 0x20, providesDeviceSdrs: true, deviceRevision: 1, deviceAvailable: false, firmwareVersion: '5.09', ipmiVersion: '1.5', manufacturerId: 0x157, productId: 2 }, '§20.1 bits: SDRs provided, update in progress, IPMI 1.5 (0x51)')
  t.notOk('auxFirmwareRevision' in v, 'optional aux bytes absent')
  t.throws(() => unpackGetDeviceIdResponse(buf('20 01 02')), { name: 'IpmiError', kind: 'protocol', message: /Get Device ID: response of 3 byte\(s\), at least 11/ })
})

t.test('§28.2 Get Chassis Status', async t => {
  const rec = await loadRecorded()
  t.same(unpackGetChassisStatusResponse(responseOf(exchange(rec.bmcs['bmc-a'], NETFN.chassis, CMD.getChassisStatus))), {
    powerOn: true,
    powerOverload: false,
    powerInterlock: false,
    powerFault: false,
    powerControlFault: false,
    powerRestorePolicy: 'always-off',
    lastPowerEvent: 0,
    chassisIntrusion: false,
    frontPanelLockout: false,
    driveFault: false,
    coolingFault: false,
    identifySupported: false,
    identifyState: 'unsupported'
  }, 'recorded 01 00 00: on, identify state not reported (ipmi_sim)')
  const vectors: Array<{ name: string, hex: string, expected: object }> = [
    { name: 'off, restore policy previous (bits 6:5 = 01)', hex: '20 00 00', expected: { powerOn: false, powerRestorePolicy: 'previous' } },
    { name: 'on, faults: overload, interlock, power fault, control fault', hex: '1f 00 00', expected: { powerOn: true, powerOverload: true, powerInterlock: true, powerFault: true, powerControlFault: true } },
    { name: 'always-on, unknown', hex: '41 00 00', expected: { powerRestorePolicy: 'always-on' } },
    { name: 'identify supported and off', hex: '01 00 40', expected: { identifySupported: true, identifyState: 'off' } },
    { name: 'identify temporary (timed) on', hex: '01 00 50', expected: { identifyState: 'temporary' } },
    { name: 'identify indefinite on', hex: '01 00 60', expected: { identifyState: 'indefinite' } },
    { name: 'identify bits without the supported bit', hex: '01 00 20', expected: { identifySupported: false, identifyState: 'unsupported' } },
    { name: 'misc bits 3:0, last power event, front panel byte', hex: '01 10 0f 0a', expected: { chassisIntrusion: true, frontPanelLockout: true, driveFault: true, coolingFault: true, lastPowerEvent: 0x10, frontPanelButtons: 0x0a } }
  ]
  for (const v of vectors) t.match(unpackGetChassisStatusResponse(buf(v.hex)), v.expected, v.name)
  t.throws(() => unpackGetChassisStatusResponse(buf('01 00')), { name: 'IpmiError', kind: 'protocol' })
})

t.test('§28.13 boot flags (table 28-14)', async t => {
  const rec = await loadRecorded()
  t.match(unpackBootFlagsResponse(responseOf(exchange(rec.bmcs['bmc-a'], NETFN.chassis, CMD.getSystemBootOptions))), {
    parameterInvalid: false, valid: false, deviceSelector: 0, device: 'no_override', persistent: false
  }, 'recorded 01 05 00 00 00 00 00')
  t.match(unpackBootFlagsResponse(responseOf(noted(rec.bmcs['bmc-a'], 'ipmi_sim keeps the selector'))), {
    valid: false, deviceSelector: 1, device: 'pxe'
  }, 'recorded after setting 80 04: selector kept, valid bit not')
  const vectors: Array<{ name: string, hex: string, expected: object }> = [
    { name: 'valid, force PXE', hex: '80 04 00 00 00', expected: { valid: true, persistent: false, efi: false, deviceSelector: 1, device: 'pxe' } },
    { name: 'valid, persistent, force HDD', hex: 'c0 08 00 00 00', expected: { valid: true, persistent: true, deviceSelector: 2, device: 'hdd' } },
    { name: 'EFI, force CD/DVD', hex: 'a0 14 00 00 00', expected: { efi: true, device: 'cdrom' } },
    { name: 'force BIOS setup', hex: '80 18 00 00 00', expected: { device: 'bios_setup' } },
    { name: 'CMOS clear, lock keyboard, blank screen, lock reset', hex: '80 c3 00 00 00', expected: { cmosClear: true, lockKeyboard: true, screenBlank: true, lockOutResetButton: true, device: 'no_override' } },
    { name: 'reserved selector 1010b', hex: '80 28 00 00 00', expected: { deviceSelector: 0x0a, device: 'reserved' } }
  ]
  for (const v of vectors) t.match(decodeBootFlags(buf(v.hex)), v.expected, v.name)
  t.match(unpackBootFlagsResponse(buf('01 85 80 04 00 00 00')), { parameterInvalid: true, valid: true }, 'byte 2 bit 7: parameter invalid/locked')
  t.throws(() => unpackBootFlagsResponse(buf('01 04 01 01')), { kind: 'protocol', message: /asked for parameter 5, got parameter 4/ })
  t.throws(() => unpackBootFlagsResponse(buf('01')), { name: 'IpmiError', kind: 'protocol' })
})

t.test('§33.9, §33.11, §33.12 SDR repository', async t => {
  const rec = await loadRecorded()
  const a = rec.bmcs['bmc-a']
  const info = unpackGetSdrRepositoryInfoResponse(responseOf(exchange(a, NETFN.storage, CMD.getSdrRepositoryInfo)))
  t.match(info, { sdrVersion: 0x51, recordCount: 7, freeSpace: 0xfffe, eraseTimestamp: 0, operationSupport: 0x02, reserveSupported: true }, 'recorded: 7 records, reserve supported')
  t.ok(info.addTimestamp > 0, 'ipmi_sim stamps additions')
  t.same(unpackGetSdrRepositoryInfoResponse(buf('51 0300 0010 78563412 ffffffff 0f')), {
    sdrVersion: 0x51, recordCount: 3, freeSpace: 0x1000, addTimestamp: 0x12345678, eraseTimestamp: 0xffffffff, operationSupport: 0x0f, reserveSupported: true
  })
  t.equal(unpackReserveSdrRepositoryResponse(responseOf(noted(a, 'first reservation'))), 2)
  t.equal(unpackReserveSdrRepositoryResponse(buf('3412')), 0x1234, 'LS byte first')
  const head = unpackGetSdrResponse(responseOf(exchange(a, NETFN.storage, CMD.getSdr)))
  t.same(head, { nextRecordId: 2, data: buf('0100510134') }, 'recorded header of record 1: next is 2, full record, 0x34 bytes')
  t.equal(noted(a, 'whole record at once').completionCode, 0xca, 'ipmi_sim: 0xca "cannot return number of requested data bytes"')
  t.equal(noted(a, 'partial read under the cancelled reservation').completionCode, 0xc5, 'ipmi_sim: 0xc5 reservation cancelled')
  t.throws(() => unpackGetSdrResponse(buf('ff')), { name: 'IpmiError', kind: 'protocol' })
})

t.test('§35.14 Get Sensor Reading', async t => {
  const rec = await loadRecorded()
  const b = rec.bmcs['bmc-b']
  t.same(unpackGetSensorReadingResponse(responseOf(exchange(b, NETFN.sensorEvent, CMD.getSensorReading, '30'))), {
    raw: 0xf6, eventMessagesEnabled: true, scanningEnabled: true, readingUnavailable: false, state: 0, state2: 0
  }, 'recorded Inlet Temp: f6 c0 00 00')
  t.match(unpackGetSensorReadingResponse(responseOf(exchange(b, NETFN.sensorEvent, CMD.getSensorReading, '42'))), {
    raw: 0x20, eventMessagesEnabled: false, scanningEnabled: false
  }, 'recorded FAN C: 20 00 00 00, scanning disabled')
  const vectors: Array<{ name: string, hex: string, expected: object }> = [
    { name: 'reading unavailable (bit 5)', hex: '00 60', expected: { readingUnavailable: true, scanningEnabled: true, state: 0 } },
    { name: 'upper critical crossed (byte 3 bits 4,3)', hex: '60 c0 18', expected: { raw: 0x60, state: 0x18 } },
    { name: 'discrete states byte 4', hex: '00 c0 01 80', expected: { state: 1, state2: 0x80 } }
  ]
  for (const v of vectors) t.match(unpackGetSensorReadingResponse(buf(v.hex)), v.expected, v.name)
  t.equal(noted(b, 'no such sensor').completionCode, 0xcc)
  t.throws(() => unpackGetSensorReadingResponse(buf('30')), { name: 'IpmiError', kind: 'protocol' })
})

t.test('§34.1, §34.2 FRU inventory', async t => {
  const rec = await loadRecorded()
  const a = rec.bmcs['bmc-a']
  t.same(unpackGetFruInventoryAreaInfoResponse(responseOf(exchange(a, NETFN.storage, CMD.getFruInventoryAreaInfo))), { size: 0x200, byWords: false }, 'recorded 00 02 00')
  t.same(unpackGetFruInventoryAreaInfoResponse(buf('0001 01')), { size: 0x100, byWords: true })
  const first = unpackReadFruDataResponse(responseOf(exchange(a, NETFN.storage, CMD.readFruData, '00000020')))
  t.equal(first.count, 32)
  t.equal(first.data.subarray(0, 8).toString('hex'), '010001050d0000ec', 'common header')
  t.same(unpackReadFruDataResponse(buf('02 aabb')), { count: 2, data: buf('aabb') })
  t.throws(() => unpackReadFruDataResponse(buf('04 aabb')), { kind: 'protocol', message: /says 4 byte\(s\), carries 2/ })
  t.same(unpackReadFruDataResponse(buf('02 aabbccdd'), 2), { count: 2, data: buf('aabbccdd') }, 'word access: count in words')
  t.equal(noted(a, 'FRU read of 64 bytes').completionCode, 0xc8, 'ipmi_sim: 0xc8 request data field length limit exceeded')
})

t.test('chunked SDR reads: shrink on "too big", re-reserve on 0xc5, refuse loops', async t => {
  const rec = await loadRecorded()
  const sdrs = recordedSdrs(rec.bmcs['bmc-a'])

  const fake = new FakeBmc({ sdrs, maxSdrRead: 10 })
  const state = { chunk: 64 }
  const one = await readSdrRecord(fake, 1, { id: 0 }, { state })
  t.same(one.bytes, sdrs[0])
  t.equal(state.chunk, 6, 'the 52-byte body asked for, then halved 26 -> 13 -> 6 under the 10-byte limit, and remembered')
  t.same(fake.requests.filter(r => r.cmd === CMD.getSdr).map(r => r.data.slice(8)),
    ['0005', '0534', '051a', '050d', '0506', '0b06', '1106', '1706', '1d06', '2306', '2906', '2f06', '3504'], 'offset/count of each Get SDR')

  const cancel = new FakeBmc({ sdrs })
  cancel.cancelReservationAfter = 1
  const reservation = { id: 0 }
  const all = await readSdrRepository(cancel, { state: { chunk: 32 } })
  t.same(all.map(r => r.bytes), sdrs, 'every record, whole, after a reservation was cancelled mid-record')
  t.equal(cancel.count(NETFN.storage, CMD.reserveSdrRepository), 2, 'reserved again once')
  t.equal(reservation.id, 0)

  const never = new FakeBmc({ sdrs })
  never.alwaysCancel = true
  await t.rejects(readSdrRepository(never, { state: { chunk: 32 }, maxReservationRetries: 3 }), { name: 'IpmiCompletionError', completionCode: 0xc5 }, 'gives up after 3 re-reservations')
  t.equal(never.count(NETFN.storage, CMD.reserveSdrRepository), 4)

  const short = new FakeBmc({ sdrs })
  short.shortSdr = 5
  t.same((await readSdrRepository(short, { state: { chunk: 32 } })).map(r => r.bytes), sdrs, 'short answers continued from where they stopped')

  const loop = new FakeBmc({ sdrs: sdrs.slice(0, 2) })
  loop.override.set(`${NETFN.storage}/${CMD.getSdr}`, Buffer.concat([buf('0000'), sdrs[0].subarray(0, 5)]))
  await t.rejects(readSdrRepository(loop, { state: { chunk: 32 } }), { kind: 'protocol', message: /loops/ })

  const empty = new FakeBmc({ sdrs })
  empty.override.set(`${NETFN.storage}/${CMD.getSdr}`, buf('0200'))
  await t.rejects(readSdrRepository(empty, { state: { chunk: 32 } }), { kind: 'protocol', message: /no data/ })

  const other = new FakeBmc({ sdrs })
  other.override.set(`${NETFN.storage}/${CMD.reserveSdrRepository}`, new IpmiCompletionError(NETFN.storage, CMD.reserveSdrRepository, 0xff, 'x'))
  await t.rejects(readSdrRepository(other, { state: { chunk: 32 } }), { name: 'IpmiCompletionError', completionCode: 0xff }, 'other completion codes are not retried')

  const noReserve = new FakeBmc({ sdrs })
  noReserve.override.set(`${NETFN.storage}/${CMD.reserveSdrRepository}`, new IpmiCompletionError(NETFN.storage, CMD.reserveSdrRepository, 0xc1, 'x'))
  t.equal((await readSdrRepository(noReserve, { state: { chunk: 32 } })).length, sdrs.length, 'no Reserve SDR Repository: reservation 0')
  t.equal(noReserve.requests.find(r => r.cmd === CMD.getSdr)?.data.slice(0, 4), '0000')
})

t.test('chunked FRU reads: shrink, short answers, word access', async t => {
  const rec = await loadRecorded()
  const fru = recordedFru(rec.bmcs['bmc-a'])
  const fake = new FakeBmc({ sdrs: [], fru, maxFruRead: 20 })
  const state = { chunk: 100 }
  const info = { size: fru.length, byWords: false }
  t.same(await readFruData(fake, 0, 0, 184, info, state), fru.subarray(0, 184))
  t.equal(state.chunk, 12, '100 -> 50 -> 25 -> 12 under the 20-byte limit')

  fake.shortFru = 7
  t.same(await readFruData(fake, 0, 100, 50, info, { chunk: 32 }), fru.subarray(100, 150), 'short answers continued')
  t.same(await readFruData(fake, 0, fru.length - 4, 50, info, { chunk: 32 }), fru.subarray(fru.length - 4), 'clipped to the device size')

  const words = new FakeBmc({ sdrs: [], fru })
  const wordReqs: string[] = []
  const wordRequester = {
    request: async (netFn: number, cmd: number, data?: Uint8Array) => {
      const d = Buffer.from(data ?? [])
      wordReqs.push(d.toString('hex'))
      // a word-addressed device: offset and count in words, count answered in words
      const res = await words.request(netFn, cmd, Buffer.of(d[0], (d.readUInt16LE(1) * 2) & 0xff, (d.readUInt16LE(1) * 2) >> 8, d[3] * 2))
      return Buffer.concat([Buffer.of(res[0] / 2), res.subarray(1)])
    }
  }
  t.same(await readFruData(wordRequester, 0, 8, 24, { size: fru.length / 2, byWords: true }, { chunk: 16 }), fru.subarray(8, 32))
  t.same(wordReqs, ['00040008', '000c0004'], 'word offsets 4 and 12, counts 8 and 4 words')

  const dead = new FakeBmc({ sdrs: [], fru })
  dead.override.set(`${NETFN.storage}/${CMD.readFruData}`, buf('00'))
  await t.rejects(readFruData(dead, 0, 0, 8, info, { chunk: 32 }), { kind: 'protocol', message: /no data/ })

  const minimal = new FakeBmc({ sdrs: [], fru, maxFruRead: 0 })
  await t.rejects(readFruData(minimal, 0, 0, 8, info, { chunk: 4 }), { name: 'IpmiCompletionError', completionCode: 0xc8 }, 'cannot shrink below one byte: the completion code surfaces')
  t.ok(IpmiError)
})

import t from 'tap'
import { convertReading, parseSdr, rawValue, SdrFormatError, type SensorRecord } from '../../../drivers/ipmi/sdr.js'
import { unpackGetSensorReadingResponse } from '../../../drivers/ipmi/commands/index.js'
import { ipmitoolOutput, ipmitoolRows, loadRecorded, recordedReadings, recordedSdrs } from './ipmi-test-kit.js'

/**
 * SDR parsing (IPMI v2.0 §43.1 full, §43.2 compact, §43.15 id string) and
 * reading conversion (§36.3: y = L[(M*x + B*10^K1) * 10^K2]). The record bytes
 * in the tables are written out field by field from the spec, independently
 * of the parser; the recorded ones come from ipmi_sim (bmc-a.emu, bmc-b.emu)
 * and are checked against what ipmitool printed for the same simulator.
 */

interface FullSpec {
  number?: number
  type?: number
  format?: 0 | 1 | 2 | 3
  unit?: number
  lin?: number
  m?: number
  tol?: number
  b?: number
  acc?: number
  accExp?: number
  rexp?: number
  bexp?: number
  name?: string
}

const ten = (v: number): number => (v < 0 ? v + 1024 : v) & 0x3ff
const four = (v: number): number => (v < 0 ? v + 16 : v) & 0x0f

/** A full sensor record (§43.1), byte by byte. */
function full (s: FullSpec): Buffer {
  const name = Buffer.from(s.name ?? 'T', 'latin1')
  const m = ten(s.m ?? 1)
  const b = ten(s.b ?? 0)
  const acc = s.acc ?? 0
  const body = [
    0x20, 0x00, s.number ?? 0x01, 0x03, 0x01, 0x67, 0x88, s.type ?? 0x01, 0x01, // bytes 6-14
    0, 0, 0, 0, 0, 0, // 15-20 masks
    (s.format ?? 0) << 6, s.unit ?? 0x01, 0x00, s.lin ?? 0x00, // 21-24
    m & 0xff, ((m >> 8) << 6) | (s.tol ?? 0), // 25-26
    b & 0xff, ((b >> 8) << 6) | (acc & 0x3f), // 27-28
    ((acc >> 6) << 4) | ((s.accExp ?? 0) << 2), // 29
    (four(s.rexp ?? 0) << 4) | four(s.bexp ?? 0), // 30
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, // 31-47
    0xc0 | name.length, ...name // 48-
  ]
  return Buffer.from([0x07, 0x00, 0x51, 0x01, body.length, ...body])
}

function sensor (bytes: Buffer): SensorRecord {
  const rec = parseSdr(bytes)
  if (rec.kind === 'other') throw new Error('not a sensor record')
  return rec
}

/** The sensor records among raw SDRs, as the bridge keeps them (other record types skipped). */
function sensorsOf (records: Uint8Array[]): SensorRecord[] {
  return records.map((bytes) => parseSdr(bytes)).filter((r): r is SensorRecord => r.kind !== 'other')
}

t.test('§43.1 full record fields, byte by byte', async t => {
  // bmc-a "CPU1 Temp" as recorded: record 1, SDR v1.5 (0x51), type 1, 0x34 body bytes
  const hex = '0100510134' + '2000010301678801' + '01c00fc07f3838' + '000100' + '00' + '0502' + '0a19' + '04' + 'f1' +
    '010000' + '00ff00' + 'c8b4a0' + '000000' + '0000' + '0000' + '00' + 'c9' + Buffer.from('CPU1 Temp').toString('hex')
  const rec = sensor(Buffer.from(hex, 'hex'))
  t.match(rec, {
    kind: 'full',
    recordId: 1,
    sdrVersion: 0x51,
    ownerId: 0x20,
    ownerLun: 0,
    channel: 0,
    sensorNumber: 0x01,
    entityId: 0x03,
    entityInstance: 1,
    logicalEntity: false,
    sensorType: 0x01,
    eventReadingType: 0x01,
    analogFormat: 'unsigned',
    baseUnit: 0x01,
    unit: 'degrees C',
    name: 'CPU1 Temp'
  })
  t.same(rec.factors, { linearization: 'linear', linearizationCode: 0, m: 5, tolerance: 2, b: 10, accuracy: 25, accuracyExp: 1, rExp: -1, bExp: 1 })
  t.equal(convertReading(rec, 0x4d), 48.5, '(5*77 + 10*10^1) * 10^-1')
})

t.test('§43.1 10-bit M and B, 4-bit exponents, all signed', async t => {
  const vectors: Array<{ name: string, spec: FullSpec, expected: Partial<NonNullable<SensorRecord['factors']>> }> = [
    { name: 'M=300 (MS bits 01)', spec: { m: 300 }, expected: { m: 300 } },
    { name: 'M=511, largest', spec: { m: 511 }, expected: { m: 511 } },
    { name: 'M=-512, smallest', spec: { m: -512 }, expected: { m: -512 } },
    { name: 'B=-40 (0x3d8)', spec: { b: -40 }, expected: { b: -40 } },
    { name: 'B=-1 (0x3ff)', spec: { b: -1 }, expected: { b: -1 } },
    { name: 'R-exp=-8, B-exp=7', spec: { rexp: -8, bexp: 7 }, expected: { rExp: -8, bExp: 7 } },
    { name: 'R-exp=7, B-exp=-8', spec: { rexp: 7, bexp: -8 }, expected: { rExp: 7, bExp: -8 } },
    { name: 'tolerance 63, accuracy 1023 exp 3', spec: { tol: 63, acc: 1023, accExp: 3 }, expected: { tolerance: 63, accuracy: 1023, accuracyExp: 3 } }
  ]
  for (const v of vectors) t.match(sensor(full(v.spec)).factors, v.expected, v.name)
})

t.test('§36.3 conversion: formats, factors, every linearization', async t => {
  const vectors: Array<{ name: string, spec: FullSpec, raw: number, expected: number | null }> = [
    { name: 'unsigned, M=1', spec: {}, raw: 0x30, expected: 48 },
    { name: 'unsigned 0xff', spec: {}, raw: 0xff, expected: 255 },
    { name: "2's complement 0xf6 = -10", spec: { format: 2 }, raw: 0xf6, expected: -10 },
    { name: "2's complement 0x80 = -128", spec: { format: 2 }, raw: 0x80, expected: -128 },
    { name: "1's complement 0xf1 = -14", spec: { format: 1 }, raw: 0xf1, expected: -14 },
    { name: "1's complement 0xff = minus zero = 0", spec: { format: 1 }, raw: 0xff, expected: 0 },
    { name: "1's complement 0x80 = -127", spec: { format: 1 }, raw: 0x80, expected: -127 },
    { name: 'no analog reading', spec: { format: 3 }, raw: 0x30, expected: null },
    { name: 'M=2 B=-40 R-exp=-1: 37.6', spec: { m: 2, b: -40, rexp: -1 }, raw: 0xd0, expected: 37.6 },
    { name: 'M=5 B=-25 B-exp=-1 R-exp=-1: 42.25', spec: { m: 5, b: -25, bexp: -1, rexp: -1 }, raw: 0x55, expected: 42.25 },
    { name: 'M=6 R-exp=-2: 12 V', spec: { m: 6, rexp: -2 }, raw: 200, expected: 12 },
    { name: 'M=1 R-exp=2: hundreds', spec: { rexp: 2 }, raw: 54, expected: 5400 },
    { name: 'M=3 R-exp=-1: 0.3 steps without float noise', spec: { m: 3, rexp: -1 }, raw: 1, expected: 0.3 },
    { name: 'negative M', spec: { m: -2, b: 100 }, raw: 10, expected: 80 },
    { name: 'ln', spec: { lin: 0x01 }, raw: 1, expected: 0 },
    { name: 'log10', spec: { lin: 0x02 }, raw: 100, expected: 2 },
    { name: 'log2', spec: { lin: 0x03 }, raw: 64, expected: 6 },
    { name: 'e', spec: { lin: 0x04 }, raw: 0, expected: 1 },
    { name: 'exp10', spec: { lin: 0x05 }, raw: 3, expected: 1000 },
    { name: 'exp2', spec: { lin: 0x06 }, raw: 10, expected: 1024 },
    { name: '1/x', spec: { lin: 0x07 }, raw: 4, expected: 0.25 },
    { name: 'sqr', spec: { lin: 0x08 }, raw: 70, expected: 4900 },
    { name: 'cube', spec: { lin: 0x09 }, raw: 3, expected: 27 },
    { name: 'sqrt', spec: { lin: 0x0a }, raw: 81, expected: 9 },
    { name: 'cube root', spec: { lin: 0x0b }, raw: 125, expected: 5 },
    { name: 'ln after scaling: ln((1*10 + 0) * 10^-1) = 0', spec: { lin: 0x01, rexp: -1 }, raw: 10, expected: 0 }
  ]
  for (const v of vectors) t.equal(convertReading(sensor(full(v.spec)), v.raw), v.expected, v.name)
  t.equal(rawValue('twos-complement', 0x7f), 127)
  t.throws(() => convertReading(sensor(full({ lin: 0x70 })), 1), SdrFormatError, 'non-linear (0x70) needs reading factors: refused, not guessed')
})

t.test('§43.15 id string and §43.2 compact record', async t => {
  const compact = Buffer.from('0200510224' + '200032' + '2001' + '6788' + '0101' + 'c00fc07f3838' + '800100' + '0100' + '0000' + '000000' + '00' + 'c9' +
    Buffer.from('DIMM Temp').toString('hex'), 'hex')
  const rec = sensor(compact)
  t.match(rec, { kind: 'compact', recordId: 2, sensorNumber: 0x32, entityId: 0x20, sensorType: 0x01, analogFormat: 'twos-complement', unit: 'degrees C', factors: null, name: 'DIMM Temp' })
  t.equal(convertReading(rec, 0x21), 33, 'no conversion factors: the raw value per its data format')
  t.equal(convertReading(rec, 0xf0), -16)

  const sixBit = full({ name: '' })
  // 6-bit packed "IPMI" (FRU spec §13 example bytes 29 dc a6) as an id string
  const withSix = Buffer.concat([sixBit.subarray(0, sixBit.length - 1), Buffer.from([0x83, 0x29, 0xdc, 0xa6])])
  withSix[4] = withSix.length - 5
  t.equal(sensor(withSix).name, 'IPMI')
  t.equal(sensor(full({ name: '' })).name, '', 'length 0: no id string')
})

t.test('records of other types are skipped; damaged records are a clear error', async t => {
  const locator = Buffer.from('0800511210' + '200000 9f 000000 06 01 00 c5'.replace(/ /g, '') + Buffer.from('BMC-A').toString('hex'), 'hex')
  t.same(parseSdr(locator), { kind: 'other', recordId: 8, recordType: 0x12, length: 0x10 })
  const oem = Buffer.from('090051c005570100aa55', 'hex')
  t.same(parseSdr(oem), { kind: 'other', recordId: 9, recordType: 0xc0, length: 5 })
  t.same(sensorsOf([locator, full({ name: 'X' }), oem]).map(r => r.name), ['X'])

  const good = full({ name: 'CPU Temp' })
  const damaged: Array<[string, Buffer, RegExp]> = [
    ['empty', Buffer.alloc(0), /header alone is 5/],
    ['header cut', good.subarray(0, 3), /header alone is 5/],
    ['body cut short of its length byte', good.subarray(0, good.length - 2), /truncated/],
    ['length too small for a full record', (() => { const b = Buffer.from(good.subarray(0, 30)); b[4] = 25; return b })(), /needs 43 body bytes/],
    ['id string runs past the record', (() => { const b = Buffer.from(good); b[47] = 0xcf; return b })(), /runs past the record/]
  ]
  for (const [name, bytes, message] of damaged) t.throws(() => parseSdr(bytes), { name: 'SdrFormatError', message }, name)

  // Every prefix of every recorded record: parsed or SdrFormatError, nothing else.
  const rec = await loadRecorded()
  let errors = 0
  for (const b of [...recordedSdrs(rec.bmcs['bmc-a']), ...recordedSdrs(rec.bmcs['bmc-b'])]) {
    for (let n = 0; n < b.length; n++) {
      try { parseSdr(b.subarray(0, n)) } catch (err) {
        if (!(err instanceof SdrFormatError)) throw err
        errors++
      }
    }
  }
  t.ok(errors > 0, `${errors} truncations, every one an SdrFormatError`)
})

t.test('recorded SDRs and readings convert to what ipmitool prints for the same ipmi_sim', async t => {
  const rec = await loadRecorded()
  for (const name of ['bmc-a', 'bmc-b'] as const) {
    const bmc = rec.bmcs[name]
    const sdrs = recordedSdrs(bmc)
    const sensors = sensorsOf(sdrs)
    t.equal(sdrs.length - sensors.length, name === 'bmc-a' ? 1 : 2, `${name}: the locator (and OEM) records are skipped`)
    const readings = recordedReadings(bmc)
    const elist = ipmitoolRows(ipmitoolOutput(bmc, 'sdr elist'))
    const reading = ipmitoolRows(ipmitoolOutput(bmc, 'sensor reading'))
    for (const s of sensors) {
      const res = unpackGetSensorReadingResponse(readings.get(s.sensorNumber) as Buffer)
      const value = res.scanningEnabled && !res.readingUnavailable ? convertReading(s, res.raw) : null
      const row = elist.get(s.name)
      t.ok(row, `${name} ${s.name} is in sdr elist`)
      t.equal(row?.[0], `${s.sensorNumber.toString(16).padStart(2, '0')}h`, `${s.name}: sensor number`)
      t.equal(row?.[2], `${s.entityId}.${s.entityInstance}`, `${s.name}: entity`)
      const shown = row?.[3] ?? ''
      if (s.kind === 'compact') {
        // ipmitool shows no analog value for a compact record; ours is the raw value.
        t.equal(shown, '', `${s.name}: ipmitool prints no value for a compact record`)
        t.equal(value, res.raw & 0x80 ? res.raw - 256 : res.raw, `${s.name}: raw value`)
      } else if (value === null) {
        t.equal(shown, 'Disabled', `${s.name}: scanning disabled, no value`)
        t.notOk(reading.has(s.name), 'sensor reading skips it too')
      } else {
        t.ok(shown.endsWith(` ${s.unit}`), `${s.name}: unit ${s.unit}`)
        t.equal(value, Number(shown.split(' ')[0]), `${s.name} = ${value} ${s.unit} (sdr elist "${shown}")`)
        t.equal(value, Number(reading.get(s.name)?.[0]), `${s.name}: sensor reading`)
      }
    }
  }
})

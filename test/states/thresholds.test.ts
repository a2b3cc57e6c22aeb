/**
 * Sensor states, piece by piece: SDR threshold bytes (IPMI v2.0 §43.1 byte 19
 * readable mask, bytes 37-42) written out from the spec; Get Sensor
 * Reading's threshold status (§35.14 byte 3); the judgement of a reading;
 * Redfish Thresholds and Health (DSP0268); and, against ipmi_sim (a BMC we
 * did not write), the thresholds the bridge reads equal `ipmitool sensor`'s;
 * a compact record's (§43.2, no threshold bytes) come from Get Sensor
 * Thresholds (§35.9), as `ipmitool raw 0x04 0x27` reads them.
 */
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import t from 'tap'
import { convertThresholds, parseSdr, thresholdCondition, thresholdsReadable, type SensorRecord } from '../../drivers/ipmi/sdr.js'
import { unpackGetSensorThresholdsResponse } from '../../drivers/ipmi/commands/sensor.js'
import { redfishSensorHealth } from '../../drivers/redfish/sensor-state.js'
import { assess, conditionOf, configuredThresholds } from '../../monitoring/thresholds.js'
import { build, fixture, get } from '../helper.js'
import { ipmitool, startSim } from '../ipmi/sim.js'

/** A full sensor record (§43.1) with M=2, B=0, Rexp=-1 (raw x -> 0.2 x), the given readable mask and threshold bytes. */
function record (mask: number, raw: { unr: number, ucr: number, unc: number, lnr: number, lcr: number, lnc: number }, eventReadingType = 0x01): Buffer {
  const body = [
    0x20, 0x00, 0x05, 0x07, 0x01, 0x7f, 0x68, 0x02, eventReadingType, // bytes 6-14: owner, LUN, number, entity, init, caps, type, event/reading type
    0x00, 0x00, 0x00, 0x00, // 15-18 assertion / deassertion masks
    mask, mask, // 19 readable thresholds, 20 settable
    0x00, 0x04, 0x00, // 21-23 units: unsigned, Volts
    0x00, // 24 linear
    0x02, 0x00, // 25-26 M = 2, tolerance 0
    0x00, 0x00, 0x00, // 27-29 B = 0, accuracy
    0xf0, // 30 Rexp = -1, Bexp = 0
    0x00, 0x00, 0x00, 0x00, 0xff, 0x00, // 31-36 flags, nominal, normal max/min, sensor max/min
    raw.unr, raw.ucr, raw.unc, raw.lnr, raw.lcr, raw.lnc, // 37-42
    0x00, 0x00, 0x00, 0x00, 0x00, // 43-47 hysteresis, reserved, OEM
    0xc2, 0x35, 0x56 // 48 id: 8-bit ASCII, 2 bytes: "5V"
  ]
  return Buffer.from([0x05, 0x00, 0x51, 0x01, body.length, ...body])
}

const RAW = { unr: 30, ucr: 28, unc: 27, lnr: 20, lcr: 22, lnc: 23 }

t.test('SDR thresholds (§43.1): the readable mask picks them, converted like readings', async (t) => {
  const vectors: Array<{ name: string, mask: number, expected: Record<string, number> | undefined }> = [
    { name: 'all six readable', mask: 0x3f, expected: { lower_non_critical: 4.6, lower_critical: 4.4, lower_non_recoverable: 4, upper_non_critical: 5.4, upper_critical: 5.6, upper_non_recoverable: 6 } },
    { name: 'upper critical and non-critical only (bits 4, 3)', mask: 0x18, expected: { upper_non_critical: 5.4, upper_critical: 5.6 } },
    { name: 'lower critical only (bit 1)', mask: 0x02, expected: { lower_critical: 4.4 } },
    { name: 'none readable: no thresholds', mask: 0x00, expected: undefined },
    { name: 'reserved bits 7:6 ignored', mask: 0xc1, expected: { lower_non_critical: 4.6 } }
  ]
  for (const v of vectors) {
    const rec = parseSdr(record(v.mask, RAW)) as SensorRecord
    t.same(rec.thresholds, v.expected, v.name)
  }
  const discrete = parseSdr(record(0x3f, RAW, 0x6f)) as SensorRecord
  t.equal(discrete.thresholds, undefined, 'a discrete sensor (event/reading type 0x6f) has none')
})

/** A compact sensor record (§43.2) of a threshold sensor: capabilities byte (§43.1 byte 12 bits 3:2) and readable mask given. */
function compact (caps: number, mask: number): Buffer {
  const body = [
    0x20, 0x00, 0x03, 0x37, 0x01, 0x67, caps, 0x01, 0x01, // bytes 6-14
    0xc0, 0x0f, 0xc0, 0x7f, mask, mask, // 15-20 masks
    0x00, 0x01, 0x00, // 21-23 units: unsigned, degrees C
    0x01, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, 0x00, // 24-31 sharing, hysteresis, reserved, OEM
    0xc2, 0x41, 0x54 // 32 id "AT"
  ]
  return Buffer.from([0x03, 0x00, 0x51, 0x02, body.length, ...body])
}

t.test('compact records: where Get Sensor Thresholds (§35.9) applies, and its answer converted', async (t) => {
  const vectors: Array<{ name: string, caps: number, mask: number, readable: boolean }> = [
    { name: 'caps 0x88 (ipmi_sim\'s Ambient Temp): readable and settable, mask unc ucr unr', caps: 0x88, mask: 0x38, readable: true },
    { name: 'caps 0x44: readable (01b)', caps: 0x44, mask: 0x38, readable: true },
    { name: 'caps 0x40: no thresholds (00b)', caps: 0x40, mask: 0x38, readable: false },
    { name: 'caps 0x4c: fixed, unreadable (11b)', caps: 0x4c, mask: 0x38, readable: false },
    { name: 'readable, but the mask names none', caps: 0x48, mask: 0x00, readable: false }
  ]
  for (const v of vectors) {
    const rec = parseSdr(compact(v.caps, v.mask)) as SensorRecord
    t.equal(thresholdsReadable(rec), v.readable, v.name)
    t.equal(rec.thresholds, undefined, `${v.name}: no threshold bytes in a compact record`)
  }
  // ipmi_sim's answer for Ambient Temp with sensor_set_threshold ... 111000 0x32 0x2d 0x28: mask, lnc, lcr, lnr, unc, ucr, unr
  const answer = unpackGetSensorThresholdsResponse(Buffer.from('38000000282d32', 'hex'))
  t.same(answer, { readable: 0x38, raw: [0, 0, 0, 0x28, 0x2d, 0x32] })
  const rec = parseSdr(compact(0x88, 0x38)) as SensorRecord
  t.same(convertThresholds(rec, answer.readable, answer.raw), { upper_non_critical: 40, upper_critical: 45, upper_non_recoverable: 50 }, 'a compact record\'s raw value is its reading')
  const full = parseSdr(record(0x3f, RAW)) as SensorRecord
  t.same(convertThresholds(full, 0x09, [23, 22, 20, 27, 28, 30]), { lower_non_critical: 4.6, upper_non_critical: 5.4 }, 'a full record\'s converted with its factors; only the answer\'s mask')
  t.throws(() => unpackGetSensorThresholdsResponse(Buffer.from('3800', 'hex')), /Get Sensor Thresholds: response of 2 byte/)
})

t.test('Get Sensor Reading threshold status (§35.14 byte 3)', async (t) => {
  const vectors: Array<[number, string, string]> = [
    [0x00, 'ok', 'no comparison set'],
    [0x01, 'warning', 'at or below lower non-critical'],
    [0x03, 'critical', 'at or below lower critical'],
    [0x07, 'critical', 'at or below lower non-recoverable'],
    [0x08, 'warning', 'at or above upper non-critical'],
    [0x18, 'critical', 'at or above upper critical'],
    [0x38, 'critical', 'at or above upper non-recoverable'],
    [0xc0, 'ok', 'reserved bits 7:6 only']
  ]
  for (const [status, expected, name] of vectors) t.equal(thresholdCondition(status), expected, `0x${status.toString(16).padStart(2, '0')}: ${name}`)
})

t.test('a reading against thresholds; the device\'s verdict; configured thresholds', async (t) => {
  const th = { lower_critical: 5, lower_non_critical: 10, upper_non_critical: 85, upper_critical: 95 }
  t.equal(conditionOf(50, th), 'ok')
  t.equal(conditionOf(85, th), 'warning', 'at the upper non-critical threshold')
  t.equal(conditionOf(95, th), 'critical', 'at the upper critical threshold')
  t.equal(conditionOf(7, th), 'warning', 'below lower non-critical')
  t.equal(conditionOf(5, th), 'critical', 'at lower critical')
  t.equal(conditionOf(50, {}), 'unknown', 'no thresholds')
  t.equal(conditionOf(200, { upper_non_recoverable: 150 }), 'critical', 'non-recoverable counts as critical')
  t.same(assess(50, { thresholds: th, condition: 'critical' }, undefined), { condition: 'critical', thresholds: th }, 'the device\'s worse verdict wins')
  t.same(assess(90, { thresholds: th, condition: 'ok' }, undefined).condition, 'warning', 'a kinder verdict does not hide the reading')
  t.same(assess(50, { thresholds: {}, condition: 'warning' }, undefined).condition, 'warning', 'Health alone')
  t.same(assess(45, undefined, { upper_critical: 40 }), { condition: 'critical', thresholds: { upper_critical: 40 } }, 'configured thresholds where the device has none')
  t.same(assess(45, { thresholds: { upper_critical: 95 } }, { upper_critical: 40 }).condition, 'ok', 'the device\'s own thresholds first')
  t.same(assess(undefined, undefined, undefined).condition, 'unknown')
  const config = { temperature: { upper_critical: 50 }, '00000001/0001': { upper_critical: 30 } }
  t.same(configuredThresholds(config, '00000001', '0001', 'temperature'), { upper_critical: 30 }, 'by board/device first')
  t.same(configuredThresholds(config, '00000001', '0002', 'temperature'), { upper_critical: 50 }, 'then by device type')
  t.equal(configuredThresholds(config, '00000001', '0002', 'fan_speed'), undefined)
})

t.test('Redfish: Thresholds, the legacy flat thresholds, Status.Health', async (t) => {
  // as DMTF's mockups and bmcweb serve them
  t.same(redfishSensorHealth({
    Reading: 38,
    ReadingUnits: 'Cel',
    Status: { State: 'Enabled', Health: 'OK' },
    Thresholds: { UpperCaution: { Reading: 40 }, UpperCritical: { Reading: 45 }, UpperFatal: { Reading: 50 }, LowerCaution: { Reading: 5 }, LowerCritical: { Reading: null } }
  }), { thresholds: { upper_non_critical: 40, upper_critical: 45, upper_non_recoverable: 50, lower_non_critical: 5 } }, 'Sensor.Thresholds (a null Reading left out)')
  t.same(redfishSensorHealth({ ReadingCelsius: 30, UpperThresholdNonCritical: 42, UpperThresholdCritical: 47, LowerThresholdCritical: 5, Status: { Health: 'OK' } }),
    { thresholds: { upper_non_critical: 42, upper_critical: 47, lower_critical: 5 } }, 'legacy Thermal member')
  t.same(redfishSensorHealth({ Reading: 3000, Status: { Health: 'Critical' } }), { thresholds: {}, condition: 'critical' }, 'no thresholds: Health')
  t.same(redfishSensorHealth({ Reading: 3000, Status: { Health: 'Warning' } }), { thresholds: {}, condition: 'warning' })
  t.same(redfishSensorHealth({ Reading: 3000 }), { thresholds: {} }, 'neither: unknown')
})

t.test('against ipmi_sim: the thresholds the bridge reads are those ipmitool reads in the SDR', async (t) => {
  const password = 'Sx4-secret-S'
  const dir = mkdtempSync(join(tmpdir(), 'opendcre-thresholds-sim-'))
  t.teardown(() => rmSync(dir, { recursive: true, force: true }))
  // Ambient Temp (a compact record) gets thresholds the BMC answers Get Sensor Thresholds with (ipmi_sim_cmd(1): unr ucr unc lnr lcr lnc)
  const emu = join(dir, 'bmc-a-thresholds.emu')
  writeFileSync(emu, `${readFileSync(fixture('ipmi/bmc-a.emu'), 'utf8')}\nsensor_set_threshold 0x20 0 0x03 settable 111000 0x32 0x2d 0x28 0 0 0\n`)
  const sim = await startSim(t, { name: 'bmc-a', emu, password })
  const bmcConfig = join(dir, 'bmc_config.json')
  writeFileSync(bmcConfig, JSON.stringify({ bmcs: [{ bmc_ip: '127.0.0.1', bmc_port: sim.port, username: 'ADMIN', password }] }))
  const config = join(dir, 'opendcre_config.json')
  writeFileSync(config, JSON.stringify({ poll: { intervals: { ipmi: { default: 0.5 } }, jitter: 0 } }))
  const app = await build(t, { bmcConfig, config, poller: { random: () => 0 } })
  await app.ready()
  const end = Date.now() + 15_000
  let states: { sensors: Array<{ device_info: string, state: string, thresholds: Record<string, number>, timestamp: string | null }> } | undefined
  while (Date.now() < end) {
    const res = await get(app, '/states/40000001')
    if (res.statusCode === 200) {
      states = res.json()
      if (states !== undefined && states.sensors.length > 0 && states.sensors.every((s) => s.timestamp !== null)) break
    }
    await new Promise((resolve) => setTimeout(resolve, 200))
  }
  t.ok(states !== undefined && states.sensors.length >= 5, 'the bridge judged the simulator\'s sensors')
  // ipmi_sim answers no Get Sensor Thresholds for these sensors (ipmitool prints no values, `sensor list` says na);
  // ipmitool sdr get names the readable ones from the SDR's mask, which is what the bridge reads them by
  const SHORT: Record<string, string> = { lnr: 'lower_non_recoverable', lcr: 'lower_critical', lnc: 'lower_non_critical', unc: 'upper_non_critical', ucr: 'upper_critical', unr: 'upper_non_recoverable' }
  let compared = 0
  for (const s of states?.sensors ?? []) {
    const out = await ipmitool(sim, ['sdr', 'get', s.device_info])
    if (s.device_info === 'Ambient Temp') {
      // a compact record (§43.2) carries the mask but no threshold values: Get Sensor Thresholds (§35.9) has them.
      // ipmitool 1.8.19 prints none for a compact record (it converts only with a full record's factors), so its raw bytes judge
      const bytes = (await ipmitool(sim, ['raw', '0x04', '0x27', '0x03'])).trim().split(/\s+/).map((b) => parseInt(b, 16))
      const theirs: Record<string, number> = {}
      ;['lower_non_critical', 'lower_critical', 'lower_non_recoverable', 'upper_non_critical', 'upper_critical', 'upper_non_recoverable'].forEach((name, bit) => { if ((bytes[0] & (1 << bit)) !== 0) theirs[name] = bytes[1 + bit] })
      t.same(s.thresholds, theirs, `Ambient Temp (compact record): the thresholds ipmitool raw 0x04 0x27 reads (${JSON.stringify(theirs)})`)
      t.same(s.thresholds, { upper_non_critical: 40, upper_critical: 45, upper_non_recoverable: 50 })
      continue
    }
    const readable = /Readable Thresholds\s*:\s*(.*)$/m.exec(out)?.[1].trim().split(/\s+/).filter((x) => SHORT[x] !== undefined).map((x) => SHORT[x]) ?? []
    t.same(Object.keys(s.thresholds).sort(), readable.sort(), `${s.device_info}: the readable thresholds ipmitool names (${readable.join(', ') || 'none'})`)
    compared++
  }
  // CPU1 Temp's bytes in bmc-a.emu: M=5, B=10, Bexp=1, Rexp=-1; unr 0xc8, ucr 0xb4, unc 0xa0: (5x + 100) / 10
  t.same(states?.sensors.find((s) => s.device_info === 'CPU1 Temp')?.thresholds, { upper_non_critical: 90, upper_critical: 100, upper_non_recoverable: 110 }, 'CPU1 Temp: converted as the spec says')
  t.ok(compared >= 6, `compared ${compared} sensors with ipmitool`)
})

/**
 * The emulator's encoders judged by the client's parsers (drivers/ipmi sdr.ts
 * and fru.ts), and the device's clock-driven state with a fake clock: drift
 * within range, the boot flags' valid bit, a power cycle, SEL events on
 * threshold crossings, SDR reservations.
 */
import t from 'tap'
import { BmcDevice } from '../../emulators/bmc/bmc-device.js'
import { encodeFru, encodeSensorSdr, fromRaw, toRaw, conversionOf } from '../../emulators/bmc/records.js'
import { parseFru } from '../../drivers/ipmi/fru.js'
import { convertReading, parseSdr } from '../../drivers/ipmi/sdr.js'
import { steadyConfig } from './emulator-kit.js'

t.test('every SDR of the shipped BMC parses as the client reads it, its nominal reading converting back to the configured value', async (t) => {
  const config = steadyConfig()
  config.sensors.forEach((s, i) => {
    const bytes = encodeSensorSdr(i + 1, s)
    const r = parseSdr(bytes)
    if (r.kind === 'other') { t.fail(`${s.name}: not a sensor record`); return }
    t.equal(r.kind, s.kind === 'discrete' ? 'compact' : 'full', `${s.name}: record type`)
    t.equal(r.recordId, i + 1)
    t.equal(r.sensorNumber, s.number)
    t.equal(r.name, s.name)
    if (s.kind === 'discrete') return
    const raw = toRaw(conversionOf(s), s.value)
    const value = convertReading(r, raw) as number
    t.ok(Math.abs(value - s.value) <= Math.abs((s.m ?? 1) * 10 ** (s.r_exp ?? 0)), `${s.name}: ${value} for ${s.value}`)
    t.equal(value, fromRaw(conversionOf(s), raw), 'the emulator and the client agree on the conversion')
  })
})

t.test('signed readings and negative B convert as the client converts them', async (t) => {
  const s = { number: 9, name: 'Cold', kind: 'temperature' as const, signed: true, b: -40, value: -12 }
  const r = parseSdr(encodeSensorSdr(1, s))
  if (r.kind === 'other') throw new Error('not a sensor')
  t.equal(convertReading(r, toRaw(conversionOf(s), -12)), -12)
})

t.test('the FRU image parses with every area the config names', async (t) => {
  const fru = steadyConfig().fru!
  const inv = parseFru(encodeFru(fru))
  t.same(inv.errors, [])
  t.match(inv.chassis, { type: 0x17, partNumber: fru.chassis!.part_number, serialNumber: fru.chassis!.serial_number })
  t.match(inv.board, { manufacturer: 'Supermicro', productName: 'X12DPU-6', serialNumber: 'OM21BS003117', partNumber: 'X12DPU-6' })
  t.equal(inv.board?.mfgDate?.toISOString(), '2023-06-12T08:00:00.000Z')
  t.match(inv.product, { manufacturer: 'Supermicro', productName: 'SYS-120U-TNR', version: '0123456789', assetTag: 'DC1-R12-U07' })
})

t.test('readings drift by at most `drift` a step and stay within [min, max]', async (t) => {
  let now = 0
  let seed = 1
  const random = (): number => { seed = (seed * 16807) % 2147483647; return seed / 2147483647 }
  const config = steadyConfig((c) => { c.sensors = c.sensors.map((s) => ({ ...s, drift: s.kind === 'temperature' ? 2 : 0 })) })
  const device = new BmcDevice(config, { now: () => now, random })
  const cpu = config.sensors[0]
  const seen = new Set<number>()
  let last = device.reading(cpu.number) as number
  for (let i = 0; i < 200; i++) {
    now += config.drift_interval_ms ?? 2000
    const v = device.reading(cpu.number) as number
    t.ok(v >= cpu.min! - 0.5 && v <= cpu.max! + 0.5, `${v} within [${cpu.min!}, ${cpu.max!}]`)
    t.ok(Math.abs(v - last) <= 2 + 1, 'one step at most')
    seen.add(v)
    last = v
  }
  t.ok(seen.size > 5, `the reading moves (${seen.size} distinct values)`)
  t.equal(device.reading(65), 8400, 'drift 0: a fan that stays put')
})

t.test('a next-boot override loses its valid bit after 60 s or at the next boot; a persistent one does not', async (t) => {
  let now = 1_000_000
  const device = new BmcDevice(steadyConfig(), { now: () => now })
  const set = (data: number[]): number => device.handle(0x00, 0x08, Buffer.from([0x05, ...data]), 4).cc
  const flags = (): Buffer => Buffer.from(device.handle(0x00, 0x09, Buffer.from([0x05, 0, 0]), 4).data as Uint8Array)
  t.equal(set([0x80, 0x04, 0, 0, 0]), 0)
  t.equal(flags()[2], 0x80, 'valid')
  now += 59_000
  t.equal(flags()[2], 0x80, 'still valid after 59 s')
  now += 2000
  t.equal(flags()[2], 0x00, 'cleared after 60 s')
  t.equal(flags()[3], 0x04, 'the device selector is kept')
  set([0x80, 0x04, 0, 0, 0])
  device.handle(0x00, 0x02, Buffer.from([0x02]), 4) // power cycle
  t.equal(device.power, 'off')
  now += 1000
  t.equal(device.power, 'on', 'back on after cycle_ms')
  t.equal(flags()[2], 0x00, 'the boot consumed the override')
  set([0xc0, 0x08, 0, 0, 0])
  now += 120_000
  device.handle(0x00, 0x02, Buffer.from([0x03]), 4) // hard reset
  t.equal(flags()[2], 0xc0, 'a persistent override stays valid')
  t.equal(device.handle(0x00, 0x02, Buffer.from([0x02]), 2).cc, 0xd4, 'a user-level session may not switch power')
})

t.test('threshold crossings log SEL events, asserted and deasserted', async (t) => {
  const device = new BmcDevice(steadyConfig())
  const before = device.selCount
  device.setReading(65, 400) // FAN1 below lnc 700 and lcr 500
  t.equal(device.selCount, before + 2, 'lnc and lcr asserted')
  device.setReading(65, 8000)
  t.equal(device.selCount, before + 4, 'and deasserted')
  const last = device.handle(0x0a, 0x43, Buffer.from([0, 0, 0xff, 0xff, 0, 0xff]), 2).data as Uint8Array
  t.equal(last[2 + 11], 65, 'sensor number')
  t.equal(last[2 + 12], 0x81, 'deassertion, threshold event type')
  t.equal(last[2 + 13] & 0x0f, 0x02, 'lower critical going low')
})

t.test('SDR reservations: a partial read needs the current reservation; a repository change cancels it', async (t) => {
  const device = new BmcDevice(steadyConfig())
  const reservation = device.handle(0x0a, 0x22, Buffer.alloc(0), 2).data as Uint8Array
  const get = (res: Uint8Array, offset: number): number => device.handle(0x0a, 0x23, Buffer.from([res[0], res[1], 0, 0, offset, 8]), 2).cc
  t.equal(get(reservation, 5), 0)
  t.equal(get(Uint8Array.of(0x77, 0x00), 5), 0xc5, 'a stale reservation is cancelled')
  device.replaceSensors(device.sensorConfigs.slice(1))
  t.equal(get(reservation, 5), 0xc5, 'the change cancelled the reservation')
  t.equal(device.sdrCount, steadyConfig().sensors.length - 1)
})

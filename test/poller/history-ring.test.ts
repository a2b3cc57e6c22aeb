import t from 'tap'
import { HistoryRing } from '../../monitoring/history-ring.js'

/**
 * The history ring keeps its entries narrow (2-byte times after the entry
 * before, one-byte codes into a table while there are at most 256 distinct
 * values, then Float32 values while they are exact, in one array grown as
 * entries come) and gives every reading back exactly as pushed: widening,
 * times far apart, fractional or out of order.
 */

const DAY = 86_400_000
const T0 = 1_800_000_000_000

t.test('values given back exactly: whole and half values, then one a float cannot hold', async (t) => {
  const ring = new HistoryRing(4)
  ring.push(T0, { temperature_c: 46 })
  ring.push(T0 + 15_000, { temperature_c: 46.5 })
  ring.push(T0 + 30_000, { temperature_c: 12.06 })
  ring.push(T0 + 45_000, { temperature_c: 0.1 + 0.2 })
  ring.push(T0 + 60_000, { temperature_c: Number.NaN })
  t.same(ring.entries(), [
    { timestamp: T0 + 15_000, reading: { temperature_c: 46.5 } },
    { timestamp: T0 + 30_000, reading: { temperature_c: 12.06 } },
    { timestamp: T0 + 45_000, reading: { temperature_c: 0.1 + 0.2 } },
    { timestamp: T0 + 60_000, reading: { temperature_c: Number.NaN } }
  ])
  t.same(ring.entries(T0 + 30_000).map((e) => e.timestamp), [T0 + 30_000, T0 + 45_000, T0 + 60_000])
})

t.test('times: whole milliseconds kept exactly, past 49 days too, and fractional or earlier ones', async (t) => {
  const ring = new HistoryRing(3)
  const times = [T0, T0 + 20 * DAY, T0 + 40 * DAY, T0 + 60 * DAY, T0 + 80 * DAY + 1, T0 + 200 * DAY + 7]
  times.forEach((time, i) => ring.push(time, { fan_speed_rpm: 4000 + i }))
  t.same(ring.entries(), times.slice(-3).map((timestamp, i) => ({ timestamp, reading: { fan_speed_rpm: 4003 + i } })), 'the base moves with the entries kept')

  const odd = new HistoryRing(3)
  odd.push(T0, { a: 1 })
  odd.push(T0 + 0.5, { a: 2 })
  odd.push(T0 - 10, { a: 3 })
  odd.push(T0 + 1000, { a: 4 })
  t.same(odd.entries().map((e) => e.timestamp), [T0 + 0.5, T0 - 10, T0 + 1000], 'a fractional or earlier time: absolute times from then on')
})

function arrayBytes (ring: HistoryRing): number {
  const arrays = Object.values(ring as unknown as Record<string, unknown>).filter((v): v is ArrayBufferView => ArrayBuffer.isView(v))
  return arrays.reduce((sum, a) => sum + a.byteLength, 0)
}

t.test('a full ring at one entry per 15 s for an hour takes 3 bytes an entry, not 16 (two Float64Arrays), in one array', async (t) => {
  const ring = new HistoryRing(240)
  for (let i = 0; i < 480; i++) ring.push(T0 + i * 15_000 + (i % 3), { temperature_c: 40 + (i % 7) })
  const bytes = arrayBytes(ring)
  t.equal(bytes, 240 * 3, `${bytes} bytes: 2 for a time, 1 for a value's code (two Float64Arrays: 3,840)`)
  t.equal(Object.values(ring as unknown as Record<string, unknown>).filter((v) => ArrayBuffer.isView(v)).length, 1, 'one typed array')
  t.equal(ring.entries().length, 240)
  t.same(ring.entries().at(-1), { timestamp: T0 + 479 * 15_000 + 2, reading: { temperature_c: 40 + (479 % 7) } })
  t.same(ring.entries()[0], { timestamp: T0 + 240 * 15_000, reading: { temperature_c: 40 + (240 % 7) } })
})

t.test('sized by use: a ring for an hour that has had a minute of readings holds a few slots, not 240', async (t) => {
  const ring = new HistoryRing(240)
  t.equal(arrayBytes(ring), 8 * 3, 'eight slots to start with')
  for (let i = 0; i < 5; i++) ring.push(T0 + i * 15_000, { temperature_c: 40 })
  t.equal(arrayBytes(ring), 8 * 3)
  for (let i = 5; i < 20; i++) ring.push(T0 + i * 15_000, { temperature_c: 40 + i })
  t.equal(arrayBytes(ring), 32 * 3, 'doubled twice for 20 entries')
  t.same(ring.entries(), Array.from({ length: 20 }, (_, i) => ({ timestamp: T0 + i * 15_000, reading: { temperature_c: i < 5 ? 40 : 40 + i } })), 'growing keeps every entry')
  for (let i = 20; i < 300; i++) ring.push(T0 + i * 15_000, { temperature_c: 40 })
  t.equal(arrayBytes(ring), 240 * 3, 'never past its capacity')
})

t.test('times far apart (a board away for minutes, a clock set back) kept exactly, also once they are the oldest', async (t) => {
  const ring = new HistoryRing(4)
  const times = [T0, T0 + 15_000, T0 + 15_000 + 600_000, T0 + 15_000 + 600_000 - 3_000, T0 + 630_000, T0 + 645_000.25, T0 + 660_000, T0 + 675_000]
  times.forEach((time, i) => {
    ring.push(time, { temperature_c: 30 + i })
    const kept = times.slice(Math.max(0, i - 3), i + 1)
    t.same(ring.entries().map((e) => e.timestamp), kept, `after ${i + 1} pushes`)
  })
  t.same(ring.entries(T0 + 650_000).map((e) => e.timestamp), [T0 + 660_000, T0 + 675_000], 'since: only the later ones')
})

t.test('a device polled every 2 minutes: its times kept absolute (8 bytes), not one map entry each', async (t) => {
  const ring = new HistoryRing(30)
  const times = Array.from({ length: 45 }, (_, i) => T0 + i * 120_000 + (i % 4))
  times.forEach((time, i) => {
    ring.push(time, { temperature_c: 30 + (i % 3) })
    t.same(ring.entries().map((e) => e.timestamp), times.slice(Math.max(0, i - 29), i + 1), `after ${i + 1} pushes`)
  })
  t.equal(arrayBytes(ring), 30 * 3 + 30 * 8, 'the 2-byte times unused, 8 bytes a time beside them')
  t.equal((ring as unknown as { far?: Map<number, number> }).far, undefined, 'no map of far times left')
})

t.test('any sequence: the ring gives back what a plain array of the last N would (random times, values and readings)', async (t) => {
  let seed = 24
  const random = (): number => {
    seed = (seed * 1103515245 + 12345) % 2147483648
    return seed / 2147483648
  }
  for (let run = 0; run < 200; run++) {
    const capacity = 1 + Math.floor(random() * 40)
    const ring = new HistoryRing(capacity)
    const all: Array<{ timestamp: number, reading: unknown }> = []
    let time = T0 + Math.floor(random() * 1e6)
    const distinct = random() < 0.2 ? 1000 : 6
    for (let i = 0; i < capacity * 3; i++) {
      const r = random()
      // every seventh run polled every few minutes (most times do not fit in 2 bytes)
      const slow = run % 7 === 0 && r < 0.9
      time += slow ? 70_000 + Math.floor(random() * 200_000) : r < 0.8 ? 15_000 + Math.floor(random() * 50) : r < 0.88 ? 60_000 + Math.floor(random() * 600_000) : r < 0.94 ? -Math.floor(random() * 20_000) : random() * 100
      const v = Math.floor(random() * distinct)
      const kind = random()
      const reading = run % 3 === 0 && kind < 0.5 ? { power_status: v % 2 === 0 ? 'on' : 'off', input_power: v } : run % 5 === 0 && kind < 0.1 ? { led_state: 'on' } : { temperature_c: v * 0.068 }
      ring.push(time, reading)
      all.push({ timestamp: time, reading })
    }
    const expected = all.slice(-capacity)
    t.same(ring.entries(), expected, `run ${run}: capacity ${capacity}`)
    const since = expected[Math.floor(expected.length / 2)].timestamp
    t.same(ring.entries(since), expected.filter((e) => e.timestamp >= since), `run ${run}: since`)
    if (ring.entries().length !== expected.length) break
  }
})

t.test('past 256 distinct values: the values themselves, each given back exactly, the oldest too', async (t) => {
  const volts = new HistoryRing(300)
  // an IPMI voltage: a raw byte times 0.068 (none of them a float)
  for (let raw = 0; raw < 256; raw++) volts.push(T0 + raw * 1000, { voltage_v: Math.round(raw * 0.068 * 1000) / 1000 })
  t.equal(arrayBytes(volts), 256 * 3, '256 distinct values: still codes')
  volts.push(T0 + 256_000, { voltage_v: -0 })
  volts.push(T0 + 257_000, { voltage_v: Number.NaN })
  t.equal(arrayBytes(volts), 300 * 3 + 300 * 8, 'the 257th: Float64 values beside the times')
  const values = volts.entries().map((e) => (e.reading as { voltage_v: number }).voltage_v)
  t.same(values.slice(0, 256), Array.from({ length: 256 }, (_, raw) => Math.round(raw * 0.068 * 1000) / 1000))
  t.ok(Object.is(values[256], -0), '-0 stays -0')
  t.ok(Number.isNaN(values[257]))

  const fans = new HistoryRing(4)
  for (let i = 0; i < 260; i++) fans.push(T0 + i * 1000, { speed_rpm: 100 * i })
  t.equal(arrayBytes(fans), 4 * 3 + 4 * 4, 'whole values past 256: Float32')
  t.same(fans.entries().map((e) => e.reading), [25600, 25700, 25800, 25900].map((rpm) => ({ speed_rpm: rpm })))

  const mixed = new HistoryRing(3)
  mixed.push(T0, { temperature_c: 41 })
  mixed.push(T0 + 1, { temperature_c: 42 })
  mixed.push(T0 + 2, { power_status: 'on' })
  t.same(mixed.entries().map((e) => e.reading), [{ temperature_c: 41 }, { temperature_c: 42 }, { power_status: 'on' }], 'coded values become objects when a reading is not one number')
})

t.test('object readings: coded while at most 256 are distinct, then kept as they are; each given back equal', async (t) => {
  const power = new HistoryRing(240)
  for (let i = 0; i < 480; i++) power.push(T0 + i * 15_000, { power_status: i % 100 === 0 ? 'off' : 'on', power_ok: true, input_power: 286 })
  t.equal(arrayBytes(power), 240 * 3, '2 bytes for a time, 1 for a code')
  const kept = power.entries()
  t.equal(kept.length, 240)
  t.same(kept.map((e) => (e.reading as { power_status: string }).power_status), Array.from({ length: 240 }, (_, i) => ((i + 240) % 100 === 0 ? 'off' : 'on')))
  t.same(kept[0], { timestamp: T0 + 240 * 15_000, reading: { power_status: 'on', power_ok: true, input_power: 286 } })

  const watts = new HistoryRing(4)
  for (let i = 0; i < 300; i++) watts.push(T0 + i, { power_status: 'on', input_power: i })
  t.same(watts.entries().map((e) => e.reading), [296, 297, 298, 299].map((w) => ({ power_status: 'on', input_power: w })), 'past 256 distinct: the readings themselves')
  t.equal(arrayBytes(watts), 4 * 3, 'only the times (and unused codes) in an array')

  const one = new HistoryRing(1)
  one.push(T0, { led_state: 'on' })
  one.push(T0 + 1, { temperature_c: 40 })
  one.push(T0 + 2, { led_state: 'off' })
  t.same(one.entries(), [{ timestamp: T0 + 2, reading: { led_state: 'off' } }], 'a ring of one keeps the latest, whatever it is')
})

import t from 'tap'
import { HistoryRing } from '../../monitoring/history-ring.js'

/**
 * The history ring keeps its entries narrow (Uint32 times after the first,
 * Float32 values while they are exact) and gives every reading back exactly
 * as pushed: widening, moving its base past 49 days, times out of order.
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

t.test('a full ring at one entry per 15 s for an hour takes a third less than two Float64Arrays', async (t) => {
  const ring = new HistoryRing(240)
  for (let i = 0; i < 480; i++) ring.push(T0 + i * 15_000, { temperature_c: 40 + (i % 7) })
  const arrays = Object.values(ring as unknown as Record<string, unknown>).filter((v): v is ArrayBufferView => ArrayBuffer.isView(v))
  const bytes = arrays.reduce((sum, a) => sum + a.byteLength, 0)
  t.equal(bytes, 240 * 8, `${bytes} bytes: 4 for a time, 4 for a value (two Float64Arrays: 3,840)`)
  t.equal(ring.entries().length, 240)
  t.same(ring.entries().at(-1), { timestamp: T0 + 479 * 15_000, reading: { temperature_c: 40 + (479 % 7) } })
})

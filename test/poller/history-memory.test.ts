import t from 'tap'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { HistoryRing } from '../../monitoring/history-ring.js'

/**
 * What a ring keeps, measured on the heap (after full collections): the
 * bytes a sensor's hour of history costs, which issue 24's per-BMC budget
 * (docs/benchmarks.md) is made of.
 */

setFlagsFromString('--expose-gc')
const gc = runInNewContext('gc') as () => void
const T0 = 1_800_000_000_000
const RINGS = 4000

function heapUsed (): number {
  gc()
  gc()
  return process.memoryUsage().heapUsed + process.memoryUsage().arrayBuffers
}

/** Heap bytes a ring, for RINGS rings filled by `fill`. */
function perRing (fill: (ring: HistoryRing, i: number) => void): number {
  const before = heapUsed()
  const rings: HistoryRing[] = []
  for (let i = 0; i < RINGS; i++) {
    const ring = new HistoryRing(240)
    fill(ring, i)
    rings.push(ring)
  }
  const bytes = (heapUsed() - before) / RINGS
  t.equal(rings.length, RINGS)
  return bytes
}

const FIXED = { input_power: 0, input_voltage: 0, output_current: 0, over_current: false, pmbus_raw: '0,0,0,0', under_voltage: false }

t.test('an hour of a temperature at 15 s: under 1.5 KB a ring (two Float64Arrays were 3.8 KB; a Uint32Array and a Uint8Array 1.9 KB)', async (t) => {
  const bytes = perRing((ring, i) => { for (let j = 0; j < 240; j++) ring.push(T0 + j * 15_000 + (j % 5), { temperature_c: 30 + ((i + j) % 9) }) })
  t.ok(bytes < 1536, `${Math.round(bytes)} bytes a ring`)
})

t.test('power readings made as a spread plus fields: kept with one shape between them, not one each', async (t) => {
  // each reading a new object made as the IPMI bridge once made them; V8 gives each of these a shape of its own
  const bytes = perRing((ring) => { for (let j = 0; j < 240; j++) ring.push(T0 + j * 15_000, { ...FIXED, input_power: 0, power_ok: true, power_status: j % 60 === 0 ? 'off' : 'on' }) })
  t.ok(bytes < 1536, `${Math.round(bytes)} bytes a ring (the readings kept as made: 2.8 KB)`)
})

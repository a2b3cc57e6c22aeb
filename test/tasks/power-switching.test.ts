import t from 'tap'
import { MAX_UNDRAINED, maxOverlap, SwitchingRecorder } from '../../emulators/bmc/power-switching.js'

/**
 * The emulator's switching recorder: the most BMCs switching at once in one
 * process, and the power-ups it hands out (drain) so that a bench running
 * the BMCs in several processes gets the exact most at once across them.
 */
t.test('one recorder: the most at once, and its power-ups drained once', async (t) => {
  const r = new SwitchingRecorder()
  r.started(0, 1000)
  r.started(100, 1100)
  r.started(1000, 2000) // the first has ended at 1000
  t.equal(r.max, 2)
  t.equal(r.switching(1050), 2)
  t.same(r.drain(), [[0, 1000], [100, 1100], [1000, 2000]])
  t.same(r.drain(), [], 'each power-up is handed out once')
  t.equal(r.started_total, 3)
})

t.test('processes merged: maxOverlap of their power-ups is the most at once across them, not the sum of their maxima', async (t) => {
  const a = new SwitchingRecorder()
  const b = new SwitchingRecorder()
  // a's two overlap early, b's two late: each process saw 2, never 4 at once
  a.started(0, 1000)
  a.started(10, 1010)
  b.started(1010, 2000)
  b.started(1020, 2020)
  t.equal(a.max + b.max, 4, 'the sum of the maxima overstates')
  t.equal(maxOverlap([...a.drain(), ...b.drain()]), 2, 'an end at the moment of a start closes first')
  t.equal(maxOverlap([[0, 10], [5, 15], [6, 7], [20, 30]]), 3)
  t.equal(maxOverlap([]), 0)
})

t.test('undrained power-ups are bounded', async (t) => {
  const r = new SwitchingRecorder()
  for (let i = 0; i < MAX_UNDRAINED + 5; i++) r.started(i, i + 1)
  t.equal(r.drain().length, MAX_UNDRAINED)
  t.equal(r.undrained_dropped, 5)
})

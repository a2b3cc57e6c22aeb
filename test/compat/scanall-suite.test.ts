// Port of OpenDCRE v1.2's `test-scanall.py` suite (tests/data/scanall-data.json,
// 10 boards 00000001-0000000A). The emulator walks a `scanall` script of
// scenarios, one per scan-all request, advancing after the scenario's shuffle
// retries: the cases only line up if every failing scan-all makes exactly 3
// transmissions (one initial + two shuffle-bit re-sends), as v1.2's did. One
// service instance serves the whole suite, cases in the reference order.
// In-process: the device bus on the emulator over the in-memory duplex pair.
// test/serial/ runs the same suite over a real PTY.
import t from 'tap'
import { build, referenceFile } from '../helper.js'
import { scanallSuite } from './suites/scanall.js'

const app = await build(t, { emulator: referenceFile('scanall-data.json') })
await scanallSuite(t, app)

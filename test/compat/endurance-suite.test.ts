// Port of OpenDCRE v1.2's `test-endurance.py` suite (tests/data/endurance-data.json):
// EnduranceTestCase -> ThreadedTestCase -> ThroughputTestCase, in that order,
// against ONE service instance. Board 00000001: 01FF thermistor, 0CFF
// humidity; board 0000000A: 01FF thermistor, 02FF power, 0CFF humidity; no
// board 0000000B. The reference's threads become concurrent app.inject calls
// (Promise.all): the service must serialise them on the bus and answer each.
// In-process: the device bus on the emulator over the in-memory duplex pair.
// test/serial/ runs the same suite over a real PTY.
import t from 'tap'
import { build, referenceFile } from '../helper.js'
import { enduranceSuite } from './suites/endurance.js'

const app = await build(t, { emulator: referenceFile('endurance-data.json') })
await enduranceSuite(t, app)

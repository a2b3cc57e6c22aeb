// Port of OpenDCRE v1.2's `test-emulator.py` suite (tests/data/emulator-data.json):
// LineNoiseRetries -> EmulatorCounterTestCase -> ScanAllTestCase, in that order,
// against ONE service instance. The raw packets in emulator-data.json carry
// hard-coded sequence numbers, so this suite only passes if the client's
// sequence counter starts at 1 and advances exactly as v1.2's did (one number
// per command and per '?' retry; scan-all's DumpCommand must carry seq 88).
// In-process: the device bus on the emulator over the in-memory duplex pair.
// test/serial/ runs the same suite over a real PTY.
import t from 'tap'
import { build, referenceFile } from '../helper.js'
import { emulatorSuite } from './suites/emulator.js'

const app = await build(t, { emulator: referenceFile('emulator-data.json') })
await emulatorSuite(t, app)

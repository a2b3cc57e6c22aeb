// Port of OpenDCRE v1.2's `test-devicebus.py` suite (tests/data/devicebus-data.json).
// Classes in the reference order: DeviceReadTestCase, VersionTestCase,
// OldPowerTestCase, ScanTestCase, LineNoiseTestCase, PowerTestCase,
// LocationTestCase, FanSpeedTestCase, ChassisLedTestCase; methods sorted by
// name as unittest.makeSuite runs them. One service instance serves the
// whole suite (emulator response counters carry across cases).
// In-process: the device bus on the emulator over the in-memory duplex pair.
// test/serial/ runs the same suite over a real PTY.
import t from 'tap'
import { build, referenceFile } from '../helper.js'
import { devicebusSuite } from './suites/devicebus.js'

const app = await build(t, { emulator: referenceFile('devicebus-data.json') })
await devicebusSuite(t, app)

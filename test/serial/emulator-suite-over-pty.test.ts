// The reference's emulator suite (test/compat/suites/emulator.ts) over a real serial
// line: socat PTY pair, the standalone emulator process on one end, the
// service's serialport on the other; read timeouts are real (0.25 s).
import t from 'tap'
import { referenceFile } from '../helper.js'
import { emulatorSuite } from '../compat/suites/emulator.js'
import { buildOverPty } from './pty.js'

const { app } = await buildOverPty(t, referenceFile('emulator-data.json'))
await emulatorSuite(t, app)

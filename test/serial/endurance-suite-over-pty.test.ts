// The reference's endurance suite (test/compat/suites/endurance.ts) over a real serial
// line: socat PTY pair, the standalone emulator process on one end, the
// service's serialport on the other; read timeouts are real (0.25 s).
import t from 'tap'
import { referenceFile } from '../helper.js'
import { enduranceSuite } from '../compat/suites/endurance.js'
import { buildOverPty } from './pty.js'

const { app } = await buildOverPty(t, referenceFile('endurance-data.json'))
await enduranceSuite(t, app)

// The reference's scanall suite (test/compat/suites/scanall.ts) over a real serial
// line: socat PTY pair, the standalone emulator process on one end, the
// service's serialport on the other; read timeouts are real (0.25 s).
import t from 'tap'
import { referenceFile } from '../helper.js'
import { scanallSuite } from '../compat/suites/scanall.js'
import { buildOverPty } from './pty.js'

const { app } = await buildOverPty(t, referenceFile('scanall-data.json'))
await scanallSuite(t, app)

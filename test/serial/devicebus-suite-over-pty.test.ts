// The reference's devicebus suite (test/compat/suites/devicebus.ts) over a real serial
// line: socat PTY pair, the standalone emulator process on one end, the
// service's serialport on the other; read timeouts are real (0.25 s).
import t from 'tap'
import { referenceFile } from '../helper.js'
import { devicebusSuite } from '../compat/suites/devicebus.js'
import { buildOverPty } from './pty.js'

const { app } = await buildOverPty(t, referenceFile('devicebus-data.json'))
await devicebusSuite(t, app)

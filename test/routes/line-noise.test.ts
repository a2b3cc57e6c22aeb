// Line noise on the in-process bus; test/serial/ runs the same table over a PTY.
import t from 'tap'
import { LINE_NOISE_CONFIG, lineNoiseCases } from '../cases/line-noise.js'
import { build } from '../helper.js'

const app = await build(t, { emulator: LINE_NOISE_CONFIG })
await lineNoiseCases(t, app)

import t from 'tap'
import { isPseudoTerminal, openDeviceEnd } from '../../drivers/transport/pty-stream.js'
import { fixture } from '../helper.js'
import { PtyRig } from './pty.js'

t.test('a socat PTY end is recognised and opened as a raw tty stream that carries bytes both ways', async (t) => {
  const rig = new PtyRig(t, fixture('routes/errors.json'))
  await rig.startLink()
  t.ok(isPseudoTerminal(rig.devicePath))
  t.notOk(isPseudoTerminal('/dev/null'))
  t.notOk(isPseudoTerminal('/nonexistent'))
  const a = await openDeviceEnd(rig.devicePath, 115200)
  const b = await openDeviceEnd(rig.servicePath, 115200)
  const received = new Promise<Buffer>((resolve) => b.once('data', resolve))
  a.write(Buffer.from([1, 2, 3, 0xff]))
  t.same([...await received], [1, 2, 3, 0xff], 'raw bytes, no line discipline')
  for (const end of [a, b]) {
    await new Promise((resolve) => {
      end.once('close', resolve)
      end.destroy()
    })
  }
})

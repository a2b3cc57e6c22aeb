import t from 'tap'
import { openSerialPort } from '../../drivers/transport/serial-transport.js'
import { fixture } from '../helper.js'
import { PtyRig } from './pty.js'

/**
 * Linux hangs a tty up when its other end goes: read() returns 0 from then
 * on, and poll() reports an error. A read that was already under way when
 * the line went must see the hang-up too, or the port looks open for ever.
 * Here the port is opened and left paused, so no read waits in poll(); the
 * line goes; the first read then starts on a hung-up tty.
 */
t.test('a read that starts after the line hung up closes the port, with the reason', async (t) => {
  const rig = new PtyRig(t, fixture('routes/errors.json'))
  await rig.startLink()
  const port = await openSerialPort(rig.servicePath, 19200)
  t.teardown(() => { if (!port.destroyed) port.destroy() })
  t.equal(port.readableFlowing, null, 'nothing reads yet')
  await rig.stopLink()

  const closed = new Promise<Error | null>((resolve) => port.once('close', resolve))
  const errors: Error[] = []
  port.on('error', (err) => errors.push(err))
  port.on('data', () => t.fail('no data comes from a hung-up line'))
  let timer: NodeJS.Timeout | undefined
  const outcome = await Promise.race([
    closed.then((err) => ({ closed: true, err })),
    new Promise<{ closed: false }>((resolve) => { timer = setTimeout(() => resolve({ closed: false }), 5000) })
  ])
  clearTimeout(timer)
  t.equal(outcome.closed, true, 'the port closes within 5 s of the first read')
  if (outcome.closed) t.match(outcome.err?.message, /hung up/, 'and says why')
  t.same(errors, [])
})

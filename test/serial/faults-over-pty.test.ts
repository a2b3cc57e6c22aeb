// Faults on a real serial line: line noise (the in-process table), the
// emulator process killed and restarted, the device itself gone and back.
import t from 'tap'
import { LINE_NOISE_CONFIG, lineNoiseCases } from '../cases/line-noise.js'
import { get } from '../helper.js'
import { buildOverPty } from './pty.js'

const { app, rig } = await buildOverPty(t, LINE_NOISE_CONFIG)

await t.test('line noise over the PTY', async (t) => {
  await lineNoiseCases(t, app)
})

const read = async (): Promise<{ status: number, body: { temperature_c?: number, message?: string }, ms: number }> => {
  const started = Date.now()
  const res = await get(app, '/read/thermistor/00000001/0009')
  return { status: res.statusCode, body: res.json(), ms: Date.now() - started }
}

/** The bus's count of reads that ended in silence, as /metrics shows it. */
const busTimeouts = async (): Promise<number> => {
  const text = (await app.inject({ url: '/metrics' })).body
  const line = /^opendcre_device_bus_timeouts_total(?:\{[^}]*\})? (\d+)$/m.exec(text)
  if (line === null) throw new Error('/metrics has no opendcre_device_bus_timeouts_total')
  return Number(line[1])
}

await t.test('the emulator process dies mid-run: 500 meanwhile, then it recovers when restarted', async (t) => {
  t.equal((await read()).status, 200)
  await rig.killEmulator()
  const meanwhile = await read()
  t.equal(meanwhile.status, 500)
  t.match(meanwhile.body.message, /No response from bus/, 'a dead device on a live line is silence')
  await rig.startEmulator()
  const after = await read()
  t.equal(after.status, 200)
  t.same(after.body, { temperature_c: 28.78 })
})

await t.test('the serial device disappears: fast 500 "serial device unavailable", then it reopens by itself', async (t) => {
  await rig.stopEmulator()
  await rig.stopLink()
  // once the service has noticed the hang-up (within a few requests) ...
  let noticed = await read()
  for (let i = 0; i < 20 && !/serial device unavailable/.test(noticed.body.message ?? ''); i++) {
    await new Promise((resolve) => setTimeout(resolve, 50))
    noticed = await read()
  }
  t.match(noticed.body.message, /^serial device unavailable: /)
  // ... every request fails fast while the device is gone: no read waits for its timeout
  const timeoutsBefore = await busTimeouts()
  const gone = await read()
  t.equal(gone.status, 500)
  t.match(gone.body.message, /^serial device unavailable: /)
  t.equal(await busTimeouts(), timeoutsBefore, 'no read on the missing device waited for a read timeout')
  t.ok(gone.ms < 1000, `failed fast (${gone.ms} ms; a read timeout and its retry are 500 ms)`)

  await rig.startLink()
  await rig.startEmulator()
  let back = await read()
  for (let i = 0; i < 100 && back.status !== 200; i++) {
    await new Promise((resolve) => setTimeout(resolve, 100))
    back = await read()
  }
  t.equal(back.status, 200, 'works again without a restart')
  t.same(back.body, { temperature_c: 28.78 })
})
